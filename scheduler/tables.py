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
    Column("service_code", String(16), nullable=False),
    Column("number", Integer, nullable=False),
    Column("label", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("window", Integer),
    Column("called_at", UtcDateTime),
    Column("recalls", Integer, nullable=False, default=0),
    Column("serving_since", UtcDateTime),
    Column("finished_at", UtcDateTime),
    # The guard behind atomic numbering: a number is issued once per service and day.
    UniqueConstraint("hall", "service_date", "service_code", "number", name="uq_ticket_number"),
)
Index("ix_tickets_active", tickets.c.hall, tickets.c.state)

transactions = Table(
    "transactions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("hall", String(64), nullable=False),
    Column("ticket_id", String(64), ForeignKey("tickets.id"), nullable=False),
    Column("ticket_label", String(16), nullable=False),
    Column("window", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("rating_deadline", UtcDateTime, nullable=False),
)

# Append-only and hash-chained: each row's hash covers the previous row's hash.
ratings = Table(
    "ratings",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("hall", String(64), nullable=False),
    Column("transaction_id", String(64), ForeignKey("transactions.id"), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("source", String(16), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # Exactly one rating record per transaction.
    UniqueConstraint("transaction_id", name="uq_rating_transaction"),
)

processed_requests = Table(
    "processed_requests",
    metadata,
    Column("hall", String(64), primary_key=True),
    Column("requester", String(64), primary_key=True),
    Column("request_id", String(64), primary_key=True),
    Column("reply", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
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
)
