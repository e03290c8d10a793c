"""Printing through real ports to the emulator: pty serial, TCP 9100, lp; faults and noise."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hallbus.messages import PrinterFault, PrintState
from kiosk.drivers import load_printer_profile
from kiosk.printer import PrinterAddress, TicketPrinter, open_link
from kiosk.profile import PrinterProfile
from kiosk.ticket_layout import layout_ticket
from simulator.printer_emulator import PrinterEmulator
from tests.kiosk.tickets import SAMPLE, SAMPLE_LINES

PROFILE = load_printer_profile("xprinter-xp-80c")
TICKET = layout_ticket(SAMPLE, PROFILE, None)


@pytest.fixture
def emulator() -> Iterator[PrinterEmulator]:
    emulator = PrinterEmulator(PROFILE)
    yield emulator
    emulator.stop()


def connect(
    emulator: PrinterEmulator, scheme: str, profile: PrinterProfile = PROFILE
) -> TicketPrinter:
    if scheme == "tcp":
        address = f"tcp:127.0.0.1:{emulator.serve_tcp()}"
    else:
        address = f"{scheme}:{emulator.serve_pty()}"
    return TicketPrinter(open_link(PrinterAddress.parse(address), profile), profile)


@pytest.mark.parametrize("scheme", ["serial", "tcp", "lp"])
def test_prints_a_ticket_with_status_before_and_after(
    emulator: PrinterEmulator, scheme: str
) -> None:
    printer = connect(emulator, scheme)
    outcome = printer.print_ticket(TICKET)
    assert outcome.state is PrintState.PRINTED and outcome.faults == ()
    assert emulator.tickets.wait_count(1, timeout=5)
    ticket = emulator.tickets.items()[0]
    assert [line for line in ticket.lines if not line.startswith("---")] == SAMPLE_LINES
    assert ticket.qr_codes == [SAMPLE.qr_url]
    # Three status questions before the ticket and three after.
    assert emulator.status_queries.items() == [1, 2, 4, 1, 2, 4]
    printer.close()


@pytest.mark.parametrize("scheme", ["serial", "tcp"])
def test_paper_out_prints_nothing(emulator: PrinterEmulator, scheme: str) -> None:
    printer = connect(emulator, scheme)
    emulator.paper_out = True
    outcome = printer.print_ticket(TICKET)
    assert outcome.state is PrintState.FAILED
    assert PrinterFault.PAPER_OUT in outcome.faults
    assert emulator.bytes_received == 9  # only the three status questions
    emulator.paper_out = False
    emulator.paper_near_end = True
    outcome = printer.print_ticket(TICKET)
    assert outcome.state is PrintState.PRINTED
    assert outcome.faults == (PrinterFault.PAPER_NEAR_END,)
    printer.close()


@pytest.mark.parametrize("mode", ["garbage", "silent", "partial"])
def test_noise_or_silence_is_no_response(emulator: PrinterEmulator, mode: str) -> None:
    printer = connect(emulator, "serial")
    printer.status_timeout = 0.2
    emulator.reply_mode = mode  # type: ignore[assignment]
    assert printer.status() == [PrinterFault.NO_RESPONSE]
    assert printer.print_ticket(TICKET).state is PrintState.FAILED
    emulator.reply_mode = "normal"
    assert printer.status() == []  # stale garbage is drained, the printer is fine again
    printer.close()


def test_printer_vanishing_mid_ticket_is_reported_and_recovers(emulator: PrinterEmulator) -> None:
    port = emulator.serve_tcp()
    printer = TicketPrinter(
        open_link(PrinterAddress.parse(f"tcp:127.0.0.1:{port}"), PROFILE), PROFILE
    )
    assert printer.status() == []
    emulator.vanish_after_bytes = emulator.bytes_received + 100
    outcome = printer.print_ticket(TICKET + b"\n" * 20000)  # big enough to hit the drop
    assert outcome.state is PrintState.FAILED
    assert PrinterFault.DISCONNECTED in outcome.faults
    assert printer.status() == [PrinterFault.DISCONNECTED]
    # Switched on again at the same address: the next check reconnects.
    emulator.vanish_after_bytes = None
    emulator.serve_tcp(port)
    assert printer.status() == []
    assert printer.print_ticket(TICKET).state is PrintState.PRINTED
    printer.close()


def test_missing_port_is_disconnected() -> None:
    link = open_link(PrinterAddress.parse("serial:/dev/does-not-exist"), PROFILE)
    printer = TicketPrinter(link, PROFILE)
    assert printer.status() == [PrinterFault.DISCONNECTED]
    outcome = printer.print_ticket(TICKET)
    assert outcome.state is PrintState.FAILED and outcome.attempts == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("serial:/dev/ttyUSB0", PrinterAddress("serial", "/dev/ttyUSB0")),
        (
            "serial:/dev/ttyS1?baudrate=115200",
            PrinterAddress("serial", "/dev/ttyS1", baudrate=115200),
        ),
        ("tcp:10.0.0.5", PrinterAddress("tcp", "10.0.0.5", port=9100)),
        ("tcp:printer.local:9101", PrinterAddress("tcp", "printer.local", port=9101)),
        ("usb:0416:5011", PrinterAddress("usb", "0416:5011")),
        ("lp:/dev/usb/lp0", PrinterAddress("lp", "/dev/usb/lp0")),
    ],
)
def test_addresses(text: str, expected: PrinterAddress) -> None:
    assert PrinterAddress.parse(text) == expected


@pytest.mark.parametrize("text", ["", "com1", "usb:zz:11", "tcp:", "serial:ttyUSB0", "ftp:x"])
def test_bad_addresses_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match="use serial:"):
        PrinterAddress.parse(text)
