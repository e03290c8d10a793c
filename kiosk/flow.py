"""What the kiosk shows and what a touch does: a pure state machine, no pygame, no bus.

The daemon feeds it the retained menu, the scheduler's and the printer's health, card
reads and replies; the screen draws ``view()``; a touch becomes an ``Action`` and may ask
the daemon (through an ``IssueRequest``) to get a ticket from the scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from enum import StrEnum

from hallbus.messages import (
    CardRead,
    ErrorCode,
    PrinterFault,
    PrintState,
    ServiceState,
    TicketIssued,
)

# How long a screen waits for a touch before the kiosk goes back to the menu.
IDLE_RETURN = {"documents": 45, "card": 30, "code": 60, "ticket": 12, "notice": 15}
CODE_DIGITS = 8  # a booking code (scheduler.booking): digits only, typed on a number pad


class Screen(StrEnum):
    """The kiosk's screens."""

    MENU = "menu"
    DOCUMENTS = "documents"  # 一次性告知: what to bring, before the ticket is taken
    CARD = "card"  # 请刷身份证
    CODE = "code"  # 输入预约码: a booking made online, checked in without a card
    ISSUING = "issuing"
    TICKET = "ticket"
    NOTICE = "notice"  # a failure the citizen must read, with an OK button
    OUT_OF_SERVICE = "out_of_service"  # no ticket can be taken: scheduler or printer down


class NoticeKind(StrEnum):
    """Why a notice or the out-of-service screen is shown."""

    SCHEDULER_DOWN = "scheduler_down"
    PAPER_OUT = "paper_out"
    PRINTER_FAULT = "printer_fault"
    REFUSED = "refused"  # the scheduler said no (closed, quota, ...): its message is shown
    NO_ANSWER = "no_answer"


@dataclass(frozen=True, slots=True)
class Notice:
    """A failure to show: its kind, and the scheduler's own words when it refused."""

    kind: NoticeKind
    code: ErrorCode | None = None
    message: str = ""


# --- touches ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ChooseService:
    """A service tile was touched."""

    service_code: str


@dataclass(frozen=True, slots=True)
class Confirm:
    """Take the ticket (on the documents screen)."""


@dataclass(frozen=True, slots=True)
class Back:
    """Back to the menu."""


@dataclass(frozen=True, slots=True)
class AskCard:
    """The citizen wants to use their ID card."""


@dataclass(frozen=True, slots=True)
class AskCode:
    """The citizen wants to check in a booking by its code."""


@dataclass(frozen=True, slots=True)
class Digit:
    """A key of the number pad."""

    digit: int


@dataclass(frozen=True, slots=True)
class Erase:
    """The number pad's delete key."""


@dataclass(frozen=True, slots=True)
class ToggleLargePrint:
    """Large print for elderly citizens, on or off."""


@dataclass(frozen=True, slots=True)
class SetLanguage:
    """Switch the screen's (and the ticket's) language."""

    language: str


Action = (
    ChooseService
    | Confirm
    | Back
    | AskCard
    | AskCode
    | Digit
    | Erase
    | ToggleLargePrint
    | SetLanguage
)


@dataclass(frozen=True, slots=True)
class IssueRequest:
    """Ask the scheduler for a ticket: a service, a card, or both; or a booking code."""

    service_code: str | None
    card: CardRead | None
    booking_code: str | None = None


@dataclass(frozen=True, slots=True)
class Issued:
    """The ticket the scheduler issued, and what became of its paper."""

    ticket: TicketIssued
    print_state: PrintState | None = None  # None while printing


@dataclass(frozen=True, slots=True)
class KioskView:
    """Everything a frame shows."""

    screen: Screen
    language: str
    large_print: bool
    menu: tuple[ServiceState, ...]
    selected: ServiceState | None
    card: CardRead | None
    issued: Issued | None
    notice: Notice | None
    card_reader: bool
    code: str = ""  # the booking code typed so far

    @property
    def settled(self) -> bool:
        """Whether the last request came to an end: printed or not, refused, or blocked."""
        if self.screen in (Screen.NOTICE, Screen.OUT_OF_SERVICE):
            return True
        return self.issued is not None and self.issued.print_state is not None


