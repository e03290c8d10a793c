"""Database schema of the scheduler (SQLAlchemy Core); Alembic migrations mirror it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """Store as naive UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


metadata = MetaData()

tickets = Table(
    "tickets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("hall", String(64), nullable=False),
    Column("service_date", Date, nullable=False),
    Column("issued_service", String(16), nullable=False),
    Column("service_code", String(16), nullable=False),  # differs after a transfer
    Column("number", Integer, nullable=False),
    Column("label", String(16), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("queued_at", UtcDateTime, nullable=False),
    Column("target_window", Integer),
    Column("window", Integer),
    Column("called_at", UtcDateTime),
    Column("first_called_at", UtcDateTime),
    Column("recalls", Integer, nullable=False, default=0),
    Column("serving_since", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("transfers", Integer, nullable=False, default=0),
    Column("predicted_wait_s", Integer),
    Column("appointment_id", String(64)),
    Column("print_state", String(16)),  # printed / failed, as the kiosk reported
    Column("print_faults", String(200)),  # comma-separated printer faults of a failed print
    # The guard behind atomic numbering: a number is issued once per service and day.
    UniqueConstraint("hall", "service_date", "issued_service", "number", name="uq_ticket_number"),
)
Index("ix_tickets_active", tickets.c.hall, tickets.c.state)
Index("ix_tickets_day", tickets.c.hall, tickets.c.service_date)

transactions = Table(
    "transactions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("hall", String(64), nullable=False),
    Column("ticket_id", String(64), ForeignKey("tickets.id"), nullable=False),
    Column("ticket_label", String(16), nullable=False),
    Column("service_code", String(16), nullable=False),
    Column("window", Integer, nullable=False),
    Column("clerk_code", String(32)),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("pad_deadline", UtcDateTime, nullable=False),
    Column("rating_deadline", UtcDateTime, nullable=False),
    Column("ended_by", String(16), nullable=False),
)
Index("ix_transactions_finished", transactions.c.hall, transactions.c.finished_at)

# Append-only and hash-chained (scheduler/ledger.py). The scheduler numbers the entries
# itself; the unique keys make one rating (and one review) per transaction, and a fork
# of the chain, impossible even for a second writer.
rating_ledger = Table(
    "rating_ledger",
    metadata,
    Column("hall", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("transaction_id", String(64), ForeignKey("transactions.id"), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("source", String(16), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("service_code", String(16), nullable=False),
    Column("window", Integer, nullable=False),
    Column("clerk_code", String(32)),
    Column("reason", Text),
    Column("note", Text),
    Column("reviewer", String(64)),
    Column("approver", String(64)),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("unique_key", String(96), nullable=False),
    UniqueConstraint("hall", "unique_key", name="uq_ledger_once"),
    UniqueConstraint("hall", "prev_hash", name="uq_ledger_no_fork"),
)
Index("ix_ledger_transaction", rating_ledger.c.hall, rating_ledger.c.transaction_id)

rating_cases = Table(
    "rating_cases",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("hall", String(64), nullable=False),
    Column("transaction_id", String(64), ForeignKey("transactions.id"), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("contact_due", Date, nullable=False),
    Column("fix_due", Date, nullable=False),
    Column("complexity", String(16), nullable=False),
    Column("callback_due", Date),
    Column("state", String(16), nullable=False),
    UniqueConstraint("transaction_id", name="uq_case_transaction"),
)
Index("ix_cases_state", rating_cases.c.hall, rating_cases.c.state)

case_steps = Table(
    "case_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(64), ForeignKey("rating_cases.id"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("note", Text),
    Column("result", String(16)),  # the callback's result (satisfied / unsatisfied)
)

# How to reach the citizen of a bad rating for the callback: the phone number they gave,
# encrypted with the dashboard's contact key (never in clear) and deleted at closing.
case_contacts = Table(
    "case_contacts",
    metadata,
    Column("case_id", String(64), ForeignKey("rating_cases.id"), primary_key=True),
    Column("hall", String(64), nullable=False),
    Column("sealed", Text, nullable=False),  # Fernet token of the number
    Column("masked", String(16), nullable=False),  # 138****1234
    Column("given_at", UtcDateTime, nullable=False),
)

appointments = Table(
    "appointments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("hall", String(64), nullable=False),
    Column("service_code", String(16), nullable=False),
    Column("slot_start", UtcDateTime, nullable=False),
    Column("id_hash", String(64), nullable=False),  # keyed hash, never the ID number
    Column("contact", String(64), nullable=False),
    Column("booked_at", UtcDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("ticket_id", String(64)),
    Column("code", String(16)),  # the booking code citizens type (scheduler.booking)
)
Index("ix_appointments_slot", appointments.c.hall, appointments.c.slot_start)
Index("ix_appointments_code", appointments.c.hall, appointments.c.code)

# A booking's phone number for reminders, sealed like callback numbers; the scheduler
# never sees it. Deleted with the booking's day (booking_ops.forget_old_contacts).
appointment_contacts = Table(
    "appointment_contacts",
    metadata,
    Column("appointment_id", String(64), ForeignKey("appointments.id"), primary_key=True),
    Column("hall", String(64), nullable=False),
    Column("sealed", Text, nullable=False),  # Fernet token of the number
    Column("masked", String(16), nullable=False),
    Column("slot_start", UtcDateTime, nullable=False),  # forgotten after this day
)

transfers = Table(
    "transfers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hall", String(64), nullable=False),
    Column("ticket_id", String(64), ForeignKey("tickets.id"), nullable=False),
    Column("from_service", String(16), nullable=False),
    Column("to_service", String(16), nullable=False),
    Column("from_window", Integer, nullable=False),
    Column("to_window", Integer),
    Column("at", UtcDateTime, nullable=False),
)

window_events = Table(
    "window_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hall", String(64), nullable=False),
    Column("window", Integer, nullable=False),
    Column("event", String(16), nullable=False),  # login, logout, pause, resume
    Column("clerk_code", String(32)),
    Column("reason", String(16)),
    Column("at", UtcDateTime, nullable=False),
)
Index("ix_window_events", window_events.c.hall, window_events.c.window)

processed_requests = Table(
    "processed_requests",
    metadata,
    Column("hall", String(64), primary_key=True),
    Column("requester", String(64), primary_key=True),
    Column("request_id", String(64), primary_key=True),
    Column("reply", Text, nullable=False),
    Column("fingerprint", String(32)),  # what was asked; a reused id with another is refused
    Column("created_at", UtcDateTime, nullable=False),
)

# Every call as it was made (the ticket row keeps only its current window): the hall
# board's recent calls are rebuilt from here after a restart.
calls = Table(
    "calls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hall", String(64), nullable=False),
    Column("ticket_id", String(64), nullable=False),
    Column("label", String(16), nullable=False),
    Column("service_code", String(16), nullable=False),
    Column("window", Integer, nullable=False),
    Column("recalls", Integer, nullable=False),
    Column("called_at", UtcDateTime, nullable=False),
)
Index("ix_calls", calls.c.hall, calls.c.id)

# How far each upstream platform has acknowledged the hall's records (scheduler/export.py).
export_cursors = Table(
    "export_cursors",
    metadata,
    Column("hall", String(64), primary_key=True),
    Column("target", String(32), primary_key=True),
    Column("ratings_seq", Integer, nullable=False),  # ledger entries up to here are taken
    Column("case_step_id", Integer, nullable=False),  # case steps up to here are taken
    Column("updated_at", UtcDateTime, nullable=False),
    Column("last_error", String(200)),
)

# Bad-rating cases the responsible department was told of (scheduler/export.py).
case_notices = Table(
    "case_notices",
    metadata,
    Column("case_id", String(64), ForeignKey("rating_cases.id"), primary_key=True),
    Column("hall", String(64), nullable=False),
    Column("department", String(64), nullable=False),
    Column("sent_at", UtcDateTime, nullable=False),
)

# Clerks' PINs (argon2 hashes only) and failed tries (scheduler/clerk_pins.py).
clerk_pins = Table(
    "clerk_pins",
    metadata,
    Column("hall", String(64), primary_key=True),
    Column("clerk_code", String(32), primary_key=True),
    Column("pin_hash", String(200), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("locked_until", UtcDateTime),
    Column("set_at", UtcDateTime, nullable=False),
)

# Signed heads of the rating ledger (scheduler/checkpoints.py); witnesses outside the
# database keep copies, so rewriting these rows along with the ledger still shows.
ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("hall", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("signature", String(128), nullable=False),
)

# One row per hall and service day, written once the day has ended and its last
# transactions have their rating records: what reports read for past days.
day_summaries = Table(
    "day_summaries",
    metadata,
    Column("hall", String(64), primary_key=True),
    Column("service_date", Date, primary_key=True),
    Column("issued", Integer, nullable=False),
    Column("served", Integer, nullable=False),
    Column("expired", Integer, nullable=False),
    Column("no_show", Integer, nullable=False),
    Column("cancelled", Integer, nullable=False),
    Column("transactions", Integer, nullable=False),
    Column("rated", Integer, nullable=False),  # a level given (pad or QR page)
    Column("unrated", Integer, nullable=False),
    Column("bad", Integer, nullable=False),
    Column("written_at", UtcDateTime, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hall", String(64), nullable=False),
    Column("topic", String(255), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("retain", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # Hall events that consumers must not miss carry the hall's sequence number; their
    # rows stay after the broker's PUBACK (acked_at) for the retention window, so a
    # consumer that saw a gap gets them replayed. Other rows go at PUBACK.
    Column("event_seq", Integer),
    Column("acked_at", UtcDateTime),
)
Index("ix_outbox_events", outbox.c.hall, outbox.c.event_seq)

# Every configuration the scheduler ran with, newest last: the hall file it started from
# (source_hash is that file's SHA-256) and each change a manager made on the dashboard.
config_versions = Table(
    "config_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hall", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("author", String(64), nullable=False),
    Column("source_hash", String(64), nullable=False),
    Column("config", Text, nullable=False),  # the whole HallConfig as JSON
)
Index("ix_config_versions", config_versions.c.hall, config_versions.c.id)

# One row per hall on PostgreSQL: the epoch of the scheduler that holds the hall's lock.
# Every command commit re-reads it, so a deposed scheduler can commit nothing (leader.py).
scheduler_leases = Table(
    "scheduler_leases",
    metadata,
    Column("hall", String(64), primary_key=True),
    Column("epoch", Integer, nullable=False),
    Column("holder", String(128), nullable=False),
    Column("since", UtcDateTime, nullable=False),
)

# --- the manager dashboard (scheduler/web) ------------------------------------------

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(64), nullable=False),
    Column("password_hash", String(200), nullable=False),  # argon2id
    Column("role", String(16), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
)

# Only a hash of the session token is stored: a copied database opens no session.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hall", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(128), nullable=False),
    Column("detail", Text),  # JSON
)
Index("ix_audit_log", audit_log.c.hall, audit_log.c.at)

# "Not adopted" needs two managers: one proposes, another approves; only then does the
# scheduler append the review to the ledger. Proposals are kept whatever their outcome.
review_proposals = Table(
    "review_proposals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("hall", String(64), nullable=False),
    Column("transaction_id", String(64), ForeignKey("transactions.id"), nullable=False),
    Column("reason", Text, nullable=False),
    Column("proposed_by", String(64), nullable=False),
    Column("proposed_at", UtcDateTime, nullable=False),
    Column("state", String(16), nullable=False),  # proposed, approved, rejected
    Column("decided_by", String(64)),
    Column("decided_at", UtcDateTime),
    Column("ledger_seq", Integer),
)
Index("ix_review_proposals", review_proposals.c.hall, review_proposals.c.state)
