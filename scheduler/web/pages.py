"""The dashboard's HTML pages (server-rendered; the live page updates over SSE)."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from hallbus.hall_file import HallConfig
from hallbus.hall_time import wall_clock
from scheduler.cases import CallbackResult, Complexity
from scheduler.export import export_lag
from scheduler.merit import derived_stars, month_bounds
from scheduler.planning import staffing_for_day
from scheduler.stats import GroupBy, Period, hall_statistics
from scheduler.web import api, config_forms, operations, reports
from scheduler.web.accounts import AccountError, Role, Session
from scheduler.web.config_preview import SECTIONS, PreviewError, preview
from scheduler.web.context import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Administrator,
    Context,
    Manager,
    Viewer,
    WebContext,
    client_address,
    same_secret,
)
from scheduler.web.context import reader_words as words
from scheduler.web.live import DEVICE_KINDS, device_rows
from scheduler.web.operations import CaseStep, OperationError
from scheduler.web.ratings import LABELS, case_counts, case_page, ledger_page, rating_summary
from scheduler.web.streams import hall_stream
from scheduler.web.words import (
    LANGUAGE_COOKIE,
    LANGUAGES,
    N_,
    dashboard_words,
    minutes_seconds,
    script_words,
    switch_targets,
)

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))


@pass_context
def _minutes_seconds(context: Any, seconds: float | None) -> str:
    """Jinja filter ``minutes_seconds``: 3分05秒 in the page's language."""
    return minutes_seconds(context.get("t") or dashboard_words("zh"), seconds)


@pass_context
def _wall_clock(
    context: Any, moment: datetime | str | None, pattern: str = "%Y-%m-%d %H:%M"
) -> str:
    """Jinja filter ``wall_clock``: a time on the hall's clock (the page's ``hall_zone``)."""
    if moment is None:
        return "—"
    return wall_clock(moment, context.get("hall_zone") or UTC, pattern)


TEMPLATES.env.filters["wall_clock"] = _wall_clock
LEDGER_PAGE = 50  # rating records a page: a month of a busy hall is thousands
TEMPLATES.env.filters["minutes_seconds"] = _minutes_seconds
TEMPLATES.env.globals["labels"] = LABELS  # codes as staff read them (待联系, 服务态度, ...)
TEMPLATES.env.globals["role_names"] = {
    Role.VIEWER.value: N_("Duty viewer"),
    Role.HALL_MANAGER.value: N_("Hall manager"),
    Role.ADMINISTRATOR.value: N_("Administrator"),
}
router = APIRouter(include_in_schema=False)

STREAM_REFRESH_S = 5.0  # timers on the page move on even when nothing else changes
STREAM_COALESCE_S = 0.25  # a burst of bus updates becomes one push
CONFIG_SECTIONS = ("services", "windows", "clerks", "devices")


def _newest_config(request: Request) -> HallConfig | None:
    context: WebContext = request.app.state.context
    newest = context.store.newest_config()
    return newest[1] if newest else None  # before the scheduler's first start


def _page_values(request: Request) -> dict[str, Any]:
    """What every page's frame needs: the hall's zone, the language and its direction."""
    config = _newest_config(request)
    texts = words(request)
    return {
        "hall_zone": config.zone if config else UTC,
        "t": texts,
        "lang": texts.language,
        "dir": "rtl" if texts.rtl else "ltr",
        "languages": switch_targets(),
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }


def render(request: Request, name: str, session: Session | None, **values: Any) -> HTMLResponse:
    """A page with the navigation for ``session``, in the reader's language; its times on
    the hall's clock."""
    return TEMPLATES.TemplateResponse(
        request,
        name,
        {
            **_page_values(request),
            "session": session,
            "csrf": session.csrf_token if session else "",
            "is_manager": bool(session and session.account.may(Role.HALL_MANAGER)),
            "is_admin": bool(session and session.account.may(Role.ADMINISTRATOR)),
            **values,
        },
    )


