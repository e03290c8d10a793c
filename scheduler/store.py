"""Durable state of the scheduler: one database transaction per command, with an outbox."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)

from hallbus.messages import RatingSource, TicketState
from scheduler.domain import ACTIVE_STATES, Changes, RecentCallEntry, Ticket, Transaction
from scheduler.tables import outbox, processed_requests, ratings, tickets, transactions

MIGRATIONS = Path(__file__).with_name("migrations")
GENESIS_HASH = "0" * 64


class StoreError(RuntimeError):
    """The database failed; the command it carried changed nothing."""


@dataclass(frozen=True)
class OutboxMessage:
    """A bus message written with the command that caused it, published after commit."""

    topic: str
    payload: bytes
    retain: bool


@dataclass(frozen=True)
class OutboxRow:
    """An outbox message with its id, still to be published."""

    id: int
    topic: str
    payload: bytes
    retain: bool


@dataclass(frozen=True)
class ProcessedRequest:
    """A request's answer, kept so that a retry gets the same answer."""

    requester: str
    request_id: str
    reply: str


@dataclass
class LoadedState:
    """What the scheduler needs in memory after a start."""

    tickets: list[Ticket]
    awaiting: list[Transaction]
    counters: dict[tuple[date, str], int]
    recent_calls: list[RecentCallEntry]
    processed: list[ProcessedRequest]


def ledger_hash(
    prev_hash: str, transaction_id: str, outcome: str, source: str, at: datetime
) -> str:
    """Hash of one rating record chained to the one before it."""
    text = f"{prev_hash}|{transaction_id}|{outcome}|{source}|{at.isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (reports, the dashboard) run beside the one writer. NORMAL survives
    # a process crash with nothing lost; FULL also survives power loss, at a cost per commit.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _ticket_row(hall: str, ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "hall": hall,
        "service_date": ticket.service_date,
        "service_code": ticket.service_code,
        "number": ticket.number,
        "label": ticket.label,
        "state": ticket.state.value,
        "issued_at": ticket.issued_at,
        "issued_by": ticket.issued_by,
        "window": ticket.window,
        "called_at": ticket.called_at,
        "recalls": ticket.recalls,
        "serving_since": ticket.serving_since,
        "finished_at": ticket.finished_at,
    }


# One compiled statement for every ticket update (SQLAlchemy caches it).
_UPDATE_TICKET = (
    update(tickets)
    .where(tickets.c.id == bindparam("ticket_id"))
    .values({c.name: bindparam(c.name) for c in tickets.columns if c.name != "id"})
)


def _update_row(hall: str, ticket: Ticket) -> dict[str, Any]:
    row = _ticket_row(hall, ticket)
    row["ticket_id"] = row.pop("id")
    return row


