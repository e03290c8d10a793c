"""The driver registry: built-in drivers plus third-party ones found through entry points.

A driver serves one ``kind`` of device (``led_board``, ...) and one ``type`` of it, the
value a profile's ``type:`` names. A third-party package declares its drivers in the
entry-point group ``paidui.drivers``; each entry point names a driver object (or a list
of them). A broken plug-in is reported by name and skipped: it never takes the built-in
drivers, or the daemon, down with it.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from hallbus.profiles import ProfileError, profile_folders, validate_profile

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "paidui.drivers"


class Driver(Protocol):
    """What every driver says about itself."""

    @property
    def kind(self) -> str:
        """The device kind it serves, e.g. ``led_board``."""

    @property
    def type(self) -> str:
        """The profile ``type:`` it serves."""

    @property
    def profile_model(self) -> builtins.type[BaseModel]:
        """The schema its profiles validate against."""

    @property
    def profile_dirs(self) -> tuple[Path, ...]:
        """Folders of profiles it brings (a plug-in's own models)."""


D = TypeVar("D", bound=Driver)


class UnknownDriverError(LookupError):
    """No driver of that kind serves that type; the message lists the ones there are."""


@dataclass(frozen=True, slots=True)
class PluginProblem:
    """An entry point that could not be used, and why."""

    entry_point: str
    error: str


class DriverRegistry(Generic[D]):
    """The drivers of one kind, keyed by type: built-ins first, then the plug-ins."""

    def __init__(self, kind: str, builtins: Iterable[D], *, plugin_class: type[D]) -> None:
        self.kind = kind
        self.plugin_class = plugin_class
        self._builtins = {driver.type: driver for driver in builtins}
        self._drivers: dict[str, D] | None = None
        self._origins: dict[str, str] = dict.fromkeys(self._builtins, "built-in")
        self.problems: list[PluginProblem] = []

    def _load(self) -> dict[str, D]:
        if self._drivers is not None:
            return self._drivers
        drivers = dict(self._builtins)
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            name = f"{entry.name} = {entry.value}"
            try:
                loaded = entry.load()
            except Exception as err:  # a plug-in's import can fail in any way
                self._problem(name, f"cannot be imported: {err!r}")
                continue
            for driver in loaded if isinstance(loaded, list | tuple) else [loaded]:
                if getattr(driver, "kind", None) != self.kind:
                    continue  # another kind's driver
                if not isinstance(driver, self.plugin_class):
                    self._problem(name, f"is not a {self.plugin_class.__name__}")
                elif driver.type in drivers:
                    self._problem(name, f"type {driver.type!r} is already taken")
                else:
                    drivers[driver.type] = driver
                    self._origins[driver.type] = name
        self._drivers = drivers
        return drivers

    def _problem(self, entry_point: str, error: str) -> None:
        log.error("driver plug-in skipped", extra={"entry_point": entry_point, "error": error})
        self.problems.append(PluginProblem(entry_point, error))

    def get(self, driver_type: str) -> D:
        """The driver serving ``driver_type``."""
        drivers = self._load()
        try:
            return drivers[driver_type]
        except KeyError:
            known = ", ".join(sorted(drivers))
            raise UnknownDriverError(
                f"no {self.kind} driver of type {driver_type!r} (installed: {known})"
            ) from None

    def types(self) -> list[str]:
        """Every type served, built-in or plugged in."""
        return sorted(self._load())

    def origin(self, driver_type: str) -> str:
        """``built-in`` or the entry point that brought the driver."""
        self._load()
        return self._origins[driver_type]

    def profile_folders(self, kind_folder: str) -> list[Path]:
        """Where this kind's profiles are: the site's and shipped ``kind_folder``, then each
        plug-in's own."""
        folders = profile_folders(kind_folder)
        for driver in self._load().values():
            folders.extend(driver.profile_dirs)
        return folders

    def validate(
        self, data: dict[str, Any], name: str, where: str, *, key: str = "type"
    ) -> BaseModel:
        """A merged profile validated by the schema of the driver its ``key`` names."""
        try:
            driver = self.get(str(data.get(key)))
        except UnknownDriverError as err:
            raise ProfileError(f"profile {name!r} in {where}: {key}: {err}") from err
        return validate_profile(driver.profile_model, data, name, where)

    def add(self, driver: D, origin: str = "added") -> None:
        """Register a driver by hand (a test of a driver not installed as a package)."""
        drivers = self._load()
        if driver.type in drivers:
            raise ValueError(f"type {driver.type!r} is already taken")
        drivers[driver.type] = driver
        self._origins[driver.type] = origin
