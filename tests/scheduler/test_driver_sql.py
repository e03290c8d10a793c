"""The commit path's driver-level statements store exactly what SQLAlchemy would: the same
rows written both ways on SQLite and PostgreSQL hold the same values, byte for byte."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, update

from scheduler.driver_sql import DriverStatement
from scheduler.store import Store
from scheduler.tables import outbox, processed_requests, tickets

SHANGHAI = timezone(timedelta(hours=8))


@pytest.fixture
def store(any_db_url: str) -> Iterator[Store]:
    store = Store(any_db_url, "driver-sql")
    store.open()
    yield store
    store.close()


def _ticket(ticket_id: str, number: int) -> dict[str, Any]:
    return {
        "id": ticket_id,
        "hall": "driver-sql",
        "service_date": date(2026, 12, 1),
        "issued_service": "social",
        "service_code": "social",
        "number": number,
        "label": f"A{number:03d}",
        "priority": "elderly",
        "state": "serving",
        # Whole seconds (SQLAlchemy's SQLite format still writes six zeros), another zone
        # than UTC, and microseconds.
        "issued_at": datetime(2026, 12, 1, 9, 0, 0, tzinfo=SHANGHAI),
        "issued_by": "kiosk-1",
        "queued_at": datetime(2026, 12, 1, 1, 0, 0, 5, tzinfo=UTC),
        "target_window": None,
        "window": 2,
        "called_at": datetime(2026, 12, 1, 1, 3, 7, 123456, tzinfo=UTC),
        "first_called_at": datetime(2026, 12, 1, 1, 3, 7, 123456, tzinfo=UTC),
        "recalls": 1,
        "serving_since": datetime(2026, 12, 1, 1, 4, tzinfo=UTC),
        "finished_at": None,
        "transfers": 0,
        "predicted_wait_s": 240,
        "appointment_id": None,
        "print_state": "failed",
        "print_faults": "paper_out",
    }


def _stored(store: Store, table: str, where: str, value: str) -> dict[str, Any]:
    with store.engine.connect() as conn:
        row = conn.exec_driver_sql(f"SELECT * FROM {table} WHERE {where} = '{value}'").one()
        return dict(row._mapping)


def test_tickets_and_answers_are_stored_as_sqlalchemy_stores_them(store: Store) -> None:
    core, driver = _ticket("core", 1), _ticket("driver", 2)
    with store.engine.begin() as conn:
        conn.execute(insert(tickets), [core])
        DriverStatement(insert(tickets), tickets).run(conn, [driver])
    apart = {"id", "number", "label"}
    kept = _stored(store, "tickets", "id", "core")
    assert kept["issued_at"] is not None
    assert {k: v for k, v in kept.items() if k not in apart} == {
        k: v for k, v in _stored(store, "tickets", "id", "driver").items() if k not in apart
    }

    changes = {"state": "done", "finished_at": datetime(2026, 12, 1, 1, 9, 59, 1, tzinfo=UTC)}
    by_id = (
        update(tickets)
        .where(tickets.c.id == bindparam("ticket_id"))
        .values({c.name: bindparam(c.name) for c in tickets.columns if c.name != "id"})
    )
    with store.engine.begin() as conn:
        for row in (core, driver):
            row.update(changes, ticket_id=row.pop("id"))
        conn.execute(by_id, [core])
        DriverStatement(by_id, tickets).run(conn, [driver])
    after = _stored(store, "tickets", "id", "core")
    assert after["state"] == "done" and after["finished_at"] is not None
    assert {k: v for k, v in after.items() if k not in apart} == {
        k: v for k, v in _stored(store, "tickets", "id", "driver").items() if k not in apart
    }

    answer = {
        "hall": "driver-sql",
        "reply": '{"status": "ok"}',
        "fingerprint": None,
        "created_at": datetime(2026, 12, 1, 17, 0, tzinfo=SHANGHAI),  # 09:00 UTC
    }
    with store.engine.begin() as conn:
        conn.execute(insert(processed_requests), [{**answer, "requester": "a", "request_id": "1"}])
        DriverStatement(insert(processed_requests), processed_requests).run(
            conn, [{**answer, "requester": "b", "request_id": "1"}]
        )
    first = _stored(store, "processed_requests", "requester", "a")
    second = _stored(store, "processed_requests", "requester", "b")
    assert {**first, "requester": "b"} == second


def test_outbox_rows_return_their_ids_in_order_and_are_stored_as_sqlalchemy_stores_them(
    store: Store,
) -> None:
    def message(topic: str, seq: int | None) -> dict[str, Any]:
        return {
            "hall": "driver-sql",
            "topic": topic,
            "payload": b'{"event_seq": 1}\x00\xff',  # bytes as they are, not text
            "retain": seq is None,
            "created_at": datetime(2026, 12, 1, 1, 2, 3, tzinfo=UTC),
            "event_seq": seq,
        }

    statement = insert(outbox).returning(outbox.c.id)
    with store.engine.begin() as conn:
        (core,) = conn.execute(statement, [message("core", 7)]).scalars()
        ids = DriverStatement(statement, outbox).run_returning(
            conn, [message("driver", 7), message("second", None), message("third", 9)]
        )
    assert ids == sorted(ids) and ids[0] > core and len(set(ids)) == 3
    kept = _stored(store, "outbox", "topic", "core")
    assert kept["retain"] in (False, 0) and kept["payload"] == b'{"event_seq": 1}\x00\xff'
    apart = {"id", "topic"}
    assert {k: v for k, v in kept.items() if k not in apart} == {
        k: v for k, v in _stored(store, "outbox", "topic", "driver").items() if k not in apart
    }


def test_a_rolled_back_transaction_takes_the_driver_s_rows_with_it(store: Store) -> None:
    with pytest.raises(RuntimeError), store.engine.begin() as conn:
        DriverStatement(insert(tickets), tickets).run(conn, [_ticket("gone", 3)])
        raise RuntimeError("the batch failed after its ticket was written")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM tickets WHERE id = 'gone'").scalar() == 0


def test_a_naive_time_is_refused_as_the_column_type_refuses_it(store: Store) -> None:
    naive = {**_ticket("naive", 4), "called_at": datetime(2026, 12, 1, 9, 0)}
    with pytest.raises(ValueError, match="naive"), store.engine.begin() as conn:
        DriverStatement(insert(tickets), tickets).run(conn, [naive])


def test_each_instant_is_stored_as_its_own_utc_time_however_often_it_recurs(
    store: Store,
) -> None:
    # Times are converted once and remembered: the same wall-clock reading in two zones is
    # two instants, and a naive reading is refused even after aware ones like it passed.
    shanghai_nine = datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)
    utc_nine = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    rows = [
        {**_ticket("east", 5), "issued_at": shanghai_nine},
        {**_ticket("west", 6), "issued_at": utc_nine},
        {**_ticket("again", 7), "issued_at": shanghai_nine.astimezone(UTC)},
    ]
    with store.engine.begin() as conn:
        DriverStatement(insert(tickets), tickets).run(conn, rows)
    with store.engine.connect() as conn:
        stored = {
            r.id: r.issued_at
            for r in conn.execute(tickets.select().where(tickets.c.id.in_([r["id"] for r in rows])))
        }
    assert stored == {
        "east": datetime(2026, 12, 1, 1, 0, tzinfo=UTC),
        "west": utc_nine,
        "again": datetime(2026, 12, 1, 1, 0, tzinfo=UTC),
    }
    naive = {**_ticket("naive", 8), "issued_at": datetime(2026, 12, 1, 9, 0)}
    with pytest.raises(ValueError, match="naive"), store.engine.begin() as conn:
        DriverStatement(insert(tickets), tickets).run(conn, [naive])