@dataclass
class KioskFlow:
    """The kiosk's state; every method takes ``now`` so tests move time by hand."""

    languages: tuple[str, ...] = ("zh", "en")
    card_reader: bool = False
    screen: Screen = Screen.MENU
    language: str = "zh"
    large_print: bool = False
    menu: dict[str, ServiceState] = field(default_factory=dict)
    selected: str | None = None
    card: CardRead | None = None
    issued: Issued | None = None
    notice: Notice | None = None
    scheduler_online: bool = False
    printer_faults: tuple[PrinterFault, ...] = ()
    last_touch: datetime | None = None
    code: str = ""  # a booking code being typed (Screen.CODE)

    def __post_init__(self) -> None:
        # Until the scheduler is heard from, no ticket can be promised.
        self.screen, self.notice = Screen.OUT_OF_SERVICE, self.blocked_by()

    # --- what the daemon tells it -------------------------------------------------
    def set_service(self, state: ServiceState) -> None:
        """A service's retained state arrived (name, waiting, wait, open or not)."""
        self.menu[state.service_code] = state

    def set_scheduler_online(self, online: bool, now: datetime) -> None:
        """The scheduler (or the broker) came or went."""
        self.scheduler_online = online
        self._check_service(now)

    def set_printer_faults(self, faults: list[PrinterFault], now: datetime) -> None:
        """The printer's latest status."""
        self.printer_faults = tuple(faults)
        self._check_service(now)

    def blocked_by(self) -> Notice | None:
        """Why no ticket can be taken now, if so."""
        if not self.scheduler_online:
            return Notice(NoticeKind.SCHEDULER_DOWN)
        if PrinterFault.PAPER_OUT in self.printer_faults:
            return Notice(NoticeKind.PAPER_OUT)
        if any(f.blocks_printing for f in self.printer_faults):
            return Notice(NoticeKind.PRINTER_FAULT)
        return None

    def _check_service(self, now: datetime) -> None:
        blocked = self.blocked_by()
        if blocked is not None and self.screen not in (Screen.ISSUING, Screen.TICKET):
            self.screen, self.notice = Screen.OUT_OF_SERVICE, blocked
        elif blocked is None and self.screen is Screen.OUT_OF_SERVICE:
            self._home(now)

    # --- touches --------------------------------------------------------------------
    def touch(self, action: Action, now: datetime) -> IssueRequest | None:
        """Apply a touch; returns a ticket request when the citizen took one."""
        self.last_touch = now
        match action:
            case SetLanguage(language) if language in self.languages:
                self.language = language
            case ToggleLargePrint():
                self.large_print = not self.large_print
            case Back():
                self._home(now, next_citizen=False)
            case _ if self.screen is Screen.OUT_OF_SERVICE or self.screen is Screen.ISSUING:
                return None  # nothing to choose while no ticket can be taken
            case ChooseService(code) if self.screen is Screen.MENU:
                state = self.menu.get(code)
                if state is not None and state.unavailable is None:
                    self.selected, self.screen = code, Screen.DOCUMENTS
            case Confirm() if self.screen is Screen.DOCUMENTS and self.selected:
                return self._issue(self.selected, now)
            case AskCard() if self.card_reader and self.screen is Screen.MENU:
                self.screen = Screen.CARD
            case AskCode() if self.screen is Screen.MENU:
                self.screen, self.code = Screen.CODE, ""
            case Digit(digit) if self.screen is Screen.CODE and len(self.code) < CODE_DIGITS:
                if 0 <= digit <= 9:
                    self.code += str(digit)
            case Erase() if self.screen is Screen.CODE:
                self.code = self.code[:-1]
            case Confirm() if self.screen is Screen.CODE and len(self.code) == CODE_DIGITS:
                return self._issue(None, now, booking_code=self.code)
            case Confirm() if self.screen is Screen.NOTICE:
                self._home(now, next_citizen=False)
            case Confirm() if self.screen is Screen.TICKET:
                self._home(now)
        return None

    def card_read(self, card: CardRead, now: datetime) -> IssueRequest | None:
        """The paired reader read a card: check in an appointment (or keep it for priority)."""
        if self.screen not in (Screen.MENU, Screen.CARD, Screen.DOCUMENTS):
            return None
        self.card, self.last_touch = card, now
        if self.screen is Screen.DOCUMENTS and self.selected:
            return None  # the card gives this ticket its priority when Confirm is touched
        return self._issue(None, now)

    def _issue(
        self, service_code: str | None, now: datetime, *, booking_code: str | None = None
    ) -> IssueRequest | None:
        blocked = self.blocked_by()
        if blocked is not None:
            self.screen, self.notice = Screen.OUT_OF_SERVICE, blocked
            return None
        self.screen = Screen.ISSUING
        if booking_code is not None:
            return IssueRequest(None, None, booking_code)
        return IssueRequest(service_code, self.card)

    # --- what came of a request -------------------------------------------------
    def issued_ok(self, ticket: TicketIssued, now: datetime) -> None:
        """The scheduler issued the ticket; it is printing."""
        self.issued = Issued(ticket)
        self.screen, self.last_touch = Screen.TICKET, now

    def printed(self, state: PrintState, now: datetime) -> None:
        """The printer's outcome for the ticket on screen."""
        if self.issued is not None:
            self.issued = replace(self.issued, print_state=state)
            self.last_touch = now

    def refused(self, code: ErrorCode, message: str, now: datetime) -> None:
        """The scheduler refused, or did not answer."""
        self.last_touch = now
        if code is ErrorCode.NO_APPOINTMENT and self.card is not None:
            # No booking today: the card stays, so the ticket taken next gets its priority.
            self.screen = Screen.MENU
            self.notice = Notice(NoticeKind.REFUSED, code, message)
            return
        kind = NoticeKind.NO_ANSWER if code is ErrorCode.TIMEOUT else NoticeKind.REFUSED
        self.screen, self.notice = Screen.NOTICE, Notice(kind, code, message)

    # --- time -----------------------------------------------------------------------
    def tick(self, now: datetime) -> None:
        """Go back to the menu after a screen sat untouched too long."""
        limit = IDLE_RETURN.get(self.screen.value)
        if limit is None or self.last_touch is None:
            return
        if self.screen is Screen.TICKET and self.issued and self.issued.print_state is None:
            return  # still printing
        if now - self.last_touch >= timedelta(seconds=limit):
            self._home(now)

    def _home(self, now: datetime, *, next_citizen: bool = True) -> None:
        self.screen, self.selected, self.card, self.issued, self.notice = (
            Screen.MENU, None, None, None, None,
        )  # fmt: skip
        self.code = ""
        if next_citizen:  # the next citizen starts in the hall's first language
            self.large_print = False
            self.language = self.languages[0]
        self._check_service(now)

    def view(self) -> KioskView:
        """A snapshot for drawing."""
        return KioskView(
            screen=self.screen,
            language=self.language,
            large_print=self.large_print,
            menu=tuple(self.menu[c] for c in sorted(self.menu)),
            selected=self.menu.get(self.selected) if self.selected else None,
            card=self.card,
            issued=self.issued,
            notice=self.notice,
            card_reader=self.card_reader,
            code=self.code,
        )


def opens_at_text(opens_at: time | None) -> str | None:
    """``HH:MM`` of a reopening time, for the menu."""
    return opens_at.strftime("%H:%M") if opens_at else None
