"""The queue of one hall, as plain data and rules: no I/O, no clock, no bus.

Every operation takes ``now`` and records what it touched in ``changes``, which the
bridge persists in one transaction and turns into bus messages after the commit.
"""

from __future__ import annotations

import heapq
import itertools
import os
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sortedcontainers import SortedList

from hallbus.hall_file import ClerkConfig, HallConfig, ServiceConfig
from hallbus.messages import (
    UNRATED,
    BadRatingReason,
    ErrorCode,
    PauseReason,
    PrinterFault,
    PrintState,
    PriorityClass,
    RatingLevel,
    RatingOutcome,
    RatingSource,
    TicketState,
    WindowStatus,
)
from scheduler.booking import (
    Booked,
    BookingRefused,
    check_booking,
    day_slots,
    slot_at,
)
from scheduler.booking import (
    booking_code as code_of,
)
from scheduler.calendar import WorkCalendar
from scheduler.cases import BadRatingCase, open_case
from scheduler.estimate import ServiceTimes, estimate_wait_s
from scheduler.hours import closed_reason, day_end, last_ended_day, periods_on
from scheduler.ledger import EntryKind, LedgerEntry, RatingLedger
from scheduler.policy import CallingPolicy, DefaultCallingPolicy, LaneKey, WaitingRoom, WindowView

ACTIVE_STATES = frozenset({TicketState.WAITING, TicketState.CALLED, TicketState.SERVING})


class QueueError(Exception):
    """A request the queue rules refuse; carries the bus error code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)  # a long day's backlog holds 100,000 of them: no __dict__ each
class Ticket:
    """A numbered ticket; it keeps its number and arrival through transfers (一票到底)."""

    id: str
    issued_service: str  # numbering is per issuing service and day
    service_code: str  # the service it waits for now
    service_date: date
    number: int
    prefix: str
    issued_at: datetime
    issued_by: str
    priority: PriorityClass = PriorityClass.NORMAL
    queued_at: datetime | None = None  # its place in line; later than issue when postponed
    target_window: int | None = None  # sent to this window only
    state: TicketState = TicketState.WAITING
    window: int | None = None
    called_at: datetime | None = None
    first_called_at: datetime | None = None
    recalls: int = 0
    serving_since: datetime | None = None
    finished_at: datetime | None = None
    transfers: int = 0
    predicted_wait_s: int | None = None
    appointment_id: str | None = None
    print_state: PrintState | None = None
    print_faults: tuple[PrinterFault, ...] = ()

    def __post_init__(self) -> None:
        if self.queued_at is None:
            self.queued_at = self.issued_at

    @property
    def label(self) -> str:
        """What is printed and called: prefix and three digits, e.g. A001."""
        return f"{self.prefix}{self.number:03d}"

    @property
    def place_time(self) -> datetime:
        """When the ticket joined its line."""
        assert self.queued_at is not None
        return self.queued_at


@dataclass
class Transaction:
    """One service of a ticket at a window; it gets exactly one rating record."""

    id: str
    ticket_id: str
    ticket_label: str
    service_code: str
    window: int
    clerk_code: str | None
    started_at: datetime
    finished_at: datetime
    pad_deadline: datetime  # the pad's prompt closes
    rating_deadline: datetime  # after this, ``unrated`` is recorded
    ended_by: str = "finish"  # or "transfer"
    pad_closed: bool = False
    outcome: RatingOutcome | None = None


@dataclass
class Window:
    """A counter window and who is at it."""

    number: int
    tiers: dict[str, int]
    status: WindowStatus = WindowStatus.CLOSED
    clerk: ClerkConfig | None = None
    pause_reason: PauseReason | None = None
    current: Ticket | None = None
    status_since: datetime | None = None  # the login, pause, resume or logout that set it


@dataclass(frozen=True)
class WindowEvent:
    """A login, logout, pause or resume, kept for the record and for restarts."""

    window: int
    event: str
    clerk_code: str | None
    reason: PauseReason | None
    at: datetime


@dataclass
class Appointment:
    """A booked slot; checked in at the kiosk with the ID card whose keyed hash it holds."""

    id: str
    service_code: str
    slot_start: datetime
    id_hash: str
    contact: str
    booked_at: datetime
    state: str = "booked"  # booked, checked_in, late, cancelled, no_show
    ticket_id: str | None = None
    code: str = ""  # the booking code (booking.booking_code of the id) typed at the kiosk


@dataclass(frozen=True)
class TransferRecord:
    """A ticket sent on from one window to a service or window."""

    ticket_id: str
    from_service: str
    to_service: str
    from_window: int
    to_window: int | None
    at: datetime


@dataclass(frozen=True)
class CallRecord:
    """One call as it was made: announced, shown on the hall board and kept in the call log.

    A snapshot, not the ticket: a postpone or transfer later clears the ticket's window,
    but the call to that window still happened and the board still lists it.
    """

    ticket_id: str
    label: str
    service_code: str
    window: int
    recalls: int
    called_at: datetime


@dataclass(frozen=True)
class DayClosed:
    """What the end of one or more service days ended (nothing of those days stays open)."""

    through: date  # every ticket of this day and earlier ones is finished now
    expired: list[Ticket]
    no_shows: list[Ticket]
    finished: list[Transaction]
    logged_out: list[int]
    board_cleared: bool  # the hall board's calls of the ended day were taken down

    @property
    def empty(self) -> bool:
        """Whether the day's end found nothing left open."""
        return not (
            self.expired or self.no_shows or self.finished or self.logged_out or self.board_cleared
        )


@dataclass(frozen=True)
class Issued:
    """What the kiosk prints."""

    ticket: Ticket
    people_ahead: int
    estimated_wait_s: int
    appointment: Appointment | None


@dataclass(frozen=True)
class Availability:
    """Why a service issues no tickets now."""

    code: ErrorCode
    message: str
    opens_at: time | None = None


@dataclass(frozen=True)
class PrintReport:
    """A kiosk's word on whether a ticket printed, for a ticket no longer held in memory."""

    ticket_id: str
    state: PrintState
    faults: tuple[PrinterFault, ...]


