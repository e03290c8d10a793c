"""Service hours: whether a service issues tickets at a given local time, and if not, why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from hallbus.hall_file import WEEKDAYS, HallConfig, OpeningPeriod, ServiceConfig
from scheduler.calendar import WorkCalendar


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
    return sorted(
        (p for p in service.hours if tags & set(p.days) and p.in_season(day)),
        key=lambda p: p.open,
    )


def day_end(hall: HallConfig, day: date, calendar: WorkCalendar) -> datetime:
    """When ``day``'s service ends in the hall's zone: ``day_end``, or the last closing.

    A hall with a service that keeps no hours, or none open that day, ends at midnight.
    """
    midnight = datetime.combine(day + timedelta(days=1), time.min, hall.zone)
    if hall.day_end is not None:
        return datetime.combine(day, hall.day_end, hall.zone)
    closings = []
    for service in hall.services:
        if service.hours is None:
            return midnight
        closings += [p.close for p in periods_on(service, day, calendar)]
    if not closings:
        return midnight
    return datetime.combine(day, max(closings), hall.zone)


def last_ended_day(hall: HallConfig, now: datetime, calendar: WorkCalendar) -> date:
    """The latest service day that has ended at ``now``: today after its end, else yesterday."""
    today = now.astimezone(hall.zone).date()
    return today if now >= day_end(hall, today, calendar) else today - timedelta(days=1)


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
