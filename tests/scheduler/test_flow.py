"""The spine end to end over real mosquitto and SQLite: kiosk, counter, board, pad, scheduler."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from hallbus.client import BusClient
from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig
from hallbus.messages import (
    MAX_PAYLOAD_BYTES,
    UNRATED,
    CallAnnouncement,
    ErrorCode,
    RatingLevel,
    RatingRecorded,
    Reply,
    TicketState,
    decode,
)
from hallbus.settings import BusSettings
from hallbus.topics import HallEventKind, HallTopics
from scheduler.bridge import SchedulerService
from simulator.devices import VirtualCounter, VirtualKiosk, VirtualRatingPad, VirtualWindowBoard
from tests.conftest import WAIT, listen


def test_issue_call_finish_rate_end_to_end(
    scheduler: SchedulerService,
    devices: Callable[..., Any],
    staff: Callable[[int], VirtualCounter],
    bus: BusSettings,
    hall: HallConfig,
) -> None:
    topics = HallTopics(hall.id)
    observer, ratings = listen(bus, topics.hall_event(HallEventKind.RATING), "obs-rating")
    kiosk = devices(VirtualKiosk, "kiosk-1")
    counter = staff(1)
    board = devices(VirtualWindowBoard, "board-1", 1)
    pad = devices(VirtualRatingPad, "pad-1", 1)

    issued = kiosk.issue("social")
    assert issued.status == "ok" and issued.data is not None
    assert issued.data["label"] == "A001"
    assert issued.data["people_ahead"] == 0

    called = counter.call_next()
    assert called.status == "ok" and called.data is not None
    assert called.data["ticket_id"] == issued.data["ticket_id"]
    shown = board.states.wait_for(
        lambda s: s.current is not None and s.current.label == "A001", WAIT
    )
    assert shown is not None and shown.current is not None
    assert shown.current.state == TicketState.CALLED
    assert board.text == "A001 请到1号窗口"

    assert counter.start_service().status == "ok"
    finished = counter.finish()
    assert finished.status == "ok" and finished.data is not None
    transaction_id = finished.data["transaction_id"]

    prompt = pad.prompts.wait_for(lambda p: p.transaction_id == transaction_id, WAIT)
    assert prompt is not None and prompt.ticket_label == "A001"
    rated = pad.rate(transaction_id, RatingLevel.VERY_SATISFIED)
    assert rated.status == "ok" and rated.data is not None
    assert rated.data["outcome"] == "very_satisfied"

    record = ratings.wait_for(lambda _p: True, WAIT)
    assert record is not None
    recorded = decode(RatingRecorded, record)
    assert recorded.outcome == RatingLevel.VERY_SATISFIED and recorded.source == "pad"
    # A second press on the same transaction changes nothing.
    again = pad.rate(transaction_id, RatingLevel.VERY_DISSATISFIED)
    assert again.error is not None and again.error.code == ErrorCode.RATING_CLOSED
    assert scheduler.store.rating_counts() == {"very_satisfied": 1}
    assert scheduler.store.verify_ledger() is None
    observer.stop()


def test_unanswered_prompt_is_recorded_unrated_never_satisfied(
    scheduler: SchedulerService,
    devices: Callable[..., Any],
    staff: Callable[[int], VirtualCounter],
    clock: FakeClock,
    hall: HallConfig,
) -> None:
    kiosk = devices(VirtualKiosk, "kiosk-1")
    counter = staff(2)
    pad = devices(VirtualRatingPad, "pad-2", 2)
    assert kiosk.issue("tax").status == "ok"
    assert counter.call_next().status == "ok"
    finished = counter.finish()
    assert finished.data is not None
    transaction_id = finished.data["transaction_id"]
    assert pad.prompts.wait_for(lambda p: p.transaction_id == transaction_id, WAIT)

    clock.advance(hall.rating_timeout_s + 1)
    scheduler.poke()

    closed = pad.closed.wait_for(lambda c: c.transaction_id == transaction_id, WAIT)
    assert closed is not None and closed.outcome == UNRATED
    assert scheduler.store.rating_counts() == {UNRATED: 1}
    late = pad.rate(transaction_id, RatingLevel.SATISFIED)
    assert late.error is not None and late.error.code == ErrorCode.RATING_CLOSED
    assert scheduler.store.rating_counts() == {UNRATED: 1}


def test_retried_request_acts_once_and_returns_the_first_answer(
    scheduler: SchedulerService,
    devices: Callable[..., Any],
    staff: Callable[[int], VirtualCounter],
) -> None:
    kiosk = devices(VirtualKiosk, "kiosk-1")
    first = kiosk.issue("social", request_id="retry-1")
    second = kiosk.issue("social", request_id="retry-1")
    assert first.status == "ok"
    assert second == first
    assert scheduler.store.ticket_counts() == {"waiting": 1}
    counter = staff(1)
    call = counter.call_next(request_id="call-1")
    assert counter.call_next(request_id="call-1") == call
    assert scheduler.store.ticket_counts() == {"called": 1}


@pytest.mark.load
def test_concurrent_kiosks_and_windows_never_share_a_number_or_a_ticket(
    scheduler: SchedulerService,
    devices: Callable[..., Any],
    staff: Callable[[int], VirtualCounter],
) -> None:
    kiosks = [devices(VirtualKiosk, f"kiosk-{n}") for n in (1, 2)]
    per_kiosk = 60
    labels: list[str] = []
    lock = threading.Lock()
    gate = threading.Barrier(len(kiosks))

    def take(kiosk: VirtualKiosk) -> None:
        gate.wait(WAIT)
        for _ in range(per_kiosk):
            reply = kiosk.issue("social")
            assert reply.status == "ok" and reply.data is not None
            with lock:
                labels.append(reply.data["label"])

    threads = [threading.Thread(target=take, args=(k,)) for k in kiosks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(labels) == [f"A{n:03d}" for n in range(1, 2 * per_kiosk + 1)]

    # Windows 1, 2 and 4 all handle "social": they race for the same queue.
    counters = [staff(w) for w in (1, 2, 4)]
    called: list[str] = []
    start = threading.Barrier(len(counters))

    def serve(counter: VirtualCounter) -> None:
        start.wait(WAIT)
        while True:
            reply = counter.call_next()
            if reply.status == "error":
                assert reply.error is not None
                assert reply.error.code == ErrorCode.NOTHING_WAITING
                return
            assert reply.data is not None
            with lock:
                called.append(reply.data["ticket_id"])
            assert counter.finish().status == "ok"

    threads = [threading.Thread(target=serve, args=(c,)) for c in counters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(called) == 2 * per_kiosk
    assert len(set(called)) == len(called)
    assert scheduler.store.ticket_counts() == {"done": 2 * per_kiosk}


def _raw_request(
    bus: BusSettings, hall: HallConfig, device_id: str, command: str, payload: bytes
) -> Reply:
    topics = HallTopics(hall.id)
    client, box = listen(bus, topics.reply(device_id), device_id, hall.id)
    try:
        client.publish(topics.request(device_id, command), payload)
        raw = box.wait_for(lambda _p: True, WAIT)
        assert raw is not None, "the scheduler must answer even a broken request"
        return decode(Reply, raw)
    finally:
        client.stop()


def test_malformed_requests_get_clear_errors_and_change_nothing(
    scheduler: SchedulerService, bus: BusSettings, hall: HallConfig, devices: Callable[..., Any]
) -> None:
    cases: list[tuple[str, str, bytes, ErrorCode]] = [
        ("kiosk-1", "issue_ticket", b"{not json", ErrorCode.BAD_REQUEST),
        ("kiosk-1", "issue_ticket", b"[]", ErrorCode.BAD_REQUEST),
        (
            "kiosk-1",
            "issue_ticket",
            b'{"request_id": "r1", "service_code": 7}',
            ErrorCode.BAD_REQUEST,
        ),
        ("kiosk-1", "issue_ticket", b'{"request_id": "r2"}', ErrorCode.BAD_REQUEST),
        (
            "kiosk-1",
            "issue_ticket",
            b'{"request_id": "r3", "service_code": "social", "extra": 1}',
            ErrorCode.BAD_REQUEST,
        ),
        ("kiosk-1", "issue_ticket", b"\xff\xfe\x00garbage", ErrorCode.BAD_REQUEST),
        ("kiosk-1", "issue_ticket", b" " * (MAX_PAYLOAD_BYTES + 1), ErrorCode.PAYLOAD_TOO_LARGE),
        (
            "kiosk-1",
            "issue_ticket",
            b'{"request_id": "r4", "service_code": "nope"}',
            ErrorCode.UNKNOWN_SERVICE,
        ),
        ("kiosk-1", "launch_rocket", b'{"request_id": "r5"}', ErrorCode.UNKNOWN_COMMAND),
        ("kiosk-1", "call_next", b'{"request_id": "r6"}', ErrorCode.NOT_ALLOWED),
        (
            "pad-1",
            "issue_ticket",
            b'{"request_id": "r7", "service_code": "social"}',
            ErrorCode.NOT_ALLOWED,
        ),
        (
            "intruder-9",
            "issue_ticket",
            b'{"request_id": "r8", "service_code": "social"}',
            ErrorCode.UNKNOWN_DEVICE,
        ),
        ("counter-1", "call_next", b'{"request_id": "r9"}', ErrorCode.WINDOW_CLOSED),
        (
            "counter-1",
            "pause",
            b'{"request_id": "r9b", "reason": "break"}',
            ErrorCode.WINDOW_CLOSED,
        ),
        (
            "counter-1",
            "login",
            b'{"request_id": "r9c", "clerk_code": "99"}',
            ErrorCode.UNKNOWN_CLERK,
        ),
        (
            "kiosk-1",
            "issue_ticket",
            b'{"request_id": "r9d", "id_hash": "' + b"a" * 64 + b'"}',
            ErrorCode.NO_APPOINTMENT,
        ),
        (
            "pad-1",
            "review_rating",
            b'{"request_id": "r9e", "transaction_id": "t", "reviewer": "a", "approver": "b",'
            b' "reason": "x"}',
            ErrorCode.NOT_ALLOWED,
        ),
        ("counter-1", "finish", b'{"request_id": "r10"}', ErrorCode.NO_CURRENT_TICKET),
    ]
    for device_id, command, payload, code in cases:
        reply = _raw_request(bus, hall, device_id, command, payload)
        assert reply.status == "error" and reply.error is not None, (command, payload[:40])
        assert reply.error.code == code, (command, payload[:40], reply.error)
        assert reply.error.message
    # The request id is echoed whenever it could be read, so devices can match the error.
    reply = _raw_request(bus, hall, "kiosk-1", "issue_ticket", b'{"request_id": "r11", "x": 1}')
    assert reply.request_id == "r11"

    assert scheduler.store.ticket_counts() == {}
    # ... and the scheduler still works.
    kiosk = devices(VirtualKiosk, "kiosk-1")
    assert kiosk.issue("social").status == "ok"


def test_messages_on_unknown_topics_are_ignored(
    scheduler: SchedulerService, bus: BusSettings, hall: HallConfig, devices: Callable[..., Any]
) -> None:
    topics = HallTopics(hall.id)
    client = BusClient(bus, "kiosk-1", topics.availability("kiosk-1"))
    client.start()
    client.publish(topics.device_event("kiosk-1", "whatever"), b"\x00\x01")
    client.publish(topics.device_status("kiosk-1"), b"not a status")
    client.stop()
    kiosk = devices(VirtualKiosk, "kiosk-2")
    assert kiosk.issue("tax").status == "ok"


def test_call_is_announced_and_hall_board_state_is_retained(
    scheduler: SchedulerService,
    devices: Callable[..., Any],
    staff: Callable[[int], VirtualCounter],
    bus: BusSettings,
    hall: HallConfig,
) -> None:
    topics = HallTopics(hall.id)
    observer, calls = listen(bus, topics.hall_event(HallEventKind.CALL), "obs-call")
    kiosk = devices(VirtualKiosk, "kiosk-1")
    counter = staff(3)
    kiosk.issue("tax")
    assert counter.call_next().status == "ok"
    assert counter.recall().status == "ok"
    assert calls.wait_count(2, WAIT)
    announcements = [decode(CallAnnouncement, p) for p in calls.items()]
    assert [(a.label, a.window, a.recalls) for a in announcements] == [
        ("B001", 3, 0),
        ("B001", 3, 1),
    ]
    observer.stop()

    # A hall board that starts now gets the picture at once from retained state.
    late, hall_state = listen(bus, topics.hall_state(), "obs-hall")
    raw = hall_state.wait_for(lambda _p: True, WAIT)
    assert raw is not None
    state = json.loads(raw)
    assert state["recent_calls"][0]["label"] == "B001"
    assert state["waiting"] == {"social": 0, "tax": 0, "residence": 0}
    late.stop()


def test_a_print_report_names_a_ticket_of_this_hall_and_an_id_means_one_request(
    scheduler: SchedulerService, bus: BusSettings, hall: HallConfig, devices: Callable[..., Any]
) -> None:
    unknown = b'{"request_id": "p1", "ticket_id": "no-such-ticket", "state": "printed"}'
    reply = _raw_request(bus, hall, "kiosk-1", "report_print", unknown)
    assert reply.error is not None and reply.error.code == ErrorCode.UNKNOWN_TICKET

    kiosk = devices(VirtualKiosk, "kiosk-2")
    first = kiosk.issue("social", "same-id")
    assert first.status == "ok"
    assert kiosk.issue("social", "same-id").data == first.data  # a retry: the first answer
    # The same id for another request is refused, not answered as if it had been done.
    reused = kiosk.issue("tax", "same-id")
    assert reused.error is not None and reused.error.code == ErrorCode.REQUEST_ID_REUSED
    assert scheduler.store.ticket_counts() == {"waiting": 1}
