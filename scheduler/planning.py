"""Windows per hour from the hall's history (高峰期提前分配): arrivals and service times
read from the store, a recommendation per hour by Erlang C, each checked by running the
real scheduler domain on a simulated clock (``scheduler.hall_sim``).

An hour is planned for its busiest quarter: arrivals are counted per 15 minutes, and the
hour's rate is four times its busiest quarter, so a rush at 9:00-9:15 is staffed for
rather than averaged away. Counts are averaged over the days of that weekday on which
the hall issued tickets: a holiday, or the weeks before it opened, are no evidence of a
quiet day.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, select

from hallbus.hall_file import HallConfig
from scheduler.erlang import fewest_windows
from scheduler.hall_sim import Rates, simulate
from scheduler.tables import tickets, transactions, window_events

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CHECK_HOURS = 40.0  # simulated hours of each hour's arrivals when checking a plan


@dataclass
class ServicePlan:
    """One service in one hour."""

    arrivals_per_hour: float
    service_min: float
    windows: int
    service_level: float  # by Erlang C
    simulated_level: float | None = None  # the real domain on a simulated clock

    def as_dict(self) -> dict[str, Any]:
        """Rounded as people read it."""
        return {
            "arrivals_per_hour": round(self.arrivals_per_hour, 1),
            "service_min": round(self.service_min, 2),
            "windows": self.windows,
            "service_level": round(self.service_level, 3),
            "simulated_level": (
                None if self.simulated_level is None else round(self.simulated_level, 3)
            ),
        }


@dataclass
class HourPlan:
    """Windows to open in one hour of the hall's day."""

    hour: int
    services: dict[str, ServicePlan] = field(default_factory=dict)

    @property
    def windows(self) -> int:
        """Windows for the hour: each service's own (a 一窗通办 hall may pool fewer)."""
        return sum(p.windows for p in self.services.values())

    def as_dict(self) -> dict[str, Any]:
        """The hour as JSON."""
        return {
            "hour": self.hour,
            "windows": self.windows,
            "services": {code: p.as_dict() for code, p in sorted(self.services.items())},
        }


def arrival_rates(
    engine: Engine, hall: HallConfig, first: date, last: date, weekday: int
) -> dict[int, dict[str, float]]:
    """Per local hour and service: arrivals an hour on ``weekday`` (0 = Monday), planned
    for the hour's busiest quarter."""
    zone = hall.zone
    start = datetime.combine(first, time.min, zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, zone).astimezone(UTC)
    with engine.connect() as conn:
        rows = conn.execute(
            select(tickets.c.issued_at, tickets.c.issued_service).where(
                tickets.c.hall == hall.id, tickets.c.issued_at >= start, tickets.c.issued_at < end
            )
        ).all()
    quarters: dict[tuple[int, str, int], int] = defaultdict(int)
    seen: set[date] = set()  # days the hall issued tickets: before it opened is no evidence
    for row in rows:
        local = row.issued_at.astimezone(zone)
        if local.weekday() == weekday:
            quarters[(local.hour, row.issued_service, local.minute // 15)] += 1
            seen.add(local.date())
    days = len(seen)
    rates: dict[int, dict[str, float]] = defaultdict(dict)
    for (hour, code, _), count in quarters.items():
        rates[hour][code] = max(rates[hour].get(code, 0.0), 4 * count / max(days, 1))
    return dict(rates)


def service_minutes(engine: Engine, hall: HallConfig, first: date, last: date) -> dict[str, float]:
    """Mean minutes of service per service in the period (the hall file's where none)."""
    zone = hall.zone
    start = datetime.combine(first, time.min, zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, zone).astimezone(UTC)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                transactions.c.service_code, transactions.c.started_at, transactions.c.finished_at
            ).where(
                transactions.c.hall == hall.id,
                transactions.c.finished_at >= start,
                transactions.c.finished_at < end,
            )
        ).all()
    seen: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row.started_at is not None and row.finished_at is not None:
            seen[row.service_code].append((row.finished_at - row.started_at).total_seconds() / 60)
    return {
        s.code: statistics.mean(seen[s.code]) if seen[s.code] else s.expected_service_s / 60
        for s in hall.services
    }