@dataclass
class Changes:
    """What one operation touched: to persist, and to tell the devices."""

    tickets: dict[str, Ticket] = field(default_factory=dict)
    new_ticket_ids: set[str] = field(default_factory=set)
    transactions: dict[str, Transaction] = field(default_factory=dict)
    calls: list[CallRecord] = field(default_factory=list)  # to announce and log
    prompts: list[Transaction] = field(default_factory=list)  # rating prompts to send
    pad_closed: list[Transaction] = field(default_factory=list)  # prompts whose time ran out
    ledger: list[tuple[LedgerEntry, Transaction | None]] = field(default_factory=list)
    cases: list[BadRatingCase] = field(default_factory=list)
    appointments: dict[str, Appointment] = field(default_factory=dict)
    transfers: list[TransferRecord] = field(default_factory=list)
    window_events: list[WindowEvent] = field(default_factory=list)
    print_reports: list[PrintReport] = field(default_factory=list)
    windows: set[int] = field(default_factory=set)
    # Windows whose waiting count alone may have moved (a ticket joined or left a line
    # they serve): boards get those at most every so often, so they are kept apart.
    window_counts: set[int] = field(default_factory=set)
    services: set[str] = field(default_factory=set)
    # Services whose waiting figures alone (count, longest wait, estimate) may have moved:
    # every ticket touches one, and the kiosks and the hall board get those at most every
    # so often, so the scheduler need not even build the state before then.
    service_counts: set[str] = field(default_factory=set)

    def touch(self, ticket: Ticket, *, new: bool = False) -> None:
        """Record a created or changed ticket."""
        self.tickets[ticket.id] = ticket
        if new:
            self.new_ticket_ids.add(ticket.id)
        self.service_counts.add(ticket.service_code)

    @property
    def empty(self) -> bool:
        """Whether nothing needs saving."""
        return not (
            self.tickets
            or self.transactions
            or self.ledger
            or self.appointments
            or self.window_events
            or self.pad_closed
            or self.print_reports
        )


def new_id() -> str:
    """A random id for tickets, transactions, appointments and cases: 32 hex digits, as
    uuid4().hex gave (nothing reads them as UUIDs; building one was a visible cost)."""
    return os.urandom(16).hex()


# How many ledger entries stay in memory for reviews without a database read.
RECENT_ENTRIES = 10_000


