"""From a card's full text to the little a kiosk or counter is told (the ``CardRead`` event)."""

from __future__ import annotations

from datetime import date, datetime

from hallbus.identity import IdHasher
from hallbus.messages import CardRead
from id_reader.card_text import Holder

MASK = "*"


def mask_name(name: str) -> str:
    """Enough of a name to greet by and not enough to identify: 张三明 -> 张*明, 张三 -> 张*.

    Latin names keep each word's first letter (JOHN SMITH -> J*** S****).
    """
    name = name.strip()
    if not name:
        return ""
    if name.isascii():
        words = [w[0] + MASK * (len(w) - 1) for w in name.split()]
        return " ".join(words)[:32]
    if len(name) <= 2:
        return name[0] + MASK * (len(name) - 1)
    return (name[0] + MASK * (len(name) - 2) + name[-1])[:32]


def age_on(birth: date, today: date) -> int:
    """Full years lived on ``today``."""
    had_birthday = (today.month, today.day) >= (birth.month, birth.day)
    return max(today.year - birth.year - (0 if had_birthday else 1), 0)


def card_event(holder: Holder, hasher: IdHasher, now: datetime, elderly_age: int) -> CardRead:
    """The event for a tap: a keyed hash of the number, never the number.

    ``now`` is local time in the hall, so the age turns on the right day.
    """
    age = min(age_on(holder.birth_date, now.date()), 150)
    return CardRead(
        id_hash=hasher.hash(holder.id_number),
        masked_name=mask_name(holder.name),
        age=age,
        read_at=now,
        card_kind=holder.kind,
        gender=holder.gender,
        elderly=age >= elderly_age,
    )
