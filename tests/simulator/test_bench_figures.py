"""The benchmark's own arithmetic: duplicates and double service counted from the
database, and targets judged the right way round."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select
from sqlalchemy.exc import IntegrityError

from hallbus.hall_file import DEMO_HALL_FILE, load_hall
from scheduler.domain import HallQueue
from scheduler.store import Store
from scheduler.tables import tickets, transactions
from simulator.bench import targets
from simulator.bench_spine import integrity

HALL = load_hall(DEMO_HALL_FILE).model_copy(update={"require_open_window": False})
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_integrity_counts_a_number_given_twice_and_a_ticket_served_twice(tmp_path: Path) -> None:
    url = Store.sqlite_url(tmp_path / "bench.db")
    store = Store(url, HALL.id)
    store.open()
    queue = HallQueue(HALL)
    queue.login(1, NOW, clerk_code="1001")
    queue.issue_ticket("social", NOW, "kiosk-1")
    queue.issue_ticket("social", NOW, "kiosk-1")
    queue.call_next(1, NOW)
    queue.finish(1, NOW)
    store.commit(queue.take_changes(), NOW)
    store.close()
    assert integrity(url, HALL.id) == {"duplicate_numbers": 0, "tickets_served_twice": 0}

    engine = create_engine(url)
    with engine.begin() as conn:
        served = conn.execute(select(transactions)).mappings().one()
        conn.execute(insert(transactions), [dict(served) | {"id": "served-again"}])
    # A number given twice cannot even be stored: the schema refuses it, which is the
    # guarantee; the bench counts anyway, in case a store without the constraint runs.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        first = conn.execute(select(tickets).where(tickets.c.number == 1)).mappings().one()
        conn.execute(insert(tickets), [dict(first) | {"id": "copy-of-A001"}])
    engine.dispose()
    assert integrity(url, HALL.id) == {"duplicate_numbers": 0, "tickets_served_twice": 1}


def test_targets_are_met_only_on_the_right_side() -> None:
    sqlite = {
        "floor_request_p50_ms": 0.5,
        "request_p50_ms": 1.4,  # 2.8 x the floor: met (at most 3)
        "call_to_board_p50_ms": 2.5,  # 5 x: not met (at most 4)
        "call_next_p50_ms": 2.0,
        "call_next_p50_ms_100k_waiting": 2.2,  # 1.1 x: met
        "restart_s_100k_waiting": 3.5,  # not met (under 3 s)
        "committed_per_s": 2100.0,  # met (at least 2,000)
        "clients": {
            "pairs_per_s": 400.0,  # not met (at least 1,000)
            "double_calls_seen": 0,
            "scheduler_cpu_ms_per_command": 0.9,
        },
        "integrity": {"duplicate_numbers": 0, "tickets_served_twice": 0},
    }
    judged = targets({"sqlite": sqlite, "postgresql": {"committed_per_s": 900.0}})
    met = {name: t["met"] for name, t in judged.items()}
    assert met == {
        "request_p50_over_floor": True,
        "call_to_board_p50_over_floor": False,
        "call_next_p50_100k_over_1k": True,
        "restart_s_100k_waiting": False,
        "sqlite_committed_per_s": True,
        "pairs_per_s": False,
        "duplicates_and_double_calls": True,
        "scheduler_cpu_ms_per_command": False,
        "postgresql_committed_per_s": False,
    }
    assert judged["request_p50_over_floor"]["value"] == 2.8
