"""The conformance kit for ticket printer drivers and profiles.

A driver package (or a new profile of the built-in ESC/POS driver) subclasses
``PrinterConformance`` in one of its test modules, naming ``driver`` and
``profile_name`` and, where the driver's far end is not paidui's, overriding
``emulator``, ``decode`` and ``link``. pytest then runs every test below: the driver is
registered and its profile validates against its schema; a typical ticket laid out by
the driver reads back, through the decoder, as every line the citizen must read; and the
driver's printer on a pty to the emulated printer checks status before and after, prints
the ticket, and with the paper out prints nothing and says why.
Needs pytest.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hallbus.links import ByteLink
from hallbus.messages import PrinterFault, PrintState
from kiosk.drivers import PRINTER_DRIVERS, PrinterDriver, load_printer_profile
from kiosk.printer import PrinterAddress, open_link
from kiosk.profile import PrinterProfile
from kiosk.ticket_layout import RasterFont
from simulator.bench_kiosk import SAMPLE_TICKET
from simulator.escpos_decoder import EscPosDecoder
from simulator.printer_emulator import PrintedTicket, PrinterEmulator

WAIT = 10.0  # seconds any one expected thing may take


class PrinterConformance:
    """Subclass with ``driver`` and ``profile_name``."""

    driver: ClassVar[PrinterDriver]
    profile_name: ClassVar[str]

    def profile(self) -> PrinterProfile:
        """The profile under test, loaded the way the kiosk loads it."""
        return load_printer_profile(self.profile_name)

    def font(self) -> RasterFont | None:
        """The font Chinese is drawn with where the printer has none (None: no raster)."""
        from hallbus.fonts import font_for

        return RasterFont(font_for("zh"))

    def emulator(self, profile: PrinterProfile) -> Any:
        """The printer on the far end: ``serve_pty()``, ``tickets``, ``paper_out``."""
        return PrinterEmulator(profile)

    def decode(self, data: bytes, profile: PrinterProfile) -> list[str]:
        """The lines a citizen reads on the paper ``data`` prints."""
        decoder = EscPosDecoder(encoding=profile.cjk.encoding if profile.cjk else "ascii")
        return PrintedTicket(decoder.feed(data) + decoder.flush()).lines

    def link(self, port: str, profile: PrinterProfile) -> ByteLink:
        """The link to the printer on ``port``."""
        return open_link(PrinterAddress.parse(f"serial:{port}"), profile)

    # --- pure -------------------------------------------------------------------------
    def test_the_driver_is_registered_and_the_profile_validates(self) -> None:
        assert PRINTER_DRIVERS.get(self.driver.type) is self.driver
        profile = self.profile()
        assert profile.type == self.driver.type
        assert isinstance(profile, self.driver.profile_model)

    def test_a_ticket_reads_back_line_for_line(self) -> None:
        profile = self.profile()
        data = self.driver.layout(SAMPLE_TICKET, profile, self.font())
        printed = "\n".join(self.decode(data, profile))
        if profile.cjk is None:
            # Chinese goes out as pictures: the number and the Latin lines must be text.
            assert SAMPLE_TICKET.label in printed
            return
        for line in (
            SAMPLE_TICKET.hall_name,
            SAMPLE_TICKET.label,
            SAMPLE_TICKET.service_name,
            *SAMPLE_TICKET.waiting_lines,
            SAMPLE_TICKET.time_line,
            *SAMPLE_TICKET.rules,
        ):
            assert line in printed, f"{line!r} missing from the printed ticket"

    # --- the driver's printer on a pty ----------------------------------------------------
    def test_it_prints_when_ready_and_nothing_without_paper(self) -> None:
        profile = self.profile()
        emulator = self.emulator(profile)
        printer = self.driver.printer(self.link(emulator.serve_pty(), profile), profile)
        data = self.driver.layout(SAMPLE_TICKET, profile, self.font())
        try:
            assert printer.status() == []
            outcome = printer.print_ticket(data)
            assert outcome.state is PrintState.PRINTED, outcome
            assert emulator.tickets.wait_count(1, WAIT)
            emulator.paper_out = True
            refused = printer.print_ticket(data)
            assert refused.state is PrintState.FAILED and PrinterFault.PAPER_OUT in refused.faults
            assert len(emulator.tickets.items()) == 1  # nothing went out without paper
        finally:
            printer.close()
            emulator.stop()
