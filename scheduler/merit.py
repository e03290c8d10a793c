"""The figures the 好差评 rules ask of a hall each month: 服务之星, flags and 星级柜员.

Pure functions over the report rows (scheduler/stats.py): a ranking of windows and
clerks by satisfaction, clerks with repeated bad ratings flagged for follow-up, and the
stars of 星级柜员 following the ratings by the hall file's rules instead of fixed numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, select

from hallbus.hall_file import HallConfig, StarRule
from scheduler.cases import CaseState
from scheduler.stats import StatRow, hall_statistics
from scheduler.tables import case_steps, rating_cases

MIN_RATED_TO_RANK = 10  # a handful of ratings says little: fewer are not ranked


@dataclass(frozen=True)
class Ranked:
    """One place of a ranking."""

    place: int
    group: str
    satisfaction_rate: float
    rated: int
    bad: int


def _merged(rows: Iterable[StatRow]) -> dict[str, tuple[int, int, int]]:
    """(rated, good, bad) per group over every row (a period may span several buckets)."""
    totals: dict[str, tuple[int, int, int]] = {}
    for row in rows:
        rated, good, bad = totals.get(row.group, (0, 0, 0))
        totals[row.group] = (rated + row.rated, good + row.good, bad + row.bad)
    return totals


def ranking(rows: Iterable[StatRow], min_rated: int = MIN_RATED_TO_RANK) -> list[Ranked]:
    """Groups by satisfaction, then by more ratings; ties share a place (服务之星 first)."""
    scored = [
        (good / rated, rated, bad, group)
        for group, (rated, good, bad) in _merged(rows).items()
        if rated >= min_rated
    ]
    scored.sort(key=lambda s: (-s[0], -s[1], s[3]))
    ranked: list[Ranked] = []
    for index, (rate, rated, bad, group) in enumerate(scored):
        tied = ranked and ranked[-1].satisfaction_rate == round(rate, 4)
        place = ranked[-1].place if tied else index + 1
        ranked.append(Ranked(place, group, round(rate, 4), rated, bad))
    return ranked


def flagged(rows: Iterable[StatRow], threshold: int) -> list[str]:
    """Groups (clerks) with at least ``threshold`` bad ratings in the period, most first."""
    totals = _merged(rows)
    bad = [(b, group) for group, (_, _, b) in totals.items() if b >= threshold]
    return [group for _, group in sorted(bad, key=lambda item: (-item[0], item[1]))]


def derived_stars(rows: Iterable[StatRow], rules: Sequence[StarRule]) -> dict[str, int]:
    """Each clerk's stars from the period's ratings: the first rule met (best first)."""
    ordered = sorted(rules, key=lambda r: -r.stars)
    stars: dict[str, int] = {}
    for clerk, (rated, good, bad) in _merged(rows).items():
        for rule in ordered:
            if rated < rule.min_rated or good / rated < rule.min_satisfaction:
                continue
            if rule.max_bad is not None and bad > rule.max_bad:
                continue
            stars[clerk] = rule.stars
            break
    return stars


def month_bounds(month: date) -> tuple[date, date]:
    """The first and last day of ``month``'s calendar month."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def case_rates(engine: Engine, hall: HallConfig, first: date, last: date) -> dict[str, Any]:
    """Of the bad-rating cases opened in [first, last]: called back, and closed on time."""
    zone = hall.zone
    with engine.connect() as conn:
        opened = conn.execute(
            select(rating_cases.c.id, rating_cases.c.callback_due, rating_cases.c.fix_due).where(
                rating_cases.c.hall == hall.id,
                rating_cases.c.opened_on >= first,
                rating_cases.c.opened_on <= last,
            )
        ).all()
        steps = conn.execute(
            select(case_steps.c.case_id, case_steps.c.state, case_steps.c.at).where(
                case_steps.c.case_id.in_([c.id for c in opened])
            )
        ).all()
    called_back = {s.case_id for s in steps if s.state == CaseState.CALLED_BACK.value}
    closed_on: dict[str, date] = {
        s.case_id: s.at.astimezone(zone).date() for s in steps if s.state == CaseState.CLOSED.value
    }
    on_time = sum(
        1
        for case in opened
        if case.id in closed_on and closed_on[case.id] <= (case.callback_due or case.fix_due)
    )
    count = len(opened)
    return {
        "cases": count,
        "callback_rate": round(len(called_back) / count, 4) if count else None,
        "closed_on_time_rate": round(on_time / count, 4) if count else None,
    }


def month_merit(engine: Engine, hall: HallConfig, month: date) -> dict[str, Any]:
    """A month's 服务之星, flagged clerks, derived stars and case rates, as JSON data."""
    first, last = month_bounds(month)
    windows = hall_statistics(engine, hall, first, last, by="window", per="month")
    clerks = hall_statistics(engine, hall, first, last, by="clerk", per="month")
    names = {c.code: c.name for c in hall.clerks}
    return {
        "hall": hall.id,
        "month": f"{first:%Y-%m}",
        "windows": [vars(r) for r in ranking(windows)],
        "clerks": [vars(r) | {"name": names.get(r.group)} for r in ranking(clerks)],
        "flagged_clerks": flagged(clerks, hall.bad_rating_flag),
        "stars": derived_stars(clerks, hall.star_rules) if hall.star_rules else None,
        **case_rates(engine, hall, first, last),
    }


def last_month_stars(engine: Engine, hall: HallConfig, today: date) -> dict[str, int] | None:
    """Each clerk's stars from the calendar month before ``today``; None without rules."""
    if not hall.star_rules:
        return None
    first, last = month_bounds(today.replace(day=1) - timedelta(days=1))
    rows = hall_statistics(engine, hall, first, last, by="clerk", per="month")
    return derived_stars(rows, hall.star_rules)
