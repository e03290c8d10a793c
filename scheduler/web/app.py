"""The dashboard application: ``create_app(settings)`` builds it with its parts and lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from hallbus.client import BusClient, Requester
from hallbus.clock import Clock, SystemClock
from hallbus.topics import HallTopics
from scheduler.contacts import ContactVault
from scheduler.rating_token import RatingTokens, load_or_create_key
from scheduler.store import Store
from scheduler.web import api, booking_api, booking_page, pages, public
from scheduler.web.accounts import AccountStore
from scheduler.web.context import NotLoggedIn, RateLimiter, WebContext, WebSettings
from scheduler.web.live import HallWatch
from scheduler.web.operations import OperationError
from scheduler.web.ratings import ReviewDesk

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")


def build_context(settings: WebSettings, clock: Clock | None = None) -> WebContext:
    """The dashboard's parts, not yet started."""
    clock = clock or SystemClock()
    store = Store(settings.db_url, settings.hall)
    topics = HallTopics(settings.hall)
    bus = BusClient(
        settings.bus,
        topics.identity(settings.portal_device),
        topics.availability(settings.portal_device),
    )
    context = WebContext(
        settings=settings,
        store=store,
        accounts=AccountStore(store, settings.hall, timedelta(hours=settings.session_hours)),
        reviews=ReviewDesk(store, settings.hall),
        bus=bus,
        topics=topics,
        portal=Requester(bus, topics, settings.portal_device),
        watch=HallWatch(bus, topics, clock),
        tokens=RatingTokens(load_or_create_key(settings.rating_key_file), settings.hall),
        limiter=RateLimiter(),
        clock=clock,
        contacts=ContactVault(settings.contact_key),
    )
    return context


def create_app(settings: WebSettings, *, clock: Clock | None = None) -> FastAPI:
    """The dashboard, API and public rating page of one hall."""
    context = build_context(settings, clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context.store.open()  # migrates: the dashboard may start before the scheduler
        context.portal.attach()
        context.watch.attach(context.portal)
        context.bus.start(timeout=None)  # the page shows "scheduler offline" until it connects
        context.streams.bind()
        log.info("dashboard started", extra={"hall": settings.hall})
        try:
            yield
        finally:
            context.streams.close()
            context.watch.detach()
            context.bus.stop()
            context.store.close()
            log.info("dashboard stopped", extra={"hall": settings.hall})

    app = FastAPI(
        title="paidui hall dashboard",
        version="1",
        summary="Live queue, devices, 好差评 follow-up, reports and configuration of a hall",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/v1/openapi.json",
        redoc_url=None,
    )
    app.state.context = context
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(booking_api.router)
    app.include_router(booking_page.router)
    app.include_router(public.router)

    @app.exception_handler(NotLoggedIn)
    async def not_logged_in(request: Request, exc: NotLoggedIn) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"detail": "log in first"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(OperationError)
    async def refused(request: Request, exc: OperationError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        return pages.message_page(request, exc.message, exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith(("/api/", "/static/")):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        return pages.message_page(request, str(exc.detail), exc.status_code)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if settings.https:
            # Browsers that once reached the dashboard over HTTPS never fall back to HTTP.
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
        )
        return response

    return app
