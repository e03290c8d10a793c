"""Working days in mainland China: statutory holidays and make-up working days (调休).

The official calendar comes from the ``chinesecalendar`` package, which follows the
State Council's yearly notice. A year it does not know yet (the notice comes out in
the preceding November or December) falls back to Monday-Friday, and a hall can add
its own days on top of either.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, timedelta

import chinese_calendar

log = logging.getLogger(__name__)


class WorkCalendar:
    """Tells working days; pure apart from the library's built-in tables."""

    def __init__(
        self, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()
    ) -> None:
        self._holidays = frozenset(extra_holidays)
        self._workdays = frozenset(extra_workdays)
        self._warned_years: set[int] = set()

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day."""
        if day in self._holidays:
            return False
        if day in self._workdays:
            return True
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self._warned_years:
                self._warned_years.add(day.year)
                log.warning(
                    "no official calendar for this year yet; counting Monday to Friday",
                    extra={"year": day.year},
                )
            return day.weekday() < 5

    def add_workdays(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (the day itself not counted)."""
        day = start
        remaining = count
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_workday(day):
                remaining -= 1
        return day
