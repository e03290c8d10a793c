"""A whole day of a hall and the next morning, on a fake clock, over the real bus.

Friday 4 December 2026: 社保 and 税务 open 09:00-12:00 and 13:30-17:00 on working days;
户籍 also opens on Saturday mornings. Citizens arrive with a morning peak; four clerks
log in, one hands over to a colleague (A/B post), all pause for lunch; the scheduler is
restarted at 12:15; the afternoon brings more people than the windows can serve before
17:00. Then the next morning.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from hallbus.clock import FakeClock
from hallbus.hall_file import DEMO_HALL_FILE, HallConfig, OpeningPeriod, load_hall
from hallbus.messages import ErrorCode, PauseReason, RatingLevel, TicketState
from hallbus.settings import BusSettings
from scheduler.bridge import SchedulerService
from scheduler.domain import ACTIVE_STATES
from scheduler.ledger import EntryKind
from scheduler.store import Store
from scheduler.tables import rating_ledger, tickets, transactions
from simulator.devices import VirtualCounter, VirtualKiosk, VirtualRatingPad

pytestmark = pytest.mark.slow

ZONE = ZoneInfo("Asia/Shanghai")
FRIDAY = date(2026, 12, 4)
SATURDAY = FRIDAY + timedelta(days=1)
# Arrivals per quarter hour from 09:00: a morning peak, a quiet lunch, a busy afternoon.
MORNING = [8, 9, 7, 5, 4, 3, 3, 2, 2, 2, 2, 1]
AFTERNOON = [4, 4, 5, 5, 4, 4, 3, 3, 3, 2, 2, 1, 1, 1]


def at(day: date, clock_time: time) -> datetime:
    return datetime.combine(day, clock_time, ZONE).astimezone(UTC)


def _hall() -> HallConfig:
    # A day of requests in a few real seconds: far past a kiosk's flood limit.
    base = load_hall(DEMO_HALL_FILE).without_flood_limits()
    workdays = [
        OpeningPeriod(days=["workday"], open=time(9), close=time(12)),
        OpeningPeriod(days=["workday"], open=time(13, 30), close=time(17)),
    ]
    saturday = [*workdays, OpeningPeriod(days=["sat"], open=time(9), close=time(12))]
    services = [
        s.model_copy(update={"hours": saturday if s.code == "residence" else workdays})
        for s in base.services
    ]
    return base.model_copy(
        update={"id": f"day-{uuid.uuid4().hex[:8]}", "services": services, "rating_timeout_s": 20}
    )


class Hall:
    """The scheduler on the fake clock with the hall's devices."""

    def __init__(self, bus: BusSettings, db_url: str) -> None:
        self.hall = _hall()
        self.bus, self.db_url = bus, db_url
        self.clock = FakeClock(at(FRIDAY, time(8, 50)))
        self.scheduler: SchedulerService | None = None
        self.kiosk = VirtualKiosk(bus, self.hall.id, "kiosk-1")
        self.counters = {
            w: VirtualCounter(bus, self.hall.id, f"counter-{w}", w) for w in (1, 2, 3, 4)
        }
        self.pads = {w: VirtualRatingPad(bus, self.hall.id, f"pad-{w}", w) for w in (1, 2, 3, 4)}
        self.holding: dict[int, bool] = dict.fromkeys(self.counters, False)
        self.random = random.Random(7)

    def start(self) -> SchedulerService:
        if self.scheduler is not None:
            self.scheduler.stop()
        self.scheduler = SchedulerService(
            self.hall, Store(self.db_url, self.hall.id), self.bus, clock=self.clock,
            client_id=f"s-{self.hall.id}",
        )  # fmt: skip
        self.scheduler.start()
        return self.scheduler

    def to(self, day: date, clock_time: time) -> None:
        """Move the hall's clock forward and let the scheduler see it before going on."""
        self.clock.advance((at(day, clock_time) - self.clock.now()).total_seconds())
        assert self.scheduler is not None
        self.scheduler.poke()
        for _ in range(2):  # the second answer comes from a batch after the tick's
            self.kiosk.issue("no-such-service")

    def arrivals(self, day: date, start: time, per_quarter: list[int]) -> None:
        moment = datetime.combine(day, start)
        for count in per_quarter:
            for n in range(count):
                self.to(day, (moment + timedelta(minutes=15 * n / count)).time())
                service = self.random.choice(["social", "social", "tax", "residence"])
                taken = self.kiosk.issue(service)
                assert taken.status == "ok", (taken, self.clock.now())
            self.serve_round()
            moment += timedelta(minutes=15)

    def serve_round(self) -> None:
        """Every open window finishes what it holds (some citizens rate) and calls again."""
        for window, counter in self.counters.items():
            if self.holding[window]:
                finished = counter.finish()
                if finished.status == "ok" and finished.data and self.random.random() < 0.7:
                    self.pads[window].rate(finished.data["transaction_id"], RatingLevel.SATISFIED)
            called = counter.call_next()
            self.holding[window] = called.status == "ok"
            if self.holding[window] and self.random.random() < 0.8:
                counter.start_service()


