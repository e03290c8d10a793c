"""The versioned JSON API (``/api/v1``): the dashboard's operations for other programs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from hallbus.i18n import Texts
from hallbus.messages import BadRatingReason, RatingLevel
from scheduler.cases import CallbackResult, Complexity
from scheduler.stats import GroupBy, Period
from scheduler.web import operations, reports
from scheduler.web.accounts import AccountError, Role, Session
from scheduler.web.context import (
    SESSION_COOKIE,
    Administrator,
    Context,
    Manager,
    Viewer,
    WebContext,
    client_address,
    reader_words,
)
from scheduler.web.live import device_rows
from scheduler.web.operations import CaseStep, OperationError
from scheduler.web.ratings import case_counts, case_page, ledger_page, rating_summary

router = APIRouter(prefix="/api/v1", tags=["dashboard"])

Bounded = Annotated[str, Field(min_length=1, max_length=500)]
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"description": "not logged in"},
    403: {"description": "role too low, or CSRF token missing for a cookie session"},
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    """A username and password."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class SessionPublic(BaseModel):
    """A new session: send ``token`` as ``Authorization: Bearer``."""

    token: str
    csrf_token: str
    username: str
    role: Role
    expires_at: datetime


class CaseStepBody(_Body):
    """The next step of a bad-rating case."""

    to: CaseStep
    note: Bounded
    complexity: Complexity | None = None
    result: CallbackResult | None = None  # with called_back: the citizen's view of the fix


class PinBody(_Body):
    """A clerk's new login PIN (4 to 8 digits)."""

    pin: str = Field(min_length=4, max_length=8)


class AttemptBody(_Body):
    """A contact attempt that did not reach the citizen."""

    note: Bounded


class VoidBody(_Body):
    """Why a manager ends a ticket."""

    reason: Bounded


class ReviewProposalBody(_Body):
    """Propose to mark a rating not adopted."""

    transaction_id: str = Field(min_length=1, max_length=64)
    reason: Bounded


class ConfigBody(_Body):
    """A whole hall configuration (as GET /config returns it)."""

    config: dict[str, Any]


class AccountCreate(_Body):
    """A new dashboard account."""

    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    password: str = Field(min_length=10, max_length=200)
    role: Role
    display_name: str | None = Field(default=None, max_length=64)


class AccountPublic(BaseModel):
    """An account without its secrets."""

    username: str
    display_name: str
    role: Role
    active: bool


class PublicRating(_Body):
    """A citizen's rating of one transaction, from the ticket's page."""

    k: str = Field(min_length=1, max_length=64)
    transaction_id: str = Field(min_length=1, max_length=64)
    level: RatingLevel
    reason: BadRatingReason | None = None
    comment: str | None = Field(default=None, max_length=500)


# --- session ---------------------------------------------------------------------------


@router.post("/session", responses={401: {"description": "wrong login"}, 429: {}})
def create_session(request: Request, ctx: Context, body: LoginBody) -> SessionPublic:
    """Log in; the token authenticates later calls as a bearer token (no CSRF needed)."""
    token, session = operations.login(ctx, body.username, body.password, client_address(request))
    return SessionPublic(
        token=token,
        csrf_token=session.csrf_token,
        username=session.account.username,
        role=session.account.role,
        expires_at=session.expires_at,
    )


@router.delete("/session", status_code=204, responses=UNAUTHORIZED)
def end_session(request: Request, ctx: Context, session: Viewer) -> Response:
    """Log out this token."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    token = token or request.cookies.get(SESSION_COOKIE)
    if token:
        ctx.accounts.logout(token, ctx.now())
    return Response(status_code=204)


# --- live hall and devices ----------------------------------------------------------------


@router.get("/live", responses=UNAUTHORIZED)
def live(ctx: Context, session: Viewer) -> dict[str, Any]:
    """Windows, services, alerts, today's figures and recent events as the live page shows
    them."""
    return ctx.live()


@router.get("/devices", responses=UNAUTHORIZED)
def devices(ctx: Context, session: Viewer) -> list[dict[str, Any]]:
    """Every device with availability, profile, last seen, status and faults."""
    return device_rows(ctx.watch.picture, ctx.config())


# --- 好差评 --------------------------------------------------------------------------------


@router.get("/ratings", responses=UNAUTHORIZED)
def ratings(
    ctx: Context, session: Viewer, first: date | None = None, last: date | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Rating records of a period by level: for the hall and per window, clerk and service."""
    first, last = operations.period(ctx, first, last)
    return rating_summary(ctx.store.engine, ctx.config(), first, last)


