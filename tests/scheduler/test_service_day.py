"""The service day in the hall's own time: its end, the next morning, seasonal hours.

Seen in a hall: three tickets on a Monday afternoon, one served; on Tuesday morning
(scheduler restarted overnight, same database) window 1's first call went to Monday's
A002 while Tuesday's A001 waited.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hallbus.clock import FakeClock
from hallbus.hall_file import DEMO_HALL_FILE, HallConfig, OpeningPeriod, load_hall
from hallbus.messages import PauseReason, TicketState, WindowStatus
from hallbus.settings import BusSettings
from scheduler.bridge import SchedulerService
from scheduler.calendar import WorkCalendar
from scheduler.domain import HallQueue
from scheduler.hours import closed_reason, day_end, last_ended_day, periods_on
from scheduler.store import Store
from simulator.devices import VirtualCounter, VirtualKiosk

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 11, 30)  # a working day
TUESDAY = MONDAY + timedelta(days=1)


def at(day: date, hour: int, minute: int = 0, zone: ZoneInfo = SHANGHAI) -> datetime:
    """A wall-clock time of the hall, as the UTC instant the scheduler works in."""
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)


def hall_with_hours(timezone: str = "Asia/Shanghai") -> HallConfig:
    """The demo hall keeping real hours: mornings and afternoons on working days."""
    base = load_hall(DEMO_HALL_FILE)
    hours = [
        OpeningPeriod(days=["workday"], open=time(9), close=time(12)),
        OpeningPeriod(days=["workday"], open=time(13, 30), close=time(17)),
    ]
    services = [s.model_copy(update={"hours": hours}) for s in base.services]
    return base.model_copy(
        update={
            "id": f"day-{uuid.uuid4().hex[:8]}",
            "timezone": timezone,
            "services": services,
            "require_open_window": False,
        }
    )


@pytest.mark.parametrize("timezone", ["Asia/Shanghai", "Asia/Urumqi", "Europe/Berlin"])
def test_the_day_ends_every_unfinished_ticket_with_an_outcome_and_tuesday_starts_at_001(
    timezone: str,
) -> None:
    hall = hall_with_hours(timezone)
    zone = ZoneInfo(timezone)
    queue = HallQueue(hall)

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)

    monday = at(MONDAY, 15)
    for window in (1, 2):
        queue.login(window, monday, clerk_code=str(1000 + window))
    for _ in range(4):
        queue.issue_ticket("social", monday, "kiosk-1")
    queue.call_next(1, monday)  # A001 served and finished
    queue.finish(1, monday + timedelta(minutes=5))
    called = queue.call_next(1, monday + timedelta(minutes=6))  # A002 called, never came
    serving = queue.call_next(2, monday + timedelta(minutes=6))  # A003 being served
    queue.start_service(2, monday + timedelta(minutes=7))
    queue.pause(2, PauseReason.BREAK, monday + timedelta(minutes=8))
    queue.take_changes()

    assert queue.close_days(at(MONDAY, 16, 59)) is None  # not before the day's end (17:00)
    closed = queue.close_days(at(MONDAY, 17))
    assert closed is not None and closed.through == MONDAY
    assert [t.label for t in closed.expired] == ["A004"]
    assert [t.label for t in closed.no_shows] == [called.label] == ["A002"]
    (finished,) = closed.finished
    assert finished.ticket_label == serving.label == "A003" and finished.ended_by == "day_end"
    assert [t.id for t in queue.awaiting_rating()][-1] == finished.id  # it gets its rating
    assert sorted(closed.logged_out) == [1, 2]
    assert queue.window(2).status == WindowStatus.CLOSED  # the pause ended with the day
    assert queue.waiting_count("social") == 0 and not queue.recent_calls
    changes = queue.take_changes()
    states = {t.label: t.state for t in changes.tickets.values()}
    assert states == {
        "A002": TicketState.NO_SHOW,
        "A003": TicketState.DONE,
        "A004": TicketState.EXPIRED,
    }
    assert queue.close_days(at(MONDAY, 18)) is None  # once

    tuesday = at(TUESDAY, 9)
    queue.login(1, tuesday, clerk_code="1001")
    assert queue.issue_ticket("social", tuesday, "kiosk-1").ticket.label == "A001"
    assert queue.call_next(1, tuesday).label == "A001"


def test_day_end_is_the_last_closing_or_the_hall_files_time_or_midnight() -> None:
    hall = hall_with_hours()
    calendar = WorkCalendar()
    assert day_end(hall, MONDAY, calendar) == datetime.combine(MONDAY, time(17), SHANGHAI)
    saturday = MONDAY + timedelta(days=5)  # closed all day: the day ends at midnight
    assert day_end(hall, saturday, calendar) == datetime.combine(
        saturday + timedelta(days=1), time.min, SHANGHAI
    )
    late = hall.model_copy(update={"day_end": time(18, 30)})
    assert day_end(late, MONDAY, calendar) == datetime.combine(MONDAY, time(18, 30), SHANGHAI)
    always_open = load_hall(DEMO_HALL_FILE)
    assert day_end(always_open, MONDAY, calendar).time() == time.min
    assert last_ended_day(hall, at(MONDAY, 16), calendar) == MONDAY - timedelta(days=1)
    assert last_ended_day(hall, at(MONDAY, 17), calendar) == MONDAY


def test_seasonal_hours_are_data_summer_and_winter() -> None:
    """夏秋季 (May to September) opens until 17:30; 冬春季 (October to April) until 17:00."""
    summer = OpeningPeriod.model_validate(
        {"days": ["workday"], "open": "13:30", "close": "17:30", "from": "05-01", "to": "09-30"}
    )
    winter = OpeningPeriod.model_validate(
        {"days": ["workday"], "open": "13:00", "close": "17:00", "from": "10-01", "to": "04-30"}
    )
    morning = OpeningPeriod(days=["workday"], open=time(9), close=time(12))
    base = hall_with_hours()
    service = base.services[0].model_copy(update={"hours": [morning, summer, winter]})
    hall = base.model_copy(update={"services": [service, *base.services[1:]]})
    calendar = WorkCalendar()
    july, december = date(2026, 7, 15), date(2026, 12, 15)  # both Wednesdays, working days
    assert [p.close for p in periods_on(service, july, calendar)] == [time(12), time(17, 30)]
    assert [p.close for p in periods_on(service, december, calendar)] == [time(12), time(17)]
    assert winter.in_season(date(2027, 1, 5)) and not winter.in_season(date(2027, 5, 1))
    local = datetime.combine(december, time(17, 15), SHANGHAI)
    assert closed_reason(service, local, calendar) is not None
    local = datetime.combine(july, time(17, 15), SHANGHAI)
    assert closed_reason(service, local, calendar) is None
    assert day_end(hall, july, calendar).time() == time(17, 30)
    queue = HallQueue(hall)
    july_noon = datetime.combine(july, time(12), SHANGHAI)
    assert queue.hours_today(service.code, july_noon) == ["09:00-12:00", "13:30-17:30"]
    december_noon = datetime.combine(december, time(12), SHANGHAI)
    assert queue.hours_today(service.code, december_noon) == ["09:00-12:00", "13:00-17:00"]
    with pytest.raises(ValueError, match="both from and to"):
        OpeningPeriod.model_validate(
            {"days": ["mon"], "open": "09:00", "close": "12:00", "from": "05-01"}
        )
    with pytest.raises(ValueError, match="02-30 is not a month and day"):
        OpeningPeriod.model_validate(
            {"days": ["mon"], "open": "09:00", "close": "12:00", "from": "02-30", "to": "03-01"}
        )


@pytest.fixture
def day_hall() -> HallConfig:
    return hall_with_hours()


@pytest.fixture
def restartable(
    day_hall: HallConfig, bus: BusSettings, db_url: str
) -> Iterator[tuple[FakeClock, Callable[[], SchedulerService]]]:
    clock = FakeClock(at(MONDAY, 15))
    running: list[SchedulerService] = []

    def start() -> SchedulerService:
        if running:
            running.pop().stop()
        service = SchedulerService(
            day_hall, Store(db_url, day_hall.id), bus, clock=clock, client_id=f"s-{day_hall.id}"
        )
        service.start()
        running.append(service)
        return service

    yield clock, start
    for service in running:
        service.stop()


def test_monday_tickets_are_never_called_on_tuesday_after_a_restart_overnight(
    restartable: tuple[FakeClock, Callable[[], SchedulerService]],
    day_hall: HallConfig,
    bus: BusSettings,
) -> None:
    clock, start = restartable
    scheduler = start()
    kiosk = VirtualKiosk(bus, day_hall.id, "kiosk-1")
    counter = VirtualCounter(bus, day_hall.id, "counter-1", 1)
    kiosk.start()
    counter.start()
    try:
        assert counter.login("1001").status == "ok"
        for _ in range(3):
            assert kiosk.issue("social").status == "ok"
        assert counter.call_next().status == "ok"
        assert counter.finish().status == "ok"
        scheduler.stop()  # down overnight
        clock.advance((at(TUESDAY, 9) - at(MONDAY, 15)).total_seconds())
        scheduler = start()
        first = kiosk.issue("social")
        assert first.data is not None and first.data["label"] == "A001"
        assert counter.login("1001").status == "ok"  # Monday's login ended with the day
        called = counter.call_next()
        assert called.data is not None
        assert (called.data["label"], called.data["service_date"]) == ("A001", str(TUESDAY))
        assert scheduler.queue.waiting_count("social") == 0
        counts = scheduler.store.ticket_counts()
        assert counts == {"done": 1, "expired": 2, "called": 1}

        # Monday's summary is written once its last ratings are recorded.
        clock.advance(day_hall.rating_timeout_s + 2)
        scheduler.poke()
        for _ in range(2):  # the second answer comes from a batch after the tick's
            assert counter.call_next().status == "error"  # nobody waits
        (monday,) = scheduler.store.day_summaries()
        assert monday["service_date"] == MONDAY
        assert (monday["issued"], monday["served"], monday["expired"], monday["no_show"]) == (
            3,
            1,
            2,
            0,
        )
        assert (monday["transactions"], monday["rated"], monday["unrated"]) == (1, 0, 1)
    finally:
        kiosk.stop()
        counter.stop()
