"""The store on SQLite and PostgreSQL: migrations, atomic commits, restarts, the ledger, cases."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from hallbus.hall_file import DEMO_HALL_FILE, HallConfig, load_hall
from hallbus.messages import (
    BadRatingReason,
    PauseReason,
    PrinterFault,
    PrintState,
    RatingLevel,
    WindowStatus,
)
from paidui.cli import main as paidui
from paidui.postgres import create_database, drop_database, find_postgres
from scheduler.cases import CallbackResult, CaseError, CaseState, Complexity
from scheduler.domain import HallQueue
from scheduler.ledger import EntryKind, verify_chain
from scheduler.stats import hall_statistics
from scheduler.store import MIGRATIONS, Store, StoreError, _ticket_row
from scheduler.tables import rating_ledger, tickets

# Monday 2026-11-23, 10:00 in Shanghai.
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
CARD = "c" * 64


@pytest.fixture
def hall() -> HallConfig:
    """The demo hall under a fresh id: PostgreSQL tests share one database."""
    return load_hall(DEMO_HALL_FILE).model_copy(update={"id": f"s-{uuid.uuid4().hex[:10]}"})


@pytest.fixture
def store(any_db_url: str, hall: HallConfig) -> Iterator[Store]:
    opened = Store(any_db_url, hall.id)
    opened.open()
    yield opened
    opened.close()


def _queue(hall: HallConfig) -> HallQueue:
    queue = HallQueue(hall)
    for window in (1, 2, 3, 4):
        queue.login(window, NOW, clerk_code=str(1000 + window))
    return queue


def _serve_and_rate(store: Store, queue: HallQueue, levels: list[RatingLevel]) -> list[str]:
    ids = []
    for level in levels:
        queue.issue_ticket("social", NOW, "kiosk-1")
        queue.call_next(1, NOW)
        transaction = queue.finish(1, NOW + timedelta(minutes=4))
        reason = BadRatingReason.ATTITUDE if level.is_bad else None
        queue.rate(transaction.id, level, NOW + timedelta(minutes=4), window=1, reason=reason)
        store.commit(queue.take_changes(), NOW)
        ids.append(transaction.id)
    return ids


def test_everything_the_queue_holds_survives_a_restart(
    store: Store, any_db_url: str, hall: HallConfig
) -> None:
    queue = _queue(hall)
    queue.pause(3, PauseReason.MEETING, NOW)
    queue.logout(2, NOW)
    booked = queue.book_appointment("tax", NOW + timedelta(hours=2), CARD, "138****0000", NOW)
    queue.issue_ticket("social", NOW, "kiosk-1")
    queue.issue_ticket("social", NOW, "kiosk-1", age=75)
    queue.call_next(1, NOW)  # the elderly ticket, A002
    queue.start_service(1, NOW)
    moved, done = queue.transfer(1, NOW + timedelta(minutes=3), to_window=4)
    queue.issue_ticket("tax", NOW, "kiosk-1")
    queue.call_next(4, NOW + timedelta(minutes=4))  # window 4 takes A002 back
    store.commit(queue.take_changes(), NOW)
    store.close()

    reopened = Store(any_db_url, hall.id)
    reopened.open()
    restored = reopened.load(NOW + timedelta(minutes=5), hall.recent_calls).queue_for(hall)
    assert restored.window(3).status == WindowStatus.PAUSED
    assert restored.window(3).pause_reason == PauseReason.MEETING
    assert restored.window(2).status == WindowStatus.CLOSED
    held = restored.current(4)
    assert held is not None and held.id == moved.id and held.label == "A002"
    assert held.transfers == 1 and held.issued_service == "social"
    assert done is not None and [t.id for t in restored.awaiting_rating()] == [done.id]
    assert restored.waiting_count("social") == 1 and restored.waiting_count("tax") == 1
    assert restored.issue_ticket("social", NOW, "k").ticket.label == "A003"
    kept = restored.appointment(booked.code)  # the booking code survives the restart
    assert kept is not None and kept.id == booked.id
    checked_in = restored.issue_ticket(None, NOW + timedelta(minutes=6), "k", id_hash=CARD)
    assert checked_in.appointment is not None
    reopened.close()


def test_every_change_of_a_ticket_after_its_issue_reaches_its_row(
    store: Store, hall: HallConfig
) -> None:
    # An issued ticket's row is updated on the driver's cursor (driver_sql), not by
    # SQLAlchemy's ORM: after each action of its life, committed on its own, the rows of
    # the tickets it changed must read as fresh inserts of them would.
    queue = _queue(hall)
    minute = iter(range(1, 100))

    def stored_rows() -> dict[str, dict[str, object]]:
        with store.engine.connect() as conn:
            found = conn.execute(select(tickets).where(tickets.c.hall == hall.id)).mappings()
            return {row["id"]: dict(row) for row in found}

    def step(action: Callable[[datetime], object]) -> None:
        action(NOW + timedelta(minutes=next(minute)))
        changes = queue.take_changes()
        store.commit(changes, NOW)
        rows = stored_rows()
        for ticket in changes.tickets.values():
            assert rows[ticket.id] == _ticket_row(hall.id, ticket), (ticket.label, ticket.state)

    first = queue.issue_ticket("social", NOW, "kiosk-1").ticket
    store.commit(queue.take_changes(), NOW)
    step(lambda _: queue.report_print(first.id, PrintState.FAILED, ["paper_out"]))
    step(lambda at: queue.call_next(1, at))
    step(lambda at: queue.recall(1, at))
    step(lambda at: queue.postpone(1, at))  # back in line, later
    step(lambda at: queue.call_next(1, at))
    step(lambda at: queue.start_service(1, at))
    step(lambda at: queue.transfer(1, at, to_service="tax", to_window=4))
    step(lambda at: queue.issue_ticket("tax", at, "kiosk-1"))
    step(lambda at: queue.call_next(4, at))  # the transfer comes back first
    step(lambda at: queue.start_service(4, at))
    step(lambda at: queue.finish(4, at))
    step(lambda at: queue.call_next(4, at))
    step(lambda at: queue.no_show(4, at))
    assert first.transfers == 1 and first.state == "done" and first.print_state == "failed"
    assert len(stored_rows()) == 2


def test_a_failed_commit_changes_nothing(store: Store, hall: HallConfig) -> None:
    def queue_with_fixed_ids() -> HallQueue:
        queue = HallQueue(hall, id_factory=lambda: "same-id-" + hall.id)
        queue.login(1, NOW, clerk_code="1001")
        queue.issue_ticket("social", NOW, "kiosk-1")
        return queue

    store.commit(queue_with_fixed_ids().take_changes(), NOW)
    with pytest.raises(StoreError):  # the same ticket id and number again
        store.commit(queue_with_fixed_ids().take_changes(), NOW)
    assert store.ticket_counts() == {"waiting": 1}


def test_ratings_verify_names_the_entry_altered_behind_its_back(
    store: Store, any_db_url: str, hall: HallConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    _serve_and_rate(store, _queue(hall), [RatingLevel.SATISFIED] * 4)
    assert paidui(["ratings", "verify", "--hall", hall.id, "--db", any_db_url]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "hall": hall.id,
        "entries": 4,
        "checkpoints": 0,
        "signatures_checked": False,
        "intact": True,
    }

    with store.engine.begin() as conn:  # 刷好评: turn a rating into a better one
        conn.execute(
            update(rating_ledger)
            .where(rating_ledger.c.hall == hall.id, rating_ledger.c.seq == 3)
            .values(outcome="very_satisfied")
        )
    assert paidui(["ratings", "verify", "--hall", hall.id, "--db", any_db_url]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["intact"] is False and report["first_broken_seq"] == 3


def test_ledger_detects_a_removed_entry(store: Store, hall: HallConfig) -> None:
    _serve_and_rate(store, _queue(hall), [RatingLevel.DISSATISFIED] * 3)
    with store.engine.begin() as conn:  # 删差评: drop a bad rating
        conn.execute(
            delete(rating_ledger).where(rating_ledger.c.hall == hall.id, rating_ledger.c.seq == 2)
        )
    breach = store.verify_ledger()
    assert breach is not None and breach.seq == 3


def test_the_database_refuses_a_second_rating_and_a_fork(store: Store, hall: HallConfig) -> None:
    queue = _queue(hall)
    (transaction_id,) = _serve_and_rate(store, queue, [RatingLevel.SATISFIED])
    (entry,) = store.ledger_entries(transaction_id)
    forged = {
        **{c.name: getattr(entry, c.name) for c in rating_ledger.columns if c.name != "kind"},
        "kind": entry.kind.value,
        "seq": 2,
        "prev_hash": entry.hash,
    }
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(insert(rating_ledger).values(forged))  # same transaction rated again
    other = {**forged, "unique_key": "rating:another", "prev_hash": entry.prev_hash}
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(insert(rating_ledger).values(other))  # a second chain from one parent
    assert verify_chain(store.ledger_entries()) is None


def test_review_is_a_new_entry_and_the_rating_stays(store: Store, hall: HallConfig) -> None:
    queue = _queue(hall)
    (transaction_id,) = _serve_and_rate(store, queue, [RatingLevel.VERY_DISSATISFIED])
    entries = store.ledger_entries(transaction_id)
    queue.review_rating(
        entries[0], entries, reviewer="m1", approver="m2", reason="a test press", now=NOW
    )
    store.commit(queue.take_changes(), NOW)
    kinds = [e.kind for e in store.ledger_entries(transaction_id)]
    assert kinds == [EntryKind.RATING, EntryKind.NOT_ADOPTED]
    assert store.verify_ledger() is None


def test_bad_rating_opens_a_case_with_working_day_deadlines(store: Store, hall: HallConfig) -> None:
    queue = _queue(hall)
    # Friday 2026-09-25 is the Mid-Autumn holiday; National Day runs 10-01 to 10-07 and
    # Saturday 10-10 is worked to make up for it (per the State Council notice).
    friday = datetime(2026, 9, 25, 2, 0, tzinfo=UTC)
    queue.issue_ticket("social", friday, "k")
    queue.call_next(1, friday)
    transaction = queue.finish(1, friday)
    queue.rate(
        transaction.id, RatingLevel.DISSATISFIED, friday, window=1, reason=BadRatingReason.PROCESS
    )
    store.commit(queue.take_changes(), friday)
    (case,) = store.cases()
    assert case.opened_on == date(2026, 9, 25) and case.reason == "process"
    assert case.contact_due == date(2026, 9, 29)  # Monday 28th, Tuesday 29th
    assert case.fix_due == date(2026, 10, 9)  # 28, 29, 30 Sept, then 8 and 9 Oct

    calendar = queue.calendar
    steps = [
        (CaseState.CONTACTED, date(2026, 9, 28), Complexity.COMPLEX),
        (CaseState.RECTIFIED, date(2026, 10, 12), None),
        (CaseState.CALLED_BACK, date(2026, 10, 13), None),
        (CaseState.CLOSED, date(2026, 10, 13), None),
    ]
    with pytest.raises(CaseError):
        store.advance_case(
            case.id,
            CaseState.RECTIFIED,
            actor="m1",
            now=friday,
            today=friday.date(),
            calendar=calendar,
        )
    for state, day, complexity in steps:
        moved = store.advance_case(
            case.id,
            state,
            actor="m1",
            now=friday,
            today=day,
            calendar=calendar,
            complexity=complexity,
            result=CallbackResult.SATISFIED if state == CaseState.CALLED_BACK else None,
        )
        if state == CaseState.CONTACTED:
            assert moved.fix_due == date(2026, 10, 22)  # 15 working days, Saturday 10-10 among them
        if state == CaseState.RECTIFIED:
            assert moved.callback_due == date(2026, 10, 19)
    assert [s[0] for s in store.case_steps(case.id)] == [s[0] for s in steps]
    assert store.cases(states=[CaseState.CLOSED])[0].id == case.id


def test_statistics_per_service_window_and_clerk(store: Store, hall: HallConfig) -> None:
    queue = _queue(hall)
    _serve_and_rate(
        store, queue, [RatingLevel.SATISFIED, RatingLevel.VERY_DISSATISFIED, RatingLevel.SATISFIED]
    )
    queue.issue_ticket("social", NOW, "k")
    queue.call_next(1, NOW + timedelta(minutes=10))
    queue.no_show(1, NOW + timedelta(minutes=11))
    queue.issue_ticket("social", NOW, "k")
    queue.call_next(1, NOW + timedelta(minutes=12))
    queue.finish(1, NOW + timedelta(minutes=14))
    queue.expire_ratings(NOW + timedelta(hours=1))
    store.commit(queue.take_changes(), NOW)

    day = NOW.date()
    (social,) = hall_statistics(store.engine, hall, day, day, by="service")
    assert (social.group, social.issued, social.served, social.no_show) == ("social", 5, 4, 1)
    assert (social.rated, social.good, social.bad, social.unrated) == (3, 2, 1, 1)
    assert social.satisfaction_rate == pytest.approx(2 / 3, abs=1e-4)
    assert social.unrated_share == 0.25
    assert social.service.max_s == 240.0 and social.waiting.max_s == 720.0
    assert social.cases == {"open": 1}
    (window,) = hall_statistics(store.engine, hall, day, day, by="window")
    assert window.group == "1" and window.served == 4 and window.issued is None
    (clerk,) = hall_statistics(store.engine, hall, day, day, by="clerk")
    assert clerk.group == "1001" and clerk.bad == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, on each backend."""
    if request.param == "sqlite":
        yield Store.sqlite_url(tmp_path / "empty.db")
        return
    request.getfixturevalue("postgres_url")  # skips when there is no server
    admin, _ = find_postgres()
    assert admin is not None
    name = f"paidui_empty_{uuid.uuid4().hex[:8]}"
    yield create_database(admin, name)
    drop_database(admin, name)


