"""Online booking's rules, pure: which slots a service offers, how many each holds, and
who may book one. The domain applies them to its appointments; the booking page and API
use the same functions to show what is left.

A slot's capacity is what the windows planned for the service can serve in it, less the
share the hall keeps for walk-ins: ``windows × slot length ÷ expected service time ×
(1 − walk-in share)``, rounded down. A slot is offered only if it ends within an opening
period, so nobody is booked into closing time.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from hallbus.hall_file import BookingPolicy, HallConfig, ServiceConfig
from scheduler.calendar import WorkCalendar
from scheduler.hours import periods_on

# Appointments that hold their slot; cancelled and missed ones free it.
HOLDING = frozenset({"booked", "checked_in", "late"})
CODE_DIGITS = 8  # typed on the kiosk's number pad: digits only


@dataclass(frozen=True, slots=True)
class Slot:
    """One bookable stretch of a service's day."""

    start: datetime  # UTC
    end: datetime
    capacity: int
    booked: int

    @property
    def left(self) -> int:
        """Places still free."""
        return max(0, self.capacity - self.booked)


@dataclass(frozen=True, slots=True)
class Booked:
    """What the rules need to know of an appointment already made."""

    service_code: str
    slot_start: datetime
    id_hash: str
    state: str


class BookingRefused(ValueError):
    """A booking the rules do not allow; the message says why, for the citizen."""


def planned_windows(config: HallConfig, service_code: str) -> int:
    """Windows that handle the service as their own business (tier 1, or 一窗通办)."""
    return sum(
        1
        for w in config.windows
        if w.services == "all"
        or (isinstance(w.services, dict) and w.services.get(service_code) == 1)
    )


def slot_capacity(config: HallConfig, service: ServiceConfig) -> int:
    """Appointments one slot of ``service`` holds (see the module's formula)."""
    policy = config.booking
    served = planned_windows(config, service.code) * policy.slot_min * 60
    return math.floor(served / service.expected_service_s * (1 - policy.walk_in_share))


def day_slots(
    config: HallConfig,
    service: ServiceConfig,
    day: date,
    calendar: WorkCalendar,
    booked: Iterable[Booked],
) -> list[Slot]:
    """The service's slots on ``day`` (hall-local), each with what is booked in it."""
    zone = config.zone
    length = timedelta(minutes=config.booking.slot_min)
    capacity = slot_capacity(config, service)
    starts: list[datetime] = []
    midnight = datetime.combine(day, time(0), zone)
    if service.hours is None:  # it takes tickets whenever the hall runs: the whole day
        spans = [(midnight, datetime.combine(day + timedelta(days=1), time(0), zone))]
    else:
        spans = [
            (datetime.combine(day, p.open, zone), datetime.combine(day, p.close, zone))
            for p in periods_on(service, day, calendar)
        ]
    for start, close in spans:
        while start + length <= close:
            starts.append(start.astimezone(UTC))
            start += length
    held = [b.slot_start for b in booked if b.service_code == service.code and b.state in HOLDING]
    # An appointment counts in the slot it falls in (the API books exact starts).
    return [
        Slot(start, start + length, capacity, sum(start <= t < start + length for t in held))
        for start in starts
    ]


def slot_at(slots: list[Slot], moment: datetime) -> Slot | None:
    """The slot ``moment`` falls in, if any."""
    return next((s for s in slots if s.start <= moment < s.end), None)


def check_booking(
    config: HallConfig,
    slot: Slot | None,
    at: datetime,
    id_hash: str,
    now: datetime,
    booked: Iterable[Booked],
    *,
    ignoring: datetime | None = None,
) -> None:
    """Raise :class:`BookingRefused` unless this person may book ``at`` (in ``slot``) now.

    ``booked`` is every appointment the hall keeps (the person's own among them);
    ``ignoring`` is the slot of the appointment being changed, which does not count.
    """
    policy = config.booking
    if slot is None:
        raise BookingRefused("there is no such slot for this service")
    if at <= now:
        raise BookingRefused("the slot has already begun")
    if at > now + timedelta(days=policy.days_ahead):
        raise BookingRefused(f"slots open {policy.days_ahead} days ahead")
    if slot.left <= 0:
        raise BookingRefused("this slot is full; please choose another")
    mine = [b for b in booked if b.id_hash == id_hash and b.slot_start != ignoring]
    blocked = blocked_until(policy, mine, now)
    if blocked is not None:
        local = blocked.astimezone(config.zone)
        raise BookingRefused(
            f"{policy.no_show_limit} missed bookings: booking is closed until {local:%Y-%m-%d}"
        )
    upcoming = [b for b in mine if b.state == "booked" and b.slot_start > now]
    if len(upcoming) >= policy.max_open_per_person:
        raise BookingRefused(f"at most {policy.max_open_per_person} bookings at a time")
    day = at.astimezone(config.zone).date()
    same_day = [b for b in upcoming if b.slot_start.astimezone(config.zone).date() == day]
    if len(same_day) >= policy.per_person_per_day:
        raise BookingRefused(f"at most {policy.per_person_per_day} booking(s) a day")


def blocked_until(policy: BookingPolicy, mine: Iterable[Booked], now: datetime) -> datetime | None:
    """When a person who missed too many bookings may book again (None: they may now).

    Three missed bookings (no-shows) within the window block booking for ``block_days``
    from the last one: a slot nobody uses is one a neighbour could have had.
    """
    since = now - timedelta(days=policy.no_show_window_days)
    missed = sorted(b.slot_start for b in mine if b.state == "no_show" and b.slot_start >= since)
    if len(missed) < policy.no_show_limit:
        return None
    until = missed[-1] + timedelta(days=policy.block_days)
    return until if until > now else None


def booking_code(appointment_id: str) -> str:
    """The code a citizen types at the kiosk or quotes to cancel: digits drawn from the
    appointment's random id, so a code is as hard to guess as 10^8 allows (and the API
    that takes codes is rate-limited)."""
    digest = hashlib.sha256(appointment_id.encode()).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**CODE_DIGITS:0{CODE_DIGITS}d}"
