"""What every dashboard route shares: settings, the store, the bus, and who is asking."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, ConfigDict, Field

from hallbus.client import BusClient, Requester
from hallbus.clock import Clock
from hallbus.hall_file import HallConfig
from hallbus.i18n import Texts
from hallbus.settings import BusSettings
from hallbus.topics import HallTopics
from scheduler.calendar import WorkCalendar
from scheduler.contacts import ContactVault
from scheduler.rating_token import RatingTokens
from scheduler.store import Store
from scheduler.web.accounts import AccountStore, Role, Session
from scheduler.web.glance import FiguresCache, at_a_glance
from scheduler.web.live import HallWatch, live_view
from scheduler.web.ratings import ReviewDesk
from scheduler.web.streams import StreamShutdown
from scheduler.web.words import LANGUAGE_COOKIE, N_, choose_language, dashboard_words

SESSION_COOKIE = "paidui_session"
LOGIN_COOKIE = "paidui_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class WebSettings(BaseModel):
    """How the dashboard runs; the hall's own configuration comes from the store."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    db_url: str
    hall: str
    bus: BusSettings = BusSettings()
    portal_device: str = "portal"  # the dashboard's device id on the bus
    rating_key_file: Path
    # Seals the callback numbers citizens leave (scheduler/web/contacts.py); default beside
    # the rating key.
    contact_key_file: Path | None = None
    public_url: str = "http://127.0.0.1:8000"
    secure_cookies: bool = False  # forces Secure cookies; an https public_url implies them
    # Addresses of reverse proxies whose X-Forwarded-For is believed; from anyone else the
    # header is ignored, so a client cannot rotate it to dodge the per-client limits.
    trusted_proxies: tuple[str, ...] = ()
    session_hours: float = Field(default=8.0, gt=0)
    login_limit: str = "5/minute"  # per username
    login_limit_per_client: str = "30/minute"
    rating_limit: str = "30/minute"  # the public page, per client
    # Online booking: the hall's ID key (paidui id-key) hashes ID numbers as they arrive;
    # without it booking answers 503. Requests per client, reads and writes apart.
    id_key_file: Path | None = None
    booking_limit: str = "10/minute"
    bus_timeout_s: float = Field(default=3.0, gt=0)

    @property
    def contact_key(self) -> Path:
        """Where the contact key lives."""
        return self.contact_key_file or self.rating_key_file.with_suffix(".contact.key")

    @property
    def https(self) -> bool:
        """Whether people reach the dashboard over HTTPS: Secure cookies and HSTS then."""
        return self.secure_cookies or self.public_url.lower().startswith("https://")


def same_secret(sent: str | None, expected: str | None) -> bool:
    """Compare a token in constant time (no early exit that leaks how much matched)."""
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode(), expected.encode())


class RateLimiter:
    """Moving-window limits kept in memory (one dashboard process per hall)."""

    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def allow(self, limit: str, *keys: str) -> bool:
        """Count one hit; False when ``limit`` is already spent for ``keys``."""
        item: RateLimitItem = parse(limit)
        return bool(self._limiter.hit(item, *keys))


@dataclass
class WebContext:
    """The dashboard's parts, built by ``create_app`` and started by its lifespan."""

    settings: WebSettings
    store: Store
    accounts: AccountStore
    reviews: ReviewDesk
    bus: BusClient
    topics: HallTopics
    portal: Requester
    watch: HallWatch
    tokens: RatingTokens
    limiter: RateLimiter
    clock: Clock
    contacts: ContactVault
    streams: StreamShutdown = field(default_factory=StreamShutdown)
    figures: FiguresCache = field(default_factory=FiguresCache)

    def live(self, texts: Texts | None = None) -> dict[str, Any]:
        """The live page's view: the hall now, today's figures, events as sentences, in
        ``texts``' language (the hall's Chinese when not given)."""
        config, now = self.config(), self.now()
        texts = texts or dashboard_words("zh")
        locked = self.store.locked_clerks(now)
        view = live_view(self.watch.picture, config, now, locked, texts)
        figures = self.figures.get(self.store.engine, config, self.today(config))
        return at_a_glance(view, self.watch.picture, config, figures, texts)

    def config(self) -> HallConfig:
        """The configuration in force: the newest version the scheduler stored."""
        newest = self.store.newest_config()
        if newest is None:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                N_("the scheduler has not started this hall yet"),
            )
        return newest[1]

    def now(self) -> datetime:
        """The clock's time."""
        return self.clock.now()

    def today(self, config: HallConfig) -> date:
        """The hall's local date."""
        return self.now().astimezone(config.zone).date()

    def calendar(self, config: HallConfig) -> WorkCalendar:
        """The hall's working-day calendar."""
        return WorkCalendar(config.extra_holidays, config.extra_workdays)


def context(request: Request) -> WebContext:
    """The app's context."""
    found: WebContext = request.app.state.context
    return found


Context = Annotated[WebContext, Depends(context)]


def _token_of(request: Request) -> tuple[str | None, bool]:
    """The session token and whether it came from the cookie (which needs CSRF)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None, False
    return request.cookies.get(SESSION_COOKIE), True


async def _csrf_token_sent(request: Request) -> str | None:
    sent = request.headers.get(CSRF_HEADER)
    if sent:
        return sent
    if request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    return None


class NotLoggedIn(Exception):
    """No valid session: pages redirect to the login, the API answers 401."""


def require(role: Role) -> Callable[[Request, WebContext], Awaitable[Session]]:
    """A dependency admitting sessions of ``role`` or above; unsafe methods need CSRF."""

    async def check(request: Request, ctx: Context) -> Session:
        token, from_cookie = _token_of(request)
        session = ctx.accounts.session(token, ctx.now()) if token else None
        if session is None:
            raise NotLoggedIn()
        if request.method not in SAFE_METHODS and from_cookie:
            sent = await _csrf_token_sent(request)
            if not same_secret(sent, session.csrf_token):
                raise HTTPException(status.HTTP_403_FORBIDDEN, N_("missing or wrong CSRF token"))
        if not session.account.may(role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this needs the {role.value} role or higher"
            )
        return session

    return check


Viewer = Annotated[Session, Depends(require(Role.VIEWER))]
Manager = Annotated[Session, Depends(require(Role.HALL_MANAGER))]
Administrator = Annotated[Session, Depends(require(Role.ADMINISTRATOR))]


def client_address(request: Request) -> str:
    """Who is asking, for rate limits."""
    return request.client.host if request.client else "unknown"


def reader_words(request: Request) -> Texts:
    """The dashboard's texts in the reader's language: the switch's choice (a cookie), else
    the hall's first language the dashboard speaks."""
    context: WebContext = request.app.state.context
    newest = context.store.newest_config()
    asked = request.cookies.get(LANGUAGE_COOKIE)
    return dashboard_words(choose_language(asked, newest[1].languages if newest else []))
