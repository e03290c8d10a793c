"""Clerk PINs: argon2 hashes and failed tries.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from scheduler.tables import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the PIN table."""
    op.create_table(
        "clerk_pins",
        sa.Column("hall", sa.String(64), primary_key=True),
        sa.Column("clerk_code", sa.String(32), primary_key=True),
        sa.Column("pin_hash", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", UtcDateTime),
        sa.Column("set_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("clerk_pins")