def test_a_spine_database_migrates_with_its_ratings(empty_db_url: str, hall: HallConfig) -> None:
    any_db_url = empty_db_url
    engine = create_engine(any_db_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    at = "2026-11-22 02:00:00"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tickets (id, hall, service_date, service_code, number, label, state,"
                " issued_at, issued_by, recalls) VALUES"
                " (:id, :hall, '2026-11-22', 'social', 1, 'A001', 'done', :at, 'kiosk-1', 0)"
            ),
            {"id": f"t-{hall.id}", "hall": hall.id, "at": at},
        )
        conn.execute(
            text(
                'INSERT INTO transactions (id, hall, ticket_id, ticket_label, "window",'
                " started_at, finished_at, rating_deadline) VALUES"
                " (:id, :hall, :ticket, 'A001', 1, :at, :at, :at)"
            ),
            {"id": f"x-{hall.id}", "hall": hall.id, "ticket": f"t-{hall.id}", "at": at},
        )
        conn.execute(
            text(
                "INSERT INTO ratings (hall, transaction_id, outcome, source, recorded_at,"
                " prev_hash, hash) VALUES (:hall, :tx, 'satisfied', 'pad', :at, :p, :h)"
            ),
            {"hall": hall.id, "tx": f"x-{hall.id}", "at": at, "p": "0" * 64, "h": "1" * 64},
        )
    engine.dispose()
    store = Store(any_db_url, hall.id)
    store.open()  # migrates to the newest schema
    try:
        (entry,) = store.ledger_entries()
        assert (entry.seq, entry.outcome, entry.service_code) == (1, "satisfied", "social")
        assert store.verify_ledger() is None
        assert store.ticket_counts() == {"done": 1}
    finally:
        store.close()


