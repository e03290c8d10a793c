"""Initial schema: tickets, transactions, rating ledger, processed requests, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from scheduler.tables import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the spine's tables."""
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("hall", sa.String(64), nullable=False),
        sa.Column("service_date", sa.Date, nullable=False),
        sa.Column("service_code", sa.String(16), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("issued_at", UtcDateTime, nullable=False),
        sa.Column("issued_by", sa.String(64), nullable=False),
        sa.Column("window", sa.Integer),
        sa.Column("called_at", UtcDateTime),
        sa.Column("recalls", sa.Integer, nullable=False),
        sa.Column("serving_since", UtcDateTime),
        sa.Column("finished_at", UtcDateTime),
        sa.UniqueConstraint(
            "hall", "service_date", "service_code", "number", name="uq_ticket_number"
        ),
    )
    op.create_index("ix_tickets_active", "tickets", ["hall", "state"])
    op.create_table(
        "transactions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("hall", sa.String(64), nullable=False),
        sa.Column("ticket_id", sa.String(64), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("ticket_label", sa.String(16), nullable=False),
        sa.Column("window", sa.Integer, nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime, nullable=False),
        sa.Column("rating_deadline", UtcDateTime, nullable=False),
    )
    op.create_table(
        "ratings",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("hall", sa.String(64), nullable=False),
        sa.Column(
            "transaction_id", sa.String(64), sa.ForeignKey("transactions.id"), nullable=False
        ),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("transaction_id", name="uq_rating_transaction"),
    )
    op.create_table(
        "processed_requests",
        sa.Column("hall", sa.String(64), primary_key=True),
        sa.Column("requester", sa.String(64), primary_key=True),
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("reply", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("hall", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("retain", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    """Drop everything."""
    for table in ("outbox", "processed_requests", "ratings", "transactions", "tickets"):
        op.drop_table(table)