@pytest.fixture
def day(bus: BusSettings, db_url: str) -> Iterator[Hall]:
    hall = Hall(bus, db_url)
    hall.start()
    for daemon in [hall.kiosk, *hall.counters.values(), *hall.pads.values()]:
        daemon.start()
    yield hall
    for daemon in [hall.kiosk, *hall.counters.values(), *hall.pads.values()]:
        daemon.stop()
    if hall.scheduler is not None:
        hall.scheduler.stop()


def _count(url: str, hall: str, service_date: date, *states: TicketState) -> int:
    store = Store(url, hall)
    store.open(migrate=False)
    try:
        with store.engine.connect() as conn:
            query = select(func.count()).where(
                tickets.c.hall == hall, tickets.c.service_date == service_date
            )
            if states:
                query = query.where(tickets.c.state.in_([s.value for s in states]))
            return int(conn.execute(query).scalar_one())
    finally:
        store.close()


def test_a_friday_and_the_saturday_morning_after(day: Hall) -> None:
    for window, counter in day.counters.items():
        assert counter.login(str(1000 + window)).status == "ok"
    day.to(FRIDAY, time(9))
    day.arrivals(FRIDAY, time(9), MORNING[:8])
    # 11:00 at window 2: the next clerk takes over the post (A/B).
    assert day.counters[2].logout().status == "ok"
    assert day.counters[2].login("1005").status == "ok"
    day.arrivals(FRIDAY, time(11), MORNING[8:])
    day.to(FRIDAY, time(12))
    for counter in day.counters.values():
        counter.pause(PauseReason.BREAK)
    day.to(FRIDAY, time(12, 15))
    day.start()  # a restart at lunch: nothing of the morning is lost or called again
    day.to(FRIDAY, time(13, 30))
    for counter in day.counters.values():
        assert counter.resume().status == "ok"
    day.arrivals(FRIDAY, time(13, 30), AFTERNOON)
    issued = _count(day.db_url, day.hall.id, FRIDAY)
    assert issued == sum(MORNING) + sum(AFTERNOON)
    left = _count(day.db_url, day.hall.id, FRIDAY, *ACTIVE_STATES)
    assert left > 0, "the afternoon should outlast the windows"

    day.to(FRIDAY, time(17, 0, 1))  # closing: the day ends
    scheduler = day.scheduler
    assert scheduler is not None
    assert _count(day.db_url, day.hall.id, FRIDAY, *ACTIVE_STATES) == 0
    ended = _count(day.db_url, day.hall.id, FRIDAY, TicketState.EXPIRED, TicketState.NO_SHOW)
    assert ended >= left - 4  # those at a window may have been served, the rest ended
    assert all(w.clerk is None for w in map(scheduler.queue.window, (1, 2, 3, 4)))
    assert all(scheduler.queue.waiting_count(s.code) == 0 for s in day.hall.services)

    day.to(SATURDAY, time(8, 55))
    assert day.counters[4].login("1004").status == "ok"  # the Saturday clerk (一窗通办)
    day.to(SATURDAY, time(9, 5))
    first = day.kiosk.issue("residence")
    assert first.data is not None
    assert (first.data["label"], first.data["service_date"]) == ("C001", str(SATURDAY))
    closed = day.kiosk.issue("social")
    assert closed.error is not None and closed.error.code == ErrorCode.SERVICE_CLOSED
    assert scheduler.queue.waiting_count("social") == 0

    # Friday's summary: what the ticket rows and the ledger say, once its ratings are in.
    (friday,) = scheduler.store.day_summaries()
    assert friday["service_date"] == FRIDAY and friday["issued"] == issued
    done = _count(day.db_url, day.hall.id, FRIDAY, TicketState.DONE)
    assert friday["served"] == done
    assert friday["expired"] == _count(day.db_url, day.hall.id, FRIDAY, TicketState.EXPIRED)
    assert friday["no_show"] == _count(day.db_url, day.hall.id, FRIDAY, TicketState.NO_SHOW)
    with scheduler.store.engine.connect() as conn:
        made = conn.execute(
            select(func.count()).where(transactions.c.hall == day.hall.id)
        ).scalar_one()
        records = conn.execute(
            select(func.count()).where(
                rating_ledger.c.hall == day.hall.id, rating_ledger.c.kind == EntryKind.RATING.value
            )
        ).scalar_one()
    assert friday["transactions"] == made == records  # every transaction: one record
    assert friday["rated"] + friday["unrated"] == made and friday["rated"] > 0
