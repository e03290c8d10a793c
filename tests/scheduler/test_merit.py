"""The month's figures: 服务之星, clerks flagged for bad ratings, 星级柜员 from the ratings,
quarterly and per-department reports, case rates."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from hallbus.clock import FakeClock
from hallbus.hall_file import DEMO_HALL_FILE, HallConfig, StarRule, load_hall
from hallbus.messages import BadRatingReason, RatingLevel
from hallbus.settings import BusSettings
from paidui.cli import main as paidui
from scheduler.bridge import SchedulerService
from scheduler.domain import HallQueue
from scheduler.merit import derived_stars, flagged, ranking
from scheduler.stats import StatRow, hall_statistics
from scheduler.store import Store
from simulator.devices import VirtualCounter
from simulator.processes import write_hall_file

NOVEMBER = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)  # Monday 16 November, 10:00 in Shanghai
RULES = [
    StarRule(stars=4, min_satisfaction=0.95, min_rated=10, max_bad=0),
    StarRule(stars=2, min_satisfaction=0.5, min_rated=10),
]


def _row(group: str, good: int, bad: int) -> StatRow:
    return StatRow(day=date(2026, 11, 1), group=group, rated=good + bad, good=good, bad=bad)


def test_ranking_flags_and_stars_are_pure_rules() -> None:
    rows = [_row("1", 19, 1), _row("2", 10, 0), _row("3", 9, 1), _row("4", 3, 0), _row("5", 5, 5)]
    ranked = ranking(rows)
    assert [(r.place, r.group) for r in ranked] == [(1, "2"), (2, "1"), (3, "3"), (4, "5")]
    assert all(r.group != "4" for r in ranked)  # three ratings are too few to rank
    assert flagged(rows, 3) == ["5"]
    assert derived_stars(rows, RULES) == {"2": 4, "1": 2, "3": 2, "5": 2}


@pytest.fixture
def hall() -> HallConfig:
    base = load_hall(DEMO_HALL_FILE)
    services = [
        s.model_copy(update={"department": "人社局" if s.code != "tax" else "税务局"})
        for s in base.services
    ]
    return base.model_copy(
        update={
            "id": f"m-{uuid.uuid4().hex[:8]}",
            "services": services,
            "star_rules": RULES,
            "require_open_window": False,
        }
    )


@pytest.fixture
def november(hall: HallConfig, db_url: str) -> Iterator[Store]:
    """Clerk 1001 at window 1: twelve very satisfied; 1002 at window 2: eight good, four bad."""
    store = Store(db_url, hall.id)
    store.open()
    queue = HallQueue(hall)
    queue.login(1, NOVEMBER, clerk_code="1001")
    queue.login(2, NOVEMBER, clerk_code="1002")
    levels = {1: [RatingLevel.VERY_SATISFIED] * 12, 2: [RatingLevel.SATISFIED] * 8}
    levels[2] += [RatingLevel.DISSATISFIED] * 4
    for window, given in levels.items():
        for n, level in enumerate(given):
            now = NOVEMBER + timedelta(minutes=10 * n)
            queue.issue_ticket("social", now, "kiosk-1")
            queue.call_next(window, now)
            done = queue.finish(window, now + timedelta(minutes=3))
            reason = BadRatingReason.EFFICIENCY if level.is_bad else None
            queue.rate(done.id, level, now + timedelta(minutes=3), window=window, reason=reason)
            store.commit(queue.take_changes(), now)
    yield store
    store.close()


def test_the_months_report_names_the_star_the_flagged_and_the_stars(
    november: Store,
    hall: HallConfig,
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hall_file = write_hall_file(hall, tmp_path / "hall.yaml")
    args = ["report", "merit", "--hall-file", str(hall_file), "--db", db_url, "--month", "2026-11"]
    assert paidui(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["month"] == "2026-11"
    assert [(c["place"], c["group"], c["name"]) for c in report["clerks"]] == [
        (1, "1001", "王芳"),
        (2, "1002", "李强"),
    ]
    assert [w["group"] for w in report["windows"]] == ["1", "2"]
    assert report["flagged_clerks"] == ["1002"]
    assert report["stars"] == {"1001": 4, "1002": 2}
    assert report["cases"] == 4 and report["callback_rate"] == 0.0

    quarter = hall_statistics(
        november.engine, hall, date(2026, 10, 1), date(2026, 12, 31), by="department", per="quarter"
    )
    assert [(r.day, r.group, r.rated, r.bad) for r in quarter] == [
        (date(2026, 10, 1), "人社局", 24, 4)
    ]


def test_the_pad_and_boards_show_stars_that_follow_last_months_ratings(
    november: Store, hall: HallConfig, bus: BusSettings, db_url: str
) -> None:
    december = FakeClock(datetime(2026, 12, 2, 2, 0, tzinfo=UTC))
    service = SchedulerService(
        hall, Store(db_url, hall.id), bus, clock=december, client_id=f"s-{hall.id}"
    )
    service.start()
    counter = VirtualCounter(bus, hall.id, "counter-3", 3)
    counter.start()
    try:
        # The hall file gives 1001 five stars; November's ratings earn four. (November's
        # logins ended with November's days when this scheduler started.)
        assert hall.clerk("1001") is not None and hall.clerk("1001").stars == 5  # type: ignore[union-attr]
        login = counter.login("1001")
        assert login.data is not None and login.data["clerk"]["stars"] == 4
        assert counter.logout().status == "ok"
        login = counter.login("1003")  # no ratings last month: no stars
        assert login.data is not None and login.data["clerk"].get("stars") is None
    finally:
        counter.stop()
        service.stop()
