"""Virtual devices that speak the real bus contract (hardware emulators come with device issues)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from hallbus.client import Requester
from hallbus.daemon import DeviceDaemon
from hallbus.messages import (
    BadRatingReason,
    BookAppointment,
    CallNext,
    CallTicket,
    DeskContact,
    DeviceKind,
    Finish,
    IssueTicket,
    Login,
    Logout,
    NoShow,
    Pause,
    PauseReason,
    PayloadError,
    Postpone,
    Rate,
    RatingClosed,
    RatingLevel,
    RatingPrompt,
    Recall,
    Reply,
    Resume,
    ReviewRating,
    ServiceState,
    StartService,
    Transfer,
    WindowState,
    WindowStatus,
    decode,
)
from hallbus.settings import BusSettings
from hallbus.topics import Command, DeviceCommandKind
from simulator.mailbox import Mailbox

log = logging.getLogger(__name__)


def _rid() -> str:
    return Requester.new_request_id()


class VirtualKiosk(DeviceDaemon):
    """A ticket kiosk: shows the service menu, issues tickets."""

    kind = DeviceKind.KIOSK

    def __init__(self, settings: BusSettings, hall: str, device_id: str) -> None:
        super().__init__(settings, hall, device_id)
        self.menu: dict[str, ServiceState] = {}

    def setup(self) -> None:
        """Follow the retained service menu."""
        self.bus.subscribe(self.topics.service_states(), self._on_service)

    def _on_service(self, topic: str, payload: bytes) -> None:
        try:
            state = decode(ServiceState, payload)
        except PayloadError as err:
            log.warning("bad service state", extra={"topic": topic, "error": str(err)})
            return
        self.menu[state.service_code] = state

    def issue(
        self,
        service_code: str | None,
        request_id: str | None = None,
        *,
        id_hash: str | None = None,
        age: int | None = None,
        disabled: bool = False,
        booking_code: str | None = None,
    ) -> Reply:
        """Take a ticket for a service, or check in with an ID card's keyed hash or a
        booking code typed on screen."""
        request = IssueTicket(
            request_id=request_id or _rid(),
            service_code=service_code,
            id_hash=id_hash,
            age=age,
            disabled=disabled,
            booking_code=booking_code,
        )
        return self.request(Command.ISSUE_TICKET, request)


class _WindowFollower(DeviceDaemon):
    """A device paired with one window that shows the window's retained state."""

    def __init__(self, settings: BusSettings, hall: str, device_id: str, window: int) -> None:
        super().__init__(settings, hall, device_id)
        self.window = window
        self.states: Mailbox[WindowState] = Mailbox()

    def setup(self) -> None:
        """Follow this window's retained state."""
        self.bus.subscribe(self.topics.window_state(self.window), self._on_state)

    def _on_state(self, topic: str, payload: bytes) -> None:
        try:
            self.states.put(decode(WindowState, payload))
        except PayloadError as err:
            log.warning("bad window state", extra={"topic": topic, "error": str(err)})


class VirtualCounter(_WindowFollower):
    """A clerk's caller keypad at one window; ``states`` is what its display shows."""

    kind = DeviceKind.COUNTER

    def login(self, clerk_code: str) -> Reply:
        """A clerk logs in at this window."""
        return self.request(Command.LOGIN, Login(request_id=_rid(), clerk_code=clerk_code))

    def logout(self) -> Reply:
        """The clerk logs out."""
        return self.request(Command.LOGOUT, Logout(request_id=_rid()))

    def pause(self, reason: PauseReason = PauseReason.BREAK) -> Reply:
        """Stop calling for a while."""
        return self.request(Command.PAUSE, Pause(request_id=_rid(), reason=reason))

    def resume(self) -> Reply:
        """Call again."""
        return self.request(Command.RESUME, Resume(request_id=_rid()))

    def call_next(self, request_id: str | None = None) -> Reply:
        """Call the next ticket."""
        return self.request(Command.CALL_NEXT, CallNext(request_id=request_id or _rid()))

    def call_ticket(self, label: str) -> Reply:
        """Call one waiting ticket out of order."""
        return self.request(Command.CALL_TICKET, CallTicket(request_id=_rid(), label=label))

    def postpone(self) -> Reply:
        """Send the called citizen back to the end of their line."""
        return self.request(Command.POSTPONE, Postpone(request_id=_rid()))

    def transfer(self, to_service: str | None = None, to_window: int | None = None) -> Reply:
        """Send the current ticket on to another service or window."""
        request = Transfer(request_id=_rid(), to_service=to_service, to_window=to_window)
        return self.request(Command.TRANSFER, request)

    def recall(self) -> Reply:
        """Call the current ticket again."""
        return self.request(Command.RECALL, Recall(request_id=_rid()))

    def start_service(self) -> Reply:
        """The citizen has arrived."""
        return self.request(Command.START_SERVICE, StartService(request_id=_rid()))

    def no_show(self) -> Reply:
        """The citizen did not come."""
        return self.request(Command.NO_SHOW, NoShow(request_id=_rid()))

    def finish(self) -> Reply:
        """Service done."""
        return self.request(Command.FINISH, Finish(request_id=_rid()))

    def desk_contact(self) -> Reply:
        """The clerk spoke at the desk with the citizen of the window's last bad rating."""
        return self.request(Command.DESK_CONTACT, DeskContact(request_id=_rid()))


