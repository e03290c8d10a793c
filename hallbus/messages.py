"""Payload models of the paidui bus: every message is one of these, validated on receipt."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hallbus.topics import Command

# Requests larger than this are refused before parsing: no legitimate request comes near it.
MAX_PAYLOAD_BYTES = 16 * 1024

ONLINE = "online"
OFFLINE = "offline"

M = TypeVar("M", bound=BaseModel)

RequestId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
TicketId = Annotated[str, Field(min_length=1, max_length=64)]


class Message(BaseModel):
    """Base of every bus payload: strict, immutable, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_bytes(self) -> bytes:
        """The JSON bytes put on the wire."""
        return self.model_dump_json(exclude_none=True).encode()


class ErrorCode(StrEnum):
    """Error codes a person (or a device's screen) can act on."""

    BAD_REQUEST = "bad_request"  # payload is not valid JSON or fails the schema
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNKNOWN_COMMAND = "unknown_command"
    UNKNOWN_DEVICE = "unknown_device"  # the device is not in the hall configuration
    NOT_ALLOWED = "not_allowed"  # this kind of device may not send this command
    UNKNOWN_SERVICE = "unknown_service"
    NOTHING_WAITING = "nothing_waiting"
    NO_CURRENT_TICKET = "no_current_ticket"
    INVALID_STATE = "invalid_state"
    UNKNOWN_TICKET = "unknown_ticket"
    UNKNOWN_TRANSACTION = "unknown_transaction"
    RATING_CLOSED = "rating_closed"  # already rated, timed out, or not this pad's window
    INTERNAL = "internal"  # the scheduler failed; the request changed nothing, retry
    TIMEOUT = "timeout"  # raised on the device side: no reply in time


class DeviceKind(StrEnum):
    """What a device is; decides which requests the scheduler accepts from it."""

    KIOSK = "kiosk"
    COUNTER = "counter"
    RATING_PAD = "rating_pad"
    WINDOW_BOARD = "window_board"
    HALL_BOARD = "hall_board"
    ID_READER = "id_reader"
    VOICE = "voice"


class TicketState(StrEnum):
    """Life of a ticket: waiting -> called -> serving -> done, or no_show / cancelled."""

    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class RatingLevel(StrEnum):
    """The five national satisfaction levels (好差评), best first."""

    VERY_SATISFIED = "very_satisfied"  # 非常满意
    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意
    VERY_DISSATISFIED = "very_dissatisfied"  # 非常不满意

    @property
    def is_bad(self) -> bool:
        """The two lowest levels are bad ratings that must be followed up."""
        return self in (RatingLevel.DISSATISFIED, RatingLevel.VERY_DISSATISFIED)


RATING_LABELS_ZH: dict[RatingLevel, str] = {
    RatingLevel.VERY_SATISFIED: "非常满意",
    RatingLevel.SATISFIED: "满意",
    RatingLevel.BASICALLY_SATISFIED: "基本满意",
    RatingLevel.DISSATISFIED: "不满意",
    RatingLevel.VERY_DISSATISFIED: "非常不满意",
}

UNRATED: Literal["unrated"] = "unrated"
RatingOutcome = RatingLevel | Literal["unrated"]


class RatingSource(StrEnum):
    """How a rating record came to be."""

    PAD = "pad"
    TIMEOUT = "timeout"


# --- requests ------------------------------------------------------------------


class Request(Message):
    """Every request carries an id that is also its idempotency key."""

    request_id: RequestId


class IssueTicket(Request):
    """Kiosk: issue a ticket for a service."""

    service_code: str = Field(min_length=1, max_length=16)


class CallNext(Request):
    """Counter: call the next waiting ticket to this counter's window."""


class Recall(Request):
    """Counter: call the current ticket again."""


class StartService(Request):
    """Counter: the called citizen has arrived; service begins."""


class NoShow(Request):
    """Counter: the called citizen did not come."""


class Finish(Request):
    """Counter: service of the current ticket is done; prompt for a rating."""


class Cancel(Request):
    """Kiosk: cancel a waiting ticket (citizen changed their mind)."""

    ticket_id: TicketId


class Rate(Request):
    """Rating pad: the citizen's rating of a finished transaction."""

    transaction_id: TicketId
    level: RatingLevel


