"""Times as people in the hall read them: on the hall's wall clock, never in UTC.

Times travel and are stored in UTC (aware datetimes); every surface that shows a time to
a person converts it here with the hall's zone. A naive datetime is refused: it is
ambiguous by an eight-hour day in a hall of China.
"""

from __future__ import annotations

from datetime import datetime, tzinfo


class NaiveTimeError(ValueError):
    """A time without a zone reached a surface people read."""


def in_hall(moment: datetime, zone: tzinfo) -> datetime:
    """``moment`` on the hall's wall clock."""
    if moment.tzinfo is None:
        raise NaiveTimeError(f"{moment.isoformat()} has no time zone")
    return moment.astimezone(zone)


def hall_iso(moment: datetime, zone: tzinfo) -> str:
    """ISO 8601 with the hall's offset (``2026-12-01T10:30:00+08:00``), for pages and JSON."""
    return in_hall(moment, zone).isoformat(timespec="seconds")


def wall_clock(moment: datetime | str, zone: tzinfo, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A time (or an ISO 8601 string with its offset) as the hall's clock shows it."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return f"{in_hall(moment, zone):{pattern}}"