def message_page(request: Request, message: str, status: int) -> HTMLResponse:
    """A plain page saying what went wrong (``message`` is translated when the catalog
    has it: the operations' fixed messages are catalog ids)."""
    try:
        values = _page_values(request)
    except Exception:  # the error may be the database itself: say it in the hall's Chinese
        texts = dashboard_words("zh")
        values = {"hall_zone": UTC, "t": texts, "lang": "zh", "dir": "ltr", "languages": {}}
    response = TEMPLATES.TemplateResponse(
        request,
        "message.html",
        {**values, "session": None, "message": values["t"].unfilled(message), "status": status},
    )
    response.status_code = status
    return response


# --- login ----------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, ctx: Context, next: str = "/") -> Response:
    """The login form, with its own CSRF token in a cookie (login CSRF)."""
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, login_csrf=token, next=_local(next))
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        max_age=3600,
        secure=ctx.settings.https,
    )
    return response


def _local(target: str) -> str:
    """Only same-site paths after login: no open redirect.

    Browsers read a backslash as a slash, so "/\\evil.example" is "//evil.example", a
    link to another site; control characters are dropped by them too.
    """
    if not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return "/"
    return target


@router.post("/login")
def login_submit(
    request: Request,
    ctx: Context,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=200)] = "/",
) -> Response:
    """Log in; on success the session cookie and a redirect."""
    if not same_secret(csrf_token, request.cookies.get(LOGIN_COOKIE)):
        return message_page(request, N_("the login form expired; reload it"), 403)
    try:
        token, _ = operations.login(ctx, username, password, client_address(request))
    except OperationError as err:
        error = words(request).unfilled(err.message)
        refused = render(
            request, "login.html", None, login_csrf=csrf_token, next=_local(next), error=error
        )
        refused.status_code = err.status
        return refused
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=ctx.settings.https,
        max_age=int(ctx.settings.session_hours * 3600),
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/language")
def language_switch(
    ctx: Context,
    lang: Annotated[str, Form(max_length=8)],
    next: Annotated[str, Form(max_length=200)] = "/",
) -> Response:
    """The dashboard's language switch: the reader's choice, kept in a cookie for a year.

    No session or CSRF token: it changes only how this browser's pages read (also on the
    login page), never what the hall does.
    """
    response = RedirectResponse(_local(next), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=ctx.settings.https,
        )
    return response


@router.post("/logout")
def logout(request: Request, ctx: Context, session: Viewer) -> Response:
    """End the session."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        ctx.accounts.logout(token, ctx.now())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# --- live hall and devices -------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def live_page(request: Request, ctx: Context, session: Viewer) -> Response:
    """The live hall; the page script keeps it current from /live/stream."""
    texts = words(request)
    return render(
        request,
        "live.html",
        session,
        view=ctx.live(texts),
        hall=ctx.config(),
        script_words=script_words(texts),
    )


@router.get("/live/stream")
async def live_stream(request: Request, ctx: Context, session: Viewer) -> Response:
    """Server-sent events: the whole live view after every change (and every few seconds),
    in the reader's language."""
    texts = words(request)

    def snapshot() -> tuple[dict[str, Any], bool]:
        return ctx.live(texts), False

    return hall_stream(
        ctx.watch,
        ctx.streams,
        "hall",
        snapshot,
        refresh_s=STREAM_REFRESH_S,
        coalesce_s=STREAM_COALESCE_S,
    )


@router.get("/devices", response_class=HTMLResponse)
def devices_page(request: Request, ctx: Context, session: Viewer) -> Response:
    """Every device with availability, profile, last seen, status and faults."""
    rows = device_rows(ctx.watch.picture, ctx.config(), words(request))
    return render(request, "devices.html", session, devices=rows, kinds=DEVICE_KINDS)


# --- 好差评 ---------------------------------------------------------------------------------


