"""The booking page citizens open on their phones (/book): choose a service, a day and a
slot, give the ID number, get the booking code; look a booking up to cancel or move it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from scheduler.web import booking_ops
from scheduler.web.context import Context, WebContext, client_address
from scheduler.web.operations import OperationError
from scheduler.web.pages import TEMPLATES

router = APIRouter(include_in_schema=False)
WEEKDAYS = "一二三四五六日"


def _day_label(day: date) -> str:
    return f"{day.month}月{day.day}日 周{WEEKDAYS[day.weekday()]}"


def _picker(ctx: WebContext, service: str | None, day: date | None) -> dict[str, Any]:
    """What the slot picker shows: services, days and, once both are chosen, the slots."""
    config = ctx.config()
    days = booking_ops.booking_days(ctx)
    chosen = service if service and config.service(service) else None
    slots = []
    if chosen is not None and day in days:
        slots = [
            {
                "value": s.start.isoformat(),
                "label": f"{s.start.astimezone(config.zone):%H:%M}–"
                f"{s.end.astimezone(config.zone):%H:%M}",
                "left": s.left,
            }
            for s in booking_ops.slots(ctx, chosen, day)
        ]
    return {
        "hall_name": config.names.get("zh", config.id),
        "services": [(s.code, s.names["zh"]) for s in booking_ops.bookable_services(config)],
        "days": [(d.isoformat(), _day_label(d)) for d in days],
        "service": chosen,
        "day": day.isoformat() if day else None,
        "slots": slots,
        "names": {s.code: s.names["zh"] for s in config.services},
        "late_min": int(config.appointment_late_s // 60),
    }


def _page(request: Request, ctx: WebContext, status: int = 200, **values: Any) -> HTMLResponse:
    response = TEMPLATES.TemplateResponse(request, "book.html", values)
    response.status_code = status
    return response


def _when(ctx: WebContext, moment: datetime) -> str:
    local = moment.astimezone(ctx.config().zone)
    return f"{_day_label(local.date())} {local:%H:%M}"


@router.get("/book", response_class=HTMLResponse)
def booking_form(
    request: Request, ctx: Context, service: str | None = None, day: date | None = None
) -> Response:
    """Step by step on one page: service and day, then the slots and the person."""
    return _page(request, ctx, **_picker(ctx, service, day))


@router.post("/book", response_class=HTMLResponse)
def booking_made(
    request: Request,
    ctx: Context,
    service: Annotated[str, Form(max_length=16)],
    day: Annotated[date, Form()],
    slot: Annotated[datetime, Form()],
    id_number: Annotated[str, Form(max_length=24)],
    phone: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Book; the answer page shows the code large, to write down or screenshot."""
    try:
        booking = booking_ops.book(ctx, service, slot, id_number, phone, client_address(request))
    except OperationError as err:
        return _page(request, ctx, err.status, error=err.message, **_picker(ctx, service, day))
    return RedirectResponse(f"/book/{booking.code}?made=1", status_code=303)


@router.get("/book/lookup")
def booking_lookup(code: str = "") -> Response:
    """The look-up form's answer: on to the booking's own page."""
    digits = "".join(c for c in code if c.isdigit())[:8]
    return RedirectResponse(f"/book/{digits or '0'}", status_code=303)


@router.get("/book/{code}", response_class=HTMLResponse)
def booking_shown(
    request: Request, ctx: Context, code: str, day: date | None = None, made: int = 0
) -> Response:
    """A booking: its slot and state, with cancel and move while it is open."""
    try:
        booking = booking_ops.lookup(ctx, code, client_address(request))
    except OperationError as err:
        return _page(request, ctx, err.status, error=err.message, **_picker(ctx, None, None))
    return _page(
        request,
        ctx,
        booking=booking,
        when=_when(ctx, booking.slot_start),
        made=bool(made),
        **_picker(ctx, booking.service_code, day),
    )


@router.post("/book/{code}/cancel", response_class=HTMLResponse)
def booking_cancelled(request: Request, ctx: Context, code: str) -> Response:
    """Cancel, then show the booking again (now cancelled)."""
    try:
        booking_ops.cancel(ctx, code, client_address(request))
    except OperationError as err:
        return _page(request, ctx, err.status, error=err.message, **_picker(ctx, None, None))
    return RedirectResponse(f"/book/{code}", status_code=303)


@router.post("/book/{code}/change", response_class=HTMLResponse)
def booking_moved(
    request: Request, ctx: Context, code: str, slot: Annotated[datetime, Form()]
) -> Response:
    """Move to the chosen slot, then show the booking again."""
    try:
        booking_ops.change(ctx, code, slot, client_address(request))
    except OperationError as err:
        return _page(request, ctx, err.status, error=err.message, **_picker(ctx, None, None))
    return RedirectResponse(f"/book/{code}", status_code=303)