REQUEST_MODELS: dict[Command, type[Request]] = {
    Command.ISSUE_TICKET: IssueTicket,
    Command.CALL_NEXT: CallNext,
    Command.RECALL: Recall,
    Command.START_SERVICE: StartService,
    Command.NO_SHOW: NoShow,
    Command.FINISH: Finish,
    Command.CANCEL: Cancel,
    Command.RATE: Rate,
}


# --- replies -------------------------------------------------------------------


class ErrorInfo(Message):
    """What went wrong, for a person to act on."""

    code: ErrorCode
    message: str


class Reply(Message):
    """The answer to a request: ``ok`` with data, or ``error`` with a code."""

    request_id: str | None = None  # None only when the request was too broken to carry one
    status: Literal["ok", "error"]
    data: dict[str, Any] | None = None
    error: ErrorInfo | None = None

    @model_validator(mode="after")
    def _one_of_data_or_error(self) -> Reply:
        if (self.status == "error") != (self.error is not None):
            raise ValueError("an error reply carries error, an ok reply does not")
        return self

    @classmethod
    def ok(cls, request_id: str, data: Message) -> Reply:
        """A success reply carrying ``data``."""
        return cls(request_id=request_id, status="ok", data=data.model_dump(mode="json"))

    @classmethod
    def fail(cls, request_id: str | None, code: ErrorCode, message: str) -> Reply:
        """An error reply."""
        return cls(
            request_id=request_id, status="error", error=ErrorInfo(code=code, message=message)
        )


class TicketView(Message):
    """A ticket as devices see it."""

    ticket_id: str
    label: str  # e.g. "A001"
    service_code: str
    service_date: date
    state: TicketState
    issued_at: datetime
    window: int | None = None
    recalls: int = 0


class TicketIssued(TicketView):
    """Reply to issue_ticket."""

    people_ahead: int


class TransactionView(Message):
    """One service of a ticket at a window, and its rating outcome once known."""

    transaction_id: str
    ticket_id: str
    ticket_label: str
    window: int
    started_at: datetime
    finished_at: datetime
    rating_deadline: datetime
    outcome: RatingOutcome | None = None


# --- retained board state ------------------------------------------------------


class CurrentCall(Message):
    """The ticket a window is calling or serving."""

    ticket_id: str
    label: str
    service_code: str
    state: TicketState
    called_at: datetime
    recalls: int = 0


class WindowState(Message):
    """Retained per window: what its LED board and counter display show."""

    window: int
    status: Literal["open", "paused", "closed"]
    current: CurrentCall | None = None
    waiting: int  # tickets waiting for the services this window handles


class ServiceState(Message):
    """Retained per service: what the kiosk menu shows."""

    service_code: str
    names: dict[str, str]
    waiting: int
    open: bool


class RecentCall(Message):
    """One line of the hall board."""

    label: str
    window: int
    called_at: datetime


class HallState(Message):
    """Retained hall board: latest calls, newest first, and waiting per service."""

    recent_calls: list[RecentCall]
    waiting: dict[str, int]


# --- events and device commands ------------------------------------------------


class CallAnnouncement(Message):
    """Hall event: a ticket was called (or recalled) to a window; voice says it."""

    ticket_id: str
    label: str
    window: int
    service_code: str
    recalls: int
    called_at: datetime


class RatingPrompt(Message):
    """Command to a rating pad: ask the citizen to rate this transaction."""

    transaction_id: str
    ticket_label: str
    window: int
    deadline: datetime


class RatingClosed(Message):
    """Command to a rating pad: the prompt is over (rated or timed out)."""

    transaction_id: str
    outcome: RatingOutcome


class RatingRecorded(Message):
    """Hall event: a transaction's one rating record was written."""

    transaction_id: str
    ticket_id: str
    ticket_label: str
    window: int
    outcome: RatingOutcome
    source: RatingSource
    recorded_at: datetime


class DeviceStatus(Message):
    """Retained per device: health and faults, for the dashboard."""

    kind: DeviceKind
    healthy: bool
    faults: list[str] = Field(default_factory=list)
    detail: dict[str, str] = Field(default_factory=dict)


class PayloadError(ValueError):
    """A payload could not be decoded into its model."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def decode(model: type[M], payload: bytes) -> M:
    """Decode bytes into ``model``, translating every failure into a PayloadError."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}",
        )
    try:
        return model.model_validate_json(payload)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise PayloadError(ErrorCode.BAD_REQUEST, f"{where}: {first['msg']}") from err
