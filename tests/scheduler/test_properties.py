"""Properties of the queue over random command sequences (hypothesis stateful testing).

The machine drives every operation a hall has (clerks in and out, pauses, calls in and
out of order, recalls, postpones, transfers, appointments, ratings from pad and page,
reviews, time passing) and checks after every step:

- no ticket is held by two windows; every issued ticket is waiting, held by exactly one
  window, or in exactly one terminal state; numbers are unique per service and day;
- each call picks what the priority order says among the window's eligible tickets,
  and no ticket past the ageing bound is passed over for a newer one;
- every finished transaction gets exactly one rating record by its deadline; the
  ledger always verifies and no operation removes a record.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from hallbus.hall_file import DEMO_HALL_FILE, load_hall
from hallbus.messages import (
    BadRatingReason,
    ErrorCode,
    PauseReason,
    RatingLevel,
    RatingSource,
    TicketState,
)
from scheduler.domain import HallQueue, QueueError, Ticket
from scheduler.ledger import EntryKind, LedgerEntry, verify_chain

_DEMO = load_hall(DEMO_HALL_FILE)
# Tiers that differ from window to window, so class, tier and time in line all matter.
_TIERED = [
    {"number": 1, "services": {"social": 1, "tax": 3}},
    {"number": 2, "services": {"social": 1, "tax": 2}},
    {"number": 3, "services": {"tax": 1, "residence": 2, "social": 3}},
    {"number": 4, "services": "all"},
]
HALL = _DEMO.model_copy(
    update={
        "windows": [type(_DEMO.windows[0]).model_validate(w) for w in _TIERED],
        "services": [s.model_copy(update={"green_channel": False}) for s in _DEMO.services],
        "max_wait_s": 1800.0,
        "rating_timeout_s": 20.0,
        "later_rating_s": 60.0,
        "max_recalls": 1,
        "require_open_window": True,
    }
)
SERVICES = [s.code for s in HALL.services]
WINDOWS = [w.number for w in HALL.windows]
TIERS = {w.number: HALL.tiers(w) for w in HALL.windows}
CARDS = [f"{n:064x}" for n in range(1, 5)]
START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
TERMINAL = {TicketState.DONE, TicketState.NO_SHOW, TicketState.CANCELLED}


class HallMachine(RuleBasedStateMachine):
    """Random interleavings of every operation keep the queue's promises."""

    def __init__(self) -> None:
        super().__init__()
        self.queue = HallQueue(HALL)
        self.now = START
        self.tickets: dict[str, Ticket] = {}
        self.numbers: set[tuple[str, str, int]] = set()
        self.entries: list[LedgerEntry] = []
        self.finished: dict[str, datetime] = {}  # transaction -> rating deadline
        self.ratings: dict[str, int] = {}

    def _tick(self, seconds: int = 5) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    # --- the rules -------------------------------------------------------------------
    @rule(
        window=st.sampled_from(WINDOWS),
        clerk=st.sampled_from(["1001", "1002", "1003", "1004", "1005"]),
    )
    def login(self, window: int, clerk: str) -> None:
        try:
            self.queue.login(window, self._tick(), clerk_code=clerk)
        except QueueError as err:
            assert err.code == ErrorCode.INVALID_STATE

    @rule(
        window=st.sampled_from(WINDOWS),
        action=st.sampled_from(["logout", "pause", "resume"]),
    )
    def window_status(self, window: int, action: str) -> None:
        now = self._tick()
        try:
            if action == "logout":
                self.queue.logout(window, now)
            elif action == "pause":
                self.queue.pause(window, PauseReason.BREAK, now)
            else:
                self.queue.resume(window, now)
        except QueueError:
            pass

    @initialize()
    def open_the_hall(self) -> None:
        for window in WINDOWS:
            self.queue.login(window, self.now, clerk_code=str(1000 + window))

    @rule(
        citizens=st.lists(
            st.tuples(
                st.sampled_from(SERVICES),
                st.one_of(st.none(), st.integers(18, 95)),
                st.booleans(),
            ),
            min_size=1,
            max_size=6,
        )
    )
    def issue(self, citizens: list[tuple[str, int | None, bool]]) -> None:
        for code, age, disabled in citizens:
            try:
                issued = self.queue.issue_ticket(
                    code, self._tick(), "kiosk", age=age, disabled=disabled
                )
            except QueueError as err:
                assert err.code == ErrorCode.NO_WINDOW_OPEN
                continue
            self._record_issue(issued.ticket)

    @rule(
        code=st.sampled_from(SERVICES),
        card=st.sampled_from(CARDS),
        slot_in=st.integers(1, 90),
        arrive_at=st.integers(-30, 30),
    )
    def appointment(self, code: str, card: str, slot_in: int, arrive_at: int) -> None:
        slot = self.now + timedelta(minutes=slot_in)
        try:
            self.queue.book_appointment(code, slot, card, "contact", self._tick())
        except QueueError as err:
            assert err.code == ErrorCode.INVALID_STATE  # already booked that day
            return
        self.now = max(self.now, slot + timedelta(minutes=arrive_at))
        try:
            issued = self.queue.issue_ticket(None, self._tick(), "kiosk", id_hash=card)
        except QueueError as err:
            assert err.code in (ErrorCode.NO_WINDOW_OPEN, ErrorCode.NO_APPOINTMENT)
            return
        self._record_issue(issued.ticket)

    @rule(window=st.sampled_from(WINDOWS))
    def call_next(self, window: int) -> None:
        now = self._tick()
        expected = self._expected_choice(window, now)
        try:
            ticket = self.queue.call_next(window, now)
        except QueueError as err:
            if err.code == ErrorCode.NOTHING_WAITING:
                assert expected is None
            return
        assert ticket.id == expected
        self._check_ageing(window, ticket, now)

    @rule(window=st.sampled_from(WINDOWS), pick=st.integers(0, 50))
    def call_ticket(self, window: int, pick: int) -> None:
        waiting = [t for t in self.tickets.values() if t.state == TicketState.WAITING]
        if waiting:
            with suppress(QueueError):  # not this window's, or the window is not ready
                self.queue.call_ticket(window, waiting[pick % len(waiting)].label, self._tick())

    @rule(
        window=st.sampled_from(WINDOWS),
        action=st.sampled_from(["recall", "start", "no_show", "postpone", "finish"]),
    )
    def counter(self, window: int, action: str) -> None:
        now = self._tick(30)
        try:
            if action == "recall":
                self.queue.recall(window, now)
            elif action == "start":
                self.queue.start_service(window, now)
            elif action == "no_show":
                self.queue.no_show(window, now)
            elif action == "postpone":
                self.queue.postpone(window, now)
            else:
                transaction = self.queue.finish(window, now)
                self.finished[transaction.id] = transaction.rating_deadline
        except QueueError:
            pass

    @rule(
        window=st.sampled_from(WINDOWS),
        to_service=st.one_of(st.none(), st.sampled_from(SERVICES)),
        to_window=st.one_of(st.none(), st.sampled_from(WINDOWS)),
    )
    def transfer(self, window: int, to_service: str | None, to_window: int | None) -> None:
        if to_service is None and to_window is None:
            return
        try:
            _, transaction = self.queue.transfer(
                window, self._tick(30), to_service=to_service, to_window=to_window
            )
        except QueueError:
            return
        if transaction is not None:
            self.finished[transaction.id] = transaction.rating_deadline

    @rule(pick=st.integers(0, 50))
    def cancel(self, pick: int) -> None:
        waiting = [t for t in self.tickets.values() if t.state == TicketState.WAITING]
        if waiting:
            self.queue.cancel(waiting[pick % len(waiting)].id, self._tick())

    @rule(
        level=st.sampled_from(list(RatingLevel)),
        pick=st.integers(0, 10),
        source=st.sampled_from([RatingSource.PAD, RatingSource.QR]),
        wrong_window=st.booleans(),
    )
    def rate(self, level: RatingLevel, pick: int, source: RatingSource, wrong_window: bool) -> None:
        open_ = self.queue.awaiting_rating()
        if not open_:
            return
        transaction = open_[pick % len(open_)]
        window = transaction.window + (1 if wrong_window else 0)
        reason = BadRatingReason.ATTITUDE if level.is_bad else None
        try:
            self.queue.rate(
                transaction.id, level, self.now, source=source, window=window, reason=reason
            )
        except QueueError as err:
            assert err.code == ErrorCode.RATING_CLOSED
            assert source == RatingSource.PAD and (
                wrong_window or transaction.pad_closed or self.now > transaction.pad_deadline
            )

    @precondition(lambda self: any(e.kind == EntryKind.RATING for e in self.entries))
    @rule(pick=st.integers(0, 50))
    def review(self, pick: int) -> None:
        ratings = [e for e in self.entries if e.kind == EntryKind.RATING]
        rating = ratings[pick % len(ratings)]
        earlier = self.queue.ledger_entries(rating.transaction_id) or []
        try:
            self.queue.review_rating(
                rating, earlier, reviewer="m1", approver="m2", reason="review", now=self._tick()
            )
        except QueueError as err:
            assert err.code == ErrorCode.INVALID_STATE

    @rule(seconds=st.integers(0, 1500))
    def time_passes(self, seconds: int) -> None:
        self.queue.expire_ratings(self._tick(seconds))

    # --- the properties ------------------------------------------------------------------
    @invariant()
    def every_ticket_is_in_exactly_one_place(self) -> None:
        held = [t.id for w in WINDOWS if (t := self.queue.current(w)) is not None]
        assert len(held) == len(set(held)), "a ticket is held by two windows"
        for ticket in self.tickets.values():
            waiting = ticket.id in self.queue.room
            holders = held.count(ticket.id)
            if ticket.state == TicketState.WAITING:
                assert waiting and holders == 0
            elif ticket.state in (TicketState.CALLED, TicketState.SERVING):
                assert not waiting and holders == 1
                assert self.queue.current(ticket.window or 0) is ticket
            else:
                assert ticket.state in TERMINAL and not waiting and holders == 0
        assert len(self.queue.room) == sum(
            t.state == TicketState.WAITING for t in self.tickets.values()
        )

    @invariant()
    def the_kept_orders_agree_with_a_full_scan(self) -> None:
        """The longest wait and the next rating deadline come from kept orders (no scan
        on the scheduler's hot path); they must say what a scan of everything says."""
        for code in ("social", "tax", "residence"):
            waiting = [
                t.issued_at
                for t in self.tickets.values()
                if t.state == TicketState.WAITING and t.service_code == code
            ]
            assert self.queue.longest_waiting_since(code) == min(waiting, default=None)
        scanned = min(
            (
                t.rating_deadline if t.pad_closed else min(t.pad_deadline, t.rating_deadline)
                for t in self.queue.awaiting_rating()
            ),
            default=None,
        )
        assert self.queue.next_rating_deadline() == scanned

    @invariant()
    def one_rating_per_transaction_and_an_intact_ledger(self) -> None:
        for entry, _ in self.queue.take_changes().ledger:
            self.entries.append(entry)
            if entry.kind == EntryKind.RATING:
                self.ratings[entry.transaction_id] = self.ratings.get(entry.transaction_id, 0) + 1
        assert all(n == 1 for n in self.ratings.values())
        assert set(self.ratings) <= set(self.finished)
        for transaction_id, deadline in self.finished.items():
            if deadline < self.now:
                # Deadlines are enforced when the scheduler ticks: do what its loop does.
                self.queue.expire_ratings(self.now)
                for entry, _ in self.queue.take_changes().ledger:
                    self.entries.append(entry)
                    self.ratings[entry.transaction_id] = (
                        self.ratings.get(entry.transaction_id, 0) + 1
                    )
                assert self.ratings.get(transaction_id) == 1
        assert [e.seq for e in self.entries] == list(range(1, len(self.entries) + 1))
        assert verify_chain(self.entries) is None

    # --- helpers -------------------------------------------------------------------------
    def _record_issue(self, ticket: Ticket) -> None:
        key = (ticket.issued_service, ticket.service_date.isoformat(), ticket.number)
        assert key not in self.numbers, f"number {ticket.label} issued twice"
        self.numbers.add(key)
        self.tickets[ticket.id] = ticket

    def _eligible(self, window: int, now: datetime) -> list[Ticket]:
        tiers = TIERS[window]
        return [
            t
            for t in self.tickets.values()
            if t.state == TicketState.WAITING
            and (t.target_window == window or (t.target_window is None and t.service_code in tiers))
            and t.place_time <= now
        ]

    def _expected_choice(self, window: int, now: datetime) -> str | None:
        """The priority order written out by brute force over every eligible ticket."""
        tiers = TIERS[window]
        bound = timedelta(seconds=HALL.max_wait_s)

        def order(t: Ticket) -> tuple[object, ...]:
            seq = self.queue.room.place_of(t.id).seq
            if now - t.place_time >= bound:
                return (0, t.place_time, seq)
            return (1, t.priority.rank, tiers.get(t.service_code, 1), t.place_time, seq)

        eligible = self._eligible(window, now)
        return min(eligible, key=order).id if eligible else None

    def _check_ageing(self, window: int, called: Ticket, now: datetime) -> None:
        bound = timedelta(seconds=HALL.max_wait_s)
        for other in self._eligible(window, now):
            if now - other.place_time > bound:
                assert other.place_time >= called.place_time, (
                    f"{other.label} waited past the bound while newer {called.label} was called"
                )


HallMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
test_hall_machine = HallMachine.TestCase
