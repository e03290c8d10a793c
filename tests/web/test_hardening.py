"""The dashboard behind (or without) a proxy: client addresses, HTTPS-only cookies, redirects."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from hallbus.clock import FakeClock
from paidui.broker import free_port
from scheduler.bridge import SchedulerService
from scheduler.web.app import create_app
from scheduler.web.context import WebSettings
from scheduler.web.server import WebServer
from tests.web.conftest import PASSWORD


def _served(settings: WebSettings) -> Iterator[WebServer]:
    server = WebServer(settings, "127.0.0.1", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def direct(scheduler: SchedulerService, people: None, web_settings: WebSettings) -> Iterator[str]:
    """The dashboard on a real socket with no proxy configured."""
    yield from (s.url for s in _served(web_settings))


@pytest.fixture
def proxied(scheduler: SchedulerService, people: None, web_settings: WebSettings) -> Iterator[str]:
    """The dashboard on a real socket behind a proxy on loopback that the hall names."""
    settings = web_settings.model_copy(update={"trusted_proxies": ("127.0.0.1",)})
    yield from (s.url for s in _served(settings))


def _log_in(client: TestClient, next_page: str) -> httpx.Response:
    """The login form posted as a browser would, after fetching it."""
    return client.post(
        "/login",
        data={
            "username": "manager",
            "password": PASSWORD,
            "csrf_token": client.cookies.get("paidui_login_csrf") or "",
            "next": next_page,
        },
        follow_redirects=False,
    )


def _logins(url: str, count: int) -> list[int]:
    """Wrong logins for ever new accounts, each claiming another client address."""
    with httpx.Client(base_url=url) as client:
        return [
            client.post(
                "/api/v1/session",
                json={"username": f"guess-{n}", "password": "x"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            ).status_code
            for n in range(count)
        ]


def test_a_client_cannot_dodge_the_login_limit_by_rotating_forwarded_for(direct: str) -> None:
    # 30 a minute per client; the header is not believed from a client that is no proxy.
    assert _logins(direct, 31) == [401] * 30 + [429]


def test_a_named_proxy_passes_each_clients_own_address(proxied: str) -> None:
    # Behind the hall's proxy every citizen is a client of their own: nobody is locked out.
    assert _logins(proxied, 31) == [401] * 31


@pytest.mark.parametrize(
    ("public_url", "secure"), [("https://queue.example.gov.cn", True), ("http://10.0.0.5", False)]
)
def test_https_public_address_means_secure_cookies_and_hsts(
    scheduler: SchedulerService,
    people: None,
    web_settings: WebSettings,
    clock: FakeClock,
    public_url: str,
    secure: bool,
) -> None:
    settings = web_settings.model_copy(update={"public_url": public_url})
    with TestClient(create_app(settings, clock=clock), base_url=public_url) as client:
        form = client.get("/login")
        assert ("secure" in form.headers["set-cookie"].lower()) is secure
        assert ("strict-transport-security" in form.headers) is secure
        answer = _log_in(client, "/")
        assert answer.status_code == 303
        session_cookie = [
            c for c in answer.headers.get_list("set-cookie") if c.startswith("paidui_session")
        ]
        assert ("secure" in session_cookie[0].lower()) is secure


@pytest.mark.parametrize(
    "target", ["/\\evil.example", "//evil.example", "https://evil.example", "/\t/evil.example"]
)
def test_login_never_redirects_to_another_site(app_client: TestClient, target: str) -> None:
    app_client.get("/login")
    answer = _log_in(app_client, target)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