@router.get("/ratings/ledger", responses=UNAUTHORIZED)
def ledger(
    ctx: Context,
    session: Viewer,
    first: date | None = None,
    last: date | None = None,
    bad_only: bool = False,
) -> list[dict[str, Any]]:
    """The rating records of a period, newest first, with any review."""
    first, last = operations.period(ctx, first, last)
    return ledger_page(ctx.store.engine, ctx.config(), first, last, bad_only=bad_only)


@router.get("/cases", responses=UNAUTHORIZED)
def cases(ctx: Context, session: Viewer) -> dict[str, Any]:
    """Bad-rating cases with deadlines, and how many are due today and overdue."""
    page = case_page(ctx.store.engine, ctx.store.cases(), ctx.today(ctx.config()))
    return {"counts": case_counts(page), "cases": page}


@router.post("/cases/{case_id}/steps", responses=UNAUTHORIZED)
def case_step(ctx: Context, session: Manager, case_id: str, body: CaseStepBody) -> dict[str, Any]:
    """Record the next step of a case (contact, rectification, call-back, close)."""
    return operations.advance_case(
        ctx, session, case_id, body.to, body.note, body.complexity, body.result
    )


@router.put("/clerks/{clerk_code}/pin", responses=UNAUTHORIZED)
def clerk_pin(
    ctx: Context, session: Administrator, clerk_code: str, body: PinBody
) -> dict[str, Any]:
    """Set a clerk's login PIN (only its argon2 hash is kept; audited)."""
    return operations.set_clerk_pin(ctx, session, clerk_code, body.pin)


@router.post("/cases/{case_id}/attempts", responses=UNAUTHORIZED)
def case_attempt(ctx: Context, session: Manager, case_id: str, body: AttemptBody) -> dict[str, Any]:
    """Record a contact attempt that did not reach the citizen (three allow closing)."""
    return operations.record_attempt(ctx, session, case_id, body.note)


@router.get("/tickets", responses=UNAUTHORIZED)
def open_tickets(ctx: Context, session: Viewer) -> list[dict[str, Any]]:
    """Today's tickets still waiting or called."""
    return [{**t, "issued_at": t["issued_at"].isoformat()} for t in operations.open_tickets(ctx)]


@router.post("/tickets/{ticket_id}/void", responses=UNAUTHORIZED)
def void_ticket(ctx: Context, session: Manager, ticket_id: str, body: VoidBody) -> dict[str, Any]:
    """End a waiting or called ticket with a reason (the ticket is kept, voided; audited)."""
    return operations.void_ticket(ctx, session, ticket_id, body.reason)


@router.get("/reviews", responses=UNAUTHORIZED)
def reviews(ctx: Context, session: Viewer) -> list[dict[str, Any]]:
    """Proposals to mark ratings not adopted, newest first."""
    return [{**vars(p), "proposed_at": p.proposed_at.isoformat()} for p in ctx.reviews.proposals()]


@router.post("/reviews", responses=UNAUTHORIZED)
def review_propose(ctx: Context, session: Manager, body: ReviewProposalBody) -> dict[str, Any]:
    """Propose "not adopted" for a rating; another manager must approve it."""
    return operations.propose_review(ctx, session, body.transaction_id, body.reason)


@router.post("/reviews/{proposal_id}/{decision}", responses=UNAUTHORIZED)
def review_decide(
    ctx: Context, session: Manager, proposal_id: str, decision: Literal["approve", "reject"]
) -> dict[str, Any]:
    """Approve (the ledger gets a not-adopted entry; the rating stays) or reject."""
    return operations.decide_review(ctx, session, proposal_id, approve=decision == "approve")


# --- reports ----------------------------------------------------------------------------


@router.get("/reports", responses=UNAUTHORIZED)
def report(
    ctx: Context,
    session: Viewer,
    per: Period = "day",
    by: GroupBy = "service",
    first: date | None = None,
    last: date | None = None,
) -> list[dict[str, Any]]:
    """Figures per day or month and per service, window or clerk."""
    first, last = operations.period(ctx, first, last)
    return [r.as_dict() for r in operations.report_rows(ctx, ctx.config(), per, by, first, last)]


