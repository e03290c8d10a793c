"""Live streams on a real server: pings keep them open, and stopping the dashboard ends
every open stream at once so its own shutdown steps run."""

from __future__ import annotations

import logging
import threading

import httpx
import pytest

from hallbus.clock import FakeClock
from paidui.broker import free_port
from scheduler.bridge import SchedulerService
from scheduler.web.context import WebSettings
from scheduler.web.server import WebServer
from tests.conftest import WAIT
from tests.web.conftest import PASSWORD


def test_stopping_the_dashboard_ends_an_open_live_stream_and_runs_its_shutdown(
    scheduler: SchedulerService,
    people: None,
    web_settings: WebSettings,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = WebServer(web_settings, "127.0.0.1", free_port(), clock=clock)
    server.start()
    opened, ended = threading.Event(), threading.Event()
    lines: list[str] = []

    def watch_live_page() -> None:
        with httpx.Client(base_url=server.url, timeout=WAIT) as client:
            answer = client.post(
                "/api/v1/session", json={"username": "viewer", "password": PASSWORD}
            )
            token = answer.json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            with client.stream("GET", "/live/stream", headers=headers) as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                for line in stream.iter_lines():
                    lines.append(line)
                    if line.startswith("event: hall"):
                        opened.set()
        ended.set()  # the server closed the stream

    watcher = threading.Thread(target=watch_live_page, daemon=True)
    watcher.start()
    assert opened.wait(WAIT), lines
    with caplog.at_level(logging.INFO, logger="scheduler.web.app"):
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        stopper.join(WAIT)
    assert not stopper.is_alive(), "the dashboard did not stop with a live page open"
    assert ended.wait(WAIT)
    assert "dashboard stopped" in caplog.text  # the app's own shutdown steps ran
