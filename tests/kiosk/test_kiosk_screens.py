"""The kiosk end to end: real mosquitto, scheduler and SQLite, the printer emulator on a pty,
the pygame screen headless, driven by synthetic touches; every screen saved as a PNG."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import pygame
import pytest

from hallbus.client import BusClient
from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig, OpeningPeriod
from hallbus.messages import (
    ONLINE,
    CardRead,
    DeviceStatus,
    ErrorCode,
    PrinterFault,
    PrintState,
    PriorityClass,
    TicketState,
)
from hallbus.settings import BusSettings
from hallbus.topics import DeviceEventKind, HallTopics
from kiosk.daemon import KioskDaemon, KioskSettings
from kiosk.drivers import load_printer_profile
from kiosk.flow import (
    AskCard,
    Back,
    ChooseService,
    Confirm,
    KioskView,
    NoticeKind,
    Screen,
    SetLanguage,
    ToggleLargePrint,
)
from kiosk.printer import PrinterAddress, TicketPrinter, open_link
from kiosk.ui import KioskApp
from scheduler.bridge import SchedulerService
from simulator.devices import VirtualPortal
from simulator.printer_emulator import PrinterEmulator
from tests.conftest import WAIT, listen, room_today
from tests.kiosk.tickets import artifacts_dir

PROFILE = load_printer_profile("xprinter-xp-80c")
ELDER = "e" * 64
BOOKED = "f" * 64


@pytest.fixture
def emulator() -> Iterator[PrinterEmulator]:
    emulator = PrinterEmulator(PROFILE)
    yield emulator
    emulator.stop()


@pytest.fixture
def hall(hall: HallConfig, request: pytest.FixtureRequest, clock: FakeClock) -> HallConfig:
    """The conftest hall; with ``@pytest.mark.closed_tax`` its tax service opens later today.

    Late in the evening there is no later hour left today (the service would be closed
    for the day, with no opening to show): the test's clock then starts the next morning.
    """
    if request.node.get_closest_marker("closed_tax") is None:
        return hall
    zone = ZoneInfo(hall.timezone)
    local = clock.now().astimezone(zone)
    if local.hour >= 22:
        morning = datetime.combine(local.date() + timedelta(days=1), time(9, 0), zone)
        clock.advance((morning - clock.now()).total_seconds())
        local = clock.now().astimezone(zone)
    start = (local + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0).time()
    period = OpeningPeriod(
        days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        open=start,
        close=time(start.hour, 59),
    )
    services = [
        s.model_copy(update={"hours": [period]}) if s.code == "tax" else s for s in hall.services
    ]
    return hall.model_copy(update={"services": services})


@pytest.fixture
def kiosk(
    hall: HallConfig, bus: BusSettings, emulator: PrinterEmulator, clock: FakeClock
) -> Iterator[KioskDaemon]:
    link = open_link(PrinterAddress.parse(f"serial:{emulator.serve_pty()}"), PROFILE)
    daemon = KioskDaemon(
        bus,
        hall.id,
        "kiosk-1",
        TicketPrinter(link, PROFILE),
        KioskSettings(hall_names=hall.names, id_reader="idr-1", languages=("zh", "en", "ug")),
        clock=clock,
    )
    daemon.start()
    yield daemon
    daemon.stop()


@pytest.fixture
def app(kiosk: KioskDaemon) -> Iterator[KioskApp]:
    screen = KioskApp(kiosk, size=(720, 1280), languages=("zh", "en", "ug"))
    screen.start()
    yield screen
    screen.stop()


def wait_view(
    app: KioskApp, kiosk: KioskDaemon, predicate: Callable[[KioskView], bool]
) -> KioskView:
    """Run frames until the view matches (waiting on the daemon's change signal)."""
    deadline = WAIT
    view = kiosk.wait_for(predicate, 0)
    while view is None and deadline > 0:
        view = kiosk.wait_for(predicate, 0.1)
        app.step()
        deadline -= 0.1
    assert view is not None, f"screen stayed {kiosk.view().screen}"
    app.step()
    return view


def tap(app: KioskApp, action: object, *, finger: bool = False) -> None:
    """Touch the button of ``action`` with a synthetic mouse click or finger event."""
    rect = app.button(action)  # type: ignore[arg-type]
    assert rect is not None, f"no button for {action} on this screen"
    if finger:
        event = pygame.event.Event(
            pygame.FINGERDOWN, x=rect.centerx / app.size[0], y=rect.centery / app.size[1],
            touch_id=0, finger_id=0, dx=0.0, dy=0.0, pressure=1.0,
        )  # fmt: skip
    else:
        event = pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=rect.center, button=1)
    pygame.event.post(event)
    app.step()


