"""Scheduler in depth: priorities, transfers, clerks, appointments, ledger v2, cases.

The spine's ``ratings`` table becomes ``rating_ledger``: every field is hashed, entries
are numbered per hall, and reviews are entries of their own. Existing ratings are
carried over in their order and chained anew (the old chain covered fewer fields).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from scheduler.ledger import EntryKind, LedgerEntry, RatingLedger
from scheduler.tables import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Widen tickets and transactions, replace the ratings table, add the new tables."""
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("issued_service", sa.String(16)))
        batch.add_column(sa.Column("priority", sa.String(16), server_default="normal"))
        batch.add_column(sa.Column("queued_at", UtcDateTime))
        batch.add_column(sa.Column("target_window", sa.Integer))
        batch.add_column(sa.Column("first_called_at", UtcDateTime))
        batch.add_column(sa.Column("transfers", sa.Integer, server_default="0"))
        batch.add_column(sa.Column("predicted_wait_s", sa.Integer))
        batch.add_column(sa.Column("appointment_id", sa.String(64)))
    op.execute(
        "UPDATE tickets SET issued_service = service_code, queued_at = issued_at,"
        " first_called_at = called_at"
    )
    with op.batch_alter_table("tickets") as batch:
        batch.alter_column("issued_service", nullable=False)
        batch.alter_column("priority", nullable=False)
        batch.alter_column("queued_at", nullable=False)
        batch.alter_column("transfers", nullable=False)
        batch.drop_constraint("uq_ticket_number", type_="unique")
        batch.create_unique_constraint(
            "uq_ticket_number", ["hall", "service_date", "issued_service", "number"]
        )
    op.create_index("ix_tickets_day", "tickets", ["hall", "service_date"])

    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("service_code", sa.String(16)))
        batch.add_column(sa.Column("clerk_code", sa.String(32)))
        batch.add_column(sa.Column("pad_deadline", UtcDateTime))
        batch.add_column(sa.Column("ended_by", sa.String(16), server_default="finish"))
    op.execute(
        "UPDATE transactions SET pad_deadline = rating_deadline, service_code ="
        " (SELECT t.service_code FROM tickets t WHERE t.id = transactions.ticket_id)"
    )
    with op.batch_alter_table("transactions") as batch:
        batch.alter_column("service_code", nullable=False)
        batch.alter_column("pad_deadline", nullable=False)
        batch.alter_column("ended_by", nullable=False)
    op.create_index("ix_transactions_finished", "transactions", ["hall", "finished_at"])

    ledger = op.create_table(
        "rating_ledger",
        sa.Column("hall", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column(
            "transaction_id", sa.String(64), sa.ForeignKey("transactions.id"), nullable=False
        ),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        sa.Column("service_code", sa.String(16), nullable=False),
        sa.Column("window", sa.Integer, nullable=False),
        sa.Column("clerk_code", sa.String(32)),
        sa.Column("reason", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("reviewer", sa.String(64)),
        sa.Column("approver", sa.String(64)),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("unique_key", sa.String(96), nullable=False),
        sa.UniqueConstraint("hall", "unique_key", name="uq_ledger_once"),
        sa.UniqueConstraint("hall", "prev_hash", name="uq_ledger_no_fork"),
    )
    op.create_index("ix_ledger_transaction", "rating_ledger", ["hall", "transaction_id"])
    _carry_over_ratings(ledger)
    op.drop_table("ratings")

    op.create_table(
        "rating_cases",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("hall", sa.String(64), nullable=False),
        sa.Column(
            "transaction_id", sa.String(64), sa.ForeignKey("transactions.id"), nullable=False
        ),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("opened_on", sa.Date, nullable=False),
        sa.Column("contact_due", sa.Date, nullable=False),
        sa.Column("fix_due", sa.Date, nullable=False),
        sa.Column("complexity", sa.String(16), nullable=False),
        sa.Column("callback_due", sa.Date),
        sa.Column("state", sa.String(16), nullable=False),
        sa.UniqueConstraint("transaction_id", name="uq_case_transaction"),
    )
    op.create_index("ix_cases_state", "rating_cases", ["hall", "state"])
    op.create_table(
        "case_steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), sa.ForeignKey("rating_cases.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("note", sa.Text),
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("hall", sa.String(64), nullable=False),
        sa.Column("service_code", sa.String(16), nullable=False),
        sa.Column("slot_start", UtcDateTime, nullable=False),
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("contact", sa.String(64), nullable=False),
        sa.Column("booked_at", UtcDateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("ticket_id", sa.String(64)),
    )
    op.create_index("ix_appointments_slot", "appointments", ["hall", "slot_start"])
    op.create_table(
        "transfers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("hall", sa.String(64), nullable=False),
        sa.Column("ticket_id", sa.String(64), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("from_service", sa.String(16), nullable=False),
        sa.Column("to_service", sa.String(16), nullable=False),
        sa.Column("from_window", sa.Integer, nullable=False),
        sa.Column("to_window", sa.Integer),
        sa.Column("at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "window_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("hall", sa.String(64), nullable=False),
        sa.Column("window", sa.Integer, nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("clerk_code", sa.String(32)),
        sa.Column("reason", sa.String(16)),
        sa.Column("at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_window_events", "window_events", ["hall", "window"])


def _carry_over_ratings(ledger: sa.Table) -> None:
    rows = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT r.hall, r.transaction_id, r.outcome, r.source, r.recorded_at,"
                ' t.service_code, t."window" FROM ratings r'
                " JOIN transactions t ON t.id = r.transaction_id ORDER BY r.hall, r.seq"
            ).columns(recorded_at=UtcDateTime)
        )
        .all()
    )
    chains: dict[str, RatingLedger] = {}
    for row in rows:
        chain = chains.setdefault(row.hall, RatingLedger(row.hall))
        entry = chain.append(
            LedgerEntry(
                seq=0,
                hall=row.hall,
                kind=EntryKind.RATING,
                transaction_id=row.transaction_id,
                outcome=row.outcome,
                source=row.source,
                recorded_at=row.recorded_at,
                service_code=row.service_code,
                window=row.window,
            )
        )
        values = {k: v for k, v in vars(entry).items() if k != "kind"}
        op.bulk_insert(
            ledger, [{**values, "kind": entry.kind.value, "unique_key": entry.unique_key}]
        )


def downgrade() -> None:
    """Not supported: the old ratings chain cannot be rebuilt from the new one."""
    raise NotImplementedError("downgrading below 0002 would lose the rating ledger")
