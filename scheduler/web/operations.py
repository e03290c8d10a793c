"""The dashboard's operations, shared by the HTML pages and the JSON API.

Each takes the context and the session of the person acting, checks what the rules
say, goes over the bus where the scheduler must act, and writes the audit log. Errors
are ``OperationError`` with the HTTP status a route answers with.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import select

from hallbus.hall_file import HallConfig
from hallbus.messages import UNRATED as UNRATED_OUTCOME
from hallbus.messages import (
    ApplyConfig,
    BadRatingReason,
    ErrorCode,
    PriorityClass,
    Rate,
    RatingLevel,
    Reply,
    ReviewRating,
    TicketState,
    VoidTicket,
)
from hallbus.topics import Command
from scheduler.cases import CallbackResult, CaseError, CaseState, Complexity
from scheduler.clerk_pins import PIN_PATTERN, hash_pin
from scheduler.contacts import ContactError, mask, normalised
from scheduler.domain import ACTIVE_STATES
from scheduler.ledger import EntryKind
from scheduler.policy import LinePlace
from scheduler.stats import GroupBy, Period, StatRow, hall_statistics
from scheduler.store import StoreError
from scheduler.tables import rating_ledger, tickets, transactions
from scheduler.web.accounts import Session
from scheduler.web.context import WebContext
from scheduler.web.ratings import OUTCOME_LABELS, ReviewDesk, ReviewError
from scheduler.web.words import N_


class OperationError(Exception):
    """A refused operation: the status to answer with and what to tell the person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# What a refusal from the scheduler means for the person at the browser.
_REPLY_STATUS = {
    ErrorCode.UNKNOWN_TICKET: 404,
    ErrorCode.INVALID_STATE: 409,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.INTERNAL: 503,
    ErrorCode.UNKNOWN_TRANSACTION: 404,
    ErrorCode.RATING_CLOSED: 409,
    ErrorCode.NOT_ALLOWED: 403,
    ErrorCode.NO_APPOINTMENT: 404,
}


def answer(reply: Reply) -> dict[str, Any]:
    """The reply's data, or the OperationError that says the refusal to a person."""
    if reply.status == "ok":
        return reply.data or {}
    assert reply.error is not None
    raise OperationError(_REPLY_STATUS.get(reply.error.code, 422), reply.error.message)


# --- login --------------------------------------------------------------------------


def login(ctx: WebContext, username: str, password: str, client: str) -> tuple[str, Session]:
    """Check a login, rate-limited per username and per client."""
    settings = ctx.settings
    if not ctx.limiter.allow(settings.login_limit_per_client, "login-client", client):
        raise OperationError(429, N_("too many logins from here; wait a minute"))
    if not ctx.limiter.allow(settings.login_limit, "login-user", username.lower()):
        raise OperationError(429, N_("too many attempts for this account; wait a minute"))
    found = ctx.accounts.login(username, password, ctx.now())
    if found is None:
        raise OperationError(401, N_("wrong username or password"))
    return found


# --- bad-rating cases and reviews ----------------------------------------------------

CaseStep = Literal["contacted", "rectified", "called_back", "closed"]


def advance_case(
    ctx: WebContext,
    session: Session,
    case_id: str,
    to: CaseStep,
    note: str | None,
    complexity: Complexity | None,
    result: CallbackResult | None = None,
) -> dict[str, Any]:
    """Record the next step of a bad-rating case (a callback with the citizen's view)."""
    config = ctx.config()
    if not (note or "").strip():
        raise OperationError(422, N_("say what was done (the note is kept with the case)"))
    try:
        case = ctx.store.advance_case(
            case_id,
            CaseState(to),
            actor=session.account.username,
            now=ctx.now(),
            today=ctx.today(config),
            calendar=ctx.calendar(config),
            note=note,
            complexity=complexity,
            result=result,
        )
    except CaseError as err:
        raise OperationError(409, str(err)) from err
    except StoreError as err:
        raise OperationError(404 if "no case" in str(err) else 409, str(err)) from err
    detail = {"note": note, "result": result.value if result else None}
    ctx.accounts.record(ctx.now(), session.account.username, f"case.{to}", case_id, detail)
    due = case.due()
    return {"id": case.id, "state": case.state.value, "due": due.isoformat() if due else None}


