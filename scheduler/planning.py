"""Windows per hour from the hall's history (高峰期提前分配): arrivals and service times
read from the store, a recommendation per hour by Erlang C, each checked by running the
real scheduler domain on a simulated clock (``scheduler.hall_sim``).

An hour is planned for its busiest quarter: arrivals are counted per 15 minutes, and the
hour's rate is four times its busiest quarter, averaged over the weekdays seen, so a
rush at 9:00-9:15 is staffed for rather than averaged away.
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
from scheduler.tables import tickets, transactions

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
    for row in rows:
        local = row.issued_at.astimezone(zone)
        if local.weekday() == weekday:
            quarters[(local.hour, row.issued_service, local.minute // 15)] += 1
    days = sum(
        1
        for n in range((last - first).days + 1)
        if (first + timedelta(days=n)).weekday() == weekday
    )
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
