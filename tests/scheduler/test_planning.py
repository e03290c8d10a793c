"""paidui plan history: arrivals and service times from the store, windows per hour by
Erlang C, each recommendation checked by the simulated hall."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from hallbus.hall_file import DEMO_HALL_FILE, load_hall
from paidui.cli import hall_today, main
from scheduler.domain import HallQueue
from scheduler.erlang import fewest_windows
from scheduler.planning import arrival_rates, plan_hours, service_minutes, staffing_for_day
from scheduler.store import Store

HALL = load_hall(DEMO_HALL_FILE)
MONDAYS = [date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), HALL.zone).astimezone(UTC)


@pytest.fixture
def history(tmp_path: Path) -> str:
    """Three Mondays: a 9:00-9:15 rush of 10 社保 tickets, then 2 a quarter; each served
    in 6 minutes at window 1, open 8:50-12:00."""
    url = Store.sqlite_url(tmp_path / "history.db")
    store = Store(url, HALL.id)
    store.open()
    for monday in MONDAYS:
        queue = HallQueue(HALL)
        queue.login(1, local(monday, 8, 50), clerk_code="1001")
        times = [local(monday, 9, m) for m in range(0, 10)]
        times += [local(monday, 9, 15 + 7 * n) for n in range(6)]  # 2 a quarter
        for at in times:
            queue.issue_ticket("social", at, "kiosk-1")
        clock = local(monday, 9)
        for _ in times:
            queue.call_next(1, clock)
            queue.start_service(1, clock)
            clock += timedelta(minutes=6)
            queue.finish(1, clock)
        queue.logout(1, local(monday, 12))
        store.commit(queue.take_changes(), clock)
    store.close()
    return url


def test_rates_are_planned_for_the_busiest_quarter(history: str) -> None:
    engine = create_engine(history)
    rates = arrival_rates(engine, HALL, MONDAYS[0], MONDAYS[-1], weekday=0)
    minutes = service_minutes(engine, HALL, MONDAYS[0], MONDAYS[-1])
    engine.dispose()
    assert rates == {9: {"social": 40.0}}  # 10 in the first quarter, × 4
    assert minutes["social"] == pytest.approx(6.0)
    assert minutes["tax"] == HALL.service("tax").expected_service_s / 60  # type: ignore[union-attr]
    plans = plan_hours(rates, minutes, 10, 0.8)
    assert plans[0].services["social"].windows == fewest_windows(40, 6, 10, 0.8).windows


def test_the_command_prints_each_hour_checked_by_simulation(
    history: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "plan", "history", "--hall-file", str(DEMO_HALL_FILE), "--db", history,
            "--weekday", "mon", "--first", "2026-11-01", "--last", "2026-11-20",
            "--target-wait-min", "10", "--target-share", "80",
        ]
    )  # fmt: skip
    assert code == 0
    answer = json.loads(capsys.readouterr().out)
    hour = answer["hours"][0]
    social = hour["services"]["social"]
    assert hour["hour"] == 9 and social["arrivals_per_hour"] == 40.0
    assert social["service_level"] >= 0.8
    # The real domain on a simulated clock meets the target too (within its noise).
    assert social["simulated_level"] >= 0.75, social


def test_a_days_staffing_against_the_recommendation(history: str) -> None:
    engine = create_engine(history)
    rows = staffing_for_day(engine, HALL, MONDAYS[-1])
    engine.dispose()
    by_hour = {r.hour: r for r in rows}
    # Window 1 opened at 8:50 and closed at 12:00: a sixth of hour 8, then whole hours.
    assert by_hour[8].open == pytest.approx(10 / 60, abs=0.01)
    assert by_hour[9].open == by_hour[11].open == 1.0 and 12 not in by_hour
    # The two Mondays before say 40 an hour at 9 (the rush quarter), 6 minutes each.
    assert by_hour[9].recommended == fewest_windows(40, 6, 10, 0.8).windows
    assert by_hour[10].recommended == 0


def test_a_commands_default_day_is_the_halls_not_the_machines() -> None:
    # 26 hours apart: whatever the machine's clock and zone, the two halls' todays differ.
    east = HALL.model_copy(update={"timezone": "Pacific/Kiritimati"})  # UTC+14
    west = HALL.model_copy(update={"timezone": "Etc/GMT+12"})  # UTC-12
    assert hall_today(east) > hall_today(west)
