"""The public rating page a ticket's QR code opens: no login, the ticket's token instead."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hallbus.i18n import Texts, texts_in
from hallbus.messages import BadRatingReason, RatingLevel
from scheduler.web import operations
from scheduler.web.context import Context, client_address
from scheduler.web.operations import OperationError
from scheduler.web.pages import TEMPLATES

LOCALE = Path(__file__).with_name("locale")
LANGUAGES = ("zh", "en")
router = APIRouter(include_in_schema=False)


def _texts(lang: str | None) -> Texts:
    return texts_in(LOCALE, "rate", lang if lang in LANGUAGES else "zh")


def _page(
    request: Request, ctx: Context, ticket_id: str, k: str, lang: str | None, **values: object
) -> HTMLResponse:
    texts = _texts(lang)
    config = ctx.config()
    try:
        page = operations.ticket_page(ctx, ticket_id, k)
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
            "k": k,
            "page": page,
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
) -> Response:
    """Record the rating; a bad one without a reason comes back asking for it."""
    if level.is_bad and reason is None:
        return _page(request, ctx, ticket_id, k, lang, ask_reason=transaction_id, chosen=level)
    try:
        operations.rate_on_page(
            ctx, ticket_id, k, transaction_id, level, reason, comment, client_address(request)
        )
    except OperationError as err:
        response = _page(request, ctx, ticket_id, k, lang, error=_texts(lang)(err.message))
        response.status_code = err.status
        return response
    return RedirectResponse(f"/t/{ticket_id}?k={k}&lang={lang}&thanks=1", status_code=303)
