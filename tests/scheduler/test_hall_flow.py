"""The scheduler in depth over real mosquitto: windows, transfers, the kiosk's reasons,
pad and page racing for one rating, reviews, and a restart on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig
from hallbus.messages import (
    BadRatingReason,
    ErrorCode,
    PauseReason,
    PriorityClass,
    RatingLevel,
    RatingRecorded,
    Reply,
    ServiceState,
    WindowStatus,
    decode,
)
from hallbus.settings import BusSettings
from hallbus.topics import HallEventKind, HallTopics
from scheduler.bridge import SchedulerService
from scheduler.ledger import EntryKind
from scheduler.store import Store
from simulator.devices import (
    VirtualCounter,
    VirtualKiosk,
    VirtualPortal,
    VirtualRatingPad,
    VirtualWindowBoard,
)
from simulator.mailbox import Mailbox
from tests.conftest import WAIT, listen, room_today

CARD = "d" * 64


@pytest.fixture
def hall(hall: HallConfig) -> HallConfig:
    """The test hall with the real rules on: an open window is needed, the page may rate."""
    return hall.model_copy(update={"require_open_window": True, "later_rating_s": 600.0})


@pytest.fixture
def services(bus: BusSettings, hall: HallConfig) -> Iterator[Mailbox[bytes]]:
    client, box = listen(bus, HallTopics(hall.id).service_states(), f"menu-{hall.id}")
    yield box
    client.stop()


def _service(box: Mailbox[bytes], code: str, check: Callable[[ServiceState], bool]) -> bool:
    def matches(payload: bytes) -> bool:
        state = decode(ServiceState, payload)
        return state.service_code == code and check(state)

    return box.wait_for(matches, WAIT) is not None


def _race(*acts: Callable[[], Reply]) -> list[Reply]:
    """Run the acts at the same moment, one thread each; their replies in order."""
    replies: list[Reply | None] = [None] * len(acts)
    barrier = threading.Barrier(len(acts))

    def run(index: int) -> None:
        barrier.wait()
        replies[index] = acts[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(acts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert all(r is not None for r in replies)
    return [r for r in replies if r is not None]


def test_windows_open_pause_and_close_on_boards_and_in_the_kiosk_menu(
    scheduler: SchedulerService,
    devices: Callable[..., Any],
    services: Mailbox[bytes],
) -> None:
    kiosk = devices(VirtualKiosk, "kiosk-1")
    board = devices(VirtualWindowBoard, "board-3", 3)
    counter = devices(VirtualCounter, "counter-3", 3)
    refused = kiosk.issue("tax")
    assert refused.error is not None and refused.error.code == ErrorCode.NO_WINDOW_OPEN
    assert _service(services, "tax", lambda s: s.unavailable is not None)

    login = counter.login("1003")
    assert login.status == "ok" and login.data is not None
    assert login.data["clerk"]["name"] == "张敏"
    assert _service(services, "tax", lambda s: s.unavailable is None and s.open_windows >= 1)
    assert kiosk.issue("tax").status == "ok"

    assert counter.pause(PauseReason.MEETING).status == "ok"
    assert board.states.wait_for(lambda s: s.status == WindowStatus.PAUSED, WAIT)
    assert board.text == "暂停服务"
    paused_call = counter.call_next()
    assert paused_call.error is not None and paused_call.error.code == ErrorCode.WINDOW_PAUSED
    assert counter.resume().status == "ok"
    assert counter.call_next().status == "ok"
    assert board.states.wait_for(lambda s: s.current is not None, WAIT)
    assert board.text.endswith("请到3号窗口")


def test_transfer_keeps_the_ticket_and_the_next_window_calls_it(
    scheduler: SchedulerService,
    devices: Callable[..., Any],
    staff: Callable[[int], VirtualCounter],
) -> None:
    kiosk = devices(VirtualKiosk, "kiosk-1")
    first, second = staff(1), staff(4)
    issued = kiosk.issue("social")
    assert issued.data is not None
    assert first.call_next().status == "ok" and first.start_service().status == "ok"
    moved = first.transfer(to_window=4)
    assert moved.status == "ok" and moved.data is not None
    assert moved.data["ticket"]["label"] == issued.data["label"]
    assert moved.data["ticket"]["priority"] == PriorityClass.TRANSFER_BACK
    assert moved.data["transaction"]["service_code"] == "social"
    called = second.call_next()
    assert called.data is not None and called.data["ticket_id"] == issued.data["ticket_id"]
    assert called.data["transfers"] == 1


def test_pad_and_page_race_for_one_rating_and_a_review_sets_it_aside(
    scheduler: SchedulerService,
    devices: Callable[..., Any],
    staff: Callable[[int], VirtualCounter],
    bus: BusSettings,
    hall: HallConfig,
) -> None:
    watcher, events = listen(
        bus, HallTopics(hall.id).hall_event(HallEventKind.RATING), f"ratings-{hall.id}"
    )
    kiosk = devices(VirtualKiosk, "kiosk-1")
    counter = staff(1)
    pad = devices(VirtualRatingPad, "pad-1", 1)
    portal = devices(VirtualPortal, "portal")
    outcomes = []
    for _ in range(5):
        kiosk.issue("social")
        counter.call_next()
        finished = counter.finish()
        assert finished.data is not None
        transaction_id = finished.data["transaction_id"]
        assert pad.prompts.wait_for(lambda p, t=transaction_id: p.transaction_id == t, WAIT)
        replies = _race(
            lambda t=transaction_id: pad.rate(t, RatingLevel.VERY_SATISFIED),
            lambda t=transaction_id: portal.rate(
                t, RatingLevel.DISSATISFIED, BadRatingReason.EFFICIENCY
            ),
        )
        assert sorted(r.status for r in replies) == ["error", "ok"], replies
        loser = next(r for r in replies if r.status == "error")
        assert loser.error is not None and loser.error.code == ErrorCode.RATING_CLOSED
        outcomes.append(transaction_id)

    assert events.wait_count(5, WAIT)
    records = [decode(RatingRecorded, p) for p in events.items()]
    ledger = scheduler.store.ledger_entries()
    assert sorted(e.transaction_id for e in ledger) == sorted(outcomes)
    assert (records[-1].seq, records[-1].hash) == (ledger[-1].seq, ledger[-1].hash)

    bad = next((e for e in ledger if e.outcome == "dissatisfied"), ledger[0])
    review = portal.review(bad.transaction_id, "manager-a", "manager-b", "the citizen misread")
    assert review.status == "ok" and review.data is not None
    assert review.data["kind"] == "not_adopted"
    again = portal.review(bad.transaction_id, "manager-a", "manager-c", "twice")
    assert again.error is not None and again.error.code == ErrorCode.INVALID_STATE
    kinds = [e.kind for e in scheduler.store.ledger_entries(bad.transaction_id)]
    assert kinds == [EntryKind.RATING, EntryKind.NOT_ADOPTED]
    assert scheduler.store.verify_ledger() is None
    watcher.stop()


def test_appointment_check_in_by_card_over_the_bus(
    scheduler: SchedulerService,
    devices: Callable[..., Any],
    staff: Callable[[int], VirtualCounter],
    clock: FakeClock,
    hall: HallConfig,
) -> None:
    room_today(clock, hall, 25)
    portal = devices(VirtualPortal, "portal")
    kiosk = devices(VirtualKiosk, "kiosk-2")
    staff(3)
    slot = clock.now() + timedelta(minutes=20)
    booked = portal.book("tax", slot, CARD, "138****0000")
    assert booked.status == "ok", booked
    checked_in = kiosk.issue(None, id_hash=CARD)
    assert checked_in.status == "ok" and checked_in.data is not None
    assert checked_in.data["priority"] == PriorityClass.APPOINTMENT
    assert checked_in.data["estimated_wait_s"] >= 19 * 60


def test_scheduler_on_postgresql_restores_windows_and_queue_after_restart(
    postgres_url: str,
    hall: HallConfig,
    bus: BusSettings,
    clock: FakeClock,
    devices: Callable[..., Any],
) -> None:
    def run() -> SchedulerService:
        service = SchedulerService(
            hall, Store(postgres_url, hall.id), bus, clock=clock, client_id=f"pg-{hall.id}"
        )
        service.start()
        return service

    service = run()
    kiosk = devices(VirtualKiosk, "kiosk-1")
    counter = devices(VirtualCounter, "counter-2", 2)
    try:
        assert counter.login("1002").status == "ok"
        assert counter.pause(PauseReason.BREAK).status == "ok"
        labels = [kiosk.issue("social").data["label"] for _ in range(3)]  # type: ignore[index]
        assert labels == ["A001", "A002", "A003"]
    finally:
        service.stop()
    service = run()
    try:
        paused = counter.call_next()
        assert paused.error is not None and paused.error.code == ErrorCode.WINDOW_PAUSED
        assert counter.resume().status == "ok"
        called = counter.call_next()
        assert called.data is not None and called.data["label"] == "A001"
        assert kiosk.issue("social").data["label"] == "A004"  # type: ignore[index]
    finally:
        service.stop()