class VirtualRatingPad(DeviceDaemon):
    """A five-key rating pad facing the citizen."""

    kind = DeviceKind.RATING_PAD

    def __init__(self, settings: BusSettings, hall: str, device_id: str, window: int) -> None:
        super().__init__(settings, hall, device_id)
        self.window = window
        self.prompts: Mailbox[RatingPrompt] = Mailbox()
        self.closed: Mailbox[RatingClosed] = Mailbox()
        self.on_prompt: Callable[[RatingPrompt], None] | None = None

    def setup(self) -> None:
        """Listen for prompts addressed to this pad."""
        self.bus.subscribe(self.topics.device_commands(self.device_id), self._on_command)

    def _on_command(self, topic: str, payload: bytes) -> None:
        kind = topic.rsplit("/", 1)[-1]
        try:
            if kind == DeviceCommandKind.RATING_PROMPT:
                prompt = decode(RatingPrompt, payload)
                self.prompts.put(prompt)
                if self.on_prompt is not None:
                    self.on_prompt(prompt)
            elif kind == DeviceCommandKind.RATING_CLOSED:
                self.closed.put(decode(RatingClosed, payload))
        except PayloadError as err:
            log.warning("bad pad command", extra={"topic": topic, "error": str(err)})

    def rate(
        self, transaction_id: str, level: RatingLevel, reason: BadRatingReason | None = None
    ) -> Reply:
        """The citizen presses one of the five keys (and, for a bad rating, a reason)."""
        if level.is_bad and reason is None:
            reason = BadRatingReason.OTHER
        request = Rate(request_id=_rid(), transaction_id=transaction_id, level=level, reason=reason)
        return self.request(Command.RATE, request)


class VirtualPortal(DeviceDaemon):
    """The web side as the scheduler sees it: the ticket's rating page, booking, reviews."""

    kind = DeviceKind.PORTAL

    def rate(
        self, transaction_id: str, level: RatingLevel, reason: BadRatingReason | None = None
    ) -> Reply:
        """A citizen rates on the page their ticket's QR code opened."""
        request = Rate(request_id=_rid(), transaction_id=transaction_id, level=level, reason=reason)
        return self.request(Command.RATE, request)

    def book(self, service_code: str, slot_start: datetime, id_hash: str, contact: str) -> Reply:
        """Book an appointment slot."""
        request = BookAppointment(
            request_id=_rid(),
            service_code=service_code,
            slot_start=slot_start,
            id_hash=id_hash,
            contact=contact,
        )
        return self.request(Command.BOOK_APPOINTMENT, request)

    def review(self, transaction_id: str, reviewer: str, approver: str, reason: str) -> Reply:
        """Two managers set a rating aside as not adopted."""
        request = ReviewRating(
            request_id=_rid(),
            transaction_id=transaction_id,
            reviewer=reviewer,
            approver=approver,
            reason=reason,
        )
        return self.request(Command.REVIEW_RATING, request)


class VirtualWindowBoard(_WindowFollower):
    """The LED board above a window: shows what the retained window state says."""

    kind = DeviceKind.WINDOW_BOARD

    @property
    def text(self) -> str:
        """What the board shows now."""
        states = self.states.items()
        if not states:
            return f"{self.window}号窗口"
        state = states[-1]
        if state.status == WindowStatus.PAUSED:
            return "暂停服务"
        if state.current is None:
            return f"{self.window}号窗口" if state.status == WindowStatus.OPEN else "窗口关闭"
        return f"{state.current.label} 请到{self.window}号窗口"