def set_clerk_pin(ctx: WebContext, session: Session, clerk_code: str, pin: str) -> dict[str, Any]:
    """An administrator sets a clerk's login PIN; only its argon2 hash is kept (audited)."""
    config = ctx.config()
    if config.clerk(clerk_code) is None:
        raise OperationError(404, f"no clerk {clerk_code} in this hall")
    if not re.fullmatch(PIN_PATTERN, pin):
        raise OperationError(422, N_("a PIN is 4 to 8 digits"))
    ctx.store.set_clerk_pin(clerk_code, hash_pin(pin), session.account.username, ctx.now())
    return {"clerk": clerk_code, "pin": "set"}


def record_attempt(ctx: WebContext, session: Session, case_id: str, note: str) -> dict[str, Any]:
    """A contact attempt that did not reach the citizen (three allow closing the case)."""
    if not note.strip():
        raise OperationError(422, N_("say how you tried (the note is kept with the case)"))
    try:
        count = ctx.store.record_attempt(
            case_id, actor=session.account.username, now=ctx.now(), note=note
        )
    except CaseError as err:
        raise OperationError(409, str(err)) from err
    except StoreError as err:
        raise OperationError(404, str(err)) from err
    ctx.accounts.record(
        ctx.now(), session.account.username, "case.attempt", case_id, {"note": note}
    )
    return {"id": case_id, "failed_attempts": count}


def reveal_contact(ctx: WebContext, session: Session, case_id: str) -> str:
    """The callback number of a case, for the manager about to call; audited."""
    sealed = ctx.store.sealed_contacts().get(case_id)
    if sealed is None:
        raise OperationError(404, N_("the citizen left no number for this case"))
    number = ctx.contacts.open(sealed[0])
    ctx.accounts.record(
        ctx.now(), session.account.username, "case.contact_revealed", case_id, {"masked": sealed[1]}
    )
    return number


def propose_review(
    ctx: WebContext, session: Session, transaction_id: str, reason: str
) -> dict[str, Any]:
    """Propose to mark a rating not adopted; a second manager must approve."""
    try:
        proposal = ctx.reviews.propose(transaction_id, reason, session.account.username, ctx.now())
    except ReviewError as err:
        raise OperationError(409, str(err)) from err
    ctx.accounts.record(
        ctx.now(),
        session.account.username,
        "review.propose",
        transaction_id,
        {"reason": reason, "proposal": proposal.id},
    )
    return {"id": proposal.id, "state": proposal.state}


def open_tickets(ctx: WebContext) -> list[dict[str, Any]]:
    """Today's tickets still waiting or called, in order of issue, for a manager to end one."""
    config = ctx.config()
    with ctx.store.engine.connect() as conn:
        rows = conn.execute(
            select(
                tickets.c.id,
                tickets.c.label,
                tickets.c.service_code,
                tickets.c.state,
                tickets.c.window,
                tickets.c.issued_at,
            )
            .where(
                tickets.c.hall == ctx.settings.hall,
                tickets.c.service_date == ctx.today(config),
                tickets.c.state.in_([TicketState.WAITING.value, TicketState.CALLED.value]),
            )
            .order_by(tickets.c.issued_at)
        ).all()
    return [dict(row._mapping) for row in rows]


def void_ticket(ctx: WebContext, session: Session, ticket_id: str, reason: str) -> dict[str, Any]:
    """End a waiting or called ticket (wrong service, the citizen left); audited, kept."""
    reason = reason.strip()
    if not reason:
        raise OperationError(422, N_("say why the ticket is ended (kept in the audit log)"))
    request = VoidTicket(
        request_id=uuid.uuid4().hex,
        ticket_id=ticket_id,
        reason=reason[:200],
        manager=session.account.username,
    )
    voided = answer(
        ctx.portal.request(Command.VOID_TICKET, request, timeout=ctx.settings.bus_timeout_s)
    )
    ctx.accounts.record(
        ctx.now(),
        session.account.username,
        "ticket.void",
        ticket_id,
        {"label": voided.get("label"), "reason": reason[:200]},
    )
    return {"ticket_id": ticket_id, "label": voided.get("label"), "state": voided.get("state")}


