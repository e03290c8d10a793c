"""The pure queue rules, with a fixed clock and property-based sequences of operations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta

import pytest

from hallbus.hall_file import DEMO_HALL_FILE, HallConfig, OpeningPeriod, load_hall
from hallbus.messages import (
    UNRATED,
    BadRatingReason,
    ErrorCode,
    PauseReason,
    PriorityClass,
    RatingLevel,
    RatingSource,
    TicketState,
    WindowStatus,
)
from scheduler.domain import HallQueue, QueueError
from scheduler.ledger import EntryKind, verify_chain

DEMO = load_hall(DEMO_HALL_FILE)
# Sunday 2026-11-22 09:00 in Shanghai.
MORNING = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
CARD = "a" * 64
OTHER_CARD = "b" * 64


def staffed(hall: HallConfig = DEMO, *windows: int) -> HallQueue:
    """A queue with clerks 1000+n logged in at the given windows (all by default)."""
    queue = HallQueue(hall)
    for number in windows or [w.number for w in hall.windows]:
        queue.login(number, MORNING, clerk_code=str(1000 + number))
    return queue


def at(minutes: float) -> datetime:
    return MORNING + timedelta(minutes=minutes)


@contextmanager
def refused(code: ErrorCode) -> Iterator[None]:
    """The block must raise a QueueError with this code."""
    with pytest.raises(QueueError) as caught:
        yield
    assert caught.value.code == code, caught.value.message


# --- numbering and the basic flow ----------------------------------------------------


def test_numbers_are_per_service_and_restart_each_day() -> None:
    queue = staffed()
    labels = [
        queue.issue_ticket(code, MORNING, "k").ticket.label
        for code in ("social", "social", "tax", "social")
    ]
    assert labels == ["A001", "A002", "B001", "A003"]
    # Midnight in the hall's zone (16:00 UTC) starts a new day.
    next_day = datetime(2026, 11, 22, 16, 0, 1, tzinfo=UTC)
    assert queue.issue_ticket("social", next_day, "k").ticket.label == "A001"


def test_window_must_clear_its_ticket_before_calling_again() -> None:
    queue = staffed()
    queue.issue_ticket("social", MORNING, "k")
    queue.issue_ticket("social", MORNING, "k")
    queue.call_next(1, MORNING)
    with refused(ErrorCode.INVALID_STATE):
        queue.call_next(1, MORNING)


# --- windows and clerks ---------------------------------------------------------------


def test_a_closed_or_paused_window_calls_nobody_and_boards_can_tell() -> None:
    queue = HallQueue(DEMO)
    with refused(ErrorCode.WINDOW_CLOSED):
        queue.call_next(1, MORNING)
    queue.login(1, MORNING, clerk_code="1001")
    queue.pause(1, PauseReason.MEETING, at(1))
    assert queue.window(1).status == WindowStatus.PAUSED
    assert queue.window(1).pause_reason == PauseReason.MEETING
    queue.issue_ticket("social", at(2), "k")
    with refused(ErrorCode.WINDOW_PAUSED):
        queue.call_next(1, at(2))
    queue.resume(1, at(3))
    assert queue.call_next(1, at(3)).label == "A001"


def test_clerk_b_takes_over_the_window_clerk_a_left() -> None:
    queue = staffed(DEMO, 1)
    queue.issue_ticket("social", MORNING, "k")
    queue.call_next(1, MORNING)
    queue.start_service(1, at(1))
    with refused(ErrorCode.INVALID_STATE):
        queue.login(1, at(2), clerk_code="1005")  # A is still there
    with refused(ErrorCode.INVALID_STATE):
        queue.login(2, at(2), clerk_code="1001")  # A cannot be at two windows
    queue.logout(1, at(2))
    assert queue.window(1).status == WindowStatus.CLOSED
    queue.login(1, at(3), clerk_code="1005")
    transaction = queue.finish(1, at(4))  # B finishes what A began
    assert transaction.clerk_code == "1005"


def test_clerk_logs_in_by_id_card() -> None:
    clerks = [
        c.model_copy(update={"id_hash": CARD}) if c.code == "1003" else c for c in DEMO.clerks
    ]
    queue = HallQueue(DEMO.model_copy(update={"clerks": clerks}))
    window = queue.login(3, MORNING, id_hash=CARD)
    assert window.clerk is not None and window.clerk.code == "1003"
    with refused(ErrorCode.UNKNOWN_CLERK):
        queue.login(2, MORNING, id_hash=OTHER_CARD)


# --- calling policy ---------------------------------------------------------------------


def test_priority_classes_go_first_then_tier_then_time_in_line() -> None:
    queue = staffed()
    normal_social = queue.issue_ticket("social", at(0), "k").ticket
    normal_tax = queue.issue_ticket("tax", at(1), "k").ticket
    elderly_tax = queue.issue_ticket("tax", at(2), "k", age=72).ticket
    disabled_social = queue.issue_ticket("social", at(3), "k", disabled=True).ticket
    assert elderly_tax.priority == disabled_social.priority == PriorityClass.ELDERLY
    # Window 2 handles social at tier 1 and tax at tier 2: class first, then tier.
    order = [queue.call_next(2, at(5)).id]
    for _ in range(3):
        queue.finish(2, at(5))
        order.append(queue.call_next(2, at(5)).id)
    assert order == [disabled_social.id, elderly_tax.id, normal_social.id, normal_tax.id]


def test_green_channel_services_go_ahead_of_normal_tickets() -> None:
    queue = staffed()
    queue.issue_ticket("social", at(0), "k")
    green = queue.issue_ticket("residence", at(1), "k").ticket
    assert green.priority == PriorityClass.GREEN_CHANNEL
    assert queue.call_next(4, at(2)).id == green.id


def test_ageing_bound_calls_the_long_waiting_before_newer_priority_tickets() -> None:
    queue = staffed()
    old = queue.issue_ticket("tax", at(0), "k").ticket
    queue.issue_ticket("social", at(1), "k", age=80)
    bound = DEMO.max_wait_s / 60
    # Before the bound the elderly social ticket goes first at window 2 ...
    assert queue.call_next(2, at(bound - 1)).priority == PriorityClass.ELDERLY
    queue.finish(2, at(bound - 1))
    queue.issue_ticket("social", at(bound), "k", age=80)
    # ... past it, the tax ticket has waited too long and is called, tier 2 or not.
    assert queue.call_next(2, at(bound + 1)).id == old.id


def test_call_a_specific_ticket_out_of_order() -> None:
    queue = staffed()
    for _ in range(3):
        queue.issue_ticket("social", MORNING, "k")
    queue.issue_ticket("tax", MORNING, "k")
    assert queue.call_ticket(1, "A003", at(1)).label == "A003"
    queue.finish(1, at(2))
    with refused(ErrorCode.INVALID_STATE):
        queue.call_ticket(1, "B001", at(2))  # window 1 handles no tax
    with refused(ErrorCode.UNKNOWN_TICKET):
        queue.call_ticket(1, "A003", at(2))  # already served
    assert queue.call_next(1, at(3)).label == "A001"


def test_postpone_sends_the_citizen_to_the_end_of_their_line() -> None:
    queue = staffed()
    first = queue.issue_ticket("social", at(0), "k").ticket
    queue.issue_ticket("social", at(1), "k")
    queue.call_next(1, at(2))
    postponed = queue.postpone(1, at(3))
    assert postponed.state == TicketState.WAITING and postponed.label == first.label
    assert queue.call_next(1, at(4)).label == "A002"
    queue.finish(1, at(5))
    assert queue.call_next(1, at(6)).id == first.id


def test_recalls_past_the_limit_make_a_no_show() -> None:
    queue = staffed()
    queue.issue_ticket("social", MORNING, "k")
    queue.call_next(1, MORNING)
    for n in range(DEMO.max_recalls):
        assert queue.recall(1, at(n + 1)).recalls == n + 1
    gone = queue.recall(1, at(9))
    assert gone.state == TicketState.NO_SHOW
    assert queue.current(1) is None


def test_transfer_keeps_number_and_arrival_and_rates_the_service_done() -> None:
    queue = staffed()
    ticket = queue.issue_ticket("social", at(0), "k").ticket
    queue.issue_ticket("tax", at(1), "k")
    queue.call_next(1, at(2))
    queue.start_service(1, at(3))
    moved, transaction = queue.transfer(1, at(10), to_service="tax")
    assert moved.id == ticket.id and moved.label == "A001" and moved.issued_at == at(0)
    assert moved.service_code == "tax" and moved.priority == PriorityClass.TRANSFER_BACK
    assert transaction is not None and transaction.service_code == "social"
    # Transfer-back goes ahead of the normal tax ticket that arrived later.
    assert queue.call_next(3, at(11)).id == ticket.id


def test_transfer_to_a_window_is_called_only_there() -> None:
    queue = staffed()
    ticket = queue.issue_ticket("social", at(0), "k").ticket
    queue.call_next(1, at(1))
    _, transaction = queue.transfer(1, at(2), to_window=4)
    assert transaction is None  # service had not begun
    with refused(ErrorCode.NOTHING_WAITING):
        queue.call_next(2, at(3))  # window 2 handles social, but it was sent to 4
    with refused(ErrorCode.INVALID_STATE):
        queue.call_ticket(2, "A001", at(3))
    assert queue.call_next(4, at(3)).id == ticket.id


# --- hours, quotas and closing ----------------------------------------------------------


def _with_hours(**service_changes: object) -> HallConfig:
    weekday = [
        OpeningPeriod(days=["workday"], open=time(9), close=time(12)),
        OpeningPeriod(days=["workday"], open=time(13, 30), close=time(17)),
        OpeningPeriod(days=["sat"], open=time(9), close=time(12)),
    ]
    services = [
        s.model_copy(update={"hours": weekday, "last_ticket_min": 30, **service_changes})
        if s.code == "social"
        else s
        for s in DEMO.services
    ]
    return DEMO.model_copy(update={"services": services})


def shanghai(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=DEMO.zone)


def test_service_hours_lunchtime_weekends_holidays_and_last_ticket() -> None:
    queue = staffed(_with_hours())
    monday, saturday, sunday = date(2026, 11, 23), date(2026, 11, 28), date(2026, 11, 29)
    national_day = date(2026, 10, 1)  # a Thursday, a statutory holiday
    makeup_sunday = date(2026, 9, 20)  # a Sunday worked to make up for the October holiday

    def reason(moment: datetime) -> tuple[ErrorCode, str] | None:
        found = queue.availability("social", moment)
        return (found.code, found.message) if found else None

    assert reason(shanghai(monday, 10)) is None
    assert reason(shanghai(monday, 12, 45)) == (ErrorCode.SERVICE_CLOSED, "opens at 13:30")
    assert reason(shanghai(monday, 16, 40)) == (
        ErrorCode.SERVICE_CLOSED,
        "the last ticket was at 16:30",
    )
    assert reason(shanghai(monday, 18)) == (ErrorCode.SERVICE_CLOSED, "closed for today")
    assert reason(shanghai(saturday, 10)) is None  # weekend service
    assert reason(shanghai(sunday, 10)) == (ErrorCode.SERVICE_CLOSED, "not open today")
    assert reason(shanghai(national_day, 10)) == (ErrorCode.SERVICE_CLOSED, "not open today")
    assert reason(shanghai(makeup_sunday, 10)) is None
    with refused(ErrorCode.SERVICE_CLOSED):
        queue.issue_ticket("social", shanghai(monday, 12, 45), "k")


def test_quota_and_no_open_window_give_the_kiosk_a_reason() -> None:
    hall = _with_hours(hours=None, quota=2).model_copy(update={"require_open_window": True})
    queue = HallQueue(hall)
    with refused(ErrorCode.NO_WINDOW_OPEN):
        queue.issue_ticket("social", MORNING, "k")
    queue.login(1, MORNING, clerk_code="1001")
    queue.issue_ticket("social", MORNING, "k")
    queue.issue_ticket("social", MORNING, "k")
    with refused(ErrorCode.QUOTA_REACHED):
        queue.issue_ticket("social", MORNING, "k")
    with refused(ErrorCode.NO_WINDOW_OPEN):
        queue.issue_ticket("tax", MORNING, "k")  # windows 2-4 have nobody
    with refused(ErrorCode.UNKNOWN_SERVICE):
        queue.issue_ticket("passport", MORNING, "k")


def test_a_ticket_moves_its_services_counts_but_the_last_under_the_quota_changes_it() -> None:
    # Count-only changes may reach the kiosks late (the scheduler throttles them); the
    # ticket that uses up the quota greys the service, which must go out at once.
    queue = staffed(_with_hours(hours=None, quota=2), 1)
    queue.take_changes()
    queue.issue_ticket("social", MORNING, "k")
    first = queue.take_changes()
    assert first.service_counts == {"social"} and not first.services
    queue.issue_ticket("social", MORNING, "k")
    assert queue.take_changes().services == {"social"}
    queue.call_next(1, MORNING)
    called = queue.take_changes()
    assert called.service_counts == {"social"} and not called.services
    queue.logout(1, MORNING)  # the service's open windows: more than a count
    assert "social" in queue.take_changes().services


# --- appointments -------------------------------------------------------------------


def test_early_appointment_waits_for_its_slot_then_goes_first() -> None:
    queue = staffed()
    slot = at(30)
    queue.book_appointment("social", slot, CARD, "138****0000", MORNING)
    walk_in = queue.issue_ticket("social", at(5), "k").ticket
    issued = queue.issue_ticket(None, at(10), "k", id_hash=CARD)  # card only: check-in
    assert issued.appointment is not None and issued.ticket.priority == PriorityClass.APPOINTMENT
    assert issued.estimated_wait_s >= 20 * 60
    assert queue.call_next(1, at(20)).id == walk_in.id  # too early for the appointment
    queue.finish(1, at(21))
    with refused(ErrorCode.NOTHING_WAITING):
        queue.call_next(1, at(25))
    assert queue.call_next(1, at(30)).id == issued.ticket.id


def test_late_appointment_becomes_a_normal_ticket() -> None:
    queue = staffed()
    queue.book_appointment("tax", at(10), CARD, "contact", MORNING)
    late = queue.issue_ticket("tax", at(10 + DEMO.appointment_late_s / 60 + 1), "k", id_hash=CARD)
    assert late.appointment is not None and late.appointment.state == "late"
    assert late.ticket.priority == PriorityClass.NORMAL
    with refused(ErrorCode.NO_APPOINTMENT):
        queue.issue_ticket(None, at(60), "k", id_hash=OTHER_CARD)


def test_booking_rules() -> None:
    queue = staffed(_with_hours())
    monday = date(2026, 11, 23)
    queue.book_appointment("social", shanghai(monday, 10), CARD, "c", MORNING)
    with refused(ErrorCode.INVALID_STATE):
        queue.book_appointment("social", shanghai(monday, 11), CARD, "c", MORNING)
    with refused(ErrorCode.SERVICE_CLOSED):
        queue.book_appointment("social", shanghai(monday, 12, 50), OTHER_CARD, "c", MORNING)
    with refused(ErrorCode.INVALID_STATE):
        queue.book_appointment("social", MORNING - timedelta(hours=1), OTHER_CARD, "c", MORNING)


# --- estimated wait -------------------------------------------------------------------


def test_estimate_follows_service_times_and_open_windows() -> None:
    queue = staffed(DEMO, 1)
    for _ in range(4):
        queue.issue_ticket("social", MORNING, "k")
    expected = DEMO.services[0].expected_service_s
    assert queue.estimated_wait_s("social") == round(4 * expected)
    queue.call_next(1, MORNING)
    queue.start_service(1, MORNING)
    queue.finish(1, at(2))  # a two-minute service: the first sample replaces the default
    assert queue.estimated_wait_s("social") == 3 * 120
    queue.login(2, MORNING, clerk_code="1002")
    assert queue.estimated_wait_s("social") == round(3 * 120 / 2)


# --- ratings and the ledger --------------------------------------------------------------


def _finished(queue: HallQueue, window: int = 1) -> str:
    queue.issue_ticket("social", MORNING, "k")
    queue.call_next(window, MORNING)
    return queue.finish(window, MORNING).id


def test_rating_once_at_its_own_pad_and_timeout_gives_unrated() -> None:
    queue = staffed()
    transaction_id = _finished(queue)
    with refused(ErrorCode.RATING_CLOSED):
        queue.rate(transaction_id, RatingLevel.SATISFIED, MORNING, window=2)
    with refused(ErrorCode.BAD_REQUEST):
        queue.rate(transaction_id, RatingLevel.DISSATISFIED, MORNING, window=1)
    queue.rate(
        transaction_id,
        RatingLevel.DISSATISFIED,
        MORNING,
        window=1,
        reason=BadRatingReason.EFFICIENCY,
    )
    with refused(ErrorCode.RATING_CLOSED):
        queue.rate(transaction_id, RatingLevel.VERY_SATISFIED, MORNING, window=1)

    silent = _finished(queue)
    assert queue.expire_ratings(MORNING + timedelta(seconds=DEMO.rating_timeout_s - 1)) == []
    expired = queue.expire_ratings(MORNING + timedelta(seconds=DEMO.rating_timeout_s + 1))
    assert [t.id for t in expired] == [silent]
    assert expired[0].outcome == UNRATED
    changes = queue.take_changes()
    assert [c.outcome for c in changes.cases] == ["dissatisfied"]
    assert verify_chain(e for e, _ in changes.ledger) is None


def test_pad_and_public_page_race_for_one_rating() -> None:
    hall = DEMO.model_copy(update={"later_rating_s": 3600.0})
    queue = staffed(hall)
    transaction_id = _finished(queue)
    queue.rate(transaction_id, RatingLevel.SATISFIED, MORNING, source=RatingSource.QR)
    with refused(ErrorCode.RATING_CLOSED):
        queue.rate(transaction_id, RatingLevel.VERY_SATISFIED, MORNING, window=1)
    # After the pad's prompt closed, only the ticket's page may still rate.
    later = _finished(queue)
    after_pad = MORNING + timedelta(seconds=hall.rating_timeout_s + 5)
    assert queue.expire_ratings(after_pad) == []
    with refused(ErrorCode.RATING_CLOSED):
        queue.rate(later, RatingLevel.SATISFIED, after_pad, window=1)
    queue.rate(later, RatingLevel.SATISFIED, after_pad, source=RatingSource.QR)
    entries = [e for e, _ in queue.take_changes().ledger]
    assert [e.source for e in entries] == ["qr", "qr"]


def test_review_appends_a_not_adopted_entry_and_keeps_the_rating() -> None:
    queue = staffed()
    transaction_id = _finished(queue)
    queue.rate(
        transaction_id,
        RatingLevel.VERY_DISSATISFIED,
        MORNING,
        window=1,
        reason=BadRatingReason.OTHER,
    )
    rating = queue.ledger_entries(transaction_id)
    assert rating is not None
    with refused(ErrorCode.NOT_ALLOWED):
        queue.review_rating(
            rating[0], rating, reviewer="m1", approver="m1", reason="x", now=MORNING
        )
    entry = queue.review_rating(
        rating[0], rating, reviewer="m1", approver="m2", reason="pressed by a child", now=MORNING
    )
    assert entry.kind == EntryKind.NOT_ADOPTED and entry.prev_hash == rating[0].hash
    entries = queue.ledger_entries(transaction_id)
    assert entries is not None and [e.kind for e in entries] == [
        EntryKind.RATING,
        EntryKind.NOT_ADOPTED,
    ]
    with refused(ErrorCode.INVALID_STATE):
        queue.review_rating(
            entries[0], entries, reviewer="m1", approver="m3", reason="y", now=MORNING
        )


def test_a_place_in_line_follows_class_then_arrival_then_number() -> None:
    from hallbus.messages import PriorityClass
    from scheduler.policy import LinePlace

    t = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    elder = LinePlace(PriorityClass.ELDERLY, t + timedelta(minutes=5), 9)
    early = LinePlace(PriorityClass.NORMAL, t, 2)
    same_moment = LinePlace(PriorityClass.NORMAL, t, 3)
    assert elder.called_before(early) and not early.called_before(elder)
    assert early.called_before(same_moment) and not same_moment.called_before(early)
    assert not early.called_before(early)


# --- a restart with a long line ------------------------------------------------------


def test_a_restored_line_is_the_line_that_was_saved() -> None:
    """A restart enqueues the saved line in bulk (each order sorted once); it must give
    the order, counts and longest waits that ticket-by-ticket enqueueing gives."""
    original = staffed(DEMO)
    issued = []
    for n in range(60):
        code = ("social", "tax", "residence")[n % 3]
        issued.append(original.issue_ticket(code, at(n), "k", age=75 if n % 7 == 0 else None))
    original.call_next(1, at(61))
    waiting = [i.ticket for i in issued if i.ticket.state == TicketState.WAITING]
    restored = HallQueue(DEMO)
    restored.restore(tickets=waiting)
    for code in ("social", "tax", "residence"):
        assert list(restored.room.in_order(code)) == list(original.room.in_order(code))
        assert restored.waiting_count(code) == original.waiting_count(code)
        assert restored.longest_waiting_since(code) == original.longest_waiting_since(code)
    assert restored.waiting_labels("social", 100) == original.waiting_labels("social", 100)
