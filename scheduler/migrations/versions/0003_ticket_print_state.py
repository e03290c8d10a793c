"""Kiosk print reports: whether each ticket came out of the printer.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the print state and faults of a ticket; older tickets stay unknown (NULL)."""
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("print_state", sa.String(16)))
        batch.add_column(sa.Column("print_faults", sa.String(200)))


def downgrade() -> None:
    """Drop the print columns."""
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("print_faults")
        batch.drop_column("print_state")