def test_print_reports_are_kept_for_waiting_and_finished_tickets(
    store: Store, hall: HallConfig
) -> None:
    queue = _queue(hall)
    waiting = queue.issue_ticket("tax", NOW, "kiosk-1").ticket
    served = queue.issue_ticket("social", NOW, "kiosk-1").ticket
    store.commit(queue.take_changes(), NOW)
    queue.call_next(1, NOW)
    queue.finish(1, NOW)
    store.commit(queue.take_changes(), NOW)

    first = queue.report_print(waiting.id, PrintState.FAILED, [PrinterFault.PAPER_OUT])
    again = queue.report_print(waiting.id, PrintState.PRINTED, [])
    assert first.state is again.state is PrintState.FAILED  # the first report stands
    queue.report_print(served.id, PrintState.PRINTED, [])  # no longer in memory
    store.commit(queue.take_changes(), NOW)

    with store.engine.connect() as conn:
        rows = dict(
            conn.execute(
                text("SELECT id, print_state || ':' || COALESCE(print_faults, '') FROM tickets")
            ).all()
        )
    assert rows[waiting.id] == "failed:paper_out"
    assert rows[served.id] == "printed:"
    reloaded = store.load(NOW, 5).queue_for(hall)
    assert reloaded.report_print(waiting.id, PrintState.PRINTED, []).faults == (
        PrinterFault.PAPER_OUT,
    )


