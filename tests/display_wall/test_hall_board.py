"""The LCD hall board, headless, fed by the real scheduler's retained state over mosquitto."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pygame
import pytest

from display_wall.hall_board import HallBoard
from display_wall.hall_picture import HallPicture
from display_wall.profile import load_lcd_layout
from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig
from hallbus.messages import HallState, PriorityClass
from hallbus.settings import BusSettings
from paidui.broker import BROKER_CONFIG_DIR, MosquittoBroker, free_port
from scheduler.bridge import SchedulerService
from simulator.devices import VirtualCounter, VirtualKiosk, VirtualPortal
from tests.conftest import WAIT, Tickets, room_today
from tests.counter_terminal.counters import observe
from tests.kiosk.tickets import artifacts_dir

LAYOUT = load_lcd_layout("lcd-1080p")
HIGHLIGHT = pygame.Color(LAYOUT.colours.highlight)


def _highlighted_pixels(surface: pygame.Surface) -> int:
    mask = pygame.mask.from_threshold(surface, HIGHLIGHT, (2, 2, 2, 255))
    return int(mask.count())


def _arabic_script(text: str) -> bool:
    # The view keeps logical order; the board shapes it where it draws (script_lines).
    return any(0x0600 <= ord(ch) <= 0x06FF for ch in text)


@pytest.fixture
def busy_hall(
    hall: HallConfig,
    scheduler: SchedulerService,
    staff: Callable[[int], VirtualCounter],
    tickets: Tickets,
) -> list[str]:
    """Two windows open, one paused, three calls made and tickets waiting; the labels called."""
    first, second = staff(1), staff(3)
    for service in ("social", "social", "tax", "tax", "social", "tax"):
        tickets(1, service)
    called = []
    for counter in (first, second, first):
        if counter is first and called:
            assert counter.finish().status == "ok"
        reply = counter.call_next()
        assert reply.status == "ok" and reply.data is not None, reply
        called.append(str(reply.data["label"]))
    staff(2).pause()
    return called


@pytest.mark.parametrize("language", ["zh", "en", "ug", "kk"])
def test_the_board_in_each_language_from_retained_state(
    bus: BusSettings,
    hall: HallConfig,
    clock: FakeClock,
    busy_hall: list[str],
    language: str,
) -> None:
    # Started after everything happened: all it shows comes from retained state.
    board = HallBoard(
        bus, hall.id, "hallboard-1", LAYOUT, clock=clock, language=language, fullscreen=False
    )
    board.start()
    try:
        assert board.device.wait_for(
            lambda p: (
                p.hall is not None
                and len(p.hall.recent_calls) == 3
                and len(p.services) == 3
                and len(p.windows) == 4
                and p.windows[2].status == "paused"
            ),
            WAIT,
        )
        board.screen.step()
        view = board.screen.last_view
        assert view is not None and view.banner is None
        assert [c.label for c in view.calls] == busy_hall[::-1]  # newest first
        assert view.calls[0].newest and not view.calls[1].newest
        assert [w.status for w in view.windows] == ["open", "paused", "open", "closed"]
        assert [s.waiting for s in view.services] == ["1", "2", "0"]
        # The key from letter to service, and the ticket at each serving window.
        assert [s.letter for s in view.services] == ["A", "B", "C"]
        assert [w.ticket for w in view.windows] == ["A002", "", "B001", ""]
        # The hall's date and weekday beside its clock, on the hall's wall clock.
        local = clock.now().astimezone(ZoneInfo(hall.timezone))
        if language != "ug":
            assert view.clock == f"{local:%H:%M}"
        if language == "zh":
            assert view.date.startswith(f"{local.month}月{local.day}日") and "周" in view.date
        elif language == "en":
            assert f"{local:%A}" in view.date and str(local.day) in view.date
        if language == "zh":
            assert view.calls[0].window == "1号窗口" and view.headings["Now calling"] == "正在呼叫"
            assert view.title == "示范政务服务中心" and "身份证" in view.notice
        elif language == "en":
            assert view.calls[0].window == "Window 1" and view.services[1].name == "Tax"
        else:
            assert view.rtl
            assert _arabic_script(view.headings["Now calling"]) and _arabic_script(
                view.calls[0].window
            )
        board.screen.save(artifacts_dir() / f"lcd-hall-board-{language}.png")
    finally:
        board.stop()


def test_the_newest_call_blinks_then_stays_highlighted(
    bus: BusSettings, hall: HallConfig, clock: FakeClock, busy_hall: list[str]
) -> None:
    board = HallBoard(
        bus, hall.id, "hallboard-1", LAYOUT, clock=clock, language="zh", fullscreen=False
    )
    board.start()
    try:
        assert board.device.wait_for(
            lambda p: p.hall is not None and len(p.hall.recent_calls) == 3, WAIT
        )
        called_at = board.device.snapshot().hall.recent_calls[0].called_at  # type: ignore[union-attr]
        phases = []
        for offset in (0.1, 0.1 + LAYOUT.blink_period_s, LAYOUT.blink_s + 1):
            clock.advance((called_at + timedelta(seconds=offset) - clock.now()).total_seconds())
            board.screen.step()
            view = board.screen.last_view
            assert view is not None
            phases.append((view.calls[0].lit, _highlighted_pixels(board.screen._surface)))  # type: ignore[arg-type]
        (lit, on), (dark, off), (after, steady) = phases
        assert lit and not dark and after
        assert on > 10_000 and off == 0 and steady == on
    finally:
        board.stop()


def test_connection_lost_is_shown_over_the_last_picture(
    hall: HallConfig, clock: FakeClock, tmp_path: Path
) -> None:
    broker = MosquittoBroker(BROKER_CONFIG_DIR / "demo.conf", free_port(), tmp_path / "broker")
    broker.start()
    settings = BusSettings(port=broker.port)
    board = HallBoard(
        settings,
        hall.id,
        "hallboard-1",
        LAYOUT,
        names=hall.names,
        clock=clock,
        language="zh",
        fullscreen=False,
    )
    try:
        board.start()
        board.screen.step()
        assert board.screen.last_view is not None and board.screen.last_view.banner is None
        # No scheduler has spoken yet: the header carries the hall file's name all the same.
        assert board.screen.last_view.title == hall.names["zh"]
        broker.stop()
        assert board.device.wait_for(lambda p: not p.connected, WAIT)
        board.screen.step()
        view = board.screen.last_view
        assert view is not None and view.banner is not None and "正在重新连接" in view.banner
        board.screen.save(artifacts_dir() / "lcd-connection-lost.png")
    finally:
        board.stop()
        broker.stop()


def test_languages_take_turns_and_a_stopped_scheduler_is_said() -> None:
    picture = HallPicture(
        hall=HallState(recent_calls=[], waiting={}, languages=["zh", "en", "ug"]),
        connected=True,
        scheduler_online=False,
    )
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    turns = [picture.language_at(start.replace(second=s), LAYOUT) for s in range(0, 60, 10)]
    assert turns == ["zh", "en", "ug", "zh", "en", "ug"]
    view = picture.view(start, "en", LAYOUT)
    assert view.banner is not None and "offline" in view.banner
    assert view.clock == "17:00"  # the hall's time zone, Asia/Shanghai
    assert view.calls == [] and view.headings["No calls yet"] == "No calls yet"


def test_a_booked_ticket_is_marked_on_its_window_tile(
    bus: BusSettings,
    hall: HallConfig,
    clock: FakeClock,
    scheduler: SchedulerService,
    devices: Callable[..., Any],
    staff: Callable[[int], VirtualCounter],
) -> None:
    """Booked online, checked in by card, called: the window's retained state says it is
    an appointment, and the hall board's tile reads "A001 预约" (why it went first)."""
    card = "c" * 64
    portal: VirtualPortal = devices(VirtualPortal, "portal")
    room_today(clock, hall, 15)
    assert portal.book("social", clock.now() + timedelta(minutes=10), card, "-").status == "ok"
    kiosk: VirtualKiosk = devices(VirtualKiosk, "kiosk-1")
    counter = staff(1)
    seen = observe(bus, hall, [1])
    try:
        assert kiosk.issue(None, id_hash=card).status == "ok"
        clock.advance(600)  # the slot begins: the appointment is called
        scheduler.poke()
        called = counter.call_next()
        assert called.status == "ok" and called.data is not None
        state = seen.window(1, lambda s: s.current is not None)
        assert state is not None and state.current is not None
        assert state.current.priority == PriorityClass.APPOINTMENT
        picture = HallPicture(timezone=hall.timezone)
        picture.windows[1] = state
        view = picture.view(clock.now(), "zh", load_lcd_layout("lcd-1080p"))
        assert view.windows[0].ticket == f"{state.current.label} 预约"
    finally:
        seen.stop()
