"""A clerk's login checked against their PIN before the queue opens the window.

The rule is pure (scheduler/clerk_pins.py); this keeps each try's effect (failures,
lockout) and the audit record in the store, and turns the outcome into the refusal the
keypad shows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hallbus.hall_file import HallConfig
from hallbus.messages import ErrorCode, Login
from scheduler.clerk_pins import PinOutcome, check_pin
from scheduler.domain import QueueError
from scheduler.store import Store


def check_login_pin(
    store: Store, hall: HallConfig, request: Login, window: int, now: datetime
) -> None:
    """Refuse a login without the clerk's right PIN (where one is set or required)."""
    code = request.clerk_code
    if code is None:
        code = next((c.code for c in hall.clerks if c.id_hash == request.id_hash), None)
    if code is None or hall.clerk(code) is None:
        return  # the queue refuses an unknown clerk
    record = store.clerk_pin(code)
    outcome, updated = check_pin(
        record,
        request.pin,
        required=hall.require_pin,
        now=now,
        max_failures=hall.pin_max_failures,
        lockout=timedelta(minutes=hall.pin_lockout_min),
    )
    if updated is not None:
        store.record_pin_try(updated, outcome.value, window, now)
    elif outcome is PinOutcome.LOCKED and record is not None:
        store.record_pin_try(record, "locked", window, now)  # audited, nothing more
    match outcome:
        case PinOutcome.OK:
            return
        case PinOutcome.REQUIRED:
            raise QueueError(ErrorCode.PIN_REQUIRED, f"clerk {code}: enter the PIN")
        case PinOutcome.WRONG:
            raise QueueError(ErrorCode.WRONG_PIN, f"clerk {code}: wrong PIN")
    locked = record.locked_until if updated is None and record else None
    until = (updated.locked_until if updated else locked) or now
    local = f"{until.astimezone(hall.zone):%H:%M}"
    raise QueueError(ErrorCode.CLERK_LOCKED, f"clerk {code} is locked until {local}")
