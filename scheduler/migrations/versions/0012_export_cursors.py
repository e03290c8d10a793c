"""The upstream export's cursors, and same-day notices to departments.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from scheduler.tables import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the cursors and case notices tables."""
    op.create_table(
        "case_notices",
        sa.Column("case_id", sa.String(64), sa.ForeignKey("rating_cases.id"), primary_key=True),
        sa.Column("hall", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("sent_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "export_cursors",
        sa.Column("hall", sa.String(64), primary_key=True),
        sa.Column("target", sa.String(32), primary_key=True),
        sa.Column("ratings_seq", sa.Integer, nullable=False),
        sa.Column("case_step_id", sa.Integer, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("last_error", sa.String(200)),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("export_cursors")
    op.drop_table("case_notices")
