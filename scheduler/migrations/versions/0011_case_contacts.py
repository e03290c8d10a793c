"""Cases that reach the citizen: sealed callback numbers and callback results.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from scheduler.tables import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """A result on case steps; the contacts table."""
    with op.batch_alter_table("case_steps") as batch:
        batch.add_column(sa.Column("result", sa.String(16)))
    op.create_table(
        "case_contacts",
        sa.Column("case_id", sa.String(64), sa.ForeignKey("rating_cases.id"), primary_key=True),
        sa.Column("hall", sa.String(64), nullable=False),
        sa.Column("sealed", sa.Text, nullable=False),
        sa.Column("masked", sa.String(16), nullable=False),
        sa.Column("given_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("case_contacts")
    with op.batch_alter_table("case_steps") as batch:
        batch.drop_column("result")