@router.get("/ratings", response_class=HTMLResponse)
def ratings_page(
    request: Request,
    ctx: Context,
    session: Viewer,
    first: date | None = None,
    last: date | None = None,
    bad_only: bool = False,
    window: Annotated[int | None, Query(ge=1, le=999)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Ratings of a period by level, window, clerk and service; the ledger below, a page
    at a time and for one window if asked."""
    config = ctx.config()
    first, last = operations.period(ctx, first, last)
    entries = ledger_page(ctx.store.engine, config, first, last, bad_only=bad_only)
    if window is not None:
        entries = [e for e in entries if e["window"] == window]
    pages = max(1, -(-len(entries) // LEDGER_PAGE))
    page = min(page, pages)
    return render(
        request,
        "ratings.html",
        session,
        first=first,
        last=last,
        bad_only=bad_only,
        summary=rating_summary(ctx.store.engine, config, first, last),
        entries=entries[(page - 1) * LEDGER_PAGE : page * LEDGER_PAGE],
        total=len(entries),
        page=page,
        pages=pages,
        window=window,
        windows=[w.number for w in config.windows],
        proposals={p.transaction_id: p for p in ctx.reviews.proposals()},
        clerks={c.code: c for c in config.clerks},
        stars=_stars(ctx, config),
        export=export_lag(ctx.store),
    )


def _stars(ctx: WebContext, config: HallConfig) -> dict[str, int]:
    """Each clerk's 星级: from last month's ratings where the hall has rules, else fixed."""
    fixed = {c.code: c.stars for c in config.clerks if c.stars}
    if not config.star_rules:
        return fixed
    first, last = month_bounds(ctx.today(config).replace(day=1) - timedelta(days=1))
    rows = hall_statistics(ctx.store.engine, config, first, last, by="clerk", per="month")
    return derived_stars(rows, config.star_rules)


@router.get("/cases", response_class=HTMLResponse)
def cases_page(
    request: Request, ctx: Context, session: Viewer, revealed: dict[str, str] | None = None
) -> Response:
    """Bad-rating cases with deadlines: due today and overdue first."""
    config = ctx.config()
    page = case_page(ctx.store.engine, ctx.store.cases(), ctx.today(config))
    page.sort(key=lambda c: (c["state"] == "closed", not c["overdue"], not c["due_today"]))
    return render(
        request,
        "cases.html",
        session,
        cases=page,
        counts=case_counts(page),
        steps={c["id"]: ctx.store.case_steps(c["id"]) for c in page},
        results={c["id"]: ctx.store.callback_results(c["id"]) for c in page},
        contacts={case: masked for case, (_, masked) in ctx.store.sealed_contacts().items()},
        revealed=revealed or {},
        proposals=ctx.reviews.proposals(),
    )


@router.post("/cases/{case_id}/advance")
def case_advance(
    ctx: Context,
    session: Manager,
    case_id: str,
    to: Annotated[CaseStep, Form()],
    note: Annotated[str, Form(max_length=1000)],
    complexity: Annotated[Complexity | None, Form()] = None,
    result: Annotated[CallbackResult | None, Form()] = None,
) -> Response:
    """Record contact, rectification, call-back (with the citizen's view) or closing."""
    operations.advance_case(ctx, session, case_id, to, note, complexity, result)
    return RedirectResponse("/cases", status_code=303)


@router.post("/cases/{case_id}/attempt")
def case_attempt(
    ctx: Context, session: Manager, case_id: str, note: Annotated[str, Form(max_length=1000)]
) -> Response:
    """A contact attempt that did not reach the citizen."""
    operations.record_attempt(ctx, session, case_id, note)
    return RedirectResponse("/cases", status_code=303)


@router.post("/cases/{case_id}/contact", response_class=HTMLResponse)
def case_contact(request: Request, ctx: Context, session: Manager, case_id: str) -> Response:
    """Show one case's callback number to the manager about to call (audited)."""
    number = operations.reveal_contact(ctx, session, case_id)
    return cases_page(request, ctx, session, revealed={case_id: number})


@router.get("/tickets", response_class=HTMLResponse)
def tickets_page(request: Request, ctx: Context, session: Viewer) -> Response:
    """Today's open tickets, their services named in the reader's language; a manager can
    end one with a reason."""
    texts = words(request)
    services = {s.code: texts.pick(s.names, s.code) for s in ctx.config().services}
    tickets = operations.open_tickets(ctx)
    return render(request, "tickets.html", session, tickets=tickets, services=services)


@router.post("/tickets/{ticket_id}/void")
def ticket_void(
    ctx: Context,
    session: Manager,
    ticket_id: str,
    reason: Annotated[str, Form(max_length=200)],
) -> Response:
    """End a ticket (wrong service, the citizen left)."""
    operations.void_ticket(ctx, session, ticket_id, reason)
    return RedirectResponse("/tickets", status_code=303)


@router.post("/reviews")
def review_propose(
    ctx: Context,
    session: Manager,
    transaction_id: Annotated[str, Form(max_length=64)],
    reason: Annotated[str, Form(max_length=500)],
) -> Response:
    """Propose "not adopted" for a rating."""
    operations.propose_review(ctx, session, transaction_id, reason)
    return RedirectResponse("/cases", status_code=303)


@router.post("/reviews/{proposal_id}/{decision}")
def review_decide(
    ctx: Context, session: Manager, proposal_id: str, decision: Literal["approve", "reject"]
) -> Response:
    """A second manager approves or rejects a proposal."""
    operations.decide_review(ctx, session, proposal_id, approve=decision == "approve")
    return RedirectResponse("/cases", status_code=303)


# --- reports ----------------------------------------------------------------------------------


@router.get("/reports", response_class=HTMLResponse)
def reports_page(
    request: Request,
    ctx: Context,
    session: Viewer,
    per: Period = "day",
    by: GroupBy = "service",
    first: date | None = None,
    last: date | None = None,
    staffing_day: date | None = None,
) -> Response:
    """A report with charts and export links, and one day's staffing against the plan."""
    config = ctx.config()
    first, last = operations.period(ctx, first, last)
    if per == "month" and first == last:
        first = first.replace(day=1)
    rows = operations.report_rows(ctx, config, per, by, first, last)
    texts = words(request)
    names = reports.group_names(config, by, texts)
    day = staffing_day or last
    staffing = staffing_for_day(ctx.store.engine, config, day)
    return render(
        request,
        "reports.html",
        session,
        per=per,
        by=by,
        first=first,
        last=last,
        table=reports.table(rows, names, texts),
        charts=reports.charts(rows, names, texts),
        columns=reports.COLUMNS,
        staffing_day=day,
        staffing=staffing,
        staffing_chart=reports.staffing_chart(staffing, texts) if staffing else "",
    )


@router.get("/reports/export")
def report_export(
    request: Request,
    ctx: Context,
    session: Manager,
    format: Literal["csv", "xlsx"],
    per: Period = "day",
    by: GroupBy = "service",
    first: date | None = None,
    last: date | None = None,
) -> Response:
    """The report as CSV or XLSX."""
    return api.export(ctx, session, words(request), format, per, by, first, last)


# --- configuration, audit, accounts -----------------------------------------------------------


@router.get("/config", response_class=HTMLResponse)
def config_page(request: Request, ctx: Context, session: Administrator) -> Response:
    """Each section of the hall configuration, editable as YAML."""
    config = ctx.config().model_dump(mode="json", exclude_none=True)
    sections = {
        name: yaml.safe_dump(config.get(name, []), allow_unicode=True, sort_keys=False)
        for name in CONFIG_SECTIONS
    }
    newest = ctx.store.newest_config()
    languages = ctx.config().languages
    forms = {
        name: {
            "fields": config_forms.fields(name, languages),
            "items": config.get(name, []),
        }
        for name in config_forms.FORM_SECTIONS
    }
    return render(
        request,
        "config.html",
        session,
        sections=sections,
        forms=forms,
        cell=config_forms.cell,
        version=newest[0] if newest else 0,
        section_names=SECTIONS,
    )


ConfigSection = Literal["services", "windows", "clerks", "devices"]
SectionBody = Annotated[str, Form(max_length=200_000)]


@router.post("/config/{section}/preview", response_class=HTMLResponse)
def config_preview(
    request: Request,
    ctx: Context,
    session: Administrator,
    section: ConfigSection,
    body: SectionBody,
) -> Response:
    """What the edit changes, checked as a whole before anything is applied."""
    texts = words(request)
    try:
        _, found = preview(ctx.config(), section, body, texts)
    except PreviewError as err:
        return _refused_edit(request, session, section, err)
    said = [c.sentence(section, texts) for c in found]
    return render(
        request,
        "config_preview.html",
        session,
        section=section,
        body=body,
        changes=said,
        section_names=SECTIONS,
    )


def _refused_edit(request: Request, session: Session, section: str, err: PreviewError) -> Response:
    """The preview page saying why an edit cannot be saved (nothing was)."""
    refused = render(
        request,
        "config_preview.html",
        session,
        section=section,
        error=str(err),
        section_names=SECTIONS,
    )
    refused.status_code = 422
    return refused


@router.post("/config/{section}/form", response_class=HTMLResponse)
async def config_form_preview(
    request: Request, ctx: Context, session: Administrator, section: ConfigSection
) -> Response:
    """A section edited in its form: read back into items, then previewed as YAML is."""
    config = ctx.config()
    current = config.model_dump(mode="json", exclude_none=True).get(section, [])
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        items = config_forms.items_from_form(
            section, current, form, config.languages, words(request)
        )
    except PreviewError as err:
        return _refused_edit(request, session, section, err)
    body = yaml.safe_dump(items, allow_unicode=True, sort_keys=False)
    return config_preview(request, ctx, session, section, body)


@router.post("/config/{section}", response_class=HTMLResponse)
def config_save(
    request: Request,
    ctx: Context,
    session: Administrator,
    section: ConfigSection,
    body: SectionBody,
) -> Response:
    """Replace one section; checked as the preview checks it, then the scheduler checks
    the whole again and applies it live."""
    try:
        new, _ = preview(ctx.config(), section, body, words(request))
    except PreviewError as err:
        raise OperationError(422, str(err)) from err
    operations.apply_config(ctx, session, new)
    return RedirectResponse("/config", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, ctx: Context, session: Administrator) -> Response:
    """Every change, newest first."""
    return render(request, "audit.html", session, entries=ctx.accounts.audit_entries())


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(request: Request, ctx: Context, session: Administrator) -> Response:
    """Accounts and their roles."""
    return render(
        request,
        "accounts.html",
        session,
        accounts=ctx.accounts.accounts(),
        account_roles=list(Role),
        clerks=ctx.config().clerks,
    )


@router.post("/clerks/pin")
def clerk_pin_set(
    ctx: Context,
    session: Administrator,
    clerk_code: Annotated[str, Form(max_length=32)],
    pin: Annotated[str, Form(max_length=8)],
) -> Response:
    """Set a clerk's login PIN from the accounts page."""
    operations.set_clerk_pin(ctx, session, clerk_code, pin)
    return RedirectResponse("/accounts", status_code=303)


@router.post("/accounts")
def account_create(
    ctx: Context,
    session: Administrator,
    username: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    role: Annotated[Role, Form()],
    display_name: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """A new account."""
    try:
        ctx.accounts.create(
            username,
            password,
            role,
            display_name=display_name or None,
            actor=session.account.username,
            now=ctx.now(),
        )
    except AccountError as err:
        raise OperationError(422, str(err)) from err
    return RedirectResponse("/accounts", status_code=303)
