"""Online booking: slots from capacity, limits per person, the no-show rule, cancel and
change by code, and check-in at the kiosk by code."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from hallbus.hall_file import BookingPolicy, HallConfig, OpeningPeriod
from hallbus.messages import ErrorCode, PriorityClass
from scheduler.booking import Booked, booking_code, day_slots, planned_windows, slot_capacity
from scheduler.calendar import WorkCalendar
from scheduler.domain import HallQueue
from tests.scheduler.test_domain import CARD, DEMO, OTHER_CARD, refused

# Monday 2026-11-23, 08:00 in Shanghai: the hall is about to open.
MONDAY = date(2026, 11, 23)
EARLY = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
HOURS = [
    OpeningPeriod(days=["workday"], open=time(9), close=time(12)),
    OpeningPeriod(days=["workday"], open=time(13, 30), close=time(17)),
]


def hall(**policy: object) -> HallConfig:
    """The demo hall with 社保 open 9-12 and 13:30-17 on workdays and a booking policy."""
    services = [
        s.model_copy(update={"hours": HOURS}) if s.code == "social" else s for s in DEMO.services
    ]
    return DEMO.model_copy(
        update={"services": services, "booking": BookingPolicy.model_validate(policy)}
    )


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), DEMO.zone).astimezone(UTC)


def test_a_slot_holds_what_its_planned_windows_serve_less_the_walk_in_share() -> None:
    config = hall(slot_min=30, walk_in_share=0.5)
    social = config.service("social")
    assert social is not None
    # Windows 1, 2 (tier 1) and 4 (一窗通办) plan social; window 3 only tax.
    assert planned_windows(config, "social") == 3
    expected = int(3 * 30 * 60 / social.expected_service_s * 0.5)
    assert slot_capacity(config, social) == expected
    slots = day_slots(config, social, MONDAY, WorkCalendar(), [])
    starts = [s.start.astimezone(config.zone).strftime("%H:%M") for s in slots]
    # Each slot ends within an opening period: no 11:45 slot running into lunch.
    assert starts == [
        *("09:00", "09:30", "10:00", "10:30", "11:00", "11:30"),
        *("13:30", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30"),
    ]
    assert all(s.capacity == expected and s.left == expected for s in slots)
    booked = [Booked("social", local(MONDAY, 9, 10), CARD, "booked")]
    assert day_slots(config, social, MONDAY, WorkCalendar(), booked)[0].left == expected - 1


def test_a_full_slot_is_refused_and_a_cancelled_place_is_free_again() -> None:
    # One place a slot: 3 windows × 30 min ÷ 5 min × the 6 % not kept for walk-ins.
    config = hall(walk_in_share=0.94)
    social = config.service("social")
    assert social is not None and slot_capacity(config, social) == 1
    queue = HallQueue(config)
    first = queue.book_appointment("social", local(MONDAY, 10), CARD, "138****0000", EARLY)
    with refused(ErrorCode.INVALID_STATE):
        queue.book_appointment("social", local(MONDAY, 10), OTHER_CARD, "-", EARLY)
    cancelled = queue.cancel_appointment(first.code, EARLY)
    assert cancelled.state == "cancelled"
    with refused(ErrorCode.NO_APPOINTMENT):
        queue.cancel_appointment(first.code, EARLY)  # once
    queue.book_appointment("social", local(MONDAY, 10), OTHER_CARD, "-", EARLY)


def test_limits_per_person() -> None:
    queue = HallQueue(hall(per_person_per_day=1, max_open_per_person=2))
    queue.book_appointment("social", local(MONDAY, 9), CARD, "-", EARLY)
    with refused(ErrorCode.INVALID_STATE):
        queue.book_appointment("tax", local(MONDAY, 15), CARD, "-", EARLY)  # same day
    queue.book_appointment("social", local(MONDAY + timedelta(days=1), 9), CARD, "-", EARLY)
    with refused(ErrorCode.INVALID_STATE):  # two open bookings already
        queue.book_appointment("social", local(MONDAY + timedelta(days=2), 9), CARD, "-", EARLY)
    with refused(ErrorCode.INVALID_STATE):  # beyond the days ahead
        queue.book_appointment("tax", local(MONDAY + timedelta(days=9), 9), OTHER_CARD, "-", EARLY)


def test_three_missed_bookings_block_booking_for_thirty_days() -> None:
    queue = HallQueue(hall(no_show_limit=3, block_days=30, days_ahead=30))
    days = [MONDAY, MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)]
    missed = [queue.book_appointment("social", local(d, 9), CARD, "-", EARLY) for d in days]
    after = local(days[-1] + timedelta(days=1), 8)
    queue.close_days(after)  # nobody came: each becomes a missed booking
    assert [a.state for a in missed] == ["no_show"] * 3
    with refused(ErrorCode.INVALID_STATE):
        queue.book_appointment("social", local(MONDAY + timedelta(days=7), 9), CARD, "-", after)
    # Somebody else is not affected; the same person may book again after the block.
    queue.book_appointment("social", local(MONDAY + timedelta(days=7), 9), OTHER_CARD, "-", after)
    # The block runs 30 days from the last missed slot (Wednesday 25th): a Monday after.
    later = local(date(2026, 12, 28), 8)
    queue.book_appointment("social", local(date(2026, 12, 29), 10), CARD, "-", later)


def test_a_booking_moves_to_another_slot_by_the_same_rules() -> None:
    queue = HallQueue(hall(walk_in_share=0.94))  # one place a slot
    mine = queue.book_appointment("social", local(MONDAY, 9), CARD, "-", EARLY)
    queue.book_appointment("social", local(MONDAY, 10), OTHER_CARD, "-", EARLY)
    with refused(ErrorCode.INVALID_STATE):
        queue.change_appointment(mine.code, local(MONDAY, 10), EARLY)  # full
    moved = queue.change_appointment(mine.code, local(MONDAY, 11), EARLY)
    assert moved.slot_start == local(MONDAY, 11) and moved.code == mine.code
    # Its old slot is free again.
    queue.book_appointment("social", local(MONDAY, 9), "c" * 64, "-", EARLY)
    with refused(ErrorCode.INVALID_STATE):  # not once its slot has begun
        queue.change_appointment(mine.code, local(MONDAY, 14), local(MONDAY, 11, 5))


def test_the_kiosk_checks_in_by_booking_code_on_its_day_only() -> None:
    config = hall()
    queue = HallQueue(config)
    for number in (1, 2, 4):
        queue.login(number, local(MONDAY, 8, 50), clerk_code=str(1000 + number))
    today = queue.book_appointment("social", local(MONDAY, 10), CARD, "-", EARLY)
    tomorrow = queue.book_appointment(
        "social", local(MONDAY + timedelta(days=1), 10), OTHER_CARD, "-", EARLY
    )
    assert len(today.code) == 8 and today.code.isdigit() and today.code == booking_code(today.id)
    with refused(ErrorCode.NO_APPOINTMENT):
        queue.issue_ticket(None, local(MONDAY, 9, 40), "k", booking_code=tomorrow.code)
    with refused(ErrorCode.NO_APPOINTMENT):
        queue.issue_ticket(None, local(MONDAY, 9, 40), "k", booking_code="00000000")
    issued = queue.issue_ticket(None, local(MONDAY, 9, 40), "k", booking_code=today.code)
    assert issued.appointment is today and today.state == "checked_in"
    assert issued.ticket.priority == PriorityClass.APPOINTMENT
    assert issued.ticket.service_code == "social"
    with refused(ErrorCode.NO_APPOINTMENT):  # a code checks in once
        queue.issue_ticket(None, local(MONDAY, 9, 41), "k", booking_code=today.code)


@pytest.mark.parametrize("appointment_id", ["0" * 32, "f" * 32, "id-1", "x"])
def test_booking_codes_are_eight_digits(appointment_id: str) -> None:
    code = booking_code(appointment_id)
    assert len(code) == 8 and code.isdigit()
