"""The pure queue rules, with a fixed clock and property-based sequences of operations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from hallbus.messages import UNRATED, ErrorCode, RatingLevel, TicketState
from scheduler.config import DEMO_HALL_FILE, load_hall
from scheduler.domain import HallQueue, QueueError

HALL = load_hall(DEMO_HALL_FILE)
# 2026-11-22 09:00 in Shanghai.
MORNING = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def test_numbers_are_per_service_and_restart_each_day() -> None:
    queue = HallQueue(HALL)
    labels = [
        queue.issue_ticket(code, MORNING, "k")[0].label
        for code in ("social", "social", "tax", "social")
    ]
    assert labels == ["A001", "A002", "B001", "A003"]
    # Midnight in the hall's zone (16:00 UTC) starts a new day.
    next_day = datetime(2026, 11, 22, 16, 0, 1, tzinfo=UTC)
    ticket, _ = queue.issue_ticket("social", next_day, "k")
    assert ticket.label == "A001"


def test_call_next_takes_the_longest_waiting_of_the_windows_services() -> None:
    queue = HallQueue(HALL)
    first, _ = queue.issue_ticket("tax", MORNING, "k")
    queue.issue_ticket("social", MORNING + timedelta(seconds=1), "k")
    assert queue.call_next(2, MORNING + timedelta(seconds=5)).id == first.id
    assert queue.call_next(1, MORNING + timedelta(seconds=5)).label == "A001"
    with pytest.raises(QueueError) as nothing:
        queue.call_next(3, MORNING)
    assert nothing.value.code == ErrorCode.NOTHING_WAITING


def test_window_must_clear_its_ticket_before_calling_again() -> None:
    queue = HallQueue(HALL)
    queue.issue_ticket("social", MORNING, "k")
    queue.issue_ticket("social", MORNING, "k")
    queue.call_next(1, MORNING)
    with pytest.raises(QueueError) as busy:
        queue.call_next(1, MORNING)
    assert busy.value.code == ErrorCode.INVALID_STATE
    assert queue.take_changes().tickets  # the first call changed state; the refusal did not


def test_rating_once_and_timeout_gives_unrated() -> None:
    queue = HallQueue(HALL)
    queue.issue_ticket("social", MORNING, "k")
    queue.call_next(1, MORNING)
    transaction = queue.finish(1, MORNING)
    with pytest.raises(QueueError):
        queue.rate(2, transaction.id, RatingLevel.SATISFIED, MORNING)  # another window's pad
    queue.rate(1, transaction.id, RatingLevel.DISSATISFIED, MORNING)
    with pytest.raises(QueueError):
        queue.rate(1, transaction.id, RatingLevel.VERY_SATISFIED, MORNING)

    queue.issue_ticket("social", MORNING, "k")
    queue.call_next(1, MORNING)
    silent = queue.finish(1, MORNING)
    assert queue.expire_ratings(MORNING + timedelta(seconds=HALL.rating_timeout_s - 1)) == []
    expired = queue.expire_ratings(MORNING + timedelta(seconds=HALL.rating_timeout_s + 1))
    assert [t.id for t in expired] == [silent.id]
    assert expired[0].outcome == UNRATED


class QueueMachine(RuleBasedStateMachine):
    """Random interleavings of every operation keep the queue's promises."""

    def __init__(self) -> None:
        super().__init__()
        self.queue = HallQueue(HALL)
        self.now = MORNING
        self.issued: list[str] = []
        self.labels: set[tuple[str, str]] = set()
        self.ratings: dict[str, int] = {}
        self.finished: set[str] = set()

    def _tick(self) -> datetime:
        self.now += timedelta(seconds=3)
        return self.now

    @rule(code=st.sampled_from([s.code for s in HALL.services]))
    def issue(self, code: str) -> None:
        ticket, _ = self.queue.issue_ticket(code, self._tick(), "k")
        assert (ticket.service_date.isoformat(), ticket.label) not in self.labels
        self.labels.add((ticket.service_date.isoformat(), ticket.label))
        self.issued.append(ticket.id)

    @rule(
        window=st.sampled_from([w.number for w in HALL.windows]),
        action=st.sampled_from(["call", "recall", "start", "no_show", "finish"]),
    )
    def counter(self, window: int, action: str) -> None:
        now = self._tick()
        try:
            if action == "call":
                self.queue.call_next(window, now)
            elif action == "recall":
                self.queue.recall(window, now)
            elif action == "start":
                self.queue.start_service(window, now)
            elif action == "no_show":
                self.queue.no_show(window, now)
            else:
                self.finished.add(self.queue.finish(window, now).id)
        except QueueError:
            pass

    @rule(level=st.sampled_from(list(RatingLevel)), pick=st.integers(0, 10))
    def rate(self, level: RatingLevel, pick: int) -> None:
        open_ = self.queue.awaiting_rating()
        if open_:
            transaction = open_[pick % len(open_)]
            if self.now > transaction.rating_deadline:
                with pytest.raises(QueueError) as late:
                    self.queue.rate(transaction.window, transaction.id, level, self.now)
                assert late.value.code == ErrorCode.RATING_CLOSED
            else:
                self.queue.rate(transaction.window, transaction.id, level, self.now)

    @rule(seconds=st.integers(0, 60))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        self.queue.expire_ratings(self.now)

    @invariant()
    def each_rating_once_and_no_ticket_at_two_windows(self) -> None:
        for transaction in self.queue.take_changes().ratings:
            self.ratings[transaction.id] = self.ratings.get(transaction.id, 0) + 1
            assert transaction.outcome is not None
        assert all(n == 1 for n in self.ratings.values())
        current = [t.id for w in self.queue.window_numbers() if (t := self.queue.current(w))]
        assert len(current) == len(set(current))
        for w in self.queue.window_numbers():
            ticket = self.queue.current(w)
            assert ticket is None or ticket.state in (TicketState.CALLED, TicketState.SERVING)


QueueMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_queue_machine = QueueMachine.TestCase