def shot(app: KioskApp, name: str) -> None:
    path = artifacts_dir() / f"kiosk-{name}.png"
    app.save(path)
    assert path.stat().st_size > 10_000  # a drawn screen, not an empty one


def menu_ready(view: KioskView) -> bool:
    return view.screen is Screen.MENU and len(view.menu) == 3


def test_a_whole_ticket_by_touch(
    scheduler: SchedulerService, kiosk: KioskDaemon, app: KioskApp, emulator: PrinterEmulator
) -> None:
    wait_view(app, kiosk, menu_ready)
    shot(app, "menu")
    tap(app, ChooseService("social"), finger=True)
    view = wait_view(app, kiosk, lambda v: v.screen is Screen.DOCUMENTS)
    assert view.selected is not None and "社保卡" in view.selected.documents["zh"]
    shot(app, "documents")
    tap(app, Confirm())
    view = wait_view(
        app, kiosk, lambda v: v.issued is not None and v.issued.print_state is PrintState.PRINTED
    )
    shot(app, "ticket")
    assert view.issued is not None
    label = view.issued.ticket.label
    assert emulator.tickets.wait_count(1, WAIT)
    printed = emulator.tickets.items()[0]
    assert label in printed.lines and "社保业务" in printed.lines
    # The test's scheduler signs no links, so the QR opens the page in the kiosk's language.
    assert printed.qr_codes == [
        f"http://127.0.0.1:8000/t/{view.issued.ticket.ticket_id}?lang={view.language}"
    ]
    printed.render(PROFILE.dots_per_line, None).save(artifacts_dir() / "kiosk-printed-ticket.png")
    # The scheduler knows the ticket and that it printed.
    assert kiosk.wait_reported(1, WAIT)
    stored = scheduler.store.load(kiosk.clock.now(), 5).tickets
    assert [(t.label, t.state, t.print_state) for t in stored] == [
        (label, TicketState.WAITING, PrintState.PRINTED)
    ]
    tap(app, Confirm())
    wait_view(app, kiosk, menu_ready)


def test_language_large_print_and_right_to_left(
    scheduler: SchedulerService, kiosk: KioskDaemon, app: KioskApp
) -> None:
    wait_view(app, kiosk, menu_ready)
    tap(app, SetLanguage("en"))
    tap(app, ToggleLargePrint())
    view = wait_view(app, kiosk, lambda v: v.language == "en" and v.large_print)
    shot(app, "menu-en-large")
    # Large print lays services out one per row: the tiles are wider than half the screen.
    tile = app.button(ChooseService("social"))
    assert tile is not None and tile.width > app.size[0] / 2
    tap(app, SetLanguage("ug"))
    wait_view(app, kiosk, lambda v: v.language == "ug")
    shot(app, "menu-ug-rtl")
    tile = app.button(ChooseService("residence"))
    assert tile is not None
    # The back button sits at the right in a right-to-left layout.
    tap(app, ChooseService("social"))
    wait_view(app, kiosk, lambda v: v.screen is Screen.DOCUMENTS)
    back = app.button(Back())
    assert back is not None and back.centerx > app.size[0] / 2
    shot(app, "documents-ug-rtl")
    assert view.language == "en"


