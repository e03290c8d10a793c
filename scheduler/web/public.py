"""The public rating page a ticket's QR code opens: no login, the ticket's token instead."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hallbus.i18n import LANGUAGE_NAMES, Texts, texts_in
from hallbus.messages import BadRatingReason, RatingLevel, TicketState
from scheduler.web import operations
from scheduler.web.context import Context, client_address
from scheduler.web.operations import OperationError, TicketProgress
from scheduler.web.pages import TEMPLATES
from scheduler.web.streams import hall_stream

LOCALE = Path(__file__).with_name("locale")
# The phone page speaks every language a hall may print on its QR links; the browser
# shapes and orders right-to-left text itself, given the page's direction.
LANGUAGES = ("zh", "ug", "kk", "en")
router = APIRouter(include_in_schema=False)


def _texts(lang: str | None) -> Texts:
    return texts_in(LOCALE, "rate", lang if lang in LANGUAGES else "zh")


PROGRESS_REFRESH_S = 15.0  # the phone hears the state at least this often
FINAL_TEXTS = {
    TicketState.DONE.value: "Your service is done",
    TicketState.NO_SHOW.value: "Your number was called and passed",
    TicketState.CANCELLED.value: "This ticket was cancelled",
    TicketState.EXPIRED.value: "This ticket expired at the end of its day",
    TicketState.VOIDED.value: "This ticket was ended by the hall",
}


def progress_text(texts: Texts, progress: TicketProgress) -> str:
    """The one line that says where the ticket stands, in the ticket's language."""
    match progress.state:
        case TicketState.WAITING.value if progress.estimate_min is not None:
            return texts(
                "Waiting: {ahead} ahead of you, about {minutes} min",
                ahead=progress.ahead,
                minutes=progress.estimate_min,
            )
        case TicketState.WAITING.value:
            return texts("Waiting: {ahead} ahead of you", ahead=progress.ahead)
        case TicketState.CALLED.value:
            return texts("Please go to window {window} now", window=progress.window)
        case TicketState.SERVING.value:
            return texts("Being served at window {window}", window=progress.window)
    return texts(FINAL_TEXTS.get(progress.state, progress.state))


def _page(
    request: Request, ctx: Context, ticket_id: str, k: str, lang: str | None, **values: object
) -> HTMLResponse:
    texts = _texts(lang)
    config = ctx.config()
    try:
        page = operations.ticket_page(ctx, ticket_id, k)
        progress = operations.ticket_progress(ctx, ticket_id, k)
    except OperationError as err:
        response = TEMPLATES.TemplateResponse(
            request, "rate.html", {"t": texts, "invalid": True, "error": texts(err.message)}
        )
        response.status_code = err.status
        return response
    services = {s.code: texts.pick(s.names, s.code) for s in config.services}
    return TEMPLATES.TemplateResponse(
        request,
        "rate.html",
        {
            "t": texts,
            "lang": texts.language,
            "languages": {code: LANGUAGE_NAMES[code] for code in LANGUAGES},
            "k": k,
            "page": page,
            "progress": progress,
            "progress_text": progress_text(texts, progress),
            "services": services,
            "hall_name": texts.pick(config.names, config.id),
            "levels": list(RatingLevel),
            "reasons": list(BadRatingReason),
            **values,
        },
    )


@router.get("/t/{ticket_id}", response_class=HTMLResponse)
def rating_page(
    request: Request, ctx: Context, ticket_id: str, k: str = "", lang: str | None = None
) -> Response:
    """The ticket's services, each with the five levels until it is rated."""
    return _page(request, ctx, ticket_id, k, lang)


@router.get("/t/{ticket_id}/stream")
async def progress_stream(
    request: Request, ctx: Context, ticket_id: str, k: str = "", lang: str | None = None
) -> Response:
    """Server-sent events: the ticket's progress line whenever the hall changes."""
    texts = _texts(lang)
    operations.ticket_progress(ctx, ticket_id, k)  # 404 before any stream for a wrong link

    def snapshot() -> tuple[dict[str, Any], bool]:
        progress = operations.ticket_progress(ctx, ticket_id, k)
        text = progress_text(texts, progress)
        # A final state ends the stream: the page reloads to offer the rating.
        return {"state": progress.state, "text": text, "final": progress.final}, progress.final

    return hall_stream(
        ctx.watch, ctx.streams, "progress", snapshot, refresh_s=PROGRESS_REFRESH_S, retry_ms=3000
    )


@router.post("/t/{ticket_id}", response_class=HTMLResponse)
def rating_submit(
    request: Request,
    ctx: Context,
    ticket_id: str,
    k: Annotated[str, Form(max_length=64)],
    transaction_id: Annotated[str, Form(max_length=64)],
    level: Annotated[RatingLevel, Form()],
    lang: Annotated[str, Form(max_length=8)] = "zh",
    reason: Annotated[BadRatingReason | None, Form()] = None,
    comment: Annotated[str, Form(max_length=500)] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Record the rating; a bad one without a reason comes back asking for it."""
    if level.is_bad and reason is None:
        return _page(
            request,
            ctx,
            ticket_id,
            k,
            lang,
            ask_reason=transaction_id,
            chosen=level,
            comment=comment,
        )
    try:
        operations.rate_on_page(
            ctx,
            ticket_id,
            k,
            transaction_id,
            level,
            reason,
            comment,
            client_address(request),
            phone=phone,
        )
    except OperationError as err:
        response = _page(request, ctx, ticket_id, k, lang, error=_texts(lang)(err.message))
        response.status_code = err.status
        return response
    return RedirectResponse(f"/t/{ticket_id}?k={k}&lang={lang}&thanks=1", status_code=303)
