"""The kiosk's screens as a pure state machine, with time moved by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hallbus.messages import (
    CardRead,
    ErrorCode,
    PrinterFault,
    PrintState,
    ServiceState,
    TicketIssued,
    TicketState,
    Unavailable,
)
from kiosk.flow import (
    AskCard,
    AskCode,
    Back,
    ChooseService,
    Confirm,
    Digit,
    Erase,
    IssueRequest,
    KioskFlow,
    NoticeKind,
    Screen,
    SetLanguage,
)

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
CARD = CardRead(id_hash="a" * 64, masked_name="王*", age=70, read_at=NOW)


def service(code: str, unavailable: Unavailable | None = None) -> ServiceState:
    return ServiceState(
        service_code=code,
        names={"zh": code},
        waiting=2,
        estimated_wait_s=300,
        open_windows=0 if unavailable else 1,
        unavailable=unavailable,
    )


def ready_flow() -> KioskFlow:
    flow = KioskFlow(languages=("zh", "en"), card_reader=True)
    flow.set_service(service("social"))
    flow.set_service(service("tax", Unavailable(code=ErrorCode.SERVICE_CLOSED, message="closed")))
    flow.set_scheduler_online(True, NOW)
    return flow


def ticket() -> TicketIssued:
    return TicketIssued(
        ticket_id="t1",
        label="A001",
        service_code="social",
        service_date=date(2026, 11, 23),
        state=TicketState.WAITING,
        issued_at=NOW,
        people_ahead=2,
        estimated_wait_s=300,
    )


def test_documents_come_before_the_ticket() -> None:
    flow = ready_flow()
    assert flow.touch(Confirm(), NOW) is None  # nothing chosen yet
    assert flow.touch(ChooseService("social"), NOW) is None
    assert flow.screen is Screen.DOCUMENTS
    assert flow.touch(Confirm(), NOW) == IssueRequest("social", None)
    assert flow.screen is Screen.ISSUING
    assert flow.touch(Confirm(), NOW) is None  # a second touch never asks twice


def test_closed_services_and_faults_take_no_ticket() -> None:
    flow = ready_flow()
    flow.touch(ChooseService("tax"), NOW)
    assert flow.screen is Screen.MENU
    flow.set_printer_faults([PrinterFault.PAPER_NEAR_END], NOW)
    assert flow.screen is Screen.MENU  # near end still prints
    flow.set_printer_faults([PrinterFault.COVER_OPEN], NOW)
    assert flow.screen is Screen.OUT_OF_SERVICE and flow.notice is not None
    assert flow.notice.kind is NoticeKind.PRINTER_FAULT
    assert flow.touch(ChooseService("social"), NOW) is None
    flow.set_printer_faults([], NOW)
    assert flow.screen is Screen.MENU


def test_card_checks_in_then_gives_priority_without_a_booking() -> None:
    flow = ready_flow()
    flow.touch(AskCard(), NOW)
    assert flow.card_read(CARD, NOW) == IssueRequest(None, CARD)
    flow.refused(ErrorCode.NO_APPOINTMENT, "none today", NOW)
    assert flow.screen is Screen.MENU and flow.card == CARD
    flow.touch(ChooseService("social"), NOW)
    assert flow.touch(Confirm(), NOW) == IssueRequest("social", CARD)


def test_the_number_pad_takes_eight_digits_and_erases() -> None:
    flow = ready_flow()
    flow.touch(AskCode(), NOW)
    assert flow.touch(Confirm(), NOW) is None  # nothing typed: nothing sent
    for digit in (1, 2, 3):
        flow.touch(Digit(digit), NOW)
    flow.touch(Erase(), NOW)
    assert flow.view().code == "12"
    assert flow.touch(Confirm(), NOW) is None and flow.screen is Screen.CODE  # too short
    for digit in (3, 4, 5, 6, 7, 8, 9):  # the ninth digit is not taken
        flow.touch(Digit(digit), NOW)
    assert flow.view().code == "12345678"
    assert flow.touch(Confirm(), NOW) == IssueRequest(None, None, "12345678")
    assert flow.screen is Screen.ISSUING
    flow.refused(ErrorCode.NO_APPOINTMENT, "no booking for today with this code", NOW)
    assert flow.screen is Screen.NOTICE  # the citizen reads why, then starts again
    flow.touch(Confirm(), NOW)
    assert flow.screen is Screen.MENU and flow.view().code == ""


def test_idle_screens_return_to_the_menu_for_the_next_citizen() -> None:
    flow = ready_flow()
    flow.touch(SetLanguage("en"), NOW)
    flow.touch(ChooseService("social"), NOW)
    flow.touch(Back(), NOW)
    assert flow.language == "en"  # Back keeps the citizen's language
    flow.touch(ChooseService("social"), NOW)
    flow.touch(Confirm(), NOW)
    flow.issued_ok(ticket(), NOW)
    flow.tick(NOW + timedelta(minutes=5))
    assert flow.screen is Screen.TICKET  # still printing: never leave a ticket unseen
    flow.printed(PrintState.PRINTED, NOW)
    flow.tick(NOW + timedelta(seconds=11))
    assert flow.screen is Screen.TICKET
    flow.tick(NOW + timedelta(seconds=12))
    assert flow.screen is Screen.MENU and flow.language == "zh"


def test_scheduler_loss_blocks_and_return_restores() -> None:
    flow = ready_flow()
    flow.touch(ChooseService("social"), NOW)
    flow.set_scheduler_online(False, NOW)
    assert flow.screen is Screen.OUT_OF_SERVICE
    flow.set_scheduler_online(True, NOW)
    assert flow.screen is Screen.MENU


def test_a_kiosk_that_has_not_heard_the_scheduler_takes_no_ticket() -> None:
    flow = KioskFlow()
    flow.set_service(service("social"))
    assert flow.screen is Screen.OUT_OF_SERVICE
    assert flow.touch(ChooseService("social"), NOW) is None
    flow.set_scheduler_online(True, NOW)
    assert flow.screen is Screen.MENU