@pytest.mark.closed_tax
def test_a_closed_service_is_greyed_with_the_reason(
    scheduler: SchedulerService, kiosk: KioskDaemon, app: KioskApp
) -> None:
    view = wait_view(app, kiosk, menu_ready)
    tax = next(s for s in view.menu if s.service_code == "tax")
    assert tax.unavailable is not None and tax.unavailable.code is ErrorCode.SERVICE_CLOSED
    (hours,) = tax.hours_today  # today's hours in force, on the hall's clock
    assert tax.unavailable.opens_at is not None
    assert hours == f"{tax.unavailable.opens_at:%H:%M}-{tax.unavailable.opens_at:%H}:59"
    assert next(s for s in view.menu if s.service_code == "social").hours_today == []
    assert app.button(ChooseService("tax")) is None  # greyed tiles take no touch
    assert app.button(ChooseService("social")) is not None
    shot(app, "menu-closed-service")


def test_id_card_check_in_and_priority(
    scheduler: SchedulerService,
    kiosk: KioskDaemon,
    app: KioskApp,
    emulator: PrinterEmulator,
    devices: Callable[..., VirtualPortal],
    bus: BusSettings,
    hall: HallConfig,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    portal = devices(VirtualPortal, "portal")
    room_today(clock, hall, 15)
    slot = clock.now() + timedelta(minutes=10)
    assert portal.book("tax", slot, BOOKED, "138****0000").status == "ok"
    drawn: list[str] = []
    draw_text = app.screen._text

    def recording(text: str, *args: Any, **kwargs: Any) -> Any:
        drawn.append(text)
        return draw_text(text, *args, **kwargs)

    monkeypatch.setattr(app.screen, "_text", recording)
    reader = BusClient(bus, "idr-1", HallTopics(hall.id).availability("idr-1"))
    reader.start()
    topic = HallTopics(hall.id).device_event("idr-1", DeviceEventKind.CARD_READ)
    try:
        wait_view(app, kiosk, menu_ready)
        tap(app, AskCard())
        wait_view(app, kiosk, lambda v: v.screen is Screen.CARD)
        shot(app, "card-prompt")
        reader.publish(
            topic, CardRead(id_hash=BOOKED, masked_name="王*", age=40, read_at=clock.now())
        )
        view = wait_view(
            app, kiosk, lambda v: v.issued is not None and v.issued.print_state is not None
        )
        assert view.issued is not None and view.issued.ticket.appointment_slot is not None
        assert view.issued.ticket.service_code == "tax"
        shot(app, "card-appointment")
        # The slot on the hall's wall clock, never in UTC (the hall is 8 hours ahead).
        local = f"{slot.astimezone(ZoneInfo(hall.timezone)):%H:%M}"
        assert any(local in text for text in drawn), drawn
        assert not any(f"{slot:%H:%M}" in text for text in drawn), drawn
        tap(app, Confirm())
        wait_view(app, kiosk, menu_ready)

        # No booking: the card stays for the ticket the citizen then takes, with priority.
        reader.publish(
            topic, CardRead(id_hash=ELDER, masked_name="李*明", age=72, read_at=clock.now())
        )
        view = wait_view(app, kiosk, lambda v: v.card is not None and v.screen is Screen.MENU)
        assert view.notice is not None and view.notice.code is ErrorCode.NO_APPOINTMENT
        shot(app, "card-no-appointment")
        tap(app, ChooseService("social"))
        wait_view(app, kiosk, lambda v: v.screen is Screen.DOCUMENTS)
        shot(app, "documents-greeting")
        tap(app, Confirm())
        view = wait_view(app, kiosk, lambda v: v.issued is not None)
        assert view.issued is not None and view.issued.ticket.priority is PriorityClass.ELDERLY
        # Garbage on the reader's topic changes nothing.
        reader.publish(topic, b"{not json")
        assert emulator.tickets.wait_count(2, WAIT)
    finally:
        reader.stop()


def test_paper_out_shows_on_screen_and_bus_within_a_second(
    scheduler: SchedulerService,
    kiosk: KioskDaemon,
    app: KioskApp,
    emulator: PrinterEmulator,
    bus: BusSettings,
    hall: HallConfig,
) -> None:
    watcher, statuses = listen(bus, HallTopics(hall.id).device_status("kiosk-1"), "watch-kiosk")
    try:
        wait_view(app, kiosk, menu_ready)
        emulator.paper_out = True
        seen = statuses.wait_for(
            lambda p: "paper_out" in DeviceStatus.model_validate_json(p).faults, 1.0
        )
        assert seen is not None, "paper out not on the bus within a second"
        assert DeviceStatus.model_validate_json(seen).healthy is False
        view = wait_view(app, kiosk, lambda v: v.screen is Screen.OUT_OF_SERVICE)
        assert view.notice is not None and view.notice.kind is NoticeKind.PAPER_OUT
        shot(app, "paper-out")
        assert app.button(ChooseService("social")) is None
        emulator.paper_out = False
        wait_view(app, kiosk, menu_ready)
        assert statuses.wait_for(lambda p: DeviceStatus.model_validate_json(p).healthy, WAIT)
    finally:
        watcher.stop()
    assert emulator.tickets.items() == []


def test_paper_running_out_during_a_ticket_is_reported(
    scheduler: SchedulerService, kiosk: KioskDaemon, app: KioskApp, emulator: PrinterEmulator
) -> None:
    wait_view(app, kiosk, menu_ready)
    tap(app, ChooseService("social"))
    wait_view(app, kiosk, lambda v: v.screen is Screen.DOCUMENTS)
    # The roll ends while this ticket prints: the check after the ticket sees it.
    emulator.paper_out_after_bytes = emulator.bytes_received + 200
    tap(app, Confirm())
    view = wait_view(
        app, kiosk, lambda v: v.issued is not None and v.issued.print_state is PrintState.FAILED
    )
    shot(app, "ticket-print-failed")
    assert view.issued is not None
    assert kiosk.wait_reported(1, WAIT)
    stored = scheduler.store.load(kiosk.clock.now(), 5).tickets
    assert [(t.print_state, t.print_faults) for t in stored] == [
        (PrintState.FAILED, (PrinterFault.PAPER_OUT,))
    ]


def test_scheduler_down_prints_nothing(
    scheduler: SchedulerService,
    kiosk: KioskDaemon,
    app: KioskApp,
    emulator: PrinterEmulator,
    bus: BusSettings,
    hall: HallConfig,
) -> None:
    wait_view(app, kiosk, menu_ready)
    tap(app, ChooseService("social"))
    wait_view(app, kiosk, lambda v: v.screen is Screen.DOCUMENTS)
    scheduler.stop()
    view = wait_view(app, kiosk, lambda v: v.screen is Screen.OUT_OF_SERVICE)
    assert view.notice is not None and view.notice.kind is NoticeKind.SCHEDULER_DOWN
    shot(app, "scheduler-down")

    # A scheduler that died without its last will: still "online", but nobody answers.
    ghost = BusClient(bus, "ghost", HallTopics(hall.id).availability("ghost"))
    ghost.start()
    ghost.publish(
        HallTopics(hall.id).scheduler_availability(), ONLINE, retain=True
    ).wait_for_publish(WAIT)
    ghost.stop()
    wait_view(app, kiosk, menu_ready)
    tap(app, ChooseService("social"))
    tap(app, Confirm())
    view = wait_view(app, kiosk, lambda v: v.screen is Screen.NOTICE)
    assert view.notice is not None and view.notice.kind is NoticeKind.NO_ANSWER
    shot(app, "no-answer")
    assert emulator.tickets.items() == []
    assert all(q in (1, 2, 4) for q in emulator.status_queries.items())  # only status checks
