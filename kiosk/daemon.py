"""The kiosk daemon: the service menu from the bus, tickets from the scheduler, paper from
the printer, and the touch screen's controller.

A ticket is printed only after the scheduler issued it, and the scheduler is told
whether it printed. One worker thread owns the printer: it polls its status between
tickets (so paper-out shows within ``status_interval_s``) and runs each ticket request.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from hallbus.clock import Clock, SystemClock
from hallbus.daemon import DeviceDaemon
from hallbus.messages import (
    ONLINE,
    CardRead,
    DeviceKind,
    ErrorCode,
    IssueTicket,
    PayloadError,
    PrinterFault,
    PriorityClass,
    ReportPrint,
    ServiceState,
    TicketIssued,
    decode,
)
from hallbus.script_lines import SHAPED_LANGUAGES
from hallbus.settings import BusSettings
from hallbus.topics import Command, DeviceEventKind
from kiosk.drivers import Printer, printer_driver
from kiosk.flow import Action, IssueRequest, KioskFlow, KioskView
from kiosk.i18n import texts_for
from kiosk.printer import PrintOutcome
from kiosk.ticket_layout import RasterFont, TicketText, ticket_time

log = logging.getLogger(__name__)


def printable(language: str, raster_font: RasterFont | None) -> bool:
    """Whether a ticket can be printed in ``language``: Chinese and English always (the
    printer's font or the raster one); Uyghur and Kazakh only as raster lines, with a
    right-to-left face. Otherwise the ticket is printed in the hall's first language."""
    if language in SHAPED_LANGUAGES:
        return raster_font is not None and raster_font.right_to_left is not None
    return True


def rating_page_url(public_url: str, ticket_id: str, token: str | None, language: str) -> str:
    """The ticket's QR link: its public page, signed, in the language it was taken in."""
    query = urlencode({"k": token, "lang": language} if token else {"lang": language})
    return f"{public_url.rstrip('/')}/t/{ticket_id}?{query}"


# The mark a ticket of each priority carries, so the clerk and the citizen both see it.
PRIORITY_MARKS = {
    PriorityClass.APPOINTMENT: "Appointment",
    PriorityClass.GREEN_CHANNEL: "Green channel",
    PriorityClass.ELDERLY: "Priority: elderly and disabled",
}


@dataclass(frozen=True)
class KioskSettings:
    """What a kiosk needs to know about its hall and its neighbours."""

    hall_names: dict[str, str]
    timezone: str = "Asia/Shanghai"
    hotline: str | None = None  # the hall's phone line, printed on every ticket
    max_recalls: int = 2  # a ticket is called this many times again before it is passed
    languages: tuple[str, ...] = ("zh", "en")
    id_reader: str | None = None  # the paired ID reader's device id
    public_url: str = "http://127.0.0.1:8000"  # the ticket's QR code opens {public_url}/t/<id>
    status_interval_s: float = 0.5
    request_timeout_s: float = 1.5


@dataclass(frozen=True, slots=True)
class TicketTiming:
    """One ticket's way from the touch to the printer, in seconds."""

    touch_to_reply_s: float
    touch_to_last_byte_s: float | None


class KioskDaemon(DeviceDaemon):
    """A ticket kiosk: menu, tickets, printer status, and the screen's controller."""

    kind = DeviceKind.KIOSK

    def __init__(
        self,
        bus: BusSettings,
        hall: str,
        device_id: str,
        printer: Printer,
        settings: KioskSettings,
        *,
        raster_font: RasterFont | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(bus, hall, device_id)
        self.printer = printer
        self.kiosk = settings
        self.raster_font = raster_font
        self.clock = clock or SystemClock()
        self.flow = KioskFlow(
            languages=settings.languages, card_reader=settings.id_reader is not None
        )
        self.timings: list[TicketTiming] = []
        self.changed = threading.Condition()
        self._lock = threading.RLock()
        self._scheduler_says_online = False
        self._jobs: queue.Queue[tuple[IssueRequest, float] | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._published_faults: tuple[PrinterFault, ...] | None = None
        self._unreported: list[ReportPrint] = []
        self.reported: list[str] = []  # ticket ids whose print outcome the scheduler has
        self._zone = ZoneInfo(settings.timezone)

    # --- lifecycle ------------------------------------------------------------------
    def setup(self) -> None:
        """Follow the menu, the scheduler's availability and the paired ID reader."""
        self.bus.subscribe(self.topics.service_states(), self._on_service)
        self.bus.subscribe(self.topics.scheduler_availability(), self._on_scheduler)
        if self.kiosk.id_reader is not None:
            topic = self.topics.device_event(self.kiosk.id_reader, DeviceEventKind.CARD_READ)
            self.bus.subscribe(topic, self._on_card)

    def start(self, timeout: float | None = 10.0) -> None:
        """Connect, then start the printer worker (which publishes the first real status)."""
        super().start(timeout)
        self._worker = threading.Thread(
            target=self._work, name=f"printer-{self.device_id}", daemon=True
        )
        self._worker.start()

    def stop(self) -> None:
        """Stop the worker, close the printer, disconnect."""
        self._jobs.put(None)
        if self._worker is not None:
            self._worker.join(timeout=10)
        self.printer.close()
        super().stop()

    # --- the screen's controller -----------------------------------------------------
    @property
    def hall_names(self) -> dict[str, str]:
        """The hall's name per language."""
        return self.kiosk.hall_names

    @property
    def zone(self) -> ZoneInfo:
        """The hall's time zone."""
        return self._zone

    def view(self) -> KioskView:
        """What the screen shows now."""
        with self._lock:
            return self.flow.view()

    def touch(self, action: Action) -> None:
        """A touch on the screen."""
        touched = time.monotonic()
        with self._lock:
            request = self.flow.touch(action, self.clock.now())
        self._changed()
        if request is not None:
            self._jobs.put((request, touched))

    def tick(self) -> None:
        """Follow the connection and idle timeouts."""
        now = self.clock.now()
        online = self.bus.connected.is_set() and self._scheduler_says_online
        with self._lock:
            if online != self.flow.scheduler_online:
                self.flow.set_scheduler_online(online, now)
            self.flow.tick(now)

    def wait_for(self, predicate: Callable[[KioskView], bool], timeout: float) -> KioskView | None:
        """Wait until ``predicate(view)`` holds (ticking meanwhile); the view, or None."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                self.tick()
                view = self.view()
                if predicate(view):
                    return view
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.changed.wait(min(remaining, 0.05))

    def wait_reported(self, count: int, timeout: float) -> bool:
        """Whether the scheduler acknowledged ``count`` print reports within ``timeout``."""
        with self.changed:
            return self.changed.wait_for(lambda: len(self.reported) >= count, timeout)

    def _changed(self) -> None:
        with self.changed:
            self.changed.notify_all()

    # --- bus handlers ------------------------------------------------------------------
    def _on_service(self, topic: str, payload: bytes) -> None:
        try:
            state = decode(ServiceState, payload)
        except PayloadError as err:
            log.warning("bad service state", extra={"topic": topic, "error": str(err)})
            return
        with self._lock:
            self.flow.set_service(state)
        self._changed()

    def _on_scheduler(self, topic: str, payload: bytes) -> None:
        self._scheduler_says_online = payload.decode(errors="replace") == ONLINE
        self.tick()
        self._changed()

    def _on_card(self, topic: str, payload: bytes) -> None:
        try:
            card = decode(CardRead, payload)
        except PayloadError as err:
            log.warning("bad card read", extra={"topic": topic, "error": str(err)})
            return
        touched = time.monotonic()
        self.tick()
        with self._lock:
            request = self.flow.card_read(card, self.clock.now())
        self._changed()
        if request is not None:
            self._jobs.put((request, touched))

    # --- the printer worker ------------------------------------------------------------
    def _work(self) -> None:
        self._poll_printer()
        while True:
            try:
                job = self._jobs.get(timeout=self.kiosk.status_interval_s)
            except queue.Empty:
                self._poll_printer()
                self._resend_reports()
                continue
            if job is None:
                return
            try:
                self._issue(*job)
            except Exception:
                # Whatever failed, the screen must not hang on "issuing" and the daemon lives.
                log.exception("ticket job failed")
                with self._lock:
                    self.flow.refused(ErrorCode.INTERNAL, "kiosk error", self.clock.now())
            self._changed()

    def _poll_printer(self) -> None:
        self._set_faults(self.printer.status())

    def _set_faults(self, faults: list[PrinterFault] | tuple[PrinterFault, ...]) -> None:
        faults = tuple(faults)
        with self._lock:
            self.flow.set_printer_faults(list(faults), self.clock.now())
        if faults != self._published_faults:
            self._published_faults = faults
            self.publish_status(
                healthy=not any(f.blocks_printing for f in faults),
                faults=[f.value for f in faults],
                detail={"printer": f"{self.printer.profile.vendor} {self.printer.profile.model}"},
            )
            log.info("printer status", extra={"faults": [f.value for f in faults]})
        self._changed()

    def _issue(self, job: IssueRequest, touched: float) -> None:
        card = job.card
        request = IssueTicket(
            request_id=self.requests.new_request_id(),
            service_code=job.service_code,
            id_hash=card.id_hash if card else None,
            age=card.age if card else None,
            booking_code=job.booking_code,
        )
        reply = self.requests.request(
            Command.ISSUE_TICKET, request, timeout=self.kiosk.request_timeout_s, attempts=2
        )
        replied = time.monotonic()
        if reply.error is not None or reply.data is None:
            code = reply.error.code if reply.error else ErrorCode.INTERNAL
            with self._lock:
                self.flow.refused(
                    code, reply.error.message if reply.error else "", self.clock.now()
                )
            return
        ticket = TicketIssued.model_validate(reply.data)
        with self._lock:
            self.flow.issued_ok(ticket, self.clock.now())
            language = self.flow.language
        self._changed()
        layout = printer_driver(self.printer.profile).layout
        data = layout(self._ticket_text(ticket, language), self.printer.profile, self.raster_font)
        outcome = self.printer.print_ticket(data)
        self._record(touched, replied, outcome)
        with self._lock:
            self.flow.printed(outcome.state, self.clock.now())
        self._set_faults(outcome.faults)
        self._report(
            ReportPrint(
                request_id=self.requests.new_request_id(),
                ticket_id=ticket.ticket_id,
                state=outcome.state,
                faults=list(outcome.faults),
            )
        )

    def _record(self, touched: float, replied: float, outcome: PrintOutcome) -> None:
        last_byte = outcome.written_at - touched if outcome.written_at else None
        self.timings.append(TicketTiming(replied - touched, last_byte))

    def _report(self, report: ReportPrint) -> None:
        reply = self.requests.request(
            Command.REPORT_PRINT, report, timeout=self.kiosk.request_timeout_s
        )
        if reply.error is None:
            self.reported.append(report.ticket_id)
            self._changed()
        elif reply.error.code is ErrorCode.TIMEOUT:
            self._unreported.append(report)  # same request id: the scheduler records it once
            log.warning(
                "print report not delivered; will retry", extra={"ticket": report.ticket_id}
            )

    def _resend_reports(self) -> None:
        if not self._unreported or not self.flow.scheduler_online:
            return
        pending, self._unreported = self._unreported, []
        for report in pending:
            self._report(report)

    def _ticket_text(self, ticket: TicketIssued, language: str) -> TicketText:
        if not printable(language, self.raster_font):
            language = self.kiosk.languages[0]
        texts = texts_for(language)
        with self._lock:
            state = self.flow.menu.get(ticket.service_code)
        names = state.names if state else {}
        documents = texts.pick(state.documents, []) if state else []
        issued_local = ticket.issued_at.astimezone(self._zone)
        return TicketText(
            hall_name=texts.pick(self.kiosk.hall_names, ""),
            label=ticket.label,
            service_name=texts.pick(names, ticket.service_code),
            waiting_lines=(
                texts("{count} people ahead of you", count=ticket.people_ahead),
                texts(
                    "Estimated wait {duration}", duration=texts.duration(ticket.estimated_wait_s)
                ),
            ),
            time_line=texts("Taken at {time}", time=texts.left_to_right(ticket_time(issued_local))),
            documents_title=texts("Please bring"),
            documents=tuple(documents),
            qr_url=rating_page_url(
                self.kiosk.public_url, ticket.ticket_id, ticket.rating_token, texts.language
            ),
            qr_caption=texts("Scan to follow your turn and rate the service"),
            priority_mark=texts(mark) if (mark := PRIORITY_MARKS.get(ticket.priority)) else "",
            rules=(
                texts(
                    "Not there after {calls} calls: the number is passed; take a new one",
                    calls=self.kiosk.max_recalls + 1,
                ),
                *(
                    (texts("Hotline {number}", number=hotline),)
                    if (hotline := self.kiosk.hotline)
                    else ()
                ),
            ),
        )
