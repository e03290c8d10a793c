"""Durable state of the scheduler: one database transaction per command, with an outbox."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    Connection,
    Date,
    Engine,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.types import NullType

from hallbus.hall_file import HallConfig
from hallbus.messages import (
    PauseReason,
    PrinterFault,
    PrintState,
    PriorityClass,
    RatingLevel,
    TicketState,
)
from scheduler.booking import HOLDING, booking_code
from scheduler.calendar import WorkCalendar
from scheduler.cases import (
    BadRatingCase,
    CallbackResult,
    CaseError,
    CaseState,
    Complexity,
    advance,
)
from scheduler.checkpoints import Checkpoint
from scheduler.clerk_pins import PinRecord
from scheduler.domain import (
    ACTIVE_STATES,
    Appointment,
    CallRecord,
    Changes,
    HallQueue,
    Ticket,
    Transaction,
    WindowEvent,
)
from scheduler.driver_sql import DriverStatement
from scheduler.ledger import GENESIS_HASH, Breach, EntryKind, LedgerEntry, verify_chain
from scheduler.tables import (
    UtcDateTime,
    appointments,
    audit_log,
    calls,
    case_contacts,
    case_steps,
    clerk_pins,
    config_versions,
    day_summaries,
    ledger_checkpoints,
    outbox,
    processed_requests,
    rating_cases,
    rating_ledger,
    scheduler_leases,
    tickets,
    transactions,
    transfers,
    window_events,
)

MIGRATIONS = Path(__file__).with_name("migrations")

# Missed bookings are kept in memory this long: the longest no-show window a hall may set.
NO_SHOW_MEMORY = timedelta(days=730)


def insert_audit(
    conn: Connection,
    hall: str,
    now: datetime,
    actor: str,
    action: str,
    target: str,
    detail: dict[str, Any],
) -> None:
    """One audit log row, inside the caller's transaction (the store's and the dashboard's)."""
    conn.execute(
        insert(audit_log).values(
            hall=hall,
            at=now,
            actor=actor,
            action=action,
            target=target[:128],
            detail=json.dumps(detail, ensure_ascii=False, default=str),
        )
    )


def _failed_attempts(conn: Connection, case_id: str) -> int:
    """Contact attempts of a case that did not reach the citizen."""
    return int(
        conn.execute(
            select(func.count()).where(
                case_steps.c.case_id == case_id,
                case_steps.c.state == CaseState.ATTEMPT_FAILED.value,
            )
        ).scalar_one()
    )


class StoreError(RuntimeError):
    """The database failed; the command it carried changed nothing."""


class LeadershipLost(StoreError):
    """Another scheduler took the hall over (leader.py); this one may commit nothing more."""


@dataclass(frozen=True)
class OutboxMessage:
    """A bus message written with the command that caused it, published after commit."""

    topic: str
    payload: bytes
    retain: bool
    event_seq: int | None = None  # hall events: kept after PUBACK for replays


@dataclass(frozen=True)
class KeptEvent:
    """A hall event as it was published, for a replay."""

    event_seq: int
    topic: str
    payload: bytes


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
    fingerprint: str = ""  # of what was asked (bridge.request_fingerprint); "" if unknown


@dataclass
class LoadedState:
    """What the scheduler needs in memory after a start."""

    tickets: list[Ticket]
    awaiting: list[Transaction]
    counters: dict[tuple[date, str], int]
    walk_ins: dict[tuple[date, str], int]
    recent_calls: list[CallRecord]
    window_events: list[WindowEvent]
    appointments: list[Appointment]
    service_times: list[tuple[str, float]]
    ledger_head: tuple[int, str]
    processed: list[ProcessedRequest]

    def queue_for(self, hall: HallConfig) -> HallQueue:
        """A hall queue holding this state."""
        queue = HallQueue(hall)
        queue.restore(
            tickets=self.tickets,
            awaiting=self.awaiting,
            counters=self.counters,
            walk_ins=self.walk_ins,
            recent_calls=self.recent_calls,
            window_events=self.window_events,
            appointments=self.appointments,
            service_times=self.service_times,
            ledger_head=self.ledger_head,
        )
        return queue


def config_hash(config: HallConfig) -> str:
    """A configuration's fingerprint, to tell whether the hall file changed."""
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (reports, the dashboard) run beside the one writer. NORMAL survives
    # a process crash with nothing lost; FULL also survives power loss, at a cost per commit.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


_TICKET_FIELDS = (
    "issued_service",
    "service_code",
    "service_date",
    "number",
    "issued_at",
    "issued_by",
    "queued_at",
    "target_window",
    "window",
    "called_at",
    "first_called_at",
    "recalls",
    "serving_since",
    "finished_at",
    "transfers",
    "predicted_wait_s",
    "appointment_id",
)


def _ticket_row(hall: str, ticket: Ticket) -> dict[str, Any]:
    row = {name: getattr(ticket, name) for name in _TICKET_FIELDS}
    row.update(
        id=ticket.id,
        hall=hall,
        label=ticket.label,
        priority=ticket.priority.value,
        state=ticket.state.value,
        print_state=ticket.print_state.value if ticket.print_state else None,
        print_faults=",".join(ticket.print_faults) or None,
    )
    return row


# A restart reads every active ticket (100,000 in a long day's backlog): rows are read by
# position and enums looked up in dicts, since per-row attribute access and Enum() calls
# were most of the restart's time.
_TICKET_COLUMNS = (*_TICKET_FIELDS, "id", "label", "priority", "state", "print_state")
_PRIORITIES = {p.value: p for p in PriorityClass}
_STATES = {s.value: s for s in TicketState}
_PRINT_STATES = {s.value: s for s in PrintState}


