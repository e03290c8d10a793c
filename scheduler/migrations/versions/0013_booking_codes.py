"""Online booking: every appointment's booking code, looked up by hall and code.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from scheduler.booking import booking_code

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the code column, fill it for appointments booked before, index it."""
    op.add_column("appointments", sa.Column("code", sa.String(16)))
    table = sa.table("appointments", sa.column("id", sa.String), sa.column("code", sa.String))
    conn = op.get_bind()
    for (appointment_id,) in conn.execute(sa.select(table.c.id)).all():
        conn.execute(
            table.update()
            .where(table.c.id == appointment_id)
            .values(code=booking_code(appointment_id))
        )
    op.create_index("ix_appointments_code", "appointments", ["hall", "code"])


def downgrade() -> None:
    """Drop the index and the column."""
    op.drop_index("ix_appointments_code", "appointments")
    op.drop_column("appointments", "code")
