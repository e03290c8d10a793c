"""The queue of one hall, as plain data and rules: no I/O, no clock, no bus.

Every operation takes ``now`` and records what it touched in ``changes``, which the
bridge persists in one transaction and turns into bus messages after the commit.
"""

from __future__ import annotations

import itertools
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from hallbus.messages import (
    UNRATED,
    ErrorCode,
    RatingLevel,
    RatingOutcome,
    RatingSource,
    TicketState,
)
from scheduler.config import HallConfig

ACTIVE_STATES = frozenset({TicketState.WAITING, TicketState.CALLED, TicketState.SERVING})


class QueueError(Exception):
    """A request the queue rules refuse; carries the bus error code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Ticket:
    """A numbered ticket for one service on one day."""

    id: str
    service_code: str
    service_date: date
    number: int
    prefix: str
    issued_at: datetime
    issued_by: str
    state: TicketState = TicketState.WAITING
    window: int | None = None
    called_at: datetime | None = None
    recalls: int = 0
    serving_since: datetime | None = None
    finished_at: datetime | None = None

    @property
    def label(self) -> str:
        """What is printed and called: prefix and three digits, e.g. A001."""
        return f"{self.prefix}{self.number:03d}"


@dataclass
class Transaction:
    """One service of a ticket at a window; it gets exactly one rating record."""

    id: str
    ticket_id: str
    ticket_label: str
    window: int
    started_at: datetime
    finished_at: datetime
    rating_deadline: datetime
    outcome: RatingOutcome | None = None
    rating_source: RatingSource | None = None
    rated_at: datetime | None = None


@dataclass(frozen=True)
class RecentCallEntry:
    """A call shown on the hall board."""

    label: str
    window: int
    called_at: datetime


@dataclass
class Changes:
    """What one operation touched: to persist, and to tell the devices."""

    tickets: dict[str, Ticket] = field(default_factory=dict)
    new_ticket_ids: set[str] = field(default_factory=set)
    transactions: dict[str, Transaction] = field(default_factory=dict)
    calls: list[Ticket] = field(default_factory=list)  # to announce
    prompts: list[Transaction] = field(default_factory=list)  # rating prompts to send
    ratings: list[Transaction] = field(default_factory=list)  # rating records written
    windows: set[int] = field(default_factory=set)
    services: set[str] = field(default_factory=set)

    def touch(self, ticket: Ticket, *, new: bool = False) -> None:
        """Record a created or changed ticket."""
        self.tickets[ticket.id] = ticket
        if new:
            self.new_ticket_ids.add(ticket.id)
        self.services.add(ticket.service_code)

    @property
    def empty(self) -> bool:
        """Whether nothing changed."""
        return not (self.tickets or self.transactions or self.ratings)


def new_id() -> str:
    """A random id for tickets and transactions."""
    return uuid.uuid4().hex


class HallQueue:
    """Queue state and rules of one hall. Single-threaded: the scheduler is one writer."""

    def __init__(self, hall: HallConfig, *, id_factory: Callable[[], str] = new_id) -> None:
        self.hall = hall
        self._new_id = id_factory
        self._services = {s.code: s for s in hall.services}
        self._windows = {w.number: tuple(w.services) for w in hall.windows}
        self._waiting: dict[str, OrderedDict[str, Ticket]] = {
            code: OrderedDict() for code in self._services
        }
        self._current: dict[int, Ticket | None] = dict.fromkeys(self._windows)
        self._counters: dict[tuple[date, str], int] = {}
        self._awaiting_rating: dict[str, Transaction] = {}
        self.recent_calls: deque[RecentCallEntry] = deque(maxlen=hall.recent_calls)
        self.changes = Changes()

    # --- restoring from the store ---------------------------------------------
    def restore(
        self,
        tickets: Iterable[Ticket],
        awaiting: Iterable[Transaction],
        counters: dict[tuple[date, str], int],
        recent_calls: Iterable[RecentCallEntry],
    ) -> None:
        """Load persisted state after a start or a failed commit."""
        for ticket in sorted(tickets, key=lambda t: (t.issued_at, t.number)):
            if ticket.state == TicketState.WAITING:
                self._waiting[ticket.service_code][ticket.id] = ticket
            elif ticket.window in self._current:
                self._current[ticket.window] = ticket
        for transaction in sorted(awaiting, key=lambda t: t.rating_deadline):
            self._awaiting_rating[transaction.id] = transaction
        self._counters.update(counters)
        self.recent_calls.extend(recent_calls)

    def take_changes(self) -> Changes:
        """Hand over what was touched since the last call."""
        changes, self.changes = self.changes, Changes()
        return changes

    # --- queries ----------------------------------------------------------------
    def service_date(self, now: datetime) -> date:
        """The hall's calendar day at ``now``: ticket numbers restart each day."""
        return now.astimezone(self.hall.zone).date()

    def waiting_count(self, service_code: str) -> int:
        """Tickets waiting for one service."""
        return len(self._waiting[service_code])

    def waiting_labels(self, service_code: str, limit: int) -> list[str]:
        """The first ``limit`` waiting tickets of a service, next to be called first."""
        return [t.label for t in itertools.islice(self._waiting[service_code].values(), limit)]

    def waiting_for_window(self, window: int) -> int:
        """Tickets waiting for any service this window handles."""
        return sum(len(self._waiting[code]) for code in self._windows[window])

    def current(self, window: int) -> Ticket | None:
        """The ticket a window is calling or serving."""
        return self._current[window]

    def window_numbers(self) -> list[int]:
        """Every window number."""
        return list(self._windows)

    def windows_for_service(self, service_code: str) -> list[int]:
        """Windows that handle a service."""
        return [n for n, codes in self._windows.items() if service_code in codes]

    def awaiting_rating(self) -> list[Transaction]:
        """Finished transactions whose rating is still open."""
        return list(self._awaiting_rating.values())

    def next_rating_deadline(self) -> datetime | None:
        """The earliest open rating deadline."""
        return min((t.rating_deadline for t in self._awaiting_rating.values()), default=None)

    # --- commands -------------------------------------------------------------
    def issue_ticket(self, service_code: str, now: datetime, issued_by: str) -> tuple[Ticket, int]:
        """Issue the next number of a service; returns the ticket and people ahead."""
        service = self._services.get(service_code)
        if service is None:
            raise QueueError(ErrorCode.UNKNOWN_SERVICE, f"no service {service_code!r}")
        day = self.service_date(now)
        number = self._counters.get((day, service_code), 0) + 1
        self._counters[(day, service_code)] = number
        ticket = Ticket(
            id=self._new_id(),
            service_code=service_code,
            service_date=day,
            number=number,
            prefix=service.prefix,
            issued_at=now,
            issued_by=issued_by,
        )
        people_ahead = len(self._waiting[service_code])
        self._waiting[service_code][ticket.id] = ticket
        self.changes.touch(ticket, new=True)
        self.changes.windows.update(self.windows_for_service(service_code))
        return ticket, people_ahead

    def call_next(self, window: int, now: datetime) -> Ticket:
        """Call the longest-waiting ticket of the window's services."""
        self._require_window(window)
        if self._current[window] is not None:
            current = self._current[window]
            assert current is not None
            raise QueueError(
                ErrorCode.INVALID_STATE,
                f"window {window} still has {current.label}: finish it or mark it no-show first",
            )
        heads = [q[next(iter(q))] for code in self._windows[window] if (q := self._waiting[code])]
        if not heads:
            raise QueueError(ErrorCode.NOTHING_WAITING, f"nobody waits for window {window}")
        ticket = min(heads, key=lambda t: (t.issued_at, t.number))
        del self._waiting[ticket.service_code][ticket.id]
        ticket.state = TicketState.CALLED
        ticket.window = window
        ticket.called_at = now
        self._current[window] = ticket
        self._announce(ticket, now)
        self.changes.windows.update(self.windows_for_service(ticket.service_code))
        return ticket

    def recall(self, window: int, now: datetime) -> Ticket:
        """Call the window's current ticket again."""
        ticket = self._current_in(window, {TicketState.CALLED})
        ticket.recalls += 1
        self._announce(ticket, now)
        return ticket

    def start_service(self, window: int, now: datetime) -> Ticket:
        """The called citizen arrived; the window now serves them."""
        ticket = self._current_in(window, {TicketState.CALLED})
        ticket.state = TicketState.SERVING
        ticket.serving_since = now
        self.changes.touch(ticket)
        self.changes.windows.add(window)
        return ticket

    def no_show(self, window: int, now: datetime) -> Ticket:
        """The called citizen did not come; the window is free again."""
        ticket = self._current_in(window, {TicketState.CALLED})
        ticket.state = TicketState.NO_SHOW
        ticket.finished_at = now
        self._current[window] = None
        self.changes.touch(ticket)
        self.changes.windows.add(window)
        return ticket

    def finish(self, window: int, now: datetime) -> Transaction:
        """Service is done: the transaction is recorded and awaits its one rating."""
        ticket = self._current_in(window, {TicketState.CALLED, TicketState.SERVING})
        started = ticket.serving_since or ticket.called_at or now
        ticket.state = TicketState.DONE
        ticket.finished_at = now
        self._current[window] = None
        transaction = Transaction(
            id=self._new_id(),
            ticket_id=ticket.id,
            ticket_label=ticket.label,
            window=window,
            started_at=started,
            finished_at=now,
            rating_deadline=now + timedelta(seconds=self.hall.rating_timeout_s),
        )
        self._awaiting_rating[transaction.id] = transaction
        self.changes.touch(ticket)
        self.changes.transactions[transaction.id] = transaction
        self.changes.prompts.append(transaction)
        self.changes.windows.add(window)
        return transaction

    def cancel(self, ticket_id: str, now: datetime) -> Ticket:
        """Withdraw a waiting ticket."""
        for queue in self._waiting.values():
            ticket = queue.pop(ticket_id, None)
            if ticket is not None:
                ticket.state = TicketState.CANCELLED
                ticket.finished_at = now
                self.changes.touch(ticket)
                self.changes.windows.update(self.windows_for_service(ticket.service_code))
                return ticket
        raise QueueError(ErrorCode.UNKNOWN_TICKET, f"no waiting ticket {ticket_id}")

    def rate(
        self, window: int, transaction_id: str, level: RatingLevel, now: datetime
    ) -> Transaction:
        """Record the citizen's rating: only once, only at its window, only before timeout."""
        transaction = self._awaiting_rating.get(transaction_id)
        if transaction is None or transaction.window != window:
            raise QueueError(
                ErrorCode.RATING_CLOSED,
                f"transaction {transaction_id} is not open for rating at window {window}",
            )
        if now > transaction.rating_deadline:
            raise QueueError(ErrorCode.RATING_CLOSED, "the rating time is over")
        self._close_rating(transaction, level, RatingSource.PAD, now)
        return transaction

    def expire_ratings(self, now: datetime) -> list[Transaction]:
        """Record ``unrated`` for every prompt past its deadline: never a default level."""
        expired = [t for t in self._awaiting_rating.values() if t.rating_deadline < now]
        for transaction in expired:
            self._close_rating(transaction, UNRATED, RatingSource.TIMEOUT, now)
        return expired

    # --- helpers ----------------------------------------------------------------
    def _require_window(self, window: int) -> None:
        if window not in self._windows:
            raise QueueError(ErrorCode.INVALID_STATE, f"no window {window}")

    def _current_in(self, window: int, states: set[TicketState]) -> Ticket:
        self._require_window(window)
        ticket = self._current[window]
        if ticket is None:
            raise QueueError(ErrorCode.NO_CURRENT_TICKET, f"window {window} has no current ticket")
        if ticket.state not in states:
            raise QueueError(
                ErrorCode.INVALID_STATE,
                f"{ticket.label} is {ticket.state.value} at window {window}",
            )
        return ticket

    def _announce(self, ticket: Ticket, now: datetime) -> None:
        assert ticket.window is not None
        self.recent_calls.appendleft(RecentCallEntry(ticket.label, ticket.window, now))
        self.changes.touch(ticket)
        self.changes.calls.append(ticket)
        self.changes.windows.add(ticket.window)

    def _close_rating(
        self, transaction: Transaction, outcome: RatingOutcome, source: RatingSource, now: datetime
    ) -> None:
        del self._awaiting_rating[transaction.id]
        transaction.outcome = outcome
        transaction.rating_source = source
        transaction.rated_at = now
        self.changes.ratings.append(transaction)