def test_the_migrations_build_exactly_the_schema_the_code_uses(store: Store) -> None:
    """A table or column added to tables.py without its migration fails here, not in a hall."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from scheduler.tables import metadata

    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_a_database_at_the_head_starts_without_alembic_and_one_behind_is_upgraded(
    store: Store,
) -> None:
    """The start's shortcut (no alembic when the schema is current) must know the real head:
    a new migration without SCHEMA_HEAD moved would otherwise never be applied."""
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from scheduler.store import MIGRATIONS, SCHEMA_HEAD, _schema_revision

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_HEAD
    assert _schema_revision(store.engine) == SCHEMA_HEAD
    with store.engine.begin() as conn:  # as if the last migration had not run yet
        config.attributes["connection"] = conn
        command.downgrade(config, "-1")
    assert _schema_revision(store.engine) != SCHEMA_HEAD
    Store.migrate(store.engine)
    assert _schema_revision(store.engine) == SCHEMA_HEAD
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM appointment_contacts").scalar() == 0


def test_hall_events_stay_after_their_puback_for_replays_and_the_newest_stays_always(
    store: Store, hall: HallConfig
) -> None:
    from scheduler.domain import Changes
    from scheduler.store import OutboxMessage

    event = OutboxMessage("paidui/v1/h/event/call", b'{"event_seq": 1}', False, 1)
    prompt = OutboxMessage("paidui/v1/h/device/pad-1/cmd/rating_prompt", b"{}", False)
    ids = store.commit(Changes(), NOW, messages=[event, prompt])
    later = OutboxMessage("paidui/v1/h/event/rating", b'{"event_seq": 2}', False, 2)
    (later_id,) = store.commit(Changes(), NOW, messages=[later])
    store.delete_outbox([*ids, later_id], NOW)  # the broker acknowledged all three
    assert store.pending_outbox() == []  # nothing is sent again ...
    kept, oldest = store.kept_events(0, 10)  # ... but the events can be replayed
    assert [(e.event_seq, e.payload) for e in kept] == [(1, event.payload), (2, later.payload)]
    assert oldest == 1 and store.last_event_seq() == 2
    assert store.prune_events(NOW + timedelta(days=30)) == 1
    kept, oldest = store.kept_events(0, 10)
    assert [e.event_seq for e in kept] == [2] and oldest == 2  # the sequence goes on from it
    assert store.last_event_seq() == 2
