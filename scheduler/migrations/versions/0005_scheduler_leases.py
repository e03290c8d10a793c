"""Hot standby: the lease epoch of each hall's active scheduler.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from scheduler.tables import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the lease table."""
    op.create_table(
        "scheduler_leases",
        sa.Column("hall", sa.String(64), primary_key=True),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("since", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("scheduler_leases")