def decide_review(
    ctx: WebContext, session: Session, proposal_id: str, *, approve: bool
) -> dict[str, Any]:
    """Approve (the scheduler appends a not-adopted entry) or reject a proposal."""
    desk: ReviewDesk = ctx.reviews
    decider = session.account.username
    try:
        proposal = desk.pending(proposal_id, decider)
    except ReviewError as err:
        raise OperationError(409, str(err)) from err
    seq = None
    if approve:
        request = ReviewRating(
            request_id=f"review-{proposal.id}"[:64],
            transaction_id=proposal.transaction_id,
            reviewer=proposal.proposed_by,
            approver=decider,
            reason=proposal.reason,
        )
        entry = answer(
            ctx.portal.request(Command.REVIEW_RATING, request, timeout=ctx.settings.bus_timeout_s)
        )
        seq = int(entry["seq"])
    try:
        desk.decide(proposal, decider, ctx.now(), approved_seq=seq)
    except ReviewError as err:
        raise OperationError(409, str(err)) from err
    action = "review.approve" if approve else "review.reject"
    ctx.accounts.record(
        ctx.now(), decider, action, proposal.transaction_id, {"proposal": proposal.id, "seq": seq}
    )
    return {"id": proposal.id, "state": "approved" if approve else "rejected", "ledger_seq": seq}


# --- configuration ----------------------------------------------------------------------


def apply_config(ctx: WebContext, session: Session, new: dict[str, Any]) -> dict[str, Any]:
    """Send a whole new configuration to the scheduler; it checks it and applies it live."""
    before = ctx.config().model_dump(mode="json")
    request = ApplyConfig(request_id=uuid.uuid4().hex, config=new, author=session.account.username)
    applied = answer(
        ctx.portal.request(Command.APPLY_CONFIG, request, timeout=ctx.settings.bus_timeout_s)
    )
    changed = sorted(k for k in set(before) | set(new) if before.get(k) != new.get(k))
    ctx.accounts.record(
        ctx.now(),
        session.account.username,
        "config.apply",
        f"version {applied['version']}",
        {"changed": changed, "before": {k: before.get(k) for k in changed}},
    )
    return {"version": applied["version"], "changed": changed}


# --- reports ---------------------------------------------------------------------------


def report_rows(
    ctx: WebContext, config: HallConfig, per: Period, by: GroupBy, first: date, last: date
) -> list[StatRow]:
    """The report's figures."""
    return hall_statistics(ctx.store.engine, config, first, last, by=by, per=per)


def period(ctx: WebContext, first: date | None, last: date | None) -> tuple[date, date]:
    """A period of local days, today by default; at most 400 days, first before last."""
    today = ctx.today(ctx.config())
    first, last = first or today, last or today
    if last < first or (last - first).days > 400:
        raise OperationError(422, N_("give a period of at most 400 days, first before last"))
    return first, last


# --- the public rating page ------------------------------------------------------------


@dataclass(frozen=True)
class RateableTransaction:
    """One transaction of a ticket as its public page shows it."""

    transaction_id: str
    service_code: str
    window: int
    finished_at: datetime
    outcome: str | None  # None: not rated yet
    outcome_label: str | None
    open: bool  # can still be rated here


def ticket_page(ctx: WebContext, ticket_id: str, token: str) -> dict[str, Any]:
    """The ticket behind a QR link and its transactions; 404 for a wrong token or ticket."""
    if not ctx.tokens.check(ticket_id, token):
        raise OperationError(404, N_("this link is not valid"))
    now = ctx.now()
    with ctx.store.engine.connect() as conn:
        ticket = conn.execute(
            select(tickets.c.label, tickets.c.service_code, tickets.c.state).where(
                tickets.c.id == ticket_id, tickets.c.hall == ctx.settings.hall
            )
        ).first()
        if ticket is None:
            raise OperationError(404, N_("this link is not valid"))
        rows = conn.execute(
            select(transactions)
            .where(transactions.c.ticket_id == ticket_id)
            .order_by(transactions.c.finished_at)
        ).all()
        outcomes = {
            r.transaction_id: r.outcome
            for r in conn.execute(
                select(rating_ledger.c.transaction_id, rating_ledger.c.outcome).where(
                    rating_ledger.c.transaction_id.in_([r.id for r in rows]),
                    rating_ledger.c.kind == EntryKind.RATING.value,
                )
            )
        }
    items = [
        RateableTransaction(
            transaction_id=r.id,
            service_code=r.service_code,
            window=r.window,
            finished_at=r.finished_at,
            outcome=outcomes.get(r.id),
            outcome_label=OUTCOME_LABELS.get(outcomes.get(r.id) or ""),
            open=r.id not in outcomes and now <= r.rating_deadline,
        )
        for r in rows
    ]
    return {"ticket_id": ticket_id, "label": ticket.label, "state": ticket.state, "items": items}