# Times and the day are read raw and converted here: SQLAlchemy's per-value processing of
# six time columns was the largest part of reading a long line.
_TIME_COLUMNS = frozenset(
    name for name in _TICKET_COLUMNS if isinstance(tickets.c[name].type, (UtcDateTime, Date))
)


def _raw_ticket_columns() -> list[Any]:
    return [
        type_coerce(tickets.c[name], NullType()).label(name)
        if name in _TIME_COLUMNS
        else tickets.c[name]
        for name in _TICKET_COLUMNS
    ]


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        # SQLite keeps naive UTC as text; parsing it with its zone is one C call, five
        # times faster than parsing and then replacing the zone.
        return datetime.fromisoformat(value + "+00:00")
    return cast(datetime, value).replace(tzinfo=UTC)


@functools.lru_cache(maxsize=64)
def _day(value: Any) -> date:
    # A long line's tickets share a handful of service days.
    return date.fromisoformat(value) if isinstance(value, str) else value


_AT = {name: index for index, name in enumerate(_TICKET_COLUMNS)}


def _ticket_from(row: Any) -> Ticket:
    at = _AT
    faults = row[len(_TICKET_COLUMNS)]
    label = row[at["label"]]
    return Ticket(
        id=row[at["id"]],
        issued_service=row[at["issued_service"]],
        service_code=row[at["service_code"]],
        service_date=_day(row[at["service_date"]]),
        number=row[at["number"]],
        prefix=label.rstrip("0123456789"),
        issued_at=_utc(row[at["issued_at"]]),  # type: ignore[arg-type]  # never null
        issued_by=row[at["issued_by"]],
        priority=_PRIORITIES[row[at["priority"]]],
        queued_at=_utc(row[at["queued_at"]]),
        target_window=row[at["target_window"]],
        state=_STATES[row[at["state"]]],
        window=row[at["window"]],
        called_at=_utc(row[at["called_at"]]),
        first_called_at=_utc(row[at["first_called_at"]]),
        recalls=row[at["recalls"]],
        serving_since=_utc(row[at["serving_since"]]),
        finished_at=_utc(row[at["finished_at"]]),
        transfers=row[at["transfers"]],
        predicted_wait_s=row[at["predicted_wait_s"]],
        appointment_id=row[at["appointment_id"]],
        print_state=_PRINT_STATES.get(row[at["print_state"]] or ""),
        print_faults=tuple(PrinterFault(f) for f in faults.split(",") if f) if faults else (),
    )


def _transaction_from(row: Any) -> Transaction:
    return Transaction(
        id=row.id,
        ticket_id=row.ticket_id,
        ticket_label=row.ticket_label,
        service_code=row.service_code,
        window=row.window,
        clerk_code=row.clerk_code,
        started_at=row.started_at,
        finished_at=row.finished_at,
        pad_deadline=row.pad_deadline,
        rating_deadline=row.rating_deadline,
        ended_by=row.ended_by,
    )


def _entry_row(entry: LedgerEntry) -> dict[str, Any]:
    row = dict(vars(entry))
    row["kind"] = entry.kind.value
    row["unique_key"] = entry.unique_key
    return row


def _entry_from(row: Any) -> LedgerEntry:
    values = {k: v for k, v in row._mapping.items() if k != "unique_key"}
    values["kind"] = EntryKind(values["kind"])
    return LedgerEntry(**values)


def _case_from(row: Any) -> BadRatingCase:
    return BadRatingCase(
        id=row.id,
        transaction_id=row.transaction_id,
        outcome=row.outcome,
        reason=row.reason,
        opened_on=row.opened_on,
        contact_due=row.contact_due,
        fix_due=row.fix_due,
        state=CaseState(row.state),
        complexity=Complexity(row.complexity),
        callback_due=row.callback_due,
    )


# The commit path's statements, built once: SQLAlchemy memoises a statement object's cache
# key, and building them anew for every batch (and keying them again) was a visible part
# of a commit's cost.
# Those written for nearly every command go to the driver directly (driver_sql).
_UPDATE_TICKET = DriverStatement(
    update(tickets)
    .where(tickets.c.id == bindparam("ticket_id"))
    .values({c.name: bindparam(c.name) for c in tickets.columns if c.name != "id"}),
    tickets,
)
_INSERT_TICKETS = DriverStatement(insert(tickets), tickets)
_INSERT_ANSWERS = DriverStatement(insert(processed_requests), processed_requests)
_INSERT_TRANSACTIONS = DriverStatement(insert(transactions), transactions)
_INSERT_LEDGER = DriverStatement(insert(rating_ledger), rating_ledger)
_INSERT_CASES = insert(rating_cases)
_INSERT_CALLS = DriverStatement(insert(calls), calls)
_INSERT_TRANSFERS = insert(transfers)
_INSERT_WINDOW_EVENTS = insert(window_events)
_INSERT_OUTBOX = DriverStatement(insert(outbox).returning(outbox.c.id), outbox)
_ACKED: BindParameter[Any] = bindparam("acked", expanding=True)
_DELETE_ACKED_COMMANDS = delete(outbox).where(outbox.c.id.in_(_ACKED), outbox.c.event_seq.is_(None))
_MARK_ACKED_EVENTS = (
    update(outbox)
    .where(outbox.c.id.in_(_ACKED), outbox.c.event_seq.is_not(None))
    .values(acked_at=bindparam("acked_at"))
)


