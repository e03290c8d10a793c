"""Domain objects as the bus shows them: tickets, transactions, clerks and windows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hallbus.hall_file import ClerkConfig
from hallbus.messages import AppointmentView, ClerkView, TicketView, TransactionView, WindowView
from scheduler.domain import Appointment, Ticket, Transaction, Window


def appointment_view(appointment: Appointment) -> AppointmentView:
    """A booking as the portal shows it (never its ID hash or contact)."""
    return AppointmentView(
        appointment_id=appointment.id,
        service_code=appointment.service_code,
        slot_start=appointment.slot_start,
        code=appointment.code,
        state=appointment.state,
    )


def ticket_view(ticket: Ticket) -> TicketView:
    """A domain ticket as the bus shows it."""
    return TicketView(**ticket_fields(ticket))


def ticket_fields(ticket: Ticket) -> dict[str, Any]:
    """The fields of a ticket's view, for the views that extend it (the issued ticket)."""
    return dict(
        ticket_id=ticket.id,
        label=ticket.label,
        service_code=ticket.service_code,
        service_date=ticket.service_date,
        state=ticket.state,
        priority=ticket.priority,
        issued_at=ticket.issued_at,
        window=ticket.window,
        target_window=ticket.target_window,
        recalls=ticket.recalls,
        transfers=ticket.transfers,
        print_state=ticket.print_state,
    )


def transaction_view(transaction: Transaction) -> TransactionView:
    """A domain transaction as the bus shows it."""
    return TransactionView(
        transaction_id=transaction.id,
        ticket_id=transaction.ticket_id,
        ticket_label=transaction.ticket_label,
        service_code=transaction.service_code,
        window=transaction.window,
        clerk_code=transaction.clerk_code,
        started_at=transaction.started_at,
        finished_at=transaction.finished_at,
        rating_deadline=transaction.pad_deadline,
        outcome=transaction.outcome,
    )


def clerk_view(
    clerk: ClerkConfig | None, stars: Mapping[str, int] | None = None
) -> ClerkView | None:
    """The clerk as boards and pads show them; ``stars`` derived from ratings, if the hall
    has rules for them, else the hall file's."""
    if clerk is None:
        return None
    shown = stars.get(clerk.code) if stars is not None else clerk.stars
    return ClerkView(code=clerk.code, name=clerk.name, stars=shown)


def window_view(window: Window, stars: Mapping[str, int] | None = None) -> WindowView:
    """A window's status as the counter sees it."""
    return WindowView(
        window=window.number,
        status=window.status,
        clerk=clerk_view(window.clerk, stars),
        pause_reason=window.pause_reason,
    )
