"""Hall events kept for replays: their sequence number, and when the broker took them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from scheduler.tables import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Number hall events; rows the broker acknowledged stay for the retention window."""
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("event_seq", sa.Integer))
        batch.add_column(sa.Column("acked_at", UtcDateTime))
    op.create_index("ix_outbox_events", "outbox", ["hall", "event_seq"])


def downgrade() -> None:
    """Drop the numbering."""
    op.drop_index("ix_outbox_events", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("acked_at")
        batch.drop_column("event_seq")
