"""Fixtures of the dashboard tests: a scheduler that signs rating links, the app, people."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hallbus.clock import FakeClock
from hallbus.daemon import DeviceDaemon
from hallbus.hall_file import HallConfig
from hallbus.identity import new_id_key
from hallbus.messages import BadRatingReason, RatingLevel
from hallbus.settings import BusSettings
from scheduler.bridge import SchedulerService
from scheduler.rating_token import RatingTokens, load_or_create_key
from scheduler.store import Store
from scheduler.web.accounts import AccountStore, Role
from scheduler.web.app import create_app
from scheduler.web.context import WebSettings
from simulator.devices import VirtualCounter, VirtualKiosk, VirtualRatingPad

PASSWORD = "correct horse battery"
PEOPLE = {
    "admin": Role.ADMINISTRATOR,
    "manager": Role.HALL_MANAGER,
    "manager2": Role.HALL_MANAGER,
    "viewer": Role.VIEWER,
}


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    """The hall's rating-page key, shared by the scheduler and the dashboard."""
    return tmp_path / "rating-page.key"


@pytest.fixture
def scheduler(
    hall: HallConfig, bus: BusSettings, clock: FakeClock, db_url: str, key_file: Path
) -> Iterator[SchedulerService]:
    """The scheduler, signing each ticket's rating link."""
    service = SchedulerService(
        hall,
        Store(db_url, hall.id),
        bus,
        clock=clock,
        client_id=f"scheduler-{hall.id}",
        rating_tokens=RatingTokens(load_or_create_key(key_file), hall.id),
    )
    service.start()
    yield service
    service.stop()


@pytest.fixture
def id_key(tmp_path: Path) -> Path:
    """The hall's ID key, as ``paidui id-key`` writes it: booking hashes with it."""
    path = tmp_path / "id.key"
    path.write_text(new_id_key(), encoding="ascii")
    return path


@pytest.fixture
def web_settings(
    hall: HallConfig, bus: BusSettings, db_url: str, key_file: Path, id_key: Path
) -> WebSettings:
    """The dashboard's settings for the test's hall."""
    return WebSettings(
        db_url=db_url,
        hall=hall.id,
        bus=bus,
        portal_device="portal",
        rating_key_file=key_file,
        id_key_file=id_key,
    )


@pytest.fixture
def people(scheduler: SchedulerService, db_url: str, hall: HallConfig, clock: FakeClock) -> None:
    """One account per role, and a second manager for the two-person review."""
    store = Store(db_url, hall.id)
    store.open(migrate=False)
    try:
        accounts = AccountStore(store, hall.id, session_lifetime=timedelta(hours=8))
        for name, role in PEOPLE.items():
            accounts.create(name, PASSWORD, role, actor="test", now=clock.now())
    finally:
        store.close()


@pytest.fixture
def app_client(
    scheduler: SchedulerService, people: None, web_settings: WebSettings, clock: FakeClock
) -> Iterator[TestClient]:
    """The dashboard app, started (its lifespan connects to the bus)."""
    with TestClient(create_app(web_settings, clock=clock)) as client:
        yield client


@dataclass
class ApiUser:
    """Headers of a logged-in API client."""

    name: str
    headers: dict[str, str]


@pytest.fixture
def api_login(app_client: TestClient) -> Callable[[str], ApiUser]:
    """Log in over the API; the bearer token needs no CSRF token."""

    def login(name: str) -> ApiUser:
        answer = app_client.post("/api/v1/session", json={"username": name, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return ApiUser(name, {"Authorization": f"Bearer {answer.json()['token']}"})

    return login


def browser_login(client: TestClient, name: str) -> str:
    """Log in through the form like a browser; returns the session's CSRF token."""
    form = client.get("/login")
    login_csrf = client.cookies.get("paidui_login_csrf")
    assert form.status_code == 200 and login_csrf
    answer = client.post(
        "/login",
        data={"username": name, "password": PASSWORD, "csrf_token": login_csrf, "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    page = client.get("/reports")
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


@dataclass(frozen=True)
class Served:
    """A ticket served at a window: what its QR link carries and the transaction."""

    ticket_id: str
    label: str
    token: str
    transaction_id: str


@pytest.fixture
def serve(
    devices: Callable[..., DeviceDaemon], staff: Callable[[int], VirtualCounter]
) -> Callable[..., Served]:
    """Issue a ticket, call and finish it at a window, and let its pad rate it (or not)."""
    kiosks: list[VirtualKiosk] = []
    counters: dict[int, VirtualCounter] = {}
    pads: dict[int, VirtualRatingPad] = {}

    def run(
        window: int = 1,
        level: RatingLevel | None = None,
        reason: BadRatingReason | None = None,
        service: str = "social",
    ) -> Served:
        if not kiosks:
            kiosks.append(devices(VirtualKiosk, "kiosk-1"))
        if window not in counters:
            counters[window] = staff(window)
            pads[window] = devices(VirtualRatingPad, f"pad-{window}", window)
        issued = kiosks[0].issue(service)
        assert issued.status == "ok" and issued.data, issued
        counter = counters[window]
        assert counter.call_next().status == "ok"
        finished = counter.finish()
        assert finished.status == "ok" and finished.data, finished
        transaction_id = finished.data["transaction_id"]
        if level is not None:
            rated = pads[window].rate(transaction_id, level, reason)
            assert rated.status == "ok", rated
        return Served(
            issued.data["ticket_id"],
            issued.data["label"],
            issued.data["rating_token"],
            transaction_id,
        )

    return run
