"""Shared fixtures: a real mosquitto (the project's demo.conf) for the session, fresh halls."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from time import monotonic
from typing import TypeVar

import pytest

from hallbus.client import BusClient
from hallbus.clock import FakeClock
from hallbus.daemon import DeviceDaemon
from hallbus.hall_file import DEMO_HALL_FILE, HallConfig, load_hall
from hallbus.settings import BusSettings
from hallbus.topics import HallTopics
from paidui.broker import BROKER_CONFIG_DIR, MosquittoBroker, free_port, mosquitto_available
from paidui.postgres import create_database, drop_database, find_postgres
from scheduler.bridge import SchedulerService
from scheduler.store import Store
from simulator.devices import VirtualCounter, VirtualKiosk
from simulator.mailbox import Mailbox

# Screens render headless and the mixer plays to SDL's dummy device: real pygame, no hardware.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

D = TypeVar("D", bound=DeviceDaemon)
Tickets = Callable[..., list[str]]
WAIT = 10.0  # seconds any single expected message may take before a test fails


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """mosquitto with broker_config/demo.conf on a free port, for the whole session."""
    if not mosquitto_available():
        pytest.fail("mosquitto is required for the tests: run scripts/test, which installs it")
    process = MosquittoBroker(
        BROKER_CONFIG_DIR / "demo.conf", free_port(), tmp_path_factory.mktemp("broker")
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def bus(broker: MosquittoBroker) -> BusSettings:
    """Connection settings for the session broker."""
    return BusSettings(port=broker.port)


@pytest.fixture
def hall(request: pytest.FixtureRequest) -> HallConfig:
    """The demo hall under a fresh id, so retained state of other tests never leaks in.

    Load tests (marked ``load``) drive one device far past a person's pace: their hall has
    no flood limits. Every other test runs with the defaults a hall gets.
    """
    base = load_hall(DEMO_HALL_FILE)
    if request.node.get_closest_marker("load") is not None:
        base = base.without_flood_limits()
    # Kiosks here may issue before any clerk logs in; tests of that rule turn it back on.
    return base.model_copy(
        update={
            "id": f"t-{uuid.uuid4().hex[:10]}",
            "rating_timeout_s": 30.0,
            "require_open_window": False,
        }
    )


@pytest.fixture
def clock() -> FakeClock:
    """A clock the test moves by hand."""
    return FakeClock(datetime.now(UTC))


def room_today(clock: FakeClock, hall: HallConfig, minutes: float) -> None:
    """Move ``clock`` past the hall's midnight if less than ``minutes`` of its day is left.

    A test that books a slot ``minutes`` ahead and checks in now needs both on one service
    day: late in the hall's evening they were not, and such tests failed from 23:40 on.
    Call it before anything that a day's end would undo (clerks are logged out at midnight).
    """
    local = clock.now().astimezone(hall.zone)
    if (local + timedelta(minutes=minutes)).date() != local.date():
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0, 1), hall.zone)
        clock.advance((midnight - clock.now()).total_seconds())


class Ticker:
    """A monotonic clock that moves only when the test says (a scheduler's ``ticker``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite database file."""
    return Store.sqlite_url(tmp_path / "paidui.db")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A scratch database on the local PostgreSQL server (started if it is down)."""
    admin, why_not = find_postgres()
    if admin is None:
        pytest.skip(f"PostgreSQL tests skipped: {why_not}")
    name = f"paidui_test_{uuid.uuid4().hex[:8]}"
    url = create_database(admin, name)
    yield url
    drop_database(admin, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store's database on each backend it supports; halls keep tests apart on PostgreSQL."""
    if request.param == "sqlite":
        return Store.sqlite_url(tmp_path / "paidui.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def scheduler_ticker() -> Callable[[], float]:
    """The scheduler's monotonic clock; a module holds it still by giving ``ticker``."""
    return monotonic


@pytest.fixture
def scheduler(
    hall: HallConfig,
    bus: BusSettings,
    clock: FakeClock,
    db_url: str,
    scheduler_ticker: Callable[[], float],
) -> Iterator[SchedulerService]:
    """A running scheduler for the test's hall, on the fake clock."""
    service = SchedulerService(
        hall,
        Store(db_url, hall.id),
        bus,
        clock=clock,
        client_id=f"scheduler-{hall.id}",
        ticker=scheduler_ticker,
    )
    service.start()
    yield service
    service.stop()


@pytest.fixture
def devices(hall: HallConfig, bus: BusSettings) -> Iterator[Callable[..., DeviceDaemon]]:
    """Start virtual devices of the test's hall; all are stopped at the end."""
    started: list[DeviceDaemon] = []

    def start(cls: type[D], device_id: str, *args: object) -> D:
        daemon = cls(bus, hall.id, device_id, *args)  # type: ignore[call-arg]
        daemon.start()
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


@pytest.fixture
def staff(
    devices: Callable[..., DeviceDaemon], hall: HallConfig
) -> Callable[[int], VirtualCounter]:
    """Start a window's counter and log its clerk in (clerk codes are 1000 + window)."""

    def start(window: int) -> VirtualCounter:
        counter: VirtualCounter = devices(VirtualCounter, f"counter-{window}", window)
        reply = counter.login(str(1000 + window))
        assert reply.status == "ok", reply
        return counter

    return start


@pytest.fixture
def tickets(devices: Callable[..., DeviceDaemon]) -> Tickets:
    """Issue ``count`` tickets of a service at a virtual kiosk; returns their labels."""
    kiosks: list[VirtualKiosk] = []

    def issue(count: int, service: str = "social") -> list[str]:
        if not kiosks:
            kiosks.append(devices(VirtualKiosk, "kiosk-1"))
        labels = []
        for _ in range(count):
            reply = kiosks[0].issue(service)
            assert reply.status == "ok" and reply.data is not None, reply
            labels.append(reply.data["label"])
        return labels

    return issue


def listen(
    bus: BusSettings, topic: str, name: str, hall_id: str = "test-observers"
) -> tuple[BusClient, Mailbox[bytes]]:
    """A started client collecting every payload on ``topic``; stop it when done."""
    box: Mailbox[bytes] = Mailbox()
    client = BusClient(bus, name, HallTopics(hall_id).availability(name))
    client.subscribe(topic, lambda _t, payload: box.put(payload), inline=True)
    client.start()
    return client, box
