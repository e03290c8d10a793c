"""Online booking (网上预约) for citizens' phones and the province's portal.

The ID number is hashed with the hall's key the moment it arrives and never kept or
logged; the phone number for reminders is sealed here and never sent to the scheduler.
The scheduler decides every booking by the same rules the slots are shown with
(``scheduler.booking``); this module shows them and carries requests over the bus.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, insert, select

from hallbus.hall_file import HallConfig, ServiceConfig
from hallbus.identity import IdHasher, IdKeyError, normalise_id_number, valid_id_number
from hallbus.messages import (
    BookAppointment,
    CancelAppointment,
    ChangeAppointment,
    Request,
)
from hallbus.topics import Command
from scheduler.booking import HOLDING, Booked, Slot, day_slots, slot_capacity
from scheduler.contacts import ContactError, mask, normalised
from scheduler.tables import appointment_contacts, appointments
from scheduler.web.context import WebContext
from scheduler.web.operations import OperationError, answer


@dataclass(frozen=True, slots=True)
class Booking:
    """A booking as its holder sees it."""

    code: str
    service_code: str
    slot_start: datetime
    state: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON the API answers with."""
        return {
            "code": self.code,
            "service_code": self.service_code,
            "slot_start": self.slot_start.isoformat(),
            "state": self.state,
        }


def _hasher(ctx: WebContext) -> IdHasher:
    path = ctx.settings.id_key_file
    if path is None:
        raise OperationError(503, "booking is not set up in this hall (no ID key)")
    try:
        return IdHasher.from_file(path)
    except IdKeyError as err:
        raise OperationError(503, f"booking is not set up in this hall: {err}") from err


def _limit(ctx: WebContext, what: str, client: str) -> None:
    if not ctx.limiter.allow(ctx.settings.booking_limit, f"booking-{what}", client):
        raise OperationError(429, "too many booking requests from here; wait a minute")


def bookable_services(config: HallConfig) -> list[ServiceConfig]:
    """Services with at least one place a slot."""
    return [s for s in config.services if slot_capacity(config, s) > 0]


def _service(config: HallConfig, code: str) -> ServiceConfig:
    service = config.service(code)
    if service is None or slot_capacity(config, service) <= 0:
        raise OperationError(404, f"no bookable service {code!r}")
    return service


def slots(ctx: WebContext, service_code: str, day: date) -> list[Slot]:
    """The service's slots on ``day`` (hall-local) with the places left."""
    config = ctx.config()
    service = _service(config, service_code)
    first = datetime.combine(day, time(0), config.zone).astimezone(UTC)
    with ctx.store.engine.connect() as conn:
        rows = conn.execute(
            select(appointments.c.slot_start, appointments.c.state).where(
                appointments.c.hall == config.id,
                appointments.c.service_code == service_code,
                appointments.c.state.in_(sorted(HOLDING)),
                appointments.c.slot_start >= first,
                appointments.c.slot_start < first + timedelta(days=1),
            )
        ).all()
    booked = [Booked(service_code, r.slot_start, "", r.state) for r in rows]
    return day_slots(config, service, day, ctx.calendar(config), booked)


def booking_days(ctx: WebContext) -> list[date]:
    """The days a slot may be booked on: tomorrow onwards, as far ahead as the hall allows."""
    config = ctx.config()
    today = ctx.today(config)
    return [today + timedelta(days=n) for n in range(1, config.booking.days_ahead + 1)]


def _send(ctx: WebContext, command: Command, request: Request) -> Booking:
    data = answer(ctx.portal.request(command, request, timeout=ctx.settings.bus_timeout_s))
    return Booking(
        data["code"],
        data["service_code"],
        datetime.fromisoformat(data["slot_start"]),
        data.get("state", "booked"),
    )


def book(
    ctx: WebContext,
    service_code: str,
    slot_start: datetime,
    id_number: str,
    phone: str | None,
    client: str,
) -> Booking:
    """Book a slot for the holder of ``id_number``; the reply carries the booking code."""
    _limit(ctx, "write", client)
    hasher = _hasher(ctx)
    _service(ctx.config(), service_code)
    forget_old_contacts(ctx, ctx.now())  # each booking sweeps the numbers no longer needed
    number = normalise_id_number(id_number)
    if not valid_id_number(number):
        raise OperationError(422, "please give an 18-character ID number")
    mobile = None
    if phone and phone.strip():
        try:
            mobile = normalised(phone)
        except ContactError as err:
            raise OperationError(422, str(err)) from err
    request = BookAppointment(
        request_id=uuid.uuid4().hex,
        service_code=service_code,
        slot_start=slot_start,
        id_hash=hasher.hash(number),
        contact=mask(mobile) if mobile else "-",
    )
    booking = _send(ctx, Command.BOOK_APPOINTMENT, request)
    if mobile is not None:
        _keep_phone(ctx, booking, mobile)
    return booking


def _keep_phone(ctx: WebContext, booking: Booking, mobile: str) -> None:
    with ctx.store.engine.begin() as conn:
        appointment_id = conn.execute(
            select(appointments.c.id).where(
                appointments.c.hall == ctx.settings.hall, appointments.c.code == booking.code
            )
        ).scalar_one()
        conn.execute(
            insert(appointment_contacts).values(
                appointment_id=appointment_id,
                hall=ctx.settings.hall,
                sealed=ctx.contacts.seal(mobile),
                masked=mask(mobile),
                slot_start=booking.slot_start,
            )
        )


def forget_old_contacts(ctx: WebContext, now: datetime) -> int:
    """Delete the phone numbers of bookings whose day is over (kept minimised)."""
    with ctx.store.engine.begin() as conn:
        done = conn.execute(
            delete(appointment_contacts).where(
                appointment_contacts.c.hall == ctx.settings.hall,
                appointment_contacts.c.slot_start < now - timedelta(days=1),
            )
        )
    return int(done.rowcount or 0)


def lookup(ctx: WebContext, code: str, client: str) -> Booking:
    """The booking with this code."""
    _limit(ctx, "read", client)
    with ctx.store.engine.connect() as conn:
        row = conn.execute(
            select(appointments).where(
                appointments.c.hall == ctx.settings.hall, appointments.c.code == code
            )
        ).first()
    if row is None:
        raise OperationError(404, "no booking with this code")
    return Booking(row.code, row.service_code, row.slot_start, row.state)


def cancel(ctx: WebContext, code: str, client: str) -> Booking:
    """Cancel the booking before its slot."""
    _limit(ctx, "write", client)
    return _send(
        ctx,
        Command.CANCEL_APPOINTMENT,
        CancelAppointment(request_id=uuid.uuid4().hex, code=code),
    )


def change(ctx: WebContext, code: str, slot_start: datetime, client: str) -> Booking:
    """Move the booking to another slot of its service."""
    _limit(ctx, "write", client)
    return _send(
        ctx,
        Command.CHANGE_APPOINTMENT,
        ChangeAppointment(request_id=uuid.uuid4().hex, code=code, slot_start=slot_start),
    )
