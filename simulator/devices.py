"""Virtual devices that speak the real bus contract (hardware emulators come with device issues)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from hallbus.client import Requester
from hallbus.daemon import DeviceDaemon
from hallbus.messages import (
    CallNext,
    DeviceKind,
    Finish,
    IssueTicket,
    NoShow,
    PayloadError,
    Rate,
    RatingClosed,
    RatingLevel,
    RatingPrompt,
    Recall,
    Reply,
    ServiceState,
    StartService,
    WindowState,
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

    def issue(self, service_code: str, request_id: str | None = None) -> Reply:
        """Take a ticket for a service."""
        request = IssueTicket(request_id=request_id or _rid(), service_code=service_code)
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

    def call_next(self, request_id: str | None = None) -> Reply:
        """Call the next ticket."""
        return self.request(Command.CALL_NEXT, CallNext(request_id=request_id or _rid()))

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

    def rate(self, transaction_id: str, level: RatingLevel) -> Reply:
        """The citizen presses one of the five keys."""
        request = Rate(request_id=_rid(), transaction_id=transaction_id, level=level)
        return self.request(Command.RATE, request)


class VirtualWindowBoard(_WindowFollower):
    """The LED board above a window: shows what the retained window state says."""

    kind = DeviceKind.WINDOW_BOARD

    @property
    def text(self) -> str:
        """What the board shows now."""
        states = self.states.items()
        if not states or states[-1].current is None:
            return f"{self.window}号窗口"
        return f"{states[-1].current.label} 请到{self.window}号窗口"
