"""The dashboard served by uvicorn in a thread: for ``paidui web``, the demo and the tests."""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI

from hallbus.clock import Clock
from scheduler.web.app import create_app
from scheduler.web.context import WebSettings

GRACEFUL_S = 5


class WebServerError(RuntimeError):
    """The dashboard could not start (port taken, database unreachable)."""


class WebServer:
    """One uvicorn server running ``create_app(settings)``."""

    def __init__(
        self, settings: WebSettings, host: str, port: int, *, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.clock = clock
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._app: FastAPI | None = None

    @property
    def url(self) -> str:
        """Where the dashboard answers."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        """Serve in a thread; returns once the socket listens and the lifespan ran."""
        self._app = app = create_app(self.settings, clock=self.clock)
        proxies = self.settings.trusted_proxies
        config = uvicorn.Config(
            app,
            host=self.host,
            port=self.port,
            log_level="warning",
            lifespan="on",
            # uvicorn believes X-Forwarded-For from loopback by default; only from the
            # proxies the hall names here.
            proxy_headers=bool(proxies),
            forwarded_allow_ips=list(proxies) or None,
            # Requests still running when it stops get this long; then the app's own
            # shutdown steps run whatever a client does.
            timeout_graceful_shutdown=GRACEFUL_S,
        )
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, name="dashboard", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        # uvicorn offers no start event; its own flag is the documented way to know.
        while not server.started:
            if not self._thread.is_alive():
                raise WebServerError(f"the dashboard did not start on {self.url}")
            if time.monotonic() > deadline:
                raise WebServerError(f"the dashboard took over {timeout} s to start")
            self._thread.join(0.02)

    def stop(self) -> None:
        """Stop serving and wait for the thread: live streams end at once."""
        if self._app is not None:
            self._app.state.context.streams.close()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        self._server = self._thread = None