def _update_row(hall: str, ticket: Ticket) -> dict[str, Any]:
    row = _ticket_row(hall, ticket)
    row["ticket_id"] = row.pop("id")
    return row


# The newest migration in scheduler/migrations/versions (a test checks this against
# alembic's own head): a database already there is not handed to alembic at all.
SCHEMA_HEAD = "0013"


def _schema_revision(engine: Engine) -> str | None:
    """The migration a database is at; None for a new one (or one without alembic's table)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
        found = list(versions)
    return str(found[0]) if len(found) == 1 else None


class Store:
    """The scheduler's database. Only the scheduler's worker thread writes queue state."""

    def __init__(self, url: str, hall: str) -> None:
        self.url = url
        self.hall = hall
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        # Set by the hall lease on PostgreSQL: commits only while this epoch is current.
        self.fence_epoch: int | None = None

    @staticmethod
    def sqlite_url(path: Path) -> str:
        """The URL of a SQLite database file."""
        return f"sqlite:///{path}"

    # --- lifecycle -------------------------------------------------------------
    def open(self, *, migrate: bool = True) -> None:
        """Connect; migrate to the newest schema unless told not to (read-only checks)."""
        connect_args = {"check_same_thread": False} if self.url.startswith("sqlite") else {}
        engine = create_engine(self.url, connect_args=connect_args)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        self._engine = engine
        if migrate:
            self.migrate(engine)
        self._conn = engine.connect()

    @staticmethod
    def migrate(engine: Engine) -> None:
        """Bring the schema to the newest migration (SCHEMA_HEAD)."""
        if _schema_revision(engine) == SCHEMA_HEAD:
            return  # every start but the first after an upgrade: alembic is not needed
        # Imported here: alembic (with mako and pygments) is a tenth of a start.
        from alembic import command
        from alembic.config import Config

        sqlite = engine.dialect.name == "sqlite"
        with engine.connect() as conn:
            if sqlite:
                # SQLite alters a table by copying it; with foreign keys enforced the copy
                # would be refused. The pragma only takes effect outside a transaction.
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            with conn.begin():
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS))
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise StoreError(f"migration left dangling references: {broken[:3]}")
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()

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
        """Everything the queue holds in memory: active tickets, open ratings, windows, ..."""
        hall = self.hall
        since = (now - timedelta(days=2)).date()
        with self.engine.connect() as conn:
            # Streamed: rows become tickets as they come, never all rows and all tickets
            # in memory at once (the process would keep that as its high-water mark).
            columns = (*_raw_ticket_columns(), tickets.c.print_faults)
            active = [
                _ticket_from(row)
                for row in conn.execute(
                    select(*columns)
                    .where(
                        tickets.c.hall == hall,
                        tickets.c.state.in_([s.value for s in ACTIVE_STATES]),
                    )
                    .execution_options(yield_per=2000)
                )
            ]
            rated = select(rating_ledger.c.transaction_id).where(
                rating_ledger.c.hall == hall, rating_ledger.c.kind == EntryKind.RATING.value
            )
            open_ratings = conn.execute(
                select(transactions).where(
                    transactions.c.hall == hall, transactions.c.id.not_in(rated)
                )
            ).all()
            counters = conn.execute(
                select(tickets.c.service_date, tickets.c.issued_service, func.max(tickets.c.number))
                .where(tickets.c.hall == hall, tickets.c.service_date >= since)
                .group_by(tickets.c.service_date, tickets.c.issued_service)
            ).all()
            walk_ins = conn.execute(
                select(tickets.c.service_date, tickets.c.issued_service, func.count())
                .where(
                    tickets.c.hall == hall,
                    tickets.c.service_date >= since,
                    tickets.c.appointment_id.is_(None),
                )
                .group_by(tickets.c.service_date, tickets.c.issued_service)
            ).all()
            recent = conn.execute(
                select(calls)
                .where(calls.c.hall == hall)
                .order_by(calls.c.id.desc())
                .limit(recent_calls)
            ).all()
            latest = (
                select(func.max(window_events.c.id))
                .where(window_events.c.hall == hall)
                .group_by(window_events.c.window)
            )
            sessions = conn.execute(
                select(window_events).where(window_events.c.id.in_(latest))
            ).all()
            booked = conn.execute(
                select(appointments).where(
                    appointments.c.hall == hall,
                    or_(
                        and_(
                            appointments.c.state.in_(sorted(HOLDING)),
                            appointments.c.slot_start >= now - timedelta(days=1),
                        ),
                        # Missed bookings count against the person for the no-show rule.
                        and_(
                            appointments.c.state == "no_show",
                            appointments.c.slot_start >= now - NO_SHOW_MEMORY,
                        ),
                    ),
                )
            ).all()
            durations = conn.execute(
                select(
                    transactions.c.service_code,
                    transactions.c.started_at,
                    transactions.c.finished_at,
                )
                .where(
                    transactions.c.hall == hall,
                    transactions.c.finished_at >= now - timedelta(days=1),
                )
                .order_by(transactions.c.finished_at)
            ).all()
            head = conn.execute(
                select(rating_ledger.c.seq, rating_ledger.c.hash)
                .where(rating_ledger.c.hall == hall)
                .order_by(rating_ledger.c.seq.desc())
                .limit(1)
            ).first()
            answers = conn.execute(
                select(
                    processed_requests.c.requester,
                    processed_requests.c.request_id,
                    processed_requests.c.reply,
                    processed_requests.c.fingerprint,
                )
                .where(
                    processed_requests.c.hall == hall,
                    processed_requests.c.created_at >= now - timedelta(days=1),
                )
                .order_by(processed_requests.c.created_at)
            ).all()
        return LoadedState(
            tickets=active,
            awaiting=[_transaction_from(r) for r in open_ratings],
            counters={(r[0], r[1]): r[2] for r in counters},
            walk_ins={(r[0], r[1]): r[2] for r in walk_ins},
            recent_calls=[
                CallRecord(r.ticket_id, r.label, r.service_code, r.window, r.recalls, r.called_at)
                for r in recent
            ],
            window_events=[
                WindowEvent(
                    r.window,
                    r.event,
                    r.clerk_code,
                    PauseReason(r.reason) if r.reason else None,
                    r.at,
                )
                for r in sorted(sessions, key=lambda r: r.id)
            ],
            appointments=[
                Appointment(
                    id=r.id,
                    service_code=r.service_code,
                    slot_start=r.slot_start,
                    id_hash=r.id_hash,
                    contact=r.contact,
                    booked_at=r.booked_at,
                    state=r.state,
                    ticket_id=r.ticket_id,
                    code=r.code or booking_code(r.id),
                )
                for r in booked
            ],
            service_times=[
                (r.service_code, (r.finished_at - r.started_at).total_seconds()) for r in durations
            ],
            ledger_head=(head.seq, head.hash) if head else (0, GENESIS_HASH),
            processed=[ProcessedRequest(r[0], r[1], r[2], r[3] or "") for r in answers],
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
        hall = self.hall
        try:
            with conn.begin():
                self._check_fence(conn)
                new = [
                    _ticket_row(hall, t)
                    for t in changes.tickets.values()
                    if t.id in changes.new_ticket_ids
                ]
                if new:
                    _INSERT_TICKETS.run(conn, new)
                changed = [
                    _update_row(hall, t)
                    for t in changes.tickets.values()
                    if t.id not in changes.new_ticket_ids
                ]
                if changed:
                    _UPDATE_TICKET.run(conn, changed)
                for report in changes.print_reports:
                    conn.execute(
                        update(tickets)
                        .where(
                            tickets.c.hall == hall,
                            tickets.c.id == report.ticket_id,
                            tickets.c.print_state.is_(None),
                        )
                        .values(
                            print_state=report.state.value,
                            print_faults=",".join(report.faults) or None,
                        )
                    )
                if changes.transactions:
                    _INSERT_TRANSACTIONS.run(
                        conn,
                        [
                            {
                                "id": t.id,
                                "hall": hall,
                                "ticket_id": t.ticket_id,
                                "ticket_label": t.ticket_label,
                                "service_code": t.service_code,
                                "window": t.window,
                                "clerk_code": t.clerk_code,
                                "started_at": t.started_at,
                                "finished_at": t.finished_at,
                                "pad_deadline": t.pad_deadline,
                                "rating_deadline": t.rating_deadline,
                                "ended_by": t.ended_by,
                            }
                            for t in changes.transactions.values()
                        ],
                    )
                if changes.ledger:
                    _INSERT_LEDGER.run(conn, [_entry_row(e) for e, _ in changes.ledger])
                if changes.cases:
                    conn.execute(
                        _INSERT_CASES,
                        [
                            {
                                "id": c.id,
                                "hall": hall,
                                "transaction_id": c.transaction_id,
                                "outcome": c.outcome,
                                "reason": c.reason,
                                "opened_on": c.opened_on,
                                "contact_due": c.contact_due,
                                "fix_due": c.fix_due,
                                "complexity": c.complexity.value,
                                "callback_due": c.callback_due,
                                "state": c.state.value,
                            }
                            for c in changes.cases
                        ],
                    )
                self._write_appointments(conn, changes)
                if changes.calls:
                    _INSERT_CALLS.run(conn, [{"hall": hall, **vars(c)} for c in changes.calls])
                if changes.transfers:
                    conn.execute(
                        _INSERT_TRANSFERS,
                        [{"hall": hall, **vars(t)} for t in changes.transfers],
                    )
                for event in changes.window_events:
                    if event.event in ("login", "logout") and event.clerk_code:
                        # Every clerk's login and logout is in the audit log too.
                        detail = {"window": event.window}
                        action = f"clerk.{event.event}"
                        target = str(event.window)
                        insert_audit(conn, hall, event.at, event.clerk_code, action, target, detail)
                if changes.window_events:
                    conn.execute(
                        _INSERT_WINDOW_EVENTS,
                        [
                            {
                                "hall": hall,
                                "window": e.window,
                                "event": e.event,
                                "clerk_code": e.clerk_code,
                                "reason": e.reason.value if e.reason else None,
                                "at": e.at,
                            }
                            for e in changes.window_events
                        ],
                    )
                self._insert_answers(conn, answered, now)
                self._acknowledge(conn, list(published), now)
                ids: list[int] = []
                if messages:
                    ids = _INSERT_OUTBOX.run_returning(
                        conn,
                        [
                            {
                                "hall": hall,
                                "topic": m.topic,
                                "payload": m.payload,
                                "retain": m.retain,
                                "created_at": now,
                                "event_seq": m.event_seq,
                            }
                            for m in messages
                        ],
                    )
        except LeadershipLost:
            raise
        except Exception as err:
            raise StoreError(f"commit failed: {err}") from err
        return ids

    def _check_fence(self, conn: Connection) -> None:
        """Refuse the transaction if a standby has taken the hall over since we won it."""
        if self.fence_epoch is None:
            return
        # FOR SHARE: a takeover's epoch bump waits for this commit, never interleaves.
        current = conn.execute(
            select(scheduler_leases.c.epoch)
            .where(scheduler_leases.c.hall == self.hall)
            .with_for_update(read=True)
        ).scalar()
        if current != self.fence_epoch:
            raise LeadershipLost(
                f"hall {self.hall} is led by epoch {current}, this scheduler holds "
                f"{self.fence_epoch}"
            )

    def _insert_answers(
        self, conn: Connection, answered: Sequence[ProcessedRequest], now: datetime
    ) -> None:
        if answered:
            _INSERT_ANSWERS.run(
                conn,
                [
                    {
                        "hall": self.hall,
                        "requester": a.requester,
                        "request_id": a.request_id,
                        "reply": a.reply,
                        "fingerprint": a.fingerprint or None,
                        "created_at": now,
                    }
                    for a in answered
                ],
            )

    def _write_appointments(self, conn: Connection, changes: Changes) -> None:
        if not changes.appointments:
            return
        ids = list(changes.appointments)
        known = set(
            conn.execute(select(appointments.c.id).where(appointments.c.id.in_(ids))).scalars()
        )
        for appointment in changes.appointments.values():
            values = {
                "service_code": appointment.service_code,
                "slot_start": appointment.slot_start,
                "id_hash": appointment.id_hash,
                "contact": appointment.contact,
                "booked_at": appointment.booked_at,
                "state": appointment.state,
                "ticket_id": appointment.ticket_id,
                "code": appointment.code,
            }
            if appointment.id in known:
                conn.execute(
                    update(appointments).where(appointments.c.id == appointment.id).values(values)
                )
            else:
                conn.execute(
                    insert(appointments).values(id=appointment.id, hall=self.hall, **values)
                )

    def pending_outbox(self) -> list[OutboxRow]:
        """Outbox messages not yet acknowledged by the broker, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(outbox.c.id, outbox.c.topic, outbox.c.payload, outbox.c.retain)
                .where(outbox.c.hall == self.hall, outbox.c.acked_at.is_(None))
                .order_by(outbox.c.id)
            ).all()
        return [OutboxRow(r[0], r[1], bytes(r[2]), bool(r[3])) for r in rows]

    def delete_outbox(self, ids: Iterable[int], now: datetime) -> None:
        """Outbox rows the broker has acknowledged: forgotten, hall events kept for replays."""
        done = list(ids)
        if not done:
            return
        conn = self._writer()
        try:
            with conn.begin():
                self._acknowledge(conn, done, now)
        except Exception as err:
            raise StoreError(f"outbox cleanup failed: {err}") from err

    def _acknowledge(self, conn: Connection, ids: list[int], now: datetime) -> None:
        if not ids:
            return
        conn.execute(_DELETE_ACKED_COMMANDS, {"acked": ids})
        conn.execute(_MARK_ACKED_EVENTS, {"acked": ids, "acked_at": now})

    def last_event_seq(self) -> int:
        """The hall's newest event sequence number (0 before the first)."""
        with self.engine.connect() as conn:
            newest = conn.execute(
                select(func.max(outbox.c.event_seq)).where(outbox.c.hall == self.hall)
            ).scalar()
        return int(newest or 0)

    def kept_events(self, after_seq: int, limit: int) -> tuple[list[KeptEvent], int | None]:
        """Hall events after ``after_seq`` in order, and the oldest still kept."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(outbox.c.event_seq, outbox.c.topic, outbox.c.payload)
                .where(outbox.c.hall == self.hall, outbox.c.event_seq > after_seq)
                .order_by(outbox.c.event_seq)
                .limit(limit)
            ).all()
            oldest = conn.execute(
                select(func.min(outbox.c.event_seq)).where(
                    outbox.c.hall == self.hall, outbox.c.event_seq.is_not(None)
                )
            ).scalar()
        return [KeptEvent(r[0], r[1], bytes(r[2])) for r in rows], oldest

    def prune_events(self, before: datetime) -> int:
        """Forget hall events older than the retention window, sent or not.

        The newest event is always kept: its number is where the sequence goes on.
        """
        conn = self._writer()
        try:
            with conn.begin():
                newest = conn.execute(
                    select(func.max(outbox.c.event_seq)).where(outbox.c.hall == self.hall)
                ).scalar()
                if newest is None:
                    return 0
                gone = conn.execute(
                    delete(outbox).where(
                        outbox.c.hall == self.hall,
                        outbox.c.event_seq < newest,
                        outbox.c.created_at < before,
                    )
                )
        except Exception as err:
            raise StoreError(f"event pruning failed: {err}") from err
        return int(gone.rowcount or 0)

    # --- configuration versions ----------------------------------------------------------
    def config_in_force(self, from_file: HallConfig, now: datetime) -> tuple[int, HallConfig]:
        """The configuration to run: the newest dashboard version based on this hall file.

        A hall file that changed since (an integrator edited it) wins and becomes a new
        version, so neither the file nor the managers' changes are silently lost.
        """
        source_hash = config_hash(from_file)
        newest = self.newest_config()
        if newest is not None and newest[2] == source_hash:
            return newest[0], newest[1]
        version = self.save_config(from_file, author="hall file", source_hash=source_hash, now=now)
        return version, from_file

    def newest_config(self) -> tuple[int, HallConfig, str] | None:
        """The newest stored configuration: version, config and the hall file it builds on."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    config_versions.c.id, config_versions.c.config, config_versions.c.source_hash
                )
                .where(config_versions.c.hall == self.hall)
                .order_by(config_versions.c.id.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return row[0], HallConfig.model_validate_json(row[1]), row[2]

    def save_config(
        self,
        config: HallConfig,
        *,
        author: str,
        source_hash: str,
        now: datetime,
        answer: Callable[[int], ProcessedRequest] | None = None,
    ) -> int:
        """Store a configuration version (with the answer to the request that made it)."""
        conn = self._writer()
        try:
            with conn.begin():
                version = conn.execute(
                    insert(config_versions)
                    .values(
                        hall=self.hall,
                        created_at=now,
                        author=author,
                        source_hash=source_hash,
                        config=config.model_dump_json(),
                    )
                    .returning(config_versions.c.id)
                ).scalar_one()
                if answer is not None:
                    self._insert_answers(conn, [answer(int(version))], now)
        except Exception as err:
            raise StoreError(f"saving the configuration failed: {err}") from err
        return int(version)

    # --- the rating ledger ------------------------------------------------------------
    def ledger_entries(self, transaction_id: str | None = None) -> list[LedgerEntry]:
        """The hall's ledger in order, or one transaction's entries."""
        query = select(rating_ledger).where(rating_ledger.c.hall == self.hall)
        if transaction_id is not None:
            query = query.where(rating_ledger.c.transaction_id == transaction_id)
        with self.engine.connect() as conn:
            return [_entry_from(r) for r in conn.execute(query.order_by(rating_ledger.c.seq))]

    def verify_ledger(self) -> Breach | None:
        """The first entry where the hall's chain is broken, or None if it holds."""
        return verify_chain(self.ledger_entries())

    # --- clerk PINs ---------------------------------------------------------------------
    def clerk_pin(self, clerk_code: str) -> PinRecord | None:
        """A clerk's PIN hash and failed tries, if a PIN is set."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(clerk_pins).where(
                    clerk_pins.c.hall == self.hall, clerk_pins.c.clerk_code == clerk_code
                )
            ).first()
        if row is None:
            return None
        return PinRecord(row.clerk_code, row.pin_hash, row.failures, row.locked_until)

    def set_clerk_pin(self, clerk_code: str, pin_hash: str, actor: str, now: datetime) -> None:
        """Set (or replace) a clerk's PIN; failures and lockout start again. Audited."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(clerk_pins).where(
                    clerk_pins.c.hall == self.hall, clerk_pins.c.clerk_code == clerk_code
                )
            )
            conn.execute(
                insert(clerk_pins).values(
                    hall=self.hall,
                    clerk_code=clerk_code,
                    pin_hash=pin_hash,
                    failures=0,
                    locked_until=None,
                    set_at=now,
                )
            )
            insert_audit(conn, self.hall, now, actor, "clerk.pin_set", clerk_code, {})

    def record_pin_try(self, record: PinRecord, outcome: str, window: int, now: datetime) -> None:
        """Keep a PIN try's effect (failures, lockout) and put it in the audit log."""
        conn = self._writer()
        try:
            with conn.begin():
                conn.execute(
                    update(clerk_pins)
                    .where(
                        clerk_pins.c.hall == self.hall,
                        clerk_pins.c.clerk_code == record.clerk_code,
                    )
                    .values(failures=record.failures, locked_until=record.locked_until)
                )
                if outcome != "ok":  # a good PIN's login is audited with the login itself
                    detail = {"window": window, "outcome": outcome}
                    action = f"clerk.login_{outcome}"
                    insert_audit(
                        conn, self.hall, now, record.clerk_code, action, str(window), detail
                    )
        except Exception as err:
            raise StoreError(f"PIN try not recorded: {err}") from err

    def locked_clerks(self, now: datetime) -> list[tuple[str, datetime]]:
        """Clerks locked out by wrong PINs now, and until when (a dashboard alert)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(clerk_pins.c.clerk_code, clerk_pins.c.locked_until).where(
                    clerk_pins.c.hall == self.hall, clerk_pins.c.locked_until > now
                )
            ).all()
        return [(r[0], r[1]) for r in rows]

    # --- ledger checkpoints ---------------------------------------------------------------
    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Keep a signed head of the ledger."""
        conn = self._writer()
        try:
            with conn.begin():
                self._check_fence(conn)
                conn.execute(
                    insert(ledger_checkpoints).values(
                        hall=self.hall,
                        seq=checkpoint.seq,
                        hash=checkpoint.hash,
                        at=checkpoint.at,
                        signature=checkpoint.signature,
                    )
                )
        except LeadershipLost:
            raise
        except Exception as err:
            raise StoreError(f"checkpoint not saved: {err}") from err

    def checkpoints(self) -> list[Checkpoint]:
        """The hall's signed heads, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ledger_checkpoints)
                .where(ledger_checkpoints.c.hall == self.hall)
                .order_by(ledger_checkpoints.c.seq)
            ).all()
        return [Checkpoint(r.hall, r.seq, r.hash, r.at, r.signature) for r in rows]

    def last_checkpoint_seq(self) -> int:
        """The newest signed head's seq (0 before the first)."""
        with self.engine.connect() as conn:
            newest = conn.execute(
                select(func.max(ledger_checkpoints.c.seq)).where(
                    ledger_checkpoints.c.hall == self.hall
                )
            ).scalar()
        return int(newest or 0)

    # --- bad-rating cases -----------------------------------------------------------
    def cases(self, *, states: Iterable[CaseState] | None = None) -> list[BadRatingCase]:
        """The hall's bad-rating cases, oldest first."""
        query = select(rating_cases).where(rating_cases.c.hall == self.hall)
        if states is not None:
            query = query.where(rating_cases.c.state.in_([s.value for s in states]))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(rating_cases.c.opened_on, rating_cases.c.id))
            return [_case_from(r) for r in rows]

    def case_steps(self, case_id: str) -> list[tuple[CaseState, datetime, str, str | None]]:
        """Every recorded step of a case: state reached, when, by whom, note."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(case_steps.c.state, case_steps.c.at, case_steps.c.actor, case_steps.c.note)
                .where(case_steps.c.case_id == case_id)
                .order_by(case_steps.c.id)
            ).all()
        return [(CaseState(r[0]), r[1], r[2], r[3]) for r in rows]

    def callback_results(self, case_id: str) -> list[str]:
        """The results recorded at the case's callbacks."""
        with self.engine.connect() as conn:
            return [
                str(r)
                for r in conn.execute(
                    select(case_steps.c.result).where(
                        case_steps.c.case_id == case_id, case_steps.c.result.is_not(None)
                    )
                ).scalars()
            ]

    def advance_case(
        self,
        case_id: str,
        to: CaseState,
        *,
        actor: str,
        now: datetime,
        today: date,
        calendar: WorkCalendar,
        note: str | None = None,
        complexity: Complexity | None = None,
        result: CallbackResult | None = None,
    ) -> BadRatingCase:
        """Record the next step of a case; refused if someone else moved it meanwhile.

        The callback carries the citizen's view of the fix (``result``). Closing erases the
        callback number the citizen gave: it is kept only as long as the case needs it.
        """
        if to == CaseState.CALLED_BACK and result is None:
            raise CaseError("record what the citizen said of the fix (the callback's result)")
        if to == CaseState.ATTEMPT_FAILED:
            raise CaseError("a failed attempt is recorded with record_attempt")
        with self.engine.begin() as conn:
            row = conn.execute(
                select(rating_cases).where(
                    rating_cases.c.id == case_id, rating_cases.c.hall == self.hall
                )
            ).first()
            if row is None:
                raise StoreError(f"no case {case_id}")
            case = _case_from(row)
            before = case.state
            failed = _failed_attempts(conn, case_id)
            advance(case, to, today, calendar, complexity, failed_attempts=failed)
            moved = conn.execute(
                update(rating_cases)
                .where(rating_cases.c.id == case_id, rating_cases.c.state == before.value)
                .values(
                    state=case.state.value,
                    complexity=case.complexity.value,
                    fix_due=case.fix_due,
                    callback_due=case.callback_due,
                )
            ).rowcount
            if moved != 1:
                raise StoreError(f"case {case_id} changed meanwhile; reload it")
            conn.execute(
                insert(case_steps).values(
                    case_id=case_id,
                    state=case.state.value,
                    at=now,
                    actor=actor,
                    note=note,
                    result=result.value if result else None,
                )
            )
            if case.state == CaseState.CLOSED:
                conn.execute(delete(case_contacts).where(case_contacts.c.case_id == case_id))
        return case

    def record_attempt(self, case_id: str, *, actor: str, now: datetime, note: str) -> int:
        """A contact attempt that did not reach the citizen; returns how many so far."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(rating_cases.c.state).where(
                    rating_cases.c.id == case_id, rating_cases.c.hall == self.hall
                )
            ).first()
            if row is None:
                raise StoreError(f"no case {case_id}")
            if row.state == CaseState.CLOSED.value:
                raise CaseError("the case is closed")
            conn.execute(
                insert(case_steps).values(
                    case_id=case_id,
                    state=CaseState.ATTEMPT_FAILED.value,
                    at=now,
                    actor=actor,
                    note=note,
                )
            )
            return _failed_attempts(conn, case_id)

    def case_awaiting_contact_at(self, window: int) -> tuple[str, str] | None:
        """The newest case still awaiting first contact of a transaction served at ``window``.

        (case id, ticket label): what a clerk's "contacted at the desk" key applies to.
        """
        query = (
            select(rating_cases.c.id, transactions.c.ticket_label)
            .join(transactions, transactions.c.id == rating_cases.c.transaction_id)
            .where(
                rating_cases.c.hall == self.hall,
                rating_cases.c.state == CaseState.OPEN.value,
                transactions.c.window == window,
            )
            .order_by(transactions.c.finished_at.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return (str(row[0]), str(row[1])) if row else None

    def save_case_contact(
        self,
        transaction_id: str,
        sealed: str,
        masked: str,
        now: datetime,
        *,
        window: int | None = None,
    ) -> str | None:
        """Keep the sealed callback number of the case of ``transaction_id``; its case id.

        ``window``: only a case of a transaction served there (a pad speaks for its own).
        """
        query = select(rating_cases.c.id).where(
            rating_cases.c.hall == self.hall,
            rating_cases.c.transaction_id == transaction_id,
            rating_cases.c.state != CaseState.CLOSED.value,
        )
        if window is not None:
            served_there = select(transactions.c.id).where(transactions.c.window == window)
            query = query.where(rating_cases.c.transaction_id.in_(served_there))
        with self.engine.begin() as conn:
            case_id = conn.execute(query).scalar()
            if case_id is None:
                return None
            conn.execute(delete(case_contacts).where(case_contacts.c.case_id == case_id))
            conn.execute(
                insert(case_contacts).values(
                    case_id=case_id, hall=self.hall, sealed=sealed, masked=masked, given_at=now
                )
            )
        return str(case_id)

    def sealed_contacts(self) -> dict[str, tuple[str, str]]:
        """Case id -> (sealed number, masked number) of the hall's open cases."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    case_contacts.c.case_id, case_contacts.c.sealed, case_contacts.c.masked
                ).where(case_contacts.c.hall == self.hall)
            ).all()
        return {r[0]: (r[1], r[2]) for r in rows}

    # --- read-only queries (demo summary, tests, reports) ----------------------------
    def summarise_days(
        self, through: date, now: datetime, *, lookback_days: int = 14
    ) -> list[date]:
        """Write the summary of every ended service day up to ``through`` that lacks one.

        Called once a day's last transactions have their rating records; a day missed while
        the scheduler was down is written at its next start (within ``lookback_days``).
        """
        hall = self.hall
        since = through - timedelta(days=lookback_days)
        bad = [level.value for level in RatingLevel if level.is_bad]
        conn = self._writer()
        written: list[date] = []
        try:
            with conn.begin():
                done = select(day_summaries.c.service_date).where(day_summaries.c.hall == hall)
                days = conn.execute(
                    select(tickets.c.service_date)
                    .where(
                        tickets.c.hall == hall,
                        tickets.c.service_date > since,
                        tickets.c.service_date <= through,
                        tickets.c.service_date.not_in(done),
                    )
                    .distinct()
                ).scalars()
                for day in sorted(days):
                    states: dict[str, int] = dict(
                        conn.execute(  # type: ignore[arg-type]
                            select(tickets.c.state, func.count())
                            .where(tickets.c.hall == hall, tickets.c.service_date == day)
                            .group_by(tickets.c.state)
                        ).all()
                    )
                    of_day = select(tickets.c.id).where(
                        tickets.c.hall == hall, tickets.c.service_date == day
                    )
                    served = select(transactions.c.id).where(transactions.c.ticket_id.in_(of_day))
                    outcomes: dict[str, int] = dict(
                        conn.execute(  # type: ignore[arg-type]
                            select(rating_ledger.c.outcome, func.count())
                            .where(
                                rating_ledger.c.kind == EntryKind.RATING.value,
                                rating_ledger.c.transaction_id.in_(served),
                            )
                            .group_by(rating_ledger.c.outcome)
                        ).all()
                    )
                    count = conn.execute(
                        select(func.count()).select_from(served.subquery())
                    ).scalar_one()
                    unrated = outcomes.get("unrated", 0)
                    conn.execute(
                        insert(day_summaries).values(
                            hall=hall,
                            service_date=day,
                            issued=sum(states.values()),
                            served=states.get(TicketState.DONE.value, 0),
                            expired=states.get(TicketState.EXPIRED.value, 0),
                            no_show=states.get(TicketState.NO_SHOW.value, 0),
                            cancelled=states.get(TicketState.CANCELLED.value, 0),
                            transactions=count,
                            rated=sum(outcomes.values()) - unrated,
                            unrated=unrated,
                            bad=sum(n for outcome, n in outcomes.items() if outcome in bad),
                            written_at=now,
                        )
                    )
                    written.append(day)
        except Exception as err:
            raise StoreError(f"day summaries failed: {err}") from err
        return written

    def day_summaries(self) -> list[dict[str, Any]]:
        """Every stored day summary of the hall, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(day_summaries)
                .where(day_summaries.c.hall == self.hall)
                .order_by(day_summaries.c.service_date)
            ).all()
        return [dict(row._mapping) for row in rows]

    def has_ticket(self, ticket_id: str) -> bool:
        """Whether this hall ever issued the ticket (any state, any day)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(tickets.c.id).where(tickets.c.hall == self.hall, tickets.c.id == ticket_id)
            ).first()
        return found is not None

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
                select(rating_ledger.c.outcome, func.count())
                .where(
                    rating_ledger.c.hall == self.hall,
                    rating_ledger.c.kind == EntryKind.RATING.value,
                )
                .group_by(rating_ledger.c.outcome)
            ).all()
        return {r[0]: r[1] for r in rows}

    def ticket_ids(self) -> set[str]:
        """Every ticket id of the hall."""
        with self.engine.connect() as conn:
            return set(
                conn.execute(select(tickets.c.id).where(tickets.c.hall == self.hall)).scalars()
            )

    def unrated_transactions(self) -> int:
        """Finished transactions that have no rating record yet (a level or ``unrated``)."""
        rated = select(rating_ledger.c.transaction_id).where(
            rating_ledger.c.hall == self.hall, rating_ledger.c.kind == EntryKind.RATING.value
        )
        with self.engine.connect() as conn:
            count = conn.execute(
                select(func.count())
                .select_from(transactions)
                .where(transactions.c.hall == self.hall, transactions.c.id.not_in(rated))
            ).scalar_one()
        return int(count)

    def transaction_count(self) -> int:
        """Finished transactions of the hall."""
        with self.engine.connect() as conn:
            count = conn.execute(
                select(func.count())
                .select_from(transactions)
                .where(transactions.c.hall == self.hall)
            ).scalar_one()
        return int(count)
