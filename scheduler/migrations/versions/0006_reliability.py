"""Reliability: the call log, and what each answered request asked.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from scheduler.tables import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the call log (seeded from tickets that still name their window); fingerprints."""
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("hall", sa.String(64), nullable=False),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("service_code", sa.String(16), nullable=False),
        sa.Column("window", sa.Integer, nullable=False),
        sa.Column("recalls", sa.Integer, nullable=False),
        sa.Column("called_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_calls", "calls", ["hall", "id"])
    # Tickets postponed or transferred before this revision lost their window: their
    # calls cannot be recovered and are left out (the old load broke on them).
    op.execute(
        'INSERT INTO calls (hall, ticket_id, label, service_code, "window", recalls, called_at)'
        ' SELECT hall, id, label, service_code, "window", recalls, called_at FROM tickets'
        ' WHERE called_at IS NOT NULL AND "window" IS NOT NULL ORDER BY called_at'
    )

    # Answers kept for retries also keep a fingerprint of the request they answered.
    with op.batch_alter_table("processed_requests") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(32)))


def downgrade() -> None:
    """Drop the log and the fingerprints."""
    with op.batch_alter_table("processed_requests") as batch:
        batch.drop_column("fingerprint")
    op.drop_index("ix_calls", "calls")
    op.drop_table("calls")
