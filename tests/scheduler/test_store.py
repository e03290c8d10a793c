"""The SQLite store: migrations, atomic commits, and a rating ledger that shows tampering."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from hallbus.messages import RatingLevel
from scheduler.config import DEMO_HALL_FILE, load_hall
from scheduler.domain import HallQueue
from scheduler.store import Store, StoreError
from scheduler.tables import ratings

HALL = load_hall(DEMO_HALL_FILE)
NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


@pytest.fixture
def store(db_url: str) -> Store:
    s = Store(db_url, HALL.id)
    s.open()
    yield s  # type: ignore[misc]
    s.close()


def _rated_transactions(store: Store, count: int) -> HallQueue:
    queue = HallQueue(HALL)
    for _ in range(count):
        queue.issue_ticket("social", NOW, "kiosk-1")
        queue.call_next(1, NOW)
        transaction = queue.finish(1, NOW)
        queue.rate(1, transaction.id, RatingLevel.SATISFIED, NOW)
        store.commit(queue.take_changes(), NOW)
    return queue


def test_state_survives_reopening(store: Store, db_url: str) -> None:
    queue = HallQueue(HALL)
    queue.issue_ticket("social", NOW, "kiosk-1")
    queue.issue_ticket("social", NOW, "kiosk-1")
    queue.call_next(1, NOW)
    queue.finish(1, NOW)
    store.commit(queue.take_changes(), NOW)
    store.close()

    reopened = Store(db_url, HALL.id)
    reopened.open()
    loaded = reopened.load(NOW, 6)
    restored = HallQueue(HALL)
    restored.restore(loaded.tickets, loaded.awaiting, loaded.counters, loaded.recent_calls)
    assert restored.waiting_count("social") == 1
    assert len(restored.awaiting_rating()) == 1
    assert restored.issue_ticket("social", NOW, "k")[0].label == "A003"
    reopened.close()


def test_a_failed_commit_changes_nothing(store: Store) -> None:
    queue = HallQueue(HALL, id_factory=lambda: "same-id")
    queue.issue_ticket("social", NOW, "kiosk-1")
    store.commit(queue.take_changes(), NOW)
    queue.issue_ticket("social", NOW, "kiosk-1")  # duplicate primary key
    with pytest.raises(StoreError):
        store.commit(queue.take_changes(), NOW)
    assert store.ticket_counts() == {"waiting": 1}


def test_ledger_detects_an_edited_or_deleted_rating(store: Store) -> None:
    _rated_transactions(store, 4)
    assert store.verify_ledger() is None
    with store.engine.begin() as conn:
        conn.execute(update(ratings).where(ratings.c.seq == 3).values(outcome="very_satisfied"))
    assert store.verify_ledger() == 3


def test_ledger_detects_a_removed_rating(store: Store) -> None:
    _rated_transactions(store, 3)
    with store.engine.begin() as conn:
        conn.execute(ratings.delete().where(ratings.c.seq == 2))
    assert store.verify_ledger() == 3
