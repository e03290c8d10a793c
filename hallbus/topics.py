"""Every MQTT topic of the paidui bus, built in one place.

Layout under ``paidui/v1/<hall>/``:

- ``device/<device_id>/availability``  retained ``online`` / ``offline`` (device writes)
- ``device/<device_id>/status``        retained DeviceStatus (device writes)
- ``device/<device_id>/event/<kind>``  device events: key presses, card reads (device writes)
- ``device/<device_id>/req/<command>`` requests to the scheduler (device writes)
- ``device/<device_id>/reply``         replies to that device's requests (scheduler writes)
- ``device/<device_id>/cmd/<kind>``    commands to that device, e.g. a rating prompt (scheduler)
- ``scheduler/availability``           retained (scheduler writes)
- ``state/window/<n>``, ``state/service/<code>``, ``state/hall``  retained board state (scheduler)
- ``event/call``, ``event/rating``     hall-wide events (scheduler)

A device may write only below its own ``device/<id>/`` and never ``reply`` or ``cmd``;
the broker ACL in ``broker_config/`` enforces exactly this layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

ROOT = "paidui/v1"
# The scheduler's name inside its hall's broker identity; no device may take it.
SCHEDULER_NAME = "scheduler"

# Hall and device ids become topic levels and broker identities: no wildcards, no slashes,
# and no dots, which join hall and device in an identity: were they allowed, device
# "y.scheduler" of hall "x" and the scheduler of hall "x.y" would be one broker user.
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
IDENTITY_SEPARATOR = "."


class Command(StrEnum):
    """Requests a device may send to the scheduler."""

    ISSUE_TICKET = "issue_ticket"
    CANCEL = "cancel"
    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    RESUME = "resume"
    CALL_NEXT = "call_next"
    CALL_TICKET = "call_ticket"
    RECALL = "recall"
    START_SERVICE = "start_service"
    NO_SHOW = "no_show"
    POSTPONE = "postpone"
    TRANSFER = "transfer"
    FINISH = "finish"
    RATE = "rate"
    BOOK_APPOINTMENT = "book_appointment"
    CANCEL_APPOINTMENT = "cancel_appointment"
    CHANGE_APPOINTMENT = "change_appointment"
    REVIEW_RATING = "review_rating"
    REPORT_PRINT = "report_print"
    APPLY_CONFIG = "apply_config"
    REPLAY_EVENTS = "replay_events"
    VOID_TICKET = "void_ticket"
    LEAVE_CONTACT = "leave_contact"
    DESK_CONTACT = "desk_contact"


# Requests that record what a person has done (a rating, what became of a printed ticket,
# a number left for a callback): the broker keeps them for the scheduler however late it
# comes back, since the deed happened either way. Every other request asks for something
# to happen now and expires with its sender's patience (hallbus.client.expiry_interval):
# carried out after a scheduler outage, when the device has long told its person that
# it failed, it would be a ticket nobody holds, a call to a window whose clerk gave up,
# or a manager's change applied an hour after the dashboard said it was not.
RECORDS: frozenset[Command] = frozenset(
    {Command.RATE, Command.REPORT_PRINT, Command.LEAVE_CONTACT, Command.DESK_CONTACT}
)


class DeviceCommandKind(StrEnum):
    """Commands the scheduler sends to one device."""

    RATING_PROMPT = "rating_prompt"
    RATING_CLOSED = "rating_closed"


class DeviceEventKind(StrEnum):
    """Events a device raises under its own ``event/`` level."""

    CARD_READ = "card_read"  # an ID reader read a card; its paired kiosk or counter listens
    KEY = "key"  # a keypad or pad key and what came of it (the dashboard shows clerks' keys)


class HallEventKind(StrEnum):
    """Hall-wide events the scheduler publishes (not retained)."""

    CALL = "call"
    RATING = "rating"


def valid_id(value: str) -> bool:
    """Whether ``value`` may be used as a hall or device id."""
    return bool(_ID_PATTERN.match(value))


@dataclass(frozen=True, slots=True)
class RequestTopic:
    """A parsed request topic: who asked for what."""

    device_id: str
    command: str


@dataclass(frozen=True, slots=True)
class HallTopics:
    """Topic builders for one hall."""

    hall: str

    def __post_init__(self) -> None:
        if not valid_id(self.hall):
            raise ValueError(f"invalid hall id {self.hall!r}")

    @property
    def base(self) -> str:
        """The hall's topic prefix."""
        return f"{ROOT}/{self.hall}"

    def _device(self, device_id: str) -> str:
        if not valid_id(device_id):
            raise ValueError(f"invalid device id {device_id!r}")
        return f"{self.base}/device/{device_id}"

    # --- broker identities ----------------------------------------------------
    def identity(self, device_id: str) -> str:
        """A device's broker identity: user name, client id and certificate CN.

        Qualified by the hall, so several halls share one broker without two ``kiosk-1``
        taking each other's session; the ACL is written for exactly these names.
        """
        self._device(device_id)
        return f"{self.hall}{IDENTITY_SEPARATOR}{device_id}"

    def scheduler_identity(self) -> str:
        """The broker identity of the hall's scheduler (active or standby)."""
        return f"{self.hall}{IDENTITY_SEPARATOR}{SCHEDULER_NAME}"

    # --- written by devices -------------------------------------------------
    def availability(self, device_id: str) -> str:
        """Retained online/offline of one device."""
        return f"{self._device(device_id)}/availability"

    def device_status(self, device_id: str) -> str:
        """Retained health and faults of one device."""
        return f"{self._device(device_id)}/status"

    def device_event(self, device_id: str, kind: DeviceEventKind | str) -> str:
        """An event raised by one device (key press, card read)."""
        return f"{self._device(device_id)}/event/{kind}"

    def request(self, device_id: str, command: Command | str) -> str:
        """Where a device sends a request to the scheduler (a str only to test unknown ones)."""
        return f"{self._device(device_id)}/req/{command}"

    # --- written by the scheduler ------------------------------------------
    def reply(self, device_id: str) -> str:
        """Where the scheduler answers a device's requests."""
        return f"{self._device(device_id)}/reply"

    def device_command(self, device_id: str, kind: DeviceCommandKind) -> str:
        """A command from the scheduler to one device."""
        return f"{self._device(device_id)}/cmd/{kind.value}"

    def device_commands(self, device_id: str) -> str:
        """Filter for every command to one device."""
        return f"{self._device(device_id)}/cmd/+"

    def scheduler_availability(self) -> str:
        """Retained online/offline of the scheduler."""
        return f"{self.base}/scheduler/availability"

    def window_state(self, window: int) -> str:
        """Retained state of one window: open/paused, current call."""
        return f"{self.base}/state/window/{window}"

    def window_states(self) -> str:
        """Filter for every window's state."""
        return f"{self.base}/state/window/+"

    def service_state(self, service_code: str) -> str:
        """Retained state of one service: waiting count, open."""
        if not valid_id(service_code):
            raise ValueError(f"invalid service code {service_code!r}")
        return f"{self.base}/state/service/{service_code}"

    def service_states(self) -> str:
        """Filter for every service's state."""
        return f"{self.base}/state/service/+"

    def hall_state(self) -> str:
        """Retained hall board state: recent calls and waiting counts."""
        return f"{self.base}/state/hall"

    def hall_event(self, kind: HallEventKind) -> str:
        """A hall-wide event (a call to announce, a rating recorded)."""
        return f"{self.base}/event/{kind.value}"

    # --- filters and parsing for the scheduler --------------------------------
    def everything(self) -> str:
        """Every topic of the hall (monitoring and privacy audits)."""
        return f"{self.base}/#"

    def device_availabilities(self) -> str:
        """Filter for every device's availability (the dashboard's device list)."""
        return f"{self.base}/device/+/availability"

    def device_statuses(self) -> str:
        """Filter for every device's status."""
        return f"{self.base}/device/+/status"

    def device_events(self, kind: DeviceEventKind) -> str:
        """Filter for one kind of event from every device."""
        return f"{self.base}/device/+/event/{kind.value}"

    def device_of(self, topic: str) -> str | None:
        """The device id of any topic under ``device/<id>/``; None for other topics."""
        prefix = f"{self.base}/device/"
        if not topic.startswith(prefix):
            return None
        device_id = topic[len(prefix) :].split("/", 1)[0]
        return device_id if valid_id(device_id) else None

    # --- filters for the broker's ACL (paidui/acl.py) ----------------------------
    def own_events(self, device_id: str) -> str:
        """Filter for every event one device raises."""
        return f"{self._device(device_id)}/event/#"

    def own_requests(self, device_id: str) -> str:
        """Filter for every request one device sends."""
        return f"{self._device(device_id)}/req/#"

    def all_replies(self) -> str:
        """Filter for the replies to every device."""
        return f"{self.base}/device/+/reply"

    def all_device_commands(self) -> str:
        """Filter for the commands to every device."""
        return f"{self.base}/device/+/cmd/+"

    def ledger_checkpoint(self) -> str:
        """Retained: the rating ledger's newest signed head (a witness outside the database)."""
        return f"{self.base}/state/ledger"

    def all_state(self) -> str:
        """Filter for all retained board state (windows, services, hall)."""
        return f"{self.base}/state/#"

    def hall_events(self) -> str:
        """Filter for every hall-wide event."""
        return f"{self.base}/event/+"

    def all_requests(self) -> str:
        """Filter for every device request in the hall."""
        return f"{self.base}/device/+/req/+"

    def parse_hall_event(self, topic: str) -> HallEventKind | None:
        """The kind of a hall event topic; None if it is not one."""
        prefix = f"{self.base}/event/"
        if not topic.startswith(prefix):
            return None
        try:
            return HallEventKind(topic[len(prefix) :])
        except ValueError:
            return None

    def parse_request(self, topic: str) -> RequestTopic | None:
        """Split a request topic into device id and command; None if it is not one."""
        prefix = f"{self.base}/device/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix) :].split("/")
        if len(parts) != 3 or parts[1] != "req" or not valid_id(parts[0]):
            return None
        return RequestTopic(device_id=parts[0], command=parts[2])
