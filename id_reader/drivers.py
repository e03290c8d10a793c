"""ID reader drivers: the built-in SAM (serial, USB) and keyboard-wedge readers, and
third-party ones as plug-ins, each chosen by the profile's ``transport``.

A reader driver is data plus callables: its profile schema (a ``ReaderProfileBase``
subclass whose ``transport`` is the driver's), a card-source factory (the daemon polls
it: taps, no card, unreadable cards) and, for the conformance kit, an emulator factory
(the reader on the far end of a pty, with a card to place and lift). A package adds one
by naming a ``ReaderDriver`` in the ``paidui.drivers`` entry-point group;
``paidui.testing.id_readers`` is the test suite it must pass.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hallbus.drivers import DriverRegistry
from hallbus.input_keys import EvdevKeySource
from hallbus.links import SerialLink
from hallbus.profiles import (
    Where,
    folders_of,
    load_raw_profile,
    profile_names,
    validate_profile,
)
from id_reader.card_text import CardText
from id_reader.links import UsbReaderLink
from id_reader.profile import (
    BUILT_IN_TRANSPORTS,
    AnyBuiltInReader,
    ReaderProfileBase,
    SamSerialProfile,
    SamUsbProfile,
    WedgeProfile,
)
from id_reader.sam_reader import SamCardSource
from id_reader.sources import CardSource
from id_reader.wedge_source import WedgeCardSource


class ReaderEmulator(Protocol):
    """A reader on the far end of a pty, for the kit: a card to place and to lift."""

    def serve_pty(self, link: Path) -> str:
        """Put the reader behind a new pty reached through ``link``; returns the path."""

    def place(self, card: CardText) -> None:
        """A citizen puts a card on the reader."""

    def remove(self) -> None:
        """The card is lifted."""

    def polls(self) -> int:
        """How many times the host has asked the reader so far."""

    def wait_for_polls(self, count: int, timeout: float) -> bool:
        """Wait until the host has asked ``count`` times in all; False on timeout."""

    def stop(self) -> None:
        """Close the port."""


@dataclass(frozen=True, slots=True)
class ReaderDriver:
    """One kind of ID reader."""

    type: str  # the profile's ``transport``
    profile_model: builtins.type[ReaderProfileBase]
    source: Callable[[Any, str | None, Any], CardSource]  # (profile, port, usb backend)
    emulator: Callable[[Any], ReaderEmulator] | None = None  # (profile) -> emulator
    profile_dirs: tuple[Path, ...] = ()  # a plug-in's own profiles
    kind: str = "id_reader"


def _serial(profile: SamSerialProfile, port: str | None, _usb: Any) -> CardSource:
    if not port:
        raise ValueError(f"profile {profile.id} is a serial reader: give its --port")
    return SamCardSource(SerialLink(port, profile.serial), profile.timing)


def _usb(profile: SamUsbProfile, _port: str | None, backend: Any) -> CardSource:
    return SamCardSource(UsbReaderLink(profile.usb, backend=backend), profile.timing)


def _wedge(profile: WedgeProfile, port: str | None, _usb: Any) -> CardSource:
    # ``port`` is the input device; found by the profile's device name when omitted.
    return WedgeCardSource(profile, EvdevKeySource(profile.wedge.device_name, path=port))


READER_DRIVERS: DriverRegistry[ReaderDriver] = DriverRegistry(
    "id_reader",
    [
        # The built-ins' emulators live in simulator/ (id_reader_emulator.py).
        ReaderDriver("serial", SamSerialProfile, _serial),
        ReaderDriver("usb", SamUsbProfile, _usb),
        ReaderDriver("keyboard_wedge", WedgeProfile, _wedge),
    ],
    plugin_class=ReaderDriver,
)


def card_source_for(
    profile: ReaderProfileBase, port: str | None, *, usb_backend: Any = None
) -> CardSource:
    """The card source the daemon polls for ``profile``: ``port`` is the serial device, or
    the input device of a keyboard wedge; USB readers are found by their ids."""
    return READER_DRIVERS.get(profile.transport).source(profile, port, usb_backend)


# --- profiles: built-in readers, and plug-in readers by their driver's schema ----------


def reader_profile_folders() -> list[Path]:
    """Where reader profiles are found: the site's, the shipped, each plug-in's."""
    return READER_DRIVERS.profile_folders("id_readers")


def validate_reader_profile(data: dict[str, Any], name: str, where: str) -> ReaderProfileBase:
    """A merged profile validated as a built-in reader or by its driver's schema."""
    if str(data.get("transport")) in BUILT_IN_TRANSPORTS:
        return validate_profile(AnyBuiltInReader, data, name, where).root
    profile = READER_DRIVERS.validate(data, name, where, key="transport")
    assert isinstance(profile, ReaderProfileBase)
    return profile


def load_reader_profile(name: str, folder: Where | None = None) -> ReaderProfileBase:
    """The validated profile ``name`` (``ProfileError`` names the file and the field)."""
    folders = folders_of(folder) if folder is not None else reader_profile_folders()
    data = load_raw_profile(folders, name)
    return validate_reader_profile(data, name, ", ".join(str(f) for f in folders))


def reader_profile_names(folder: Where | None = None) -> list[str]:
    """Every reader profile, shipped, the site's or plugged in."""
    return profile_names(folder if folder is not None else reader_profile_folders())
