"""Per-day summaries of each hall, written when a service day has ended.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from scheduler.tables import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the summaries table."""
    op.create_table(
        "day_summaries",
        sa.Column("hall", sa.String(64), primary_key=True),
        sa.Column("service_date", sa.Date, primary_key=True),
        sa.Column("issued", sa.Integer, nullable=False),
        sa.Column("served", sa.Integer, nullable=False),
        sa.Column("expired", sa.Integer, nullable=False),
        sa.Column("no_show", sa.Integer, nullable=False),
        sa.Column("cancelled", sa.Integer, nullable=False),
        sa.Column("transactions", sa.Integer, nullable=False),
        sa.Column("rated", sa.Integer, nullable=False),
        sa.Column("unrated", sa.Integer, nullable=False),
        sa.Column("bad", sa.Integer, nullable=False),
        sa.Column("written_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("day_summaries")
