"""Online booking: every appointment's booking code, looked up by hall and code, and
the sealed phone numbers for reminders.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from scheduler.booking import booking_code
from scheduler.tables import UtcDateTime

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
    op.create_table(
        "appointment_contacts",
        sa.Column(
            "appointment_id", sa.String(64), sa.ForeignKey("appointments.id"), primary_key=True
        ),
        sa.Column("hall", sa.String(64), nullable=False),
        sa.Column("sealed", sa.Text, nullable=False),
        sa.Column("masked", sa.String(16), nullable=False),
        sa.Column("slot_start", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    """Drop the contacts, the index and the column."""
    op.drop_table("appointment_contacts")
    op.drop_index("ix_appointments_code", "appointments")
    op.drop_column("appointments", "code")