def export(
    ctx: WebContext,
    session: Session,
    texts: Texts,
    format: Literal["csv", "xlsx"],
    per: Period,
    by: GroupBy,
    first: date | None,
    last: date | None,
) -> Response:
    """A report file, named after its period and grouping, its headings in ``texts``'
    language."""
    config = ctx.config()
    first, last = operations.period(ctx, first, last)
    rows = operations.report_rows(ctx, config, per, by, first, last)
    names = reports.group_names(config, by, texts)
    stem = f"paidui-{config.id}-{per}-{by}-{first}-{last}"
    if format == "csv":
        content, media = reports.as_csv(rows, names, texts), "text/csv; charset=utf-8"
    else:
        content = reports.as_xlsx(rows, names, f"{per} {by}", texts)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{stem}.{format}"'},
    )


@router.get(
    "/reports/export",
    responses={**UNAUTHORIZED, 200: {"content": {"text/csv": {}}}},
    response_class=Response,
)
def report_export(
    request: Request,
    ctx: Context,
    session: Manager,
    format: Literal["csv", "xlsx"] = "csv",
    per: Period = "day",
    by: GroupBy = "service",
    first: date | None = None,
    last: date | None = None,
) -> Response:
    """The report as CSV (UTF-8 with BOM) or XLSX, headed in the hall's language."""
    return export(ctx, session, reader_words(request), format, per, by, first, last)


# --- configuration, audit, accounts ---------------------------------------------------------


@router.get("/config", responses=UNAUTHORIZED)
def config(ctx: Context, session: Administrator) -> dict[str, Any]:
    """The configuration in force."""
    return ctx.config().model_dump(mode="json")


@router.put("/config", responses=UNAUTHORIZED)
def config_apply(ctx: Context, session: Administrator, body: ConfigBody) -> dict[str, Any]:
    """Replace the configuration; the scheduler checks it and applies it live (audited)."""
    return operations.apply_config(ctx, session, body.config)


@router.get("/audit", responses=UNAUTHORIZED)
def audit(ctx: Context, session: Administrator) -> list[dict[str, Any]]:
    """Every recorded change, newest first."""
    return [{**vars(e), "at": e.at.isoformat()} for e in ctx.accounts.audit_entries()]


@router.get("/accounts", responses=UNAUTHORIZED)
def accounts(ctx: Context, session: Administrator) -> list[AccountPublic]:
    """Every account."""
    return [
        AccountPublic(
            username=a.username, display_name=a.display_name, role=a.role, active=a.active
        )
        for a in ctx.accounts.accounts()
    ]


@router.post("/accounts", status_code=201, responses=UNAUTHORIZED)
def account_create(ctx: Context, session: Administrator, body: AccountCreate) -> AccountPublic:
    """A new account (audited)."""
    try:
        made = ctx.accounts.create(
            body.username,
            body.password,
            body.role,
            display_name=body.display_name,
            actor=session.account.username,
            now=ctx.now(),
        )
    except AccountError as err:
        raise OperationError(409 if "taken" in str(err) else 422, str(err)) from err
    return AccountPublic(
        username=made.username, display_name=made.display_name, role=made.role, active=made.active
    )


# --- the public rating page's API (no login; the ticket's token instead) --------------------


@router.get("/tickets/{ticket_id}/rating", tags=["public"], responses={404: {}})
def ticket_rating(ctx: Context, ticket_id: str, k: str) -> dict[str, Any]:
    """The ticket's transactions and whether each can still be rated."""
    page = operations.ticket_page(ctx, ticket_id, k)
    return page | {
        "items": [vars(i) | {"finished_at": i.finished_at.isoformat()} for i in page["items"]]
    }


@router.post("/tickets/{ticket_id}/rating", tags=["public"], responses={404: {}, 409: {}, 429: {}})
def ticket_rate(
    request: Request, ctx: Context, ticket_id: str, body: PublicRating
) -> dict[str, Any]:
    """Rate one transaction of the ticket, once; a bad rating needs a reason."""
    return operations.rate_on_page(
        ctx,
        ticket_id,
        body.k,
        body.transaction_id,
        body.level,
        body.reason,
        body.comment,
        client_address(request),
    )
