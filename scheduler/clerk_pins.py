"""Clerk PINs: a 工号 alone (shown on the pad to every citizen) opens no window.

A clerk logs in with their code or ID card and a PIN of 4 to 8 digits, kept only as an
argon2 hash. Repeated wrong PINs lock the clerk out for a while: guessing 10,000 PINs
at 5 tries per lockout would take years, and each failure is in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

PIN_PATTERN = r"^[0-9]{4,8}$"
# A PIN is short by nature; argon2 with a little memory still makes each guess cost,
# and the lockout does the rest. Parameters stay low so a login never stalls the hall.
HASHER = PasswordHasher(time_cost=2, memory_cost=16 * 1024, parallelism=1)


@dataclass(frozen=True)
class PinRecord:
    """A clerk's PIN hash and failed tries."""

    clerk_code: str
    pin_hash: str
    failures: int = 0
    locked_until: datetime | None = None


class PinOutcome(Enum):
    """What a login's PIN check found."""

    OK = "ok"
    REQUIRED = "required"  # none given (or none set) where one is needed
    WRONG = "wrong"
    LOCKED = "locked"


def hash_pin(pin: str) -> str:
    """The argon2 hash kept for a PIN."""
    return HASHER.hash(pin)


def check_pin(
    record: PinRecord | None,
    pin: str | None,
    *,
    required: bool,
    now: datetime,
    max_failures: int,
    lockout: timedelta,
) -> tuple[PinOutcome, PinRecord | None]:
    """The outcome, and the record as it must be stored after this try (None: unchanged)."""
    if record is None:
        # No PIN set: a hall that requires PINs lets nobody in until one is set.
        return (PinOutcome.REQUIRED if required else PinOutcome.OK), None
    if record.locked_until is not None and now < record.locked_until:
        return PinOutcome.LOCKED, None
    if pin is None:
        return PinOutcome.REQUIRED, None
    try:
        HASHER.verify(record.pin_hash, pin)
    except (VerificationError, InvalidHashError):
        failures = record.failures + 1
        if failures >= max_failures:
            return PinOutcome.LOCKED, replace(record, failures=0, locked_until=now + lockout)
        return PinOutcome.WRONG, replace(record, failures=failures, locked_until=None)
    if record.failures or record.locked_until:
        return PinOutcome.OK, replace(record, failures=0, locked_until=None)
    return PinOutcome.OK, None
