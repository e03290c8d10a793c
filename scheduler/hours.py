"""Service hours: whether a service issues tickets at a given local time, and if not, why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from scheduler.calendar import WorkCalendar
from scheduler.config import WEEKDAYS, OpeningPeriod, ServiceConfig


@dataclass(frozen=True)
class Closed:
    """Why a service takes no tickets now, and when it next does today."""

    message: str
    opens_at: time | None = None


def periods_on(service: ServiceConfig, day: date, calendar: WorkCalendar) -> list[OpeningPeriod]:
    """The service's opening periods on ``day``, earliest first (none if it keeps no hours)."""
    if service.hours is None:
        return []
    tags = {WEEKDAYS[day.weekday()], "workday" if calendar.is_workday(day) else "restday"}
    return sorted((p for p in service.hours if tags & set(p.days)), key=lambda p: p.open)


def closed_reason(service: ServiceConfig, local: datetime, calendar: WorkCalendar) -> Closed | None:
    """None while tickets may be issued at ``local`` (the hall's wall-clock time)."""
    if service.hours is None:
        return None
    periods = periods_on(service, local.date(), calendar)
    if not periods:
        return Closed("not open today")
    now = local.time()
    for period in periods:
        if period.open <= now < period.close:
            last = _minus(period.close, service.last_ticket_min)
            if now >= last:
                return Closed(f"the last ticket was at {last:%H:%M}", _next_open(periods, now))
            return None
    upcoming = _next_open(periods, now)
    if upcoming is None:
        return Closed("closed for today")
    return Closed(f"opens at {upcoming:%H:%M}", upcoming)


def _next_open(periods: list[OpeningPeriod], now: time) -> time | None:
    return next((p.open for p in periods if p.open > now), None)


def _minus(moment: time, minutes: int) -> time:
    total = moment.hour * 60 + moment.minute - minutes
    return time(total // 60, total % 60) if total > 0 else time.min
