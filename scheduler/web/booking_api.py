"""The booking API (``/api/v1/booking``) for the province's portal and citizens' apps:
no login, rate-limited per client; in the same OpenAPI document as the dashboard's."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hallbus.messages import BookingCode, RequestTime
from scheduler.web import booking_ops
from scheduler.web.context import Context, client_address

router = APIRouter(prefix="/api/v1/booking", tags=["booking"])
REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such service or booking"},
    409: {"description": "the rules refuse it: full, limits, missed bookings, begun"},
    422: {"description": "the request is not valid"},
    429: {"description": "too many requests from this client"},
    503: {"description": "booking is not set up, or the scheduler did not answer"},
}
Code = Annotated[str, Path(pattern=r"^[0-9]{8}$", description="the 8-digit booking code")]


class NewBooking(BaseModel):
    """A slot for a person: their ID number (hashed on arrival, never kept) and,
    optionally, a mobile number for a reminder (sealed, deleted after the day)."""

    model_config = ConfigDict(extra="forbid")

    service_code: str = Field(min_length=1, max_length=16)
    slot_start: RequestTime
    id_number: str = Field(min_length=15, max_length=24)
    phone: str | None = Field(default=None, max_length=20)


class MovedBooking(BaseModel):
    """The slot to move a booking to."""

    model_config = ConfigDict(extra="forbid")

    slot_start: RequestTime


class BookingOut(BaseModel):
    """A booking as its holder sees it."""

    code: BookingCode
    service_code: str
    slot_start: str
    state: str


@router.get("/services", responses=REFUSALS)
def services(ctx: Context) -> list[dict[str, Any]]:
    """The services that take bookings, with their names per language and the days open."""
    config = ctx.config()
    days = [d.isoformat() for d in booking_ops.booking_days(ctx)]
    return [
        {"code": s.code, "names": s.names, "days": days}
        for s in booking_ops.bookable_services(config)
    ]


@router.get("/slots", responses=REFUSALS)
def slots(
    ctx: Context,
    service: Annotated[str, Query(min_length=1, max_length=16)],
    day: date,
) -> list[dict[str, Any]]:
    """The service's slots on a day (the hall's date), each with its places left."""
    return [
        {
            "start": s.start.isoformat(),
            "end": s.end.isoformat(),
            "capacity": s.capacity,
            "left": s.left,
        }
        for s in booking_ops.slots(ctx, service, day)
    ]


@router.post("", status_code=201, responses=REFUSALS)
def book(request: Request, ctx: Context, body: NewBooking) -> BookingOut:
    """Book a slot; the answer's code checks in at the kiosk and cancels or changes."""
    booking = booking_ops.book(
        ctx, body.service_code, body.slot_start, body.id_number, body.phone, client_address(request)
    )
    return BookingOut(**booking.as_dict())


@router.get("/{code}", responses=REFUSALS)
def lookup(request: Request, ctx: Context, code: Code) -> BookingOut:
    """The booking with this code: its service, slot and state."""
    return BookingOut(**booking_ops.lookup(ctx, code, client_address(request)).as_dict())


@router.post("/{code}/cancel", responses=REFUSALS)
def cancel(request: Request, ctx: Context, code: Code) -> BookingOut:
    """Cancel the booking before its slot; its place is free again."""
    return BookingOut(**booking_ops.cancel(ctx, code, client_address(request)).as_dict())


@router.post("/{code}/change", responses=REFUSALS)
def change(request: Request, ctx: Context, code: Code, body: MovedBooking) -> BookingOut:
    """Move the booking to another slot of its service."""
    booking = booking_ops.change(ctx, code, body.slot_start, client_address(request))
    return BookingOut(**booking.as_dict())
