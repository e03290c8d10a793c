"""The LED wall daemon: every LED board of one RS-485 line, each a device on the bus.

Window boards follow their window's retained state, hall strips the retained hall
state. Each board has its own bus identity, availability and status (``not_answering``,
``refused_command``, ``line_unplugged``), so the dashboard shows exactly which board is dark.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from display_wall.boards import strip_content, window_content
from display_wall.drivers import codec_for, load_led_profile
from display_wall.led_line import LedLine
from display_wall.profile import LedBoardProfileBase
from hallbus.daemon import DeviceDaemon
from hallbus.hall_file import HallConfig
from hallbus.links import ByteLink, SerialLine
from hallbus.messages import DeviceKind, HallState, PayloadError, WindowState, decode
from hallbus.profiles import ProfileError
from hallbus.settings import BusSettings

log = logging.getLogger(__name__)

STRIP_PRIORITY = 1  # strips wait behind window boards


class WallSetupError(ValueError):
    """The hall file and the profiles do not make one line; the message says how."""


@dataclass(frozen=True, slots=True)
class LedBoardSpec:
    """One board of the line: its device id, address, model, and the window it is above."""

    device_id: str
    address: int
    profile: LedBoardProfileBase
    window: int | None = None  # None: a hall strip


def led_boards(
    hall: HallConfig, *, default_profile: str | None = None, only: set[str] | None = None
) -> list[LedBoardSpec]:
    """The hall file's LED boards (window and hall boards with a ``bus_address``)."""
    specs: list[LedBoardSpec] = []
    for device in hall.devices:
        if device.kind not in (DeviceKind.WINDOW_BOARD, DeviceKind.HALL_BOARD):
            continue
        if device.bus_address is None or (only is not None and device.id not in only):
            continue
        name = device.profile or default_profile
        if name is None:
            raise WallSetupError(f"{device.id} names no profile; add one or pass --profile")
        try:
            profile = load_led_profile(name)
        except ProfileError as err:
            raise WallSetupError(f"{device.id}: {err}") from err
        window = device.window if device.kind == DeviceKind.WINDOW_BOARD else None
        if device.kind == DeviceKind.WINDOW_BOARD and window is None:
            raise WallSetupError(f"{device.id} is a window board without a window")
        specs.append(LedBoardSpec(device.id, device.bus_address, profile, window))
    return specs


def line_settings(specs: list[LedBoardSpec]) -> SerialLine:
    """The one serial setting every board of the line agrees on."""
    settings = {spec.profile.line for spec in specs}
    if len(settings) != 1:
        names = ", ".join(f"{s.device_id}: {s.profile.line.baudrate}" for s in specs)
        raise WallSetupError(f"boards on one line must share its serial settings ({names})")
    return settings.pop()


class LedBoardDevice(DeviceDaemon):
    """One board on the bus: follows its state, reports its health."""

    def __init__(self, settings: BusSettings, hall: str, spec: LedBoardSpec, line: LedLine) -> None:
        super().__init__(settings, hall, spec.device_id)
        self.kind = DeviceKind.WINDOW_BOARD if spec.window is not None else DeviceKind.HALL_BOARD
        self.spec = spec
        self.line = line

    def setup(self) -> None:
        """Window boards follow their window; strips follow the hall."""
        if self.spec.window is not None:
            self.bus.subscribe(self.topics.window_state(self.spec.window), self._on_window)
        else:
            self.bus.subscribe(self.topics.hall_state(), self._on_hall)

    def _on_window(self, topic: str, payload: bytes) -> None:
        assert self.spec.window is not None
        try:
            state = decode(WindowState, payload) if payload else None
        except PayloadError as err:
            log.warning("bad window state", extra={"board": self.device_id, "error": str(err)})
            return
        self.line.show(self.device_id, window_content(state, self.spec.window, self.spec.profile))

    def _on_hall(self, topic: str, payload: bytes) -> None:
        try:
            state = decode(HallState, payload) if payload else None
        except PayloadError as err:
            log.warning("bad hall state", extra={"board": self.device_id, "error": str(err)})
            return
        self.line.show(self.device_id, strip_content(state, self.spec.profile))

    def health(self, board_id: str, problem: str | None) -> None:
        """The line's word on this board, as its retained status."""
        detail = {"address": str(self.spec.address), "model": self.spec.profile.id}
        self.publish_status(
            healthy=problem is None, faults=[problem] if problem else [], detail=detail
        )


class LedWall:
    """One line of LED boards: the line driver and a bus device per board."""

    def __init__(
        self,
        settings: BusSettings,
        hall: str,
        specs: list[LedBoardSpec],
        link: ByteLink,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not specs:
            raise WallSetupError("no LED boards with a bus_address in the hall file")
        addresses = [(s.profile.type, s.address) for s in specs]
        if len(set(addresses)) != len(addresses):
            raise WallSetupError("two boards of one protocol share an address")
        self.specs = specs
        self.line = LedLine(link, clock=clock)
        self.devices = [LedBoardDevice(settings, hall, spec, self.line) for spec in specs]

    def start(self, timeout: float | None = 10.0) -> None:
        """Connect every board's device, then drive the line."""
        for device in self.devices:
            self.line.attach(
                device.device_id,
                codec_for(device.spec.profile, device.spec.address),
                device.spec.profile.timing,
                device.health,
                priority=0 if device.spec.window is not None else STRIP_PRIORITY,
            )
        for device in self.devices:
            device.start(timeout=timeout)
        self.line.start()

    def stop(self) -> None:
        """Stop the line and disconnect the boards."""
        self.line.stop()
        for device in self.devices:
            device.stop()
