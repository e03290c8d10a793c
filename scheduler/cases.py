"""Bad-rating cases (差评整改): opened the same day, deadlines in working days, every step kept.

The deadlines follow the national 好差评 rules: contact the citizen within 2 working
days, a simple fix within 5, a complex one within 15, and the follow-up call within 5
after the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from scheduler.calendar import WorkCalendar

CONTACT_WORKDAYS = 2
SIMPLE_FIX_WORKDAYS = 5
COMPLEX_FIX_WORKDAYS = 15
CALLBACK_WORKDAYS = 5
# A case closes only with the citizen's view of the fix from the callback, or after this
# many recorded attempts that did not reach them (the callback rate counts honestly).
MAX_FAILED_ATTEMPTS = 3


class CaseState(StrEnum):
    """Where a case stands; it only moves forward."""

    OPEN = "open"
    CONTACTED = "contacted"
    RECTIFIED = "rectified"
    CALLED_BACK = "called_back"
    CLOSED = "closed"
    # A recorded step only, never a case's state: a contact attempt that did not reach them.
    ATTEMPT_FAILED = "attempt_failed"


class CallbackResult(StrEnum):
    """The citizen's view of the rectification, asked at the callback (回访)."""

    SATISFIED = "satisfied"
    UNSATISFIED = "unsatisfied"


class Complexity(StrEnum):
    """How big the fix is; decides the rectification deadline."""

    SIMPLE = "simple"
    COMPLEX = "complex"


# The one step that may follow each state.
NEXT_STATE: dict[CaseState, CaseState] = {
    CaseState.OPEN: CaseState.CONTACTED,
    CaseState.CONTACTED: CaseState.RECTIFIED,
    CaseState.RECTIFIED: CaseState.CALLED_BACK,
    CaseState.CALLED_BACK: CaseState.CLOSED,
}


class CaseError(ValueError):
    """A step the case rules refuse."""


@dataclass
class BadRatingCase:
    """The follow-up of one bad rating."""

    id: str
    transaction_id: str
    outcome: str
    reason: str
    opened_on: date
    contact_due: date
    fix_due: date
    state: CaseState = CaseState.OPEN
    complexity: Complexity = Complexity.SIMPLE
    callback_due: date | None = None

    def due(self) -> date | None:
        """The deadline of the next step; None once closed."""
        match self.state:
            case CaseState.OPEN:
                return self.contact_due
            case CaseState.CONTACTED:
                return self.fix_due
            case CaseState.RECTIFIED | CaseState.CALLED_BACK:
                return self.callback_due
        return None


def open_case(
    case_id: str, transaction_id: str, outcome: str, reason: str, on: date, calendar: WorkCalendar
) -> BadRatingCase:
    """A new case, opened the day of the rating."""
    return BadRatingCase(
        id=case_id,
        transaction_id=transaction_id,
        outcome=outcome,
        reason=reason,
        opened_on=on,
        contact_due=calendar.add_workdays(on, CONTACT_WORKDAYS),
        fix_due=calendar.add_workdays(on, SIMPLE_FIX_WORKDAYS),
    )


def advance(
    case: BadRatingCase,
    to: CaseState,
    on: date,
    calendar: WorkCalendar,
    complexity: Complexity | None = None,
    *,
    failed_attempts: int = 0,
) -> BadRatingCase:
    """Move a case one step on; ``complexity`` may be set when the citizen is contacted.

    A case whose citizen could not be reached ``MAX_FAILED_ATTEMPTS`` times may close
    from any step; otherwise it closes only after the callback.
    """
    unreachable = failed_attempts >= MAX_FAILED_ATTEMPTS and case.state != CaseState.CLOSED
    if to == CaseState.CLOSED and unreachable:
        case.state = to
        return case
    if NEXT_STATE.get(case.state) != to:
        raise CaseError(f"a {case.state.value} case cannot become {to.value}")
    if complexity is not None:
        if to != CaseState.CONTACTED:
            raise CaseError("complexity is decided when the citizen is contacted")
        case.complexity = complexity
        days = COMPLEX_FIX_WORKDAYS if complexity == Complexity.COMPLEX else SIMPLE_FIX_WORKDAYS
        case.fix_due = calendar.add_workdays(case.opened_on, days)
    if to == CaseState.RECTIFIED:
        case.callback_due = calendar.add_workdays(on, CALLBACK_WORKDAYS)
    case.state = to
    return case