@dataclass(frozen=True)
class TicketProgress:
    """Where a ticket stands, as its phone page says it."""

    state: str
    label: str
    window: int | None
    ahead: int | None  # waiting: tickets that will be called before it
    estimate_min: int | None  # waiting: minutes, from the service's live estimate

    @property
    def final(self) -> bool:
        """Nothing more will happen to the ticket itself (its rating may still)."""
        return self.state not in {s.value for s in ACTIVE_STATES}


def ticket_progress(ctx: WebContext, ticket_id: str, token: str) -> TicketProgress:
    """A ticket's state for its holder; 404 for a wrong token or ticket."""
    if not ctx.tokens.check(ticket_id, token):
        raise OperationError(404, N_("this link is not valid"))
    with ctx.store.engine.connect() as conn:
        row = conn.execute(
            select(tickets).where(tickets.c.id == ticket_id, tickets.c.hall == ctx.settings.hall)
        ).first()
        if row is None:
            raise OperationError(404, N_("this link is not valid"))
        if row.state != TicketState.WAITING.value:
            return TicketProgress(row.state, row.label, row.window, None, None)
        waiting = conn.execute(
            select(tickets.c.priority, tickets.c.queued_at, tickets.c.number).where(
                tickets.c.hall == ctx.settings.hall,
                tickets.c.service_date == row.service_date,
                tickets.c.service_code == row.service_code,
                tickets.c.state == TicketState.WAITING.value,
                tickets.c.id != row.id,
            )
        ).all()
    mine = LinePlace(PriorityClass(row.priority), row.queued_at, row.number)
    ahead = sum(
        1
        for other in waiting
        if LinePlace(PriorityClass(other.priority), other.queued_at, other.number).called_before(
            mine
        )
    )
    shown = ctx.watch.picture.services.get(row.service_code)
    estimate = None
    if shown is not None and shown.estimated_wait_s is not None:
        # The live estimate is for a ticket taken now, at the end of the line.
        share = (ahead + 1) / (len(waiting) + 1)
        estimate = max(1, round(shown.estimated_wait_s * share / 60))
    return TicketProgress(row.state, row.label, None, ahead, estimate)


def rate_on_page(
    ctx: WebContext,
    ticket_id: str,
    token: str,
    transaction_id: str,
    level: RatingLevel,
    reason: BadRatingReason | None,
    comment: str | None,
    client: str,
    phone: str | None = None,
) -> dict[str, Any]:
    """Rate one transaction of the ticket the token belongs to; once."""
    if not ctx.limiter.allow(ctx.settings.rating_limit, "rate", client):
        raise OperationError(429, N_("too many ratings from here; wait a minute"))
    page = ticket_page(ctx, ticket_id, token)
    item = next((i for i in page["items"] if i.transaction_id == transaction_id), None)
    if item is None:
        raise OperationError(404, N_("this service does not belong to this ticket"))
    if item.outcome == UNRATED_OUTCOME or (item.outcome is None and not item.open):
        # Nobody rated in time: the record says so, and the page says rating has closed.
        raise OperationError(409, N_("rating for this service has closed"))
    if item.outcome is not None:
        raise OperationError(409, N_("this service has already been rated"))
    if level.is_bad and reason is None:
        raise OperationError(422, N_("please tell us what went wrong"))
    number = None
    if phone and phone.strip() and level.is_bad:
        try:
            number = normalised(phone)
        except ContactError as err:
            raise OperationError(422, str(err)) from err
    request = Rate(
        # One id per transaction: a double tap or a retry rates once.
        request_id=f"qr-{transaction_id}"[:64],
        transaction_id=transaction_id,
        level=level,
        reason=reason if level.is_bad else None,
        comment=(comment or "").strip()[:500] or None,
    )
    reply = ctx.portal.request(Command.RATE, request, timeout=ctx.settings.bus_timeout_s)
    if reply.error is not None and reply.error.code == ErrorCode.REQUEST_ID_REUSED:
        # Another tap or phone rated this transaction first with another level: the
        # request id is the transaction's, so the scheduler kept the first one only.
        raise OperationError(409, N_("this service has already been rated"))
    rated = answer(reply)
    if number is not None:
        # The case was opened with the rating, in the same commit the reply follows.
        ctx.store.save_case_contact(
            transaction_id, ctx.contacts.seal(number), mask(number), ctx.now()
        )
    return {"transaction_id": transaction_id, "outcome": rated.get("outcome")}
