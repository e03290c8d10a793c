"""Helpers: the hall's LED boards on an emulated line, run by the real LED wall daemon."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from display_wall.led_wall import LedBoardSpec, LedWall, led_boards, line_settings
from hallbus.client import BusClient
from hallbus.hall_file import HallConfig
from hallbus.links import SerialLink
from hallbus.messages import DeviceStatus, decode
from hallbus.settings import BusSettings
from hallbus.topics import HallTopics
from paidui.testing.led_boards import QUICK
from simulator.led_line_emulator import LedLineEmulator
from simulator.mailbox import Mailbox
from tests.conftest import WAIT, listen


@dataclass
class Wall:
    """The running wall, its emulated line, and the boards' statuses on the bus."""

    daemon: LedWall
    line: LedLineEmulator
    specs: list[LedBoardSpec]
    statuses: dict[str, Mailbox[bytes]]
    clients: list[BusClient]

    def address(self, device_id: str) -> int:
        """The bus address of a board."""
        return next(s.address for s in self.specs if s.device_id == device_id)

    def is_bx5(self, device_id: str) -> bool:
        """Whether the board is a BX-5 controller."""
        return next(s.profile.type == "bx5" for s in self.specs if s.device_id == device_id)

    def shows(self, device_id: str, *pages: str) -> bool:
        """Wait until the board shows ``pages`` (its screens as it wraps its text)."""
        address, bx5 = self.address(device_id), self.is_bx5(device_id)
        board = self.line.board(address, bx5=bx5)
        found = self.line.shown.wait_for(
            lambda s: s.address == address and s.pages == pages and board.shows() == s, WAIT
        )
        return found is not None

    def status(self, device_id: str, faults: set[str], *, after: int = 0) -> DeviceStatus | None:
        """The first status of the board with exactly these faults."""
        found = self.statuses[device_id].wait_for(
            lambda p: set(decode(DeviceStatus, p).faults) == faults, WAIT, after=after
        )
        return decode(DeviceStatus, found) if found is not None else None


@contextmanager
def led_wall(bus: BusSettings, hall: HallConfig, tmp_path: Path) -> Iterator[Wall]:
    """Every LED board of the hall file on one emulated line, with quick timings."""
    specs = [
        LedBoardSpec(
            s.device_id, s.address, s.profile.model_copy(update={"timing": QUICK}), s.window
        )
        for s in led_boards(hall)
    ]
    line = LedLineEmulator()
    for spec in specs:
        line.add(spec.address, spec.profile)
    port = line.serve_pty(tmp_path / "ttyLED")
    topics = HallTopics(hall.id)
    clients, statuses = [], {}
    for spec in specs:
        client, box = listen(bus, topics.device_status(spec.device_id), f"watch-{spec.device_id}")
        clients.append(client)
        statuses[spec.device_id] = box
    daemon = LedWall(bus, hall.id, specs, SerialLink(port, line_settings(specs)))
    daemon.start()
    try:
        yield Wall(daemon, line, specs, statuses, clients)
    finally:
        daemon.stop()
        line.stop()
        for client in clients:
            client.stop()