class HallQueue:
    """Queue state and rules of one hall. Single-threaded: the scheduler is one writer."""

    def __init__(
        self,
        hall: HallConfig,
        *,
        id_factory: Callable[[], str] = new_id,
        policy: CallingPolicy | None = None,
        calendar: WorkCalendar | None = None,
    ) -> None:
        self.hall = hall
        self._new_id = id_factory
        self.policy = policy or DefaultCallingPolicy(timedelta(seconds=hall.max_wait_s))
        self.calendar = calendar or WorkCalendar(hall.extra_holidays, hall.extra_workdays)
        self._services = {s.code: s for s in hall.services}
        self._windows = {w.number: Window(w.number, hall.tiers(w)) for w in hall.windows}
        self._closed_through: date | None = None  # the last service day ended (close_days)
        self._next_close: datetime | None = None  # when the next service day ends
        self._service_windows: dict[str, list[int]] = {code: [] for code in self._services}
        for window in self._windows.values():
            for code in window.tiers:
                self._service_windows[code].append(window.number)
        self._clerks = {c.code: c for c in hall.clerks}
        self.room = WaitingRoom()
        self._tickets: dict[str, Ticket] = {}  # waiting tickets
        self._labels: dict[tuple[date, str], str] = {}  # waiting tickets by printed number
        self._counters: dict[tuple[date, str], int] = {}
        self._walk_ins: dict[tuple[date, str], int] = {}
        self._times = {
            code: ServiceTimes(s.expected_service_s) for code, s in self._services.items()
        }
        self._awaiting_rating: dict[str, Transaction] = {}
        # Every rating deadline of the transactions above, earliest first; entries whose
        # transaction was rated (or whose pad prompt closed) are dropped when they surface.
        # The scheduler asks for the next deadline every batch: no scan of all of them.
        self._deadlines: list[tuple[datetime, int, str]] = []
        self._deadline_seq = itertools.count()
        # Per service, the waiting tickets by issue time: the longest wait without a scan.
        self._issued_order: dict[str, SortedList[tuple[datetime, str]]] = {}
        self._issued_key: dict[str, tuple[str, tuple[datetime, str]]] = {}
        self._appointments: dict[str, Appointment] = {}
        self.ledger = RatingLedger(hall.id)
        self._entries: dict[str, list[LedgerEntry]] = {}
        self.recent_calls: deque[CallRecord] = deque(maxlen=hall.recent_calls)
        self.changes = Changes()

    # --- restoring from the store ---------------------------------------------
    def restore(
        self,
        *,
        tickets: Iterable[Ticket] = (),
        awaiting: Iterable[Transaction] = (),
        counters: dict[tuple[date, str], int] | None = None,
        walk_ins: dict[tuple[date, str], int] | None = None,
        recent_calls: Iterable[CallRecord] = (),
        window_events: Iterable[WindowEvent] = (),
        appointments: Iterable[Appointment] = (),
        service_times: Iterable[tuple[str, float]] = (),
        ledger_head: tuple[int, str] | None = None,
    ) -> None:
        """Load persisted state after a start or a failed commit."""
        for event in window_events:  # oldest first: the last one per window wins
            self._apply_window_event(event)
        waiting = []
        for ticket in tickets:
            if ticket.state == TicketState.WAITING:
                waiting.append(ticket)
            elif ticket.window in self._windows:
                self._windows[ticket.window].current = ticket
        self._enqueue_all(waiting)
        for transaction in awaiting:
            self._await_rating(transaction)
        self._counters.update(counters or {})
        self._walk_ins.update(walk_ins or {})
        self.recent_calls.extend(recent_calls)
        for appointment in appointments:
            self._appointments[appointment.id] = appointment
        for code, seconds in service_times:
            if code in self._times:
                self._times[code].add(seconds)
        if ledger_head is not None:
            self.ledger = RatingLedger(self.hall.id, *ledger_head)

    def take_changes(self) -> Changes:
        """Hand over what was touched since the last call."""
        changes, self.changes = self.changes, Changes()
        return changes

    # --- queries ----------------------------------------------------------------
    def service_date(self, now: datetime) -> date:
        """The hall's calendar day at ``now``: ticket numbers restart each day."""
        return now.astimezone(self.hall.zone).date()

    def service(self, code: str) -> ServiceConfig:
        """A configured service; QueueError if unknown."""
        service = self._services.get(code)
        if service is None:
            raise QueueError(ErrorCode.UNKNOWN_SERVICE, f"no service {code!r}")
        return service

    def waiting_count(self, service_code: str) -> int:
        """Tickets waiting for one service."""
        return self.room.count(service_code)

    def longest_waiting_since(self, service_code: str) -> datetime | None:
        """When the longest-waiting ticket of a service was issued (None: nobody waits)."""
        order = self._issued_order.get(service_code)
        return order[0][0] if order else None

    def holds_ticket(self, ticket_id: str) -> bool:
        """Whether a ticket is waiting or at a window."""
        return ticket_id in self._tickets or any(
            w.current is not None and w.current.id == ticket_id for w in self._windows.values()
        )

    def active_tickets(self) -> list[Ticket]:
        """Waiting tickets and those at a window, for a configuration change to check."""
        at_windows = [w.current for w in self._windows.values() if w.current is not None]
        return [*self._tickets.values(), *at_windows]

    def waiting_labels(self, service_code: str, limit: int) -> list[str]:
        """The first ``limit`` waiting tickets of a service, by class and place."""
        ids = itertools.islice(self.room.in_order(service_code), limit)
        return [self._tickets[i].label for i in ids]

    def waiting_for_window(self, window: int) -> int:
        """Tickets waiting for any service this window handles, or sent to it."""
        tiers = self._windows[window].tiers
        return sum(self.room.count(code) for code in tiers) + self.room.targeted_count(window)

    def window(self, number: int) -> Window:
        """A window; QueueError if there is none with this number."""
        window = self._windows.get(number)
        if window is None:
            raise QueueError(ErrorCode.INVALID_STATE, f"no window {number}")
        return window

    def current(self, window: int) -> Ticket | None:
        """The ticket a window is calling or serving."""
        return self._windows[window].current

    def window_numbers(self) -> list[int]:
        """Every window number."""
        return list(self._windows)

    def staffed_windows(self, service_code: str) -> int:
        """Open windows (a clerk in, not paused) that handle a service."""
        return sum(
            self._windows[n].status == WindowStatus.OPEN
            for n in self._service_windows[service_code]
        )

    def estimated_wait_s(self, service_code: str) -> int:
        """Seconds a ticket taken now would wait, by live service times and open windows."""
        return estimate_wait_s(
            self.room.count(service_code),
            self._times[service_code].mean_s,
            self.staffed_windows(service_code),
        )

    def availability(self, service_code: str, now: datetime) -> Availability | None:
        """None when the service issues tickets now; otherwise why not."""
        service = self.service(service_code)
        local = now.astimezone(self.hall.zone)
        closed = closed_reason(service, local, self.calendar)
        if closed is not None:
            return Availability(ErrorCode.SERVICE_CLOSED, closed.message, closed.opens_at)
        if self.hall.require_open_window and not any(
            self._windows[n].status != WindowStatus.CLOSED
            for n in self._service_windows[service_code]
        ):
            return Availability(ErrorCode.NO_WINDOW_OPEN, "no window is open for this service")
        if service.quota is not None:
            issued = self._walk_ins.get((local.date(), service_code), 0)
            if issued >= service.quota:
                return Availability(
                    ErrorCode.QUOTA_REACHED, f"all {service.quota} tickets for today are taken"
                )
        return None

    def hours_today(self, service_code: str, now: datetime) -> list[str]:
        """The service's opening periods today (the season's in force), as the hall reads them."""
        today = now.astimezone(self.hall.zone).date()
        periods = periods_on(self.service(service_code), today, self.calendar)
        return [f"{p.open:%H:%M}-{p.close:%H:%M}" for p in periods]

    def awaiting_rating(self) -> list[Transaction]:
        """Finished transactions whose rating is still open."""
        return list(self._awaiting_rating.values())

    def next_rating_deadline(self) -> datetime | None:
        """The earliest moment a rating prompt or rating window runs out."""
        while self._deadlines:
            moment, _, transaction_id = self._deadlines[0]
            transaction = self._awaiting_rating.get(transaction_id)
            if transaction is not None and moment in self._open_deadlines(transaction):
                return moment
            heapq.heappop(self._deadlines)  # rated, or its prompt already closed
        return None

    @staticmethod
    def _open_deadlines(transaction: Transaction) -> tuple[datetime, ...]:
        if transaction.pad_closed:
            return (transaction.rating_deadline,)
        return (transaction.pad_deadline, transaction.rating_deadline)

    def _await_rating(self, transaction: Transaction) -> None:
        self._awaiting_rating[transaction.id] = transaction
        for moment in self._open_deadlines(transaction):
            heapq.heappush(self._deadlines, (moment, next(self._deadline_seq), transaction.id))

    def ledger_entries(self, transaction_id: str) -> list[LedgerEntry] | None:
        """Entries of a transaction recorded since start; None when not held in memory."""
        return self._entries.get(transaction_id)

    # --- windows and clerks ---------------------------------------------------
    def login(
        self,
        number: int,
        now: datetime,
        *,
        clerk_code: str | None = None,
        id_hash: str | None = None,
    ) -> Window:
        """A clerk takes a window (by code or ID card); it opens for calling."""
        window = self.window(number)
        clerk = self._find_clerk(clerk_code, id_hash)
        if window.clerk is not None:
            if window.clerk.code == clerk.code:
                return window
            raise QueueError(
                ErrorCode.INVALID_STATE,
                f"{window.clerk.name} is logged in at window {number}; they log out first",
            )
        elsewhere = next(
            (w.number for w in self._windows.values() if w.clerk and w.clerk.code == clerk.code),
            None,
        )
        if elsewhere is not None:
            raise QueueError(
                ErrorCode.INVALID_STATE, f"{clerk.name} is logged in at window {elsewhere}"
            )
        self._window_event(WindowEvent(number, "login", clerk.code, None, now))
        return window

    def logout(self, number: int, now: datetime) -> Window:
        """The clerk leaves; a ticket in hand stays for the next clerk (A/B post)."""
        window = self.window(number)
        if window.clerk is None:
            raise QueueError(ErrorCode.WINDOW_CLOSED, f"nobody is logged in at window {number}")
        self._window_event(WindowEvent(number, "logout", window.clerk.code, None, now))
        return window

    def pause(self, number: int, reason: PauseReason, now: datetime) -> Window:
        """Stop calling at a window for a while (break, meeting)."""
        window = self._staffed(number)
        if window.status == WindowStatus.PAUSED:
            raise QueueError(ErrorCode.WINDOW_PAUSED, f"window {number} is already paused")
        assert window.clerk is not None
        self._window_event(WindowEvent(number, "pause", window.clerk.code, reason, now))
        return window

    def resume(self, number: int, now: datetime) -> Window:
        """Call again after a pause."""
        window = self._staffed(number)
        if window.status != WindowStatus.PAUSED:
            raise QueueError(ErrorCode.INVALID_STATE, f"window {number} is not paused")
        assert window.clerk is not None
        self._window_event(WindowEvent(number, "resume", window.clerk.code, None, now))
        return window

    # --- tickets ----------------------------------------------------------------
    def issue_ticket(
        self,
        service_code: str | None,
        now: datetime,
        issued_by: str,
        *,
        id_hash: str | None = None,
        age: int | None = None,
        disabled: bool = False,
        booking_code: str | None = None,
    ) -> Issued:
        """Issue the next number of a service, or check in an appointment by ID card or
        by its booking code."""
        day = self.service_date(now)
        appointment = self._find_appointment(id_hash, service_code, day) if id_hash else None
        if booking_code is not None:
            appointment = self._by_code(booking_code)
            if (
                appointment is None
                or appointment.state != "booked"
                or self.service_date(appointment.slot_start) != day
            ):
                raise QueueError(ErrorCode.NO_APPOINTMENT, "no booking for today with this code")
            service_code = appointment.service_code
        if service_code is None:
            if appointment is None:
                raise QueueError(
                    ErrorCode.NO_APPOINTMENT,
                    "no appointment today for this ID card; please choose a service",
                )
            service_code = appointment.service_code
        service = self.service(service_code)
        unavailable = self.availability(service_code, now)
        on_time = appointment is not None and now <= appointment.slot_start + timedelta(
            seconds=self.hall.appointment_late_s
        )
        if unavailable is not None and not (
            unavailable.code == ErrorCode.QUOTA_REACHED and appointment is not None
        ):
            raise QueueError(unavailable.code, unavailable.message)

        queued_at = now
        if appointment is not None and on_time:
            priority = PriorityClass.APPOINTMENT
            queued_at = appointment.slot_start  # early arrivals wait for their slot
        else:
            candidates = [PriorityClass.NORMAL]
            if service.green_channel:
                candidates.append(PriorityClass.GREEN_CHANNEL)
            if disabled or (age is not None and age >= self.hall.elderly_age):
                candidates.append(PriorityClass.ELDERLY)
            priority = min(candidates, key=lambda c: c.rank)
        if appointment is None:
            issued = self._walk_ins.get((day, service_code), 0) + 1
            self._walk_ins[(day, service_code)] = issued
            if service.quota is not None and issued >= service.quota:
                self.changes.services.add(service_code)  # the kiosks grey it at once

        number = self._counters.get((day, service_code), 0) + 1
        self._counters[(day, service_code)] = number
        ahead = self._people_ahead(service_code, priority)
        estimate = estimate_wait_s(
            ahead, self._times[service_code].mean_s, self.staffed_windows(service_code)
        )
        estimate = max(estimate, int((queued_at - now).total_seconds()))
        ticket = Ticket(
            id=self._new_id(),
            issued_service=service_code,
            service_code=service_code,
            service_date=day,
            number=number,
            prefix=service.prefix,
            issued_at=now,
            issued_by=issued_by,
            priority=priority,
            queued_at=queued_at,
            predicted_wait_s=estimate,
            appointment_id=appointment.id if appointment else None,
        )
        if appointment is not None:
            appointment.state = "checked_in" if on_time else "late"
            appointment.ticket_id = ticket.id
            self.changes.appointments[appointment.id] = appointment
        self._enqueue(ticket)
        self.changes.touch(ticket, new=True)
        self.changes.window_counts.update(self._service_windows[service_code])
        return Issued(ticket, ahead, estimate, appointment)

    def cancel(self, ticket_id: str, now: datetime) -> Ticket:
        """Withdraw a waiting ticket."""
        ticket = self._tickets.get(ticket_id)
        if ticket is None:
            raise QueueError(ErrorCode.UNKNOWN_TICKET, f"no waiting ticket {ticket_id}")
        self._dequeue(ticket)
        ticket.state = TicketState.CANCELLED
        ticket.finished_at = now
        self.changes.touch(ticket)
        self._touch_windows_of(ticket)
        return ticket

    def void(self, ticket_id: str, now: datetime) -> Ticket:
        """A manager ends a waiting or called ticket; one being served is finished instead.

        The ticket stays (voided, never deleted); a window it was called to is free again.
        """
        ticket = self._tickets.get(ticket_id)
        if ticket is not None:
            self._dequeue(ticket)
            self._touch_windows_of(ticket)
        else:
            window = next(
                (w for w in self._windows.values() if w.current and w.current.id == ticket_id),
                None,
            )
            if window is None or window.current is None:
                raise QueueError(ErrorCode.UNKNOWN_TICKET, f"no open ticket {ticket_id}")
            ticket = window.current
            if ticket.state == TicketState.SERVING:
                raise QueueError(
                    ErrorCode.INVALID_STATE,
                    f"{ticket.label} is being served at window {window.number}: finish it there",
                )
            window.current = None
            self.changes.windows.add(window.number)
        ticket.state = TicketState.VOIDED
        ticket.finished_at = now
        self.changes.touch(ticket)
        return ticket

    def report_print(
        self, ticket_id: str, state: PrintState, faults: Sequence[PrinterFault]
    ) -> PrintReport:
        """Record whether the kiosk printed a ticket; the first report stands.

        A ticket the queue no longer holds (already called or served in a fast hall) must
        have been checked by the caller to exist; the store then updates its row.
        """
        report = PrintReport(ticket_id, state, tuple(faults))
        ticket = self._tickets.get(ticket_id)
        if ticket is None:
            self.changes.print_reports.append(report)
            return report
        if ticket.print_state is None:
            ticket.print_state = state
            ticket.print_faults = report.faults
            self.changes.touch(ticket)
        return PrintReport(ticket_id, ticket.print_state, ticket.print_faults)

    def call_next(self, number: int, now: datetime) -> Ticket:
        """Call the ticket the calling policy picks for this window."""
        window = self._ready_to_call(number)
        chosen = self.policy.choose(self.room, WindowView(number, window.tiers), now)
        if chosen is None:
            raise QueueError(ErrorCode.NOTHING_WAITING, f"nobody waits for window {number}")
        return self._call(self._tickets[chosen], window, now)

    def call_ticket(self, number: int, label: str, now: datetime) -> Ticket:
        """Call one waiting ticket out of order, by its printed number."""
        window = self._ready_to_call(number)
        ticket_id = self._labels.get((self.service_date(now), label))
        if ticket_id is None:
            raise QueueError(ErrorCode.UNKNOWN_TICKET, f"{label} is not waiting today")
        ticket = self._tickets[ticket_id]
        if ticket.target_window not in (None, number):
            raise QueueError(
                ErrorCode.INVALID_STATE, f"{label} was sent to window {ticket.target_window}"
            )
        if ticket.target_window is None and ticket.service_code not in window.tiers:
            raise QueueError(
                ErrorCode.INVALID_STATE,
                f"{label} waits for {ticket.service_code}, which window {number} does not handle",
            )
        return self._call(ticket, window, now)

    def recall(self, number: int, now: datetime) -> Ticket:
        """Call the current ticket again; past the allowed recalls it becomes a no-show."""
        window = self.window(number)
        ticket = self._current_in(window, {TicketState.CALLED})
        if ticket.recalls >= self.hall.max_recalls:
            return self.no_show(number, now)
        ticket.recalls += 1
        ticket.called_at = now
        self._announce(ticket, now)
        return ticket

    def start_service(self, number: int, now: datetime) -> Ticket:
        """The called citizen arrived; the window now serves them."""
        window = self.window(number)
        ticket = self._current_in(window, {TicketState.CALLED})
        ticket.state = TicketState.SERVING
        ticket.serving_since = now
        self.changes.touch(ticket)
        self.changes.windows.add(number)
        return ticket

    def no_show(self, number: int, now: datetime) -> Ticket:
        """The called citizen did not come; the window is free again."""
        window = self.window(number)
        ticket = self._current_in(window, {TicketState.CALLED})
        ticket.state = TicketState.NO_SHOW
        ticket.finished_at = now
        window.current = None
        self.changes.touch(ticket)
        self.changes.windows.add(number)
        return ticket

    def postpone(self, number: int, now: datetime) -> Ticket:
        """The called citizen is not ready: back to the end of their line, same number."""
        window = self.window(number)
        ticket = self._current_in(window, {TicketState.CALLED})
        window.current = None
        ticket.state = TicketState.WAITING
        ticket.window = None
        ticket.called_at = None  # a waiting ticket has no call in hand; the log keeps it
        ticket.recalls = 0
        ticket.queued_at = now
        self._enqueue(ticket)
        self.changes.touch(ticket)
        self.changes.windows.add(number)
        self._touch_windows_of(ticket)
        return ticket

    def transfer(
        self,
        number: int,
        now: datetime,
        *,
        to_service: str | None = None,
        to_window: int | None = None,
    ) -> tuple[Ticket, Transaction | None]:
        """Send the current ticket on, keeping its number and arrival (一票到底).

        If service had begun, that service is a transaction of its own and gets its rating.
        """
        window = self.window(number)
        ticket = self._current_in(window, {TicketState.CALLED, TicketState.SERVING})
        if to_service is not None:
            self.service(to_service)
        if to_window is not None:
            self.window(to_window)
            if to_window == number:
                raise QueueError(
                    ErrorCode.INVALID_STATE, "a ticket cannot be sent to its own window"
                )
        transaction = None
        if ticket.state == TicketState.SERVING:
            transaction = self._close_transaction(ticket, window, now, ended_by="transfer")
        from_service = ticket.service_code
        window.current = None
        ticket.service_code = to_service or from_service
        ticket.target_window = to_window
        ticket.priority = min(ticket.priority, PriorityClass.TRANSFER_BACK, key=lambda c: c.rank)
        ticket.state = TicketState.WAITING
        ticket.window = None
        ticket.called_at = None  # a waiting ticket has no call in hand; the log keeps it
        ticket.recalls = 0
        ticket.serving_since = None
        ticket.transfers += 1
        self._enqueue(ticket)
        self.changes.transfers.append(
            TransferRecord(ticket.id, from_service, ticket.service_code, number, to_window, now)
        )
        self.changes.touch(ticket)
        self.changes.service_counts.add(from_service)
        self.changes.windows.add(number)
        self._touch_windows_of(ticket)
        return ticket, transaction

    def finish(self, number: int, now: datetime) -> Transaction:
        """Service is done: the transaction is recorded and awaits its one rating."""
        window = self.window(number)
        ticket = self._current_in(window, {TicketState.CALLED, TicketState.SERVING})
        transaction = self._close_transaction(ticket, window, now, ended_by="finish")
        ticket.state = TicketState.DONE
        ticket.finished_at = now
        window.current = None
        self.changes.touch(ticket)
        self.changes.windows.add(number)
        return transaction

    # --- the service day ---------------------------------------------------------------
    def close_days(self, now: datetime) -> DayClosed | None:
        """End every unfinished ticket of service days that have ended by ``now``.

        Waiting tickets expire, called ones are no-shows, one being served is finished
        (``ended_by: day_end``; its transaction gets its one rating record as any other),
        and clerks who logged in before the day ended are logged out, pauses with them.
        Derived from the state alone, so it is the same after a restart on a later date, a
        takeover, or a scheduler that was down over midnight: nothing of an earlier day is
        ever called, counted or estimated. None when there is nothing to end.
        """
        if self._next_close is not None and now < self._next_close:
            return None  # called before every batch: the usual answer costs one comparison
        through = last_ended_day(self.hall, now, self.calendar)
        self._next_close = day_end(self.hall, through + timedelta(days=1), self.calendar)
        if through == self._closed_through:
            return None  # this day was closed already: no ticket of it can have appeared
        self._closed_through = through
        closing = day_end(self.hall, through, self.calendar)
        expired = [t for t in self._tickets.values() if t.service_date <= through]
        for ticket in expired:
            self._dequeue(ticket)
            ticket.state = TicketState.EXPIRED
            ticket.finished_at = now
            self.changes.touch(ticket)
        no_shows: list[Ticket] = []
        finished: list[Transaction] = []
        logged_out: list[int] = []
        for window in self._windows.values():
            held = window.current
            if held is not None and held.service_date <= through:
                if held.state == TicketState.SERVING:
                    finished.append(self._close_transaction(held, window, now, ended_by="day_end"))
                    held.state = TicketState.DONE
                else:
                    held.state = TicketState.NO_SHOW
                    no_shows.append(held)
                held.finished_at = now
                window.current = None
                self.changes.touch(held)
                self.changes.windows.add(window.number)
            stale = window.status_since is not None and window.status_since < closing
            if window.clerk is not None and stale:
                self._window_event(
                    WindowEvent(window.number, "logout", window.clerk.code, None, now)
                )
                logged_out.append(window.number)
        for appointment in self._appointments.values():
            # A booking nobody checked in by the day's end is missed (the no-show rule).
            if (
                appointment.state == "booked"
                and self.service_date(appointment.slot_start) <= through
            ):
                appointment.state = "no_show"
                self.changes.appointments[appointment.id] = appointment
        stale_calls = [c for c in self.recent_calls if c.called_at < closing]
        for call in stale_calls:  # the hall board starts the new day empty
            self.recent_calls.remove(call)
        if expired or no_shows or finished or stale_calls:
            self.changes.services.update(self._services)
        closed = DayClosed(through, expired, no_shows, finished, logged_out, bool(stale_calls))
        return None if closed.empty else closed

    # --- appointments -------------------------------------------------------------
    def book_appointment(
        self, service_code: str, slot_start: datetime, id_hash: str, contact: str, now: datetime
    ) -> Appointment:
        """Book a slot: within the service's hours, with a place left, within the limits
        per person and not while missed bookings block them (``scheduler.booking``)."""
        self._bookable_slot(service_code, slot_start, id_hash, now, ignoring=None)
        appointment_id = self._new_id()
        appointment = Appointment(appointment_id, service_code, slot_start, id_hash, contact, now)
        appointment.code = code_of(appointment_id)
        if self._by_code(appointment.code) is not None:  # one in 10^8: refuse, never mix up
            raise QueueError(ErrorCode.INTERNAL, "booking code in use; please try again")
        self._appointments[appointment.id] = appointment
        self.changes.appointments[appointment.id] = appointment
        return appointment

    def cancel_appointment(self, code: str, now: datetime) -> Appointment:
        """Cancel a booking that has not been checked in; its place is free again."""
        appointment = self._booked_by_code(code, now)
        appointment.state = "cancelled"
        self.changes.appointments[appointment.id] = appointment
        return appointment

    def change_appointment(self, code: str, slot_start: datetime, now: datetime) -> Appointment:
        """Move a booking to another slot of its service, by the same rules as booking."""
        appointment = self._booked_by_code(code, now)
        self._bookable_slot(
            appointment.service_code,
            slot_start,
            appointment.id_hash,
            now,
            ignoring=appointment.slot_start,
        )
        appointment.slot_start = slot_start
        self.changes.appointments[appointment.id] = appointment
        return appointment

    def appointment(self, code: str) -> Appointment | None:
        """The appointment with this booking code, if the scheduler keeps it."""
        return self._by_code(code)

    def _bookable_slot(
        self,
        service_code: str,
        slot_start: datetime,
        id_hash: str,
        now: datetime,
        *,
        ignoring: datetime | None,
    ) -> None:
        service = self.service(service_code)
        if slot_start <= now:
            raise QueueError(ErrorCode.INVALID_STATE, "the slot has already begun")
        local = slot_start.astimezone(self.hall.zone)
        closed = closed_reason(service, local, self.calendar)
        if closed is not None:
            raise QueueError(ErrorCode.SERVICE_CLOSED, f"at that time: {closed.message}")
        known = [
            Booked(a.service_code, a.slot_start, a.id_hash, a.state)
            for a in self._appointments.values()
            if a.slot_start != ignoring or a.id_hash != id_hash
        ]
        slots = day_slots(self.hall, service, local.date(), self.calendar, known)
        try:
            check_booking(self.hall, slot_at(slots, slot_start), slot_start, id_hash, now, known)
        except BookingRefused as err:
            raise QueueError(ErrorCode.INVALID_STATE, str(err)) from err

    def _by_code(self, code: str) -> Appointment | None:
        return next((a for a in self._appointments.values() if a.code == code), None)

    def _booked_by_code(self, code: str, now: datetime) -> Appointment:
        appointment = self._by_code(code)
        if appointment is None or appointment.state != "booked":
            raise QueueError(ErrorCode.NO_APPOINTMENT, "no open booking with this code")
        if appointment.slot_start <= now:
            raise QueueError(ErrorCode.INVALID_STATE, "the slot has begun; please come to the hall")
        return appointment

    # --- ratings ----------------------------------------------------------------
    def rate(
        self,
        transaction_id: str,
        level: RatingLevel,
        now: datetime,
        *,
        source: RatingSource = RatingSource.PAD,
        window: int | None = None,
        reason: BadRatingReason | None = None,
        comment: str | None = None,
    ) -> Transaction:
        """Record the citizen's rating: once, at its window's pad or on its ticket's page."""
        transaction = self._awaiting_rating.get(transaction_id)
        if transaction is None:
            raise QueueError(
                ErrorCode.RATING_CLOSED, f"transaction {transaction_id} is not open for rating"
            )
        if source == RatingSource.PAD and (
            transaction.window != window or transaction.pad_closed or now > transaction.pad_deadline
        ):
            raise QueueError(
                ErrorCode.RATING_CLOSED,
                f"transaction {transaction_id} is not open for rating at window {window}",
            )
        if now > transaction.rating_deadline:
            raise QueueError(ErrorCode.RATING_CLOSED, "the rating time is over")
        if level.is_bad and reason is None:
            raise QueueError(ErrorCode.BAD_REQUEST, "a bad rating needs a reason")
        self._record_rating(transaction, level, source, now, reason=reason, comment=comment)
        return transaction

    def expire_ratings(self, now: datetime) -> list[Transaction]:
        """Close pad prompts whose time ran out; record ``unrated`` once the last chance passed.

        Never a default level: silence is recorded as silence.
        """
        expired = []
        while (deadline := self.next_rating_deadline()) is not None and deadline < now:
            _, _, transaction_id = heapq.heappop(self._deadlines)
            transaction = self._awaiting_rating[transaction_id]
            if transaction.rating_deadline < now:
                self._record_rating(transaction, UNRATED, RatingSource.TIMEOUT, now)
                expired.append(transaction)
            elif not transaction.pad_closed and transaction.pad_deadline < now:
                transaction.pad_closed = True
                self.changes.pad_closed.append(transaction)
        return expired

    def review_rating(
        self,
        rating: LedgerEntry,
        earlier_reviews: Iterable[LedgerEntry],
        *,
        reviewer: str,
        approver: str,
        reason: str,
        now: datetime,
    ) -> LedgerEntry:
        """Set a rating aside as not adopted, by a new entry signed off by two managers."""
        if rating.kind != EntryKind.RATING or rating.outcome == UNRATED:
            raise QueueError(ErrorCode.INVALID_STATE, "only a given rating can be set aside")
        if reviewer == approver:
            raise QueueError(ErrorCode.NOT_ALLOWED, "a second manager must approve the review")
        if any(e.kind == EntryKind.NOT_ADOPTED for e in earlier_reviews):
            raise QueueError(ErrorCode.INVALID_STATE, "this rating has already been set aside")
        entry = self.ledger.append(
            LedgerEntry(
                seq=0,
                hall=self.hall.id,
                kind=EntryKind.NOT_ADOPTED,
                transaction_id=rating.transaction_id,
                outcome=rating.outcome,
                source="review",
                recorded_at=now,
                service_code=rating.service_code,
                window=rating.window,
                clerk_code=rating.clerk_code,
                reason=reason,
                reviewer=reviewer,
                approver=approver,
            )
        )
        self._remember_entry(entry)
        self.changes.ledger.append((entry, None))
        return entry

    # --- helpers ----------------------------------------------------------------
    def _find_clerk(self, clerk_code: str | None, id_hash: str | None) -> ClerkConfig:
        if clerk_code is not None:
            clerk = self._clerks.get(clerk_code)
        else:
            clerk = next(
                (c for c in self._clerks.values() if id_hash and c.id_hash == id_hash), None
            )
        if clerk is None:
            raise QueueError(ErrorCode.UNKNOWN_CLERK, "no such clerk in this hall")
        return clerk

    def _window_event(self, event: WindowEvent) -> None:
        self._apply_window_event(event)
        self.changes.window_events.append(event)
        self.changes.windows.add(event.window)
        self.changes.services.update(self._windows[event.window].tiers)

    def _apply_window_event(self, event: WindowEvent) -> None:
        window = self._windows.get(event.window)
        if window is None:
            return  # a window since removed from the configuration
        window.pause_reason = None
        window.status_since = event.at
        if event.event == "logout":
            window.clerk = None
            window.status = WindowStatus.CLOSED
            return
        if event.clerk_code is not None:
            window.clerk = self._clerks.get(event.clerk_code)
        window.status = WindowStatus.PAUSED if event.event == "pause" else WindowStatus.OPEN
        window.pause_reason = event.reason if event.event == "pause" else None

    def _staffed(self, number: int) -> Window:
        window = self.window(number)
        if window.clerk is None:
            raise QueueError(ErrorCode.WINDOW_CLOSED, f"nobody is logged in at window {number}")
        return window

    def _ready_to_call(self, number: int) -> Window:
        window = self._staffed(number)
        if window.status == WindowStatus.PAUSED:
            raise QueueError(ErrorCode.WINDOW_PAUSED, f"window {number} is paused")
        if window.current is not None:
            raise QueueError(
                ErrorCode.INVALID_STATE,
                f"window {number} still has {window.current.label}: "
                "finish it, transfer it or mark it no-show first",
            )
        return window

    def _current_in(self, window: Window, states: set[TicketState]) -> Ticket:
        ticket = window.current
        if ticket is None:
            raise QueueError(
                ErrorCode.NO_CURRENT_TICKET, f"window {window.number} has no current ticket"
            )
        if ticket.state not in states:
            raise QueueError(
                ErrorCode.INVALID_STATE,
                f"{ticket.label} is {ticket.state.value} at window {window.number}",
            )
        return ticket

    def _enqueue(self, ticket: Ticket) -> None:
        key = LaneKey(ticket.service_code, ticket.priority, ticket.target_window)
        self.room.add(ticket.id, key, ticket.place_time)
        self._tickets[ticket.id] = ticket
        self._labels[(ticket.service_date, ticket.label)] = ticket.id
        entry = (ticket.issued_at, ticket.id)
        order = self._issued_order.get(ticket.service_code)
        if order is None:
            order = self._issued_order[ticket.service_code] = SortedList()
        order.add(entry)
        self._issued_key[ticket.id] = (ticket.service_code, entry)

    def _enqueue_all(self, tickets: list[Ticket]) -> None:
        """Many tickets at once (a restart): each order is sorted once, not per ticket.
        Grouped on plain values first: hashing a lane key (with its enum) per ticket was
        a good part of a restart with a long line."""
        groups: dict[tuple[str, str, int | None], list[tuple[str, datetime]]] = {}
        by_service: dict[str, list[tuple[datetime, str]]] = {}
        priorities: dict[str, PriorityClass] = {}
        # Ties in a lane go by issue, as they did when the tickets were first queued.
        for ticket in sorted(tickets, key=lambda t: (t.issued_at, t.number)):
            priority = ticket.priority
            priorities[priority.value] = priority
            plain = (ticket.service_code, priority.value, ticket.target_window)
            group = groups.get(plain)
            if group is None:
                group = groups[plain] = []
            group.append((ticket.id, ticket.place_time))
            self._tickets[ticket.id] = ticket
            self._labels[(ticket.service_date, ticket.label)] = ticket.id
            entry = (ticket.issued_at, ticket.id)
            order = by_service.get(ticket.service_code)
            if order is None:
                order = by_service[ticket.service_code] = []
            order.append(entry)
            self._issued_key[ticket.id] = (ticket.service_code, entry)
        self.room.add_lanes(
            {
                LaneKey(code, priorities[value], target): group
                for (code, value, target), group in groups.items()
            }
        )
        for code, entries in by_service.items():
            kept = self._issued_order.get(code)
            if kept is None:
                self._issued_order[code] = SortedList(entries)
            else:
                kept.update(entries)

    def _dequeue(self, ticket: Ticket) -> None:
        self.room.remove(ticket.id)
        del self._tickets[ticket.id]
        del self._labels[(ticket.service_date, ticket.label)]
        code, entry = self._issued_key.pop(ticket.id)
        self._issued_order[code].remove(entry)

    def _people_ahead(self, service_code: str, priority: PriorityClass) -> int:
        return sum(
            self.room.lane_size(key)
            for key in self.room.lanes_of_service(service_code)
            if key.priority.rank <= priority.rank
        )

    def _call(self, ticket: Ticket, window: Window, now: datetime) -> Ticket:
        self._dequeue(ticket)
        ticket.state = TicketState.CALLED
        ticket.window = window.number
        ticket.called_at = now
        if ticket.first_called_at is None:
            ticket.first_called_at = now
        window.current = ticket
        self._announce(ticket, now)
        self._touch_windows_of(ticket)
        return ticket

    def _touch_windows_of(self, ticket: Ticket) -> None:
        """The ticket joined or left its line: the waiting counts of the windows serving it."""
        self.changes.service_counts.add(ticket.service_code)
        self.changes.window_counts.update(self._service_windows[ticket.service_code])
        if ticket.target_window is not None:
            self.changes.window_counts.add(ticket.target_window)

    def _announce(self, ticket: Ticket, now: datetime) -> None:
        assert ticket.window is not None
        call = CallRecord(
            ticket.id, ticket.label, ticket.service_code, ticket.window, ticket.recalls, now
        )
        self.recent_calls.appendleft(call)
        self.changes.touch(ticket)
        self.changes.calls.append(call)
        self.changes.windows.add(ticket.window)

    def _close_transaction(
        self, ticket: Ticket, window: Window, now: datetime, *, ended_by: str
    ) -> Transaction:
        started = ticket.serving_since or ticket.called_at or now
        pad_deadline = now + timedelta(seconds=self.hall.rating_timeout_s)
        transaction = Transaction(
            id=self._new_id(),
            ticket_id=ticket.id,
            ticket_label=ticket.label,
            service_code=ticket.service_code,
            window=window.number,
            clerk_code=window.clerk.code if window.clerk else None,
            started_at=started,
            finished_at=now,
            pad_deadline=pad_deadline,
            rating_deadline=pad_deadline + timedelta(seconds=self.hall.later_rating_s),
            ended_by=ended_by,
        )
        self._times[ticket.service_code].add((now - started).total_seconds())
        self._await_rating(transaction)
        self.changes.transactions[transaction.id] = transaction
        self.changes.prompts.append(transaction)
        self.changes.service_counts.add(ticket.service_code)  # its expected wait moved
        return transaction

    def _record_rating(
        self,
        transaction: Transaction,
        outcome: RatingOutcome,
        source: RatingSource,
        now: datetime,
        *,
        reason: BadRatingReason | None = None,
        comment: str | None = None,
    ) -> None:
        del self._awaiting_rating[transaction.id]
        entry = self.ledger.append(
            LedgerEntry(
                seq=0,
                hall=self.hall.id,
                kind=EntryKind.RATING,
                transaction_id=transaction.id,
                outcome=str(outcome),
                source=source.value,
                recorded_at=now,
                service_code=transaction.service_code,
                window=transaction.window,
                clerk_code=transaction.clerk_code,
                reason=reason.value if reason else None,
                note=comment,
            )
        )
        transaction.outcome = outcome
        self._remember_entry(entry)
        self.changes.ledger.append((entry, transaction))
        if isinstance(outcome, RatingLevel) and outcome.is_bad:
            assert reason is not None
            self.changes.cases.append(
                open_case(
                    self._new_id(),
                    transaction.id,
                    outcome.value,
                    reason.value,
                    self.service_date(now),
                    self.calendar,
                )
            )

    def _remember_entry(self, entry: LedgerEntry) -> None:
        self._entries.setdefault(entry.transaction_id, []).append(entry)
        while len(self._entries) > RECENT_ENTRIES:
            del self._entries[next(iter(self._entries))]

    def _find_appointment(
        self, id_hash: str, service_code: str | None, day: date
    ) -> Appointment | None:
        booked = [
            a
            for a in self._appointments.values()
            if a.id_hash == id_hash
            and a.state == "booked"
            and self.service_date(a.slot_start) == day
            and (service_code is None or a.service_code == service_code)
        ]
        return min(booked, key=lambda a: a.slot_start, default=None)
