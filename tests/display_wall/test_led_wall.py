"""The LED wall daemon on the emulated line over a real pty, with mosquitto and the scheduler."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pygame

from display_wall.led_line import BoardProblem
from hallbus.hall_file import HallConfig
from hallbus.messages import PauseReason
from hallbus.settings import BusSettings
from scheduler.bridge import SchedulerService
from simulator.devices import VirtualCounter
from simulator.led_line_emulator import render_board
from tests.conftest import Tickets
from tests.display_wall.walls import led_wall
from tests.kiosk.tickets import artifacts_dir

Staff = Callable[[int], VirtualCounter]


def test_a_call_reaches_its_window_board_only(
    bus: BusSettings,
    hall: HallConfig,
    scheduler: SchedulerService,
    staff: Staff,
    tickets: Tickets,
    tmp_path: Path,
) -> None:
    with led_wall(bus, hall, tmp_path) as wall:
        assert wall.shows("board-2", "2号窗口", "暂停服务")  # closed: nobody logged in
        assert wall.shows("strip-1", "欢迎光临")
        counter = staff(1)
        assert wall.shows("board-1", "1号窗口", "欢迎您")
        label = tickets(1)[0]
        others = {a: wall.line.board(a, bx5=wall.is_bx5(f"board-{a}")).frames for a in (2, 3, 4)}
        assert counter.call_next().status == "ok"
        assert wall.shows("board-1", f"请{label}号", "1号窗口")
        assert wall.shows("strip-1", f"请{label}号到1号窗口办理")
        board = wall.line.board(1)
        assert board.colour == "red" and not board.scrolling and board.brightness == 12
        # Boards whose content did not change were not sent anything, and none shows the call.
        for address, frames in others.items():
            other = wall.line.board(address, bx5=wall.is_bx5(f"board-{address}"))
            assert other.frames == frames and label not in other.text
        assert all(label not in s.text for s in wall.line.shown.items() if s.address in others)
        pygame.image.save(render_board(board), str(artifacts_dir() / "led-window-board.png"))
        pygame.image.save(
            render_board(wall.line.board(wall.address("strip-1"))),
            str(artifacts_dir() / "led-hall-strip.png"),
        )

        assert counter.pause(PauseReason.BREAK).status == "ok"
        assert wall.shows("board-1", "暂停服务")
        assert wall.line.board(1).colour == "yellow"


def test_the_line_protocol_screen_shows_its_window(
    bus: BusSettings,
    hall: HallConfig,
    scheduler: SchedulerService,
    staff: Staff,
    tickets: Tickets,
    tmp_path: Path,
) -> None:
    with led_wall(bus, hall, tmp_path) as wall:
        counter = staff(3)
        label = tickets(1, "tax")[0]
        assert counter.call_next().status == "ok"
        assert wall.shows("board-3", f"请{label}号")
        screen = wall.line.board(3, bx5=False)
        pygame.image.save(render_board(screen), str(artifacts_dir() / "led-line-screen.png"))


def test_a_silent_board_is_reported_and_holds_up_nobody(
    bus: BusSettings,
    hall: HallConfig,
    scheduler: SchedulerService,
    staff: Staff,
    tickets: Tickets,
    tmp_path: Path,
) -> None:
    with led_wall(bus, hall, tmp_path) as wall:
        assert wall.shows("board-2", "2号窗口", "暂停服务")
        wall.line.faults.silent.add(2)
        staff(2)  # board 2's content changes, but board 2 no longer answers
        assert wall.status("board-2", {BoardProblem.NOT_ANSWERING}) is not None
        counter = staff(1)
        label = tickets(1)[0]
        assert counter.call_next().status == "ok"
        assert wall.shows("board-1", f"请{label}号", "1号窗口")
        assert wall.daemon.line.problem("board-1") is None
        # It answers again: it is healthy and gets what it missed.
        wall.line.faults.silent.discard(2)
        assert wall.status("board-2", set(), after=1) is not None
        assert wall.shows("board-2", "2号窗口", "欢迎您")


def test_lost_and_corrupt_answers_are_resent_without_a_fault(
    bus: BusSettings,
    hall: HallConfig,
    scheduler: SchedulerService,
    staff: Staff,
    tickets: Tickets,
    tmp_path: Path,
) -> None:
    with led_wall(bus, hall, tmp_path) as wall:
        assert wall.shows("board-1", "1号窗口", "暂停服务")
        wall.line.faults.drop_answers[1] = 1
        wall.line.faults.corrupt_answers[3] = 1
        wall.line.faults.noise = b"\x00\xa5\x17\x5a\x99"
        before = wall.line.board(1).frames
        staff(1)
        staff(3)
        assert wall.shows("board-1", "1号窗口", "欢迎您")
        assert wall.shows("board-3", "3号窗口")
        assert wall.line.board(1).frames == before + 2  # sent again once its answer was lost
        faults = [s for box in wall.statuses.values() for s in box.items() if b"not_answering" in s]
        assert faults == []
        assert wall.daemon.line.noise > 0


def test_an_unplugged_line_is_reported_and_boards_get_their_content_back(
    bus: BusSettings,
    hall: HallConfig,
    scheduler: SchedulerService,
    staff: Staff,
    tmp_path: Path,
) -> None:
    with led_wall(bus, hall, tmp_path) as wall:
        assert wall.shows("board-4", "4号窗口", "暂停服务")
        seen = len(wall.statuses["board-4"].items())
        wall.line.unplug()
        assert wall.status("board-4", {BoardProblem.UNPLUGGED}, after=seen) is not None
        staff(4)
        frames = wall.line.board(4).frames
        wall.line.plug()
        assert wall.status("board-4", set(), after=seen) is not None
        assert wall.shows("board-4", "4号窗口", "欢迎您")
        assert wall.line.board(4).frames > frames
