"""Statistics the reports need, per day and per service, window or clerk.

Computed from the store's rows in Python, so SQLite and PostgreSQL give the same
figures (percentiles in particular have no portable SQL). A day is the hall's local
calendar day; good ratings are the three upper levels (好评), bad the two lower (差评);
ratings a review set aside (not adopted) count neither way.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, select

from hallbus.hall_file import HallConfig
from hallbus.messages import UNRATED, RatingLevel, TicketState
from scheduler.ledger import EntryKind
from scheduler.tables import rating_cases, rating_ledger, tickets, transactions, transfers

GroupBy = Literal["service", "window", "clerk", "department"]
Period = Literal["day", "month", "quarter"]
BAD = {RatingLevel.DISSATISFIED.value, RatingLevel.VERY_DISSATISFIED.value}


@dataclass(frozen=True)
class Spread:
    """Mean, 90th percentile and maximum of a set of durations, in seconds."""

    count: int
    mean_s: float | None
    p90_s: float | None
    max_s: float | None

    @classmethod
    def of(cls, samples: Iterable[float]) -> Spread:
        """Summarise samples (nearest-rank percentile)."""
        values = sorted(samples)
        if not values:
            return cls(0, None, None, None)
        p90 = values[max(0, math.ceil(0.9 * len(values)) - 1)]
        return cls(len(values), round(sum(values) / len(values), 1), p90, values[-1])


@dataclass
class StatRow:
    """The figures of one day and one service, window or clerk."""

    day: date
    group: str
    issued: int | None = 0  # None where it does not apply (tickets are not issued per clerk)
    served: int = 0
    no_show: int | None = 0
    transferred: int = 0
    waiting: Spread = field(default_factory=lambda: Spread.of(()))
    service: Spread = field(default_factory=lambda: Spread.of(()))
    rated: int = 0
    good: int = 0
    bad: int = 0
    unrated: int = 0
    not_adopted: int = 0
    satisfaction_rate: float | None = None  # good over rated
    unrated_share: float | None = None  # unrated over all rating records
    on_time_rate: float | None = None  # served within the promised time, issue to finish
    estimate_error_s: float | None = None  # mean |actual - predicted| wait
    estimate_bias_s: float | None = None  # mean (actual - predicted): >0 means we promised short
    cases: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON and CSV."""
        return asdict(self)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def hall_statistics(
    engine: Engine,
    hall: HallConfig,
    first: date,
    last: date,
    *,
    by: GroupBy = "service",
    per: Period = "day",
) -> list[StatRow]:
    """Figures per local day (or month, dated its first day) in [first, last] and per group."""
    zone = hall.zone
    start = datetime.combine(first, time.min, zone)
    end = datetime.combine(last + timedelta(days=1), time.min, zone)
    promised = {s.code: s.promised_minutes for s in hall.services}

    def bucket(day: date) -> date:
        if per == "quarter":  # 每季度通报: dated the quarter's first day
            return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        return day.replace(day=1) if per == "month" else day

    department = {s.code: s.department or s.code for s in hall.services}

    def local_day(moment: datetime) -> date:
        return bucket(moment.astimezone(zone).date())

    with engine.connect() as conn:
        ticket_rows = conn.execute(
            select(tickets).where(
                tickets.c.hall == hall.id,
                tickets.c.service_date >= first,
                tickets.c.service_date <= last,
            )
        ).all()
        transaction_rows = conn.execute(
            select(transactions).where(
                transactions.c.hall == hall.id,
                transactions.c.finished_at >= start,
                transactions.c.finished_at < end,
            )
        ).all()
        transfer_rows = conn.execute(
            select(transfers).where(
                transfers.c.hall == hall.id, transfers.c.at >= start, transfers.c.at < end
            )
        ).all()
        entry_rows = conn.execute(
            select(rating_ledger).where(
                rating_ledger.c.hall == hall.id,
                rating_ledger.c.transaction_id.in_([t.id for t in transaction_rows]),
            )
        ).all()
        case_rows = conn.execute(
            select(rating_cases.c.transaction_id, rating_cases.c.state).where(
                rating_cases.c.hall == hall.id,
                rating_cases.c.transaction_id.in_([t.id for t in transaction_rows]),
            )
        ).all()

    rows: dict[tuple[date, str], StatRow] = {}

    def row(day: date, group: object) -> StatRow:
        key = (day, str(group))
        if key not in rows:
            rows[key] = StatRow(day=day, group=str(group))
            if by == "clerk":
                rows[key].issued = None
                rows[key].no_show = None
            elif by == "window":
                rows[key].issued = None
        return rows[key]

    ticket_group: Callable[[Any], object | None] = {
        "service": lambda t: t.issued_service,
        "department": lambda t: department.get(t.issued_service, t.issued_service),
        "window": lambda t: t.window,
        "clerk": lambda t: None,
    }[by]
    waits: dict[tuple[date, str], list[float]] = defaultdict(list)
    errors: dict[tuple[date, str], list[float]] = defaultdict(list)
    for t in ticket_rows:
        group = ticket_group(t)
        if group is None:
            continue
        r = row(bucket(t.service_date), group)
        if by in ("service", "department"):
            r.issued = (r.issued or 0) + 1
        if t.state == TicketState.NO_SHOW.value and r.no_show is not None:
            r.no_show += 1
        if t.first_called_at is not None:
            waited = (t.first_called_at - t.issued_at).total_seconds()
            waits[(r.day, r.group)].append(waited)
            if t.predicted_wait_s is not None:
                errors[(r.day, r.group)].append(waited - t.predicted_wait_s)

    by_transaction: dict[str, StatRow] = {}
    services: dict[tuple[date, str], list[float]] = defaultdict(list)
    on_time: dict[tuple[date, str], list[bool]] = defaultdict(list)
    issued_at = {t.id: t.issued_at for t in ticket_rows}
    for tx in transaction_rows:
        group = {
            "service": tx.service_code,
            "department": department.get(tx.service_code, tx.service_code),
            "window": tx.window,
            "clerk": tx.clerk_code,
        }[by]
        if group is None:
            continue
        r = row(local_day(tx.finished_at), group)
        by_transaction[tx.id] = r
        if tx.ended_by == "finish":
            r.served += 1
        services[(r.day, r.group)].append((tx.finished_at - tx.started_at).total_seconds())
        limit = promised.get(tx.service_code)
        arrived = issued_at.get(tx.ticket_id)
        if limit is not None and arrived is not None and tx.ended_by == "finish":
            on_time[(r.day, r.group)].append(tx.finished_at - arrived <= timedelta(minutes=limit))

    for move in transfer_rows:
        if by == "clerk":
            continue
        group = {
            "service": move.from_service,
            "department": department.get(move.from_service, move.from_service),
        }.get(by, move.from_window)
        row(local_day(move.at), group).transferred += 1

    set_aside = {e.transaction_id for e in entry_rows if e.kind == EntryKind.NOT_ADOPTED.value}
    for entry in entry_rows:
        rated_row = by_transaction.get(entry.transaction_id)
        if rated_row is None or entry.kind != EntryKind.RATING.value:
            continue
        r = rated_row
        if entry.transaction_id in set_aside:
            r.not_adopted += 1
        elif entry.outcome == UNRATED:
            r.unrated += 1
        else:
            r.rated += 1
            if entry.outcome in BAD:
                r.bad += 1
            else:
                r.good += 1
    for case in case_rows:
        case_row = by_transaction.get(case.transaction_id)
        if case_row is not None:
            case_row.cases[case.state] = case_row.cases.get(case.state, 0) + 1

    for key, r in rows.items():
        r.waiting = Spread.of(waits.get(key, ()))
        r.service = Spread.of(services.get(key, ()))
        r.satisfaction_rate = _share(r.good, r.rated)
        r.unrated_share = _share(r.unrated, r.rated + r.unrated)
        marks = on_time.get(key, [])
        r.on_time_rate = _share(sum(marks), len(marks))
        misses = errors.get(key, [])
        if misses:
            r.estimate_error_s = round(sum(abs(m) for m in misses) / len(misses), 1)
            r.estimate_bias_s = round(sum(misses) / len(misses), 1)
    return [rows[key] for key in sorted(rows)]