def plan_hours(
    rates: dict[int, dict[str, float]],
    minutes: dict[str, float],
    target_wait_min: float,
    target_share: float,
) -> list[HourPlan]:
    """The fewest windows per hour and service meeting the target, by Erlang C."""
    plans = []
    for hour in sorted(rates):
        plan = HourPlan(hour)
        for code, rate in sorted(rates[hour].items()):
            service_min = minutes.get(code, 5.0)
            figures = fewest_windows(rate, service_min, target_wait_min, target_share)
            plan.services[code] = ServicePlan(
                rate, service_min, figures.windows, figures.service_level
            )
        plans.append(plan)
    return plans


def check_by_simulation(plans: list[HourPlan], target_wait_min: float, seed: int = 1) -> None:
    """Fill each plan's simulated level: that hour's arrivals, held for CHECK_HOURS, served
    by the recommended windows through the real domain and calling policy."""
    start = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    for plan in plans:
        for code, service in plan.services.items():
            if service.windows == 0:
                continue
            hall = _dedicated_hall(code, service.windows, service.service_min)
            result = simulate(
                hall,
                _constant(code, service.arrivals_per_hour),
                {code: service.service_min * 60},
                start,
                CHECK_HOURS,
                seed=seed,
            )
            service.simulated_level = result.service_level(target_wait_min * 60)


def _constant(code: str, rate: float) -> Rates:
    return lambda _hour: {code: rate}


def _dedicated_hall(code: str, windows: int, service_min: float) -> HallConfig:
    return HallConfig.model_validate(
        {
            "id": "plan",
            "names": {"zh": "规划"},
            "services": [
                {
                    "code": code,
                    "prefix": "A",
                    "names": {"zh": code},
                    "expected_service_s": service_min * 60,
                }
            ],
            "windows": [{"number": n, "services": [code]} for n in range(1, windows + 1)],
            "clerks": [{"code": f"p{n}", "name": f"柜员{n}"} for n in range(1, windows + 1)],
        }
    )


def open_windows_by_hour(engine: Engine, hall: HallConfig, day: date) -> dict[int, float]:
    """Windows staffed (logged in, not paused) in each local hour of ``day``, on average:
    two windows open for half an hour each count as one."""
    zone = hall.zone
    start = datetime.combine(day, time.min, zone).astimezone(UTC)
    end = start + timedelta(days=1)
    with engine.connect() as conn:
        rows = conn.execute(
            select(window_events.c.window, window_events.c.event, window_events.c.at)
            .where(window_events.c.hall == hall.id, window_events.c.at < end)
            .order_by(window_events.c.at, window_events.c.id)
        ).all()
    staffed_since: dict[int, datetime | None] = {}
    seconds: dict[int, float] = defaultdict(float)

    def add(since: datetime, until: datetime) -> None:
        since, until = max(since, start), min(until, end)
        while since < until:  # split the stretch at each hour it crosses
            hour_end = (
                since.astimezone(zone).replace(minute=0, second=0, microsecond=0)
                + timedelta(hours=1)
            ).astimezone(UTC)
            piece_end = min(until, hour_end)
            seconds[since.astimezone(zone).hour] += (piece_end - since).total_seconds()
            since = piece_end

    for row in rows:
        since = staffed_since.get(row.window)
        staffed = row.event in ("login", "resume")
        if since is not None and not staffed:
            add(since, row.at)
            staffed_since[row.window] = None
        elif since is None and staffed:
            staffed_since[row.window] = row.at
    for since in staffed_since.values():
        if since is not None:
            add(since, end)
    return {hour: round(total / 3600, 2) for hour, total in sorted(seconds.items())}


@dataclass(frozen=True)
class StaffingRow:
    """One hour of a day: windows the history recommends against windows that were open."""

    hour: int
    recommended: int
    open: float


def staffing_for_day(
    engine: Engine,
    hall: HallConfig,
    day: date,
    target_wait_min: float = 10.0,
    target_share: float = 0.8,
    weeks: int = 8,
) -> list[StaffingRow]:
    """Per hour of ``day``: the recommendation from the same weekday's last ``weeks``
    weeks before it (Erlang C), and the windows that were open that hour."""
    first, last = day - timedelta(weeks=weeks), day - timedelta(days=1)
    rates = arrival_rates(engine, hall, first, last, day.weekday())
    plans = {
        p.hour: p.windows
        for p in plan_hours(
            rates, service_minutes(engine, hall, first, last), target_wait_min, target_share
        )
    }
    opened = open_windows_by_hour(engine, hall, day)
    return [
        StaffingRow(hour, plans.get(hour, 0), opened.get(hour, 0.0))
        for hour in sorted(set(plans) | set(opened))
    ]