class Store:
    """The scheduler's database. Only the scheduler's worker thread writes through it."""

    def __init__(self, url: str, hall: str) -> None:
        self.url = url
        self.hall = hall
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self._last_hash = GENESIS_HASH

    @staticmethod
    def sqlite_url(path: Path) -> str:
        """The URL of a SQLite database file."""
        return f"sqlite:///{path}"

    # --- lifecycle -------------------------------------------------------------
    def open(self) -> None:
        """Connect and bring the schema to the newest migration."""
        connect_args = {"check_same_thread": False} if self.url.startswith("sqlite") else {}
        engine = create_engine(self.url, connect_args=connect_args)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        self._engine = engine
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        self._conn = engine.connect()
        self._last_hash = (
            self._conn.execute(
                select(ratings.c.hash)
                .where(ratings.c.hall == self.hall)
                .order_by(ratings.c.seq.desc())
                .limit(1)
            ).scalar_one_or_none()
            or GENESIS_HASH
        )
        self._conn.rollback()

    def close(self) -> None:
        """Release the database."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @property
    def engine(self) -> Engine:
        """The engine, for read-only queries."""
        if self._engine is None:
            raise StoreError("store is not open")
        return self._engine

    def _writer(self) -> Connection:
        if self._conn is None:
            raise StoreError("store is not open")
        return self._conn

    # --- loading -----------------------------------------------------------------
    def load(self, now: datetime, recent_calls: int) -> LoadedState:
        """Active tickets, open ratings, today's counters, recent calls and answers."""
        with self.engine.connect() as conn:
            active = conn.execute(
                select(tickets).where(
                    tickets.c.hall == self.hall,
                    tickets.c.state.in_([s.value for s in ACTIVE_STATES]),
                )
            ).all()
            open_ratings = conn.execute(
                select(transactions)
                .outerjoin(ratings, ratings.c.transaction_id == transactions.c.id)
                .where(transactions.c.hall == self.hall, ratings.c.seq.is_(None))
            ).all()
            since = (now - timedelta(days=2)).date()
            counters = conn.execute(
                select(tickets.c.service_date, tickets.c.service_code, func.max(tickets.c.number))
                .where(tickets.c.hall == self.hall, tickets.c.service_date >= since)
                .group_by(tickets.c.service_date, tickets.c.service_code)
            ).all()
            calls = conn.execute(
                select(tickets.c.label, tickets.c.window, tickets.c.called_at)
                .where(tickets.c.hall == self.hall, tickets.c.called_at.is_not(None))
                .order_by(tickets.c.called_at.desc())
                .limit(recent_calls)
            ).all()
            answers = conn.execute(
                select(
                    processed_requests.c.requester,
                    processed_requests.c.request_id,
                    processed_requests.c.reply,
                )
                .where(
                    processed_requests.c.hall == self.hall,
                    processed_requests.c.created_at >= now - timedelta(days=1),
                )
                .order_by(processed_requests.c.created_at)
            ).all()
        return LoadedState(
            tickets=[
                Ticket(
                    id=r.id,
                    service_code=r.service_code,
                    service_date=r.service_date,
                    number=r.number,
                    prefix=r.label[: len(r.label) - 3],
                    issued_at=r.issued_at,
                    issued_by=r.issued_by,
                    state=TicketState(r.state),
                    window=r.window,
                    called_at=r.called_at,
                    recalls=r.recalls,
                    serving_since=r.serving_since,
                    finished_at=r.finished_at,
                )
                for r in active
            ],
            awaiting=[
                Transaction(
                    id=r.id,
                    ticket_id=r.ticket_id,
                    ticket_label=r.ticket_label,
                    window=r.window,
                    started_at=r.started_at,
                    finished_at=r.finished_at,
                    rating_deadline=r.rating_deadline,
                )
                for r in open_ratings
            ],
            counters={(r[0], r[1]): r[2] for r in counters},
            recent_calls=[RecentCallEntry(r.label, r.window, r.called_at) for r in calls],
            processed=[ProcessedRequest(r[0], r[1], r[2]) for r in answers],
        )

    # --- the one write path --------------------------------------------------------
    def commit(
        self,
        changes: Changes,
        now: datetime,
        *,
        answered: Sequence[ProcessedRequest] = (),
        messages: Sequence[OutboxMessage] = (),
        published: Iterable[int] = (),
    ) -> list[int]:
        """Persist a batch of commands atomically; returns the ids of its outbox rows."""
        conn = self._writer()
        last_hash = self._last_hash
        try:
            with conn.begin():
                new = [
                    _ticket_row(self.hall, t)
                    for t in changes.tickets.values()
                    if t.id in changes.new_ticket_ids
                ]
                if new:
                    conn.execute(insert(tickets), new)
                changed = [
                    _update_row(self.hall, t)
                    for t in changes.tickets.values()
                    if t.id not in changes.new_ticket_ids
                ]
                if changed:
                    conn.execute(_UPDATE_TICKET, changed)
                if changes.transactions:
                    conn.execute(
                        insert(transactions),
                        [
                            {
                                "id": t.id,
                                "hall": self.hall,
                                "ticket_id": t.ticket_id,
                                "ticket_label": t.ticket_label,
                                "window": t.window,
                                "started_at": t.started_at,
                                "finished_at": t.finished_at,
                                "rating_deadline": t.rating_deadline,
                            }
                            for t in changes.transactions.values()
                        ],
                    )
                for rated in changes.ratings:
                    assert rated.outcome is not None and rated.rated_at is not None
                    source = rated.rating_source or RatingSource.PAD
                    digest = ledger_hash(
                        last_hash, rated.id, str(rated.outcome), source.value, rated.rated_at
                    )
                    conn.execute(
                        insert(ratings),
                        {
                            "hall": self.hall,
                            "transaction_id": rated.id,
                            "outcome": str(rated.outcome),
                            "source": source.value,
                            "recorded_at": rated.rated_at,
                            "prev_hash": last_hash,
                            "hash": digest,
                        },
                    )
                    last_hash = digest
                if answered:
                    conn.execute(
                        insert(processed_requests),
                        [
                            {
                                "hall": self.hall,
                                "requester": a.requester,
                                "request_id": a.request_id,
                                "reply": a.reply,
                                "created_at": now,
                            }
                            for a in answered
                        ],
                    )
                done = list(published)
                if done:
                    conn.execute(delete(outbox).where(outbox.c.id.in_(done)))
                ids: list[int] = []
                if messages:
                    result = conn.execute(
                        insert(outbox).returning(outbox.c.id, sort_by_parameter_order=True),
                        [
                            {
                                "hall": self.hall,
                                "topic": m.topic,
                                "payload": m.payload,
                                "retain": m.retain,
                                "created_at": now,
                            }
                            for m in messages
                        ],
                    )
                    ids = [row[0] for row in result]
        except Exception as err:
            raise StoreError(f"commit failed: {err}") from err
        self._last_hash = last_hash
        return ids

    def pending_outbox(self) -> list[OutboxRow]:
        """Outbox messages not yet acknowledged by the broker, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(outbox.c.id, outbox.c.topic, outbox.c.payload, outbox.c.retain)
                .where(outbox.c.hall == self.hall)
                .order_by(outbox.c.id)
            ).all()
        return [OutboxRow(r[0], r[1], bytes(r[2]), bool(r[3])) for r in rows]

    def delete_outbox(self, ids: Iterable[int]) -> None:
        """Forget outbox rows the broker has acknowledged."""
        done = list(ids)
        if not done:
            return
        conn = self._writer()
        try:
            with conn.begin():
                conn.execute(delete(outbox).where(outbox.c.id.in_(done)))
        except Exception as err:
            raise StoreError(f"outbox cleanup failed: {err}") from err

    # --- read-only queries (demo summary, tests, reports) ----------------------------
    def ticket_counts(self) -> dict[str, int]:
        """Number of tickets in each state."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(tickets.c.state, func.count())
                .where(tickets.c.hall == self.hall)
                .group_by(tickets.c.state)
            ).all()
        return {r[0]: r[1] for r in rows}

    def rating_counts(self) -> dict[str, int]:
        """Number of rating records per outcome."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ratings.c.outcome, func.count())
                .where(ratings.c.hall == self.hall)
                .group_by(ratings.c.outcome)
            ).all()
        return {r[0]: r[1] for r in rows}

    def ticket_ids(self) -> set[str]:
        """Every ticket id of the hall."""
        with self.engine.connect() as conn:
            return set(
                conn.execute(select(tickets.c.id).where(tickets.c.hall == self.hall)).scalars()
            )

    def verify_ledger(self) -> int | None:
        """The seq of the first rating record whose chain is broken, or None if intact."""
        prev = GENESIS_HASH
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ratings).where(ratings.c.hall == self.hall).order_by(ratings.c.seq)
            ).all()
        for row in rows:
            expected = ledger_hash(
                prev, row.transaction_id, row.outcome, row.source, row.recorded_at
            )
            if row.prev_hash != prev or row.hash != expected:
                return int(row.seq)
            prev = row.hash
        return None