@dataclass
class HallSummary:
    """One hall's totals over a period, for the central report across halls."""

    hall: str
    issued: int = 0
    served: int = 0
    no_show: int = 0
    rated: int = 0
    good: int = 0
    bad: int = 0
    unrated: int = 0
    mean_wait_s: float | None = None
    max_wait_s: float | None = None
    satisfaction_rate: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)


def _summary(name: str, rows: Iterable[StatRow]) -> HallSummary:
    summary = HallSummary(name)
    waited = 0.0
    waits = 0
    for row in rows:
        summary.issued += row.issued or 0
        summary.served += row.served
        summary.no_show += row.no_show or 0
        summary.rated += row.rated
        summary.good += row.good
        summary.bad += row.bad
        summary.unrated += row.unrated
        if row.waiting.count and row.waiting.mean_s is not None:
            waited += row.waiting.mean_s * row.waiting.count
            waits += row.waiting.count
            longest = row.waiting.max_s or 0.0
            summary.max_wait_s = max(summary.max_wait_s or 0.0, longest)
    summary.mean_wait_s = round(waited / waits, 1) if waits else None
    summary.satisfaction_rate = _share(summary.good, summary.rated)
    return summary


def central_report(
    engine: Engine, halls: Iterable[HallConfig], first: date, last: date
) -> list[HallSummary]:
    """Each hall sharing one database, then all of them together (hall ``*``)."""
    per_hall = [(hall.id, hall_statistics(engine, hall, first, last)) for hall in halls]
    summaries = [_summary(name, rows) for name, rows in per_hall]
    summaries.append(_summary("*", [row for _, rows in per_hall for row in rows]))
    return summaries
