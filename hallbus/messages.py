"""Payload models of the paidui bus: every message is one of these, validated on receipt."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import to_json

from hallbus.topics import Command, HallEventKind

# Requests larger than this are refused before parsing: no legitimate request comes near it.
MAX_PAYLOAD_BYTES = 16 * 1024

ONLINE = "online"
OFFLINE = "offline"

M = TypeVar("M", bound=BaseModel)

RequestId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


def _within_service_years(value: datetime) -> datetime:
    # A time a device sends is about now: far years would overflow date arithmetic
    # (year 9999 plus a slot length) deep in the scheduler instead of failing here.
    if not 2000 <= value.year <= 2199:
        raise ValueError("must be a time between the years 2000 and 2199")
    return value


# A time in a request: with its zone (a naive time is ambiguous in a hall's day) and in
# years a hall can mean.
RequestTime = Annotated[AwareDatetime, AfterValidator(_within_service_years)]
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
    SERVICE_CLOSED = "service_closed"  # outside its hours, or past the last-ticket time
    QUOTA_REACHED = "quota_reached"  # the service's tickets for today are all issued
    NO_WINDOW_OPEN = "no_window_open"  # no clerk is at a window that handles the service
    NO_APPOINTMENT = "no_appointment"  # an ID-card check-in found nothing booked today
    UNKNOWN_CLERK = "unknown_clerk"
    WINDOW_CLOSED = "window_closed"  # no clerk logged in at this window
    WINDOW_PAUSED = "window_paused"
    NOTHING_WAITING = "nothing_waiting"
    NO_CURRENT_TICKET = "no_current_ticket"
    INVALID_STATE = "invalid_state"
    UNKNOWN_TICKET = "unknown_ticket"
    UNKNOWN_TRANSACTION = "unknown_transaction"
    RATING_CLOSED = "rating_closed"  # already rated, timed out, or not this pad's window
    INVALID_CONFIG = "invalid_config"  # a configuration change fails the hall's rules
    RATE_LIMITED = "rate_limited"  # this device sent more than its kind may; slow down
    PIN_REQUIRED = "pin_required"  # this login needs the clerk's PIN: ask for it, send again
    WRONG_PIN = "wrong_pin"
    CLERK_LOCKED = "clerk_locked"  # too many wrong PINs: locked for a while
    REQUEST_ID_REUSED = "request_id_reused"  # the id was used before for another request
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
    PORTAL = "portal"  # the web side: the public rating page and appointment booking


class PriorityClass(StrEnum):
    """Why a ticket goes ahead of others, highest first; the order is the calling order."""

    APPOINTMENT = "appointment"  # booked slot, due now
    GREEN_CHANNEL = "green_channel"  # 绿色通道 service
    ELDERLY = "elderly"  # elderly (age from the ID card) or disabled
    TRANSFER_BACK = "transfer_back"  # sent on from another window (一票到底)
    NORMAL = "normal"

    @property
    def rank(self) -> int:
        """0 for the highest class."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {c: i for i, c in enumerate(PriorityClass)}


class WindowStatus(StrEnum):
    """Whether a window calls tickets: closed means no clerk is logged in."""

    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"


class PauseReason(StrEnum):
    """Why a clerk paused a window; boards show 暂停服务 whatever the reason."""

    BREAK = "break"
    MEETING = "meeting"
    TRAINING = "training"
    OTHER = "other"


class BadRatingReason(StrEnum):
    """What a bad rating is about; the pad asks after 不满意 or 非常不满意."""

    ATTITUDE = "attitude"
    EFFICIENCY = "efficiency"
    PROCESS = "process"
    OTHER = "other"


class PrinterFault(StrEnum):
    """What a ticket printer reports (ESC/POS ``DLE EOT``) or what talking to it showed."""

    PAPER_NEAR_END = "paper_near_end"  # still prints; the hall should change the roll soon
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    OFFLINE = "offline"
    CUTTER_ERROR = "cutter_error"
    MECHANICAL_ERROR = "mechanical_error"  # unrecoverable or auto-recoverable error
    NO_RESPONSE = "no_response"  # connected, but no or garbled status replies
    DISCONNECTED = "disconnected"  # the port, USB device or socket is gone

    @property
    def blocks_printing(self) -> bool:
        """Every fault but paper near end stops a ticket from printing."""
        return self is not PrinterFault.PAPER_NEAR_END


class PrintState(StrEnum):
    """Whether the citizen got a paper ticket; ``failed`` tickets were shown on screen."""

    PRINTED = "printed"
    FAILED = "failed"


class TicketState(StrEnum):
    """Life of a ticket: waiting -> called -> serving -> done, or no_show / cancelled."""

    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # still waiting when its service day ended
    VOIDED = "voided"  # ended by a hall manager (wrong service, the citizen left)


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
    QR = "qr"  # the public page the ticket's QR code opens
    TIMEOUT = "timeout"


# A keyed hash (HMAC-SHA256, hex) of an ID number; the number itself never travels.
IdHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
ServiceCode = Annotated[str, Field(min_length=1, max_length=16)]
TicketLabel = Annotated[str, Field(pattern=r"^[A-Z]{1,2}[0-9]{3,5}$")]

# --- requests ------------------------------------------------------------------


class Request(Message):
    """Every request carries an id that is also its idempotency key."""

    request_id: RequestId


BookingCode = Annotated[str, Field(pattern=r"^[0-9]{8}$")]


class IssueTicket(Request):
    """Kiosk: issue a ticket for a service, or check in an appointment.

    With ``id_hash`` (from the paired ID reader) or ``booking_code`` (typed on screen) a
    booked appointment today is checked in; ``service_code`` may then be left out.
    ``age`` and ``disabled`` give priority.
    """

    service_code: ServiceCode | None = None
    id_hash: IdHash | None = None
    booking_code: BookingCode | None = None
    age: int | None = Field(default=None, ge=0, le=150)
    disabled: bool = False

    @model_validator(mode="after")
    def _service_or_card(self) -> IssueTicket:
        if self.service_code is None and self.id_hash is None and self.booking_code is None:
            raise ValueError(
                "give service_code, or id_hash or booking_code for an appointment check-in"
            )
        return self


class Login(Request):
    """Counter: a clerk logs in at this window, by clerk code or by ID card."""

    clerk_code: str | None = Field(default=None, min_length=1, max_length=32)
    id_hash: IdHash | None = None
    pin: str | None = Field(default=None, pattern=r"^[0-9]{4,8}$")  # where the hall wants one

    @model_validator(mode="after")
    def _code_or_card(self) -> Login:
        if (self.clerk_code is None) == (self.id_hash is None):
            raise ValueError("give exactly one of clerk_code and id_hash")
        return self


class Logout(Request):
    """Counter: the clerk leaves; another may log in and carry on (A/B post)."""


class Pause(Request):
    """Counter: stop calling for a while."""

    reason: PauseReason


class Resume(Request):
    """Counter: call again after a pause."""


class CallNext(Request):
    """Counter: call the next ticket by the calling policy."""


class CallTicket(Request):
    """Counter: call one waiting ticket out of order, by its printed number."""

    label: TicketLabel


class Postpone(Request):
    """Counter: the called citizen is not ready; back to the end of their line."""


class Transfer(Request):
    """Counter: send the current ticket on, keeping its number and arrival (一票到底)."""

    to_service: ServiceCode | None = None
    to_window: int | None = Field(default=None, ge=1, le=999)

    @model_validator(mode="after")
    def _somewhere(self) -> Transfer:
        if self.to_service is None and self.to_window is None:
            raise ValueError("give to_service, to_window or both")
        return self


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
    """Rating pad or public page: the citizen's rating of a finished transaction."""

    transaction_id: TicketId
    level: RatingLevel
    reason: BadRatingReason | None = None
    comment: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _bad_needs_reason(self) -> Rate:
        if self.level.is_bad and self.reason is None:
            raise ValueError("a bad rating needs a reason")
        if not self.level.is_bad and self.reason is not None:
            raise ValueError("only a bad rating carries a reason")  # a comment any level may
        return self


class BookAppointment(Request):
    """Portal: book a slot for a service; the citizen checks in with their ID card or the
    booking code of the reply. ``contact`` is what the hall may show of how to reach them
    (a masked number); the number itself never travels to the scheduler."""

    service_code: ServiceCode
    slot_start: RequestTime
    id_hash: IdHash
    contact: str = Field(min_length=1, max_length=64)


class CancelAppointment(Request):
    """Portal: cancel a booking by its code, before its slot; the place is free again."""

    code: BookingCode


class ChangeAppointment(Request):
    """Portal: move a booking to another slot of its service, by the booking rules."""

    code: BookingCode
    slot_start: RequestTime


class ReviewRating(Request):
    """Portal: a review found a rating mistaken or malicious; it is marked not adopted.

    Two different managers sign it off. The rating itself stays in the ledger.
    """

    transaction_id: TicketId
    reviewer: str = Field(min_length=1, max_length=64)
    approver: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _two_people(self) -> ReviewRating:
        if self.reviewer == self.approver:
            raise ValueError("the approver must be another manager than the reviewer")
        return self


class ApplyConfig(Request):
    """Portal: a manager changed the hall's configuration; the scheduler applies it live.

    ``config`` is a whole hall configuration; the scheduler validates it against its own
    schema, stores it as a new version and answers ``ConfigApplied``.
    """

    config: dict[str, Any]
    author: str = Field(min_length=1, max_length=64)


class ReportPrint(Request):
    """Kiosk: whether the ticket it was issued came out of the printer.

    A ticket is only printed after the scheduler issued it; a failed print is reported,
    so the hall sees who holds a number without paper.
    """

    ticket_id: TicketId
    state: PrintState
    faults: list[PrinterFault] = Field(default_factory=list, max_length=16)


class VoidTicket(Request):
    """Portal: a hall manager ends a ticket that is waiting or called; it is kept, voided."""

    ticket_id: TicketId
    reason: str = Field(min_length=1, max_length=200)
    manager: str = Field(min_length=1, max_length=64)


class LeaveContact(Request):
    """Rating pad: after a bad rating the citizen leaves a mobile number for the callback."""

    transaction_id: TicketId
    phone: str = Field(pattern=r"^1[3-9][0-9]{9}$")


class ContactKept(Message):
    """The answer to LeaveContact: the number as every page shows it."""

    masked: str


class DeskContact(Request):
    """Counter: the clerk spoke with the citizen of the window's newest bad rating at the desk.

    The case's first contact is then made (当面沟通); it is recorded under the clerk.
    """


class DeskContactRecorded(Message):
    """The answer to DeskContact: which case and ticket it was recorded on."""

    case_id: str
    ticket_label: str


class ReplayEvents(Request):
    """Portal: the hall events after ``after_seq`` that it missed (a gap, a reconnect).

    Without ``after_seq`` only the newest sequence number is answered: where to start.
    """

    after_seq: int | None = Field(default=None, ge=0)
    limit: int = Field(default=100, ge=1, le=200)


REQUEST_MODELS: dict[Command, type[Request]] = {
    Command.ISSUE_TICKET: IssueTicket,
    Command.CANCEL: Cancel,
    Command.LOGIN: Login,
    Command.LOGOUT: Logout,
    Command.PAUSE: Pause,
    Command.RESUME: Resume,
    Command.CALL_NEXT: CallNext,
    Command.CALL_TICKET: CallTicket,
    Command.RECALL: Recall,
    Command.START_SERVICE: StartService,
    Command.NO_SHOW: NoShow,
    Command.POSTPONE: Postpone,
    Command.TRANSFER: Transfer,
    Command.FINISH: Finish,
    Command.RATE: Rate,
    Command.BOOK_APPOINTMENT: BookAppointment,
    Command.CANCEL_APPOINTMENT: CancelAppointment,
    Command.CHANGE_APPOINTMENT: ChangeAppointment,
    Command.REVIEW_RATING: ReviewRating,
    Command.REPORT_PRINT: ReportPrint,
    Command.APPLY_CONFIG: ApplyConfig,
    Command.REPLAY_EVENTS: ReplayEvents,
    Command.VOID_TICKET: VoidTicket,
    Command.LEAVE_CONTACT: LeaveContact,
    Command.DESK_CONTACT: DeskContact,
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

    @staticmethod
    def ok_bytes(request_id: str, data: Message) -> bytes:
        """The bytes of ``Reply.ok(request_id, data)``, made without the reply model: every
        command's answer is one, and ``data`` needs no second validation (a test holds
        the two byte for byte)."""
        return b'{"request_id":%b,"status":"ok","data":%b}' % (
            to_json(request_id),
            data.__pydantic_serializer__.to_json(data),
        )

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
    priority: PriorityClass = PriorityClass.NORMAL
    issued_at: datetime
    window: int | None = None  # the window calling or serving it
    target_window: int | None = None  # transferred to this window only
    recalls: int = 0
    transfers: int = 0
    print_state: PrintState | None = None  # None until the kiosk reports


class TicketIssued(TicketView):
    """Reply to issue_ticket."""

    people_ahead: int
    estimated_wait_s: int
    appointment_slot: datetime | None = None  # set when this was an appointment check-in
    rating_token: str | None = None  # signs the QR code's rating page link for this ticket


class AppointmentView(Message):
    """Reply to book, cancel and change_appointment."""

    appointment_id: str
    service_code: str
    slot_start: datetime
    code: str = ""  # the booking code: typed at the kiosk, quoted to cancel or change
    state: str = "booked"


class ClerkView(Message):
    """The clerk at a window, as boards and pads show them."""

    code: str
    name: str
    stars: int | None = None  # 星级柜员, when the hall rates its clerks


class WindowView(Message):
    """Reply to login, logout, pause and resume."""

    window: int
    status: WindowStatus
    clerk: ClerkView | None = None
    pause_reason: PauseReason | None = None


class TransactionView(Message):
    """One service of a ticket at a window, and its rating outcome once known."""

    transaction_id: str
    ticket_id: str
    ticket_label: str
    service_code: str
    window: int
    clerk_code: str | None = None
    started_at: datetime
    finished_at: datetime
    rating_deadline: datetime  # the pad's prompt; the public page may allow longer
    outcome: RatingOutcome | None = None


class LedgerEntryView(Message):
    """An entry of the rating ledger, as the reply to review_rating shows it."""

    seq: int
    hash: str
    kind: Literal["rating", "not_adopted"]
    transaction_id: str


class ConfigApplied(Message):
    """The answer to apply_config: the version now in force."""

    version: int


class PrintRecorded(Message):
    """Reply to report_print: what the scheduler now holds (the first report stands)."""

    ticket_id: str
    state: PrintState
    faults: list[PrinterFault] = Field(default_factory=list)


class TransferDone(Message):
    """Reply to transfer: the ticket as it now waits, and the transaction it closed."""

    ticket: TicketView
    transaction: TransactionView | None = None  # None when transferred before service began


# --- retained board state ------------------------------------------------------


class CurrentCall(Message):
    """The ticket a window is calling or serving."""

    ticket_id: str
    label: str
    service_code: str
    state: TicketState
    called_at: datetime
    recalls: int = 0
    serving_since: datetime | None = None  # once the clerk started serving
    # Set when the ticket goes ahead of normal ones (预约, 绿色通道, 老年人优先): boards mark
    # an appointment, so the hall sees why it was called before others.
    priority: PriorityClass | None = None


class WindowState(Message):
    """Retained per window: what its LED board and counter display show."""

    window: int
    status: WindowStatus
    pause_reason: PauseReason | None = None
    clerk: ClerkView | None = None
    current: CurrentCall | None = None
    waiting: int  # tickets waiting for the services this window handles
    status_since: datetime | None = None  # when it opened, paused or closed


class Unavailable(Message):
    """Why a service issues no tickets now; the kiosk shows ``message``."""

    code: ErrorCode  # service_closed, quota_reached or no_window_open
    message: str
    opens_at: time | None = None  # hall-local time it opens again today, if it does


class ServiceState(Message):
    """Retained per service: what the kiosk menu shows."""

    service_code: str
    names: dict[str, str]
    prefix: str = ""  # the letter its tickets carry (A001): the kiosk and boards show it
    documents: dict[str, list[str]] = Field(default_factory=dict)  # 一次性告知, per language
    green_channel: bool = False
    waiting: int
    estimated_wait_s: int
    open_windows: int
    unavailable: Unavailable | None = None  # None: tickets can be taken now
    longest_waiting_since: datetime | None = None  # issue time of the longest-waiting ticket
    # Today's opening periods on the hall's clock ("09:00-12:00"), the season's in force;
    # empty for a service that keeps no hours.
    hours_today: list[str] = Field(default_factory=list)


class RecentCall(Message):
    """One line of the hall board."""

    label: str
    window: int
    called_at: datetime


class HallState(Message):
    """Retained hall board: latest calls, newest first, and waiting per service."""

    recent_calls: list[RecentCall]
    waiting: dict[str, int]
    names: dict[str, str] = Field(default_factory=dict)  # the hall's name per language
    languages: list[str] = Field(default_factory=lambda: ["zh"])  # the boards cycle through
    notices: dict[str, list[str]] = Field(default_factory=dict)  # scrolling notices per language


# --- events and device commands ------------------------------------------------


class ReplayedEvent(Message):
    """One hall event as it was published."""

    event_seq: int
    kind: HallEventKind
    payload: dict[str, Any]


class EventsReplayed(Message):
    """The answer to ReplayEvents: events in order, and what the scheduler still keeps."""

    events: list[ReplayedEvent] = Field(default_factory=list)
    last_seq: int = 0  # the newest event of the hall (0: none yet)
    oldest_seq: int | None = None  # the oldest still kept; older ones are gone for good
    more: bool = False  # more events follow after the last one here: ask again


class CallAnnouncement(Message):
    """Hall event: a ticket was called (or recalled) to a window; voice says it."""

    event_seq: int | None = None  # the hall's event sequence (ReplayEvents fills gaps)
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
    clerk: ClerkView | None = None
    deadline: datetime
    service_names: dict[str, str] = Field(default_factory=dict)  # the service, per language


class RatingClosed(Message):
    """Command to a rating pad: the prompt is over (rated, or its time ran out)."""

    transaction_id: str
    outcome: RatingOutcome | None = None  # None: not rated here; the public page may still


class RatingRecorded(Message):
    """Hall event: a transaction's one rating record was written to the ledger.

    ``seq`` and ``hash`` let any subscriber keep the ledger's head, so even removing the
    newest entries is noticed.
    """

    event_seq: int | None = None  # the hall's event sequence, not the ledger's ``seq``
    seq: int
    hash: str
    transaction_id: str
    ticket_id: str
    ticket_label: str
    service_code: str
    window: int
    clerk_code: str | None = None
    outcome: RatingOutcome
    reason: BadRatingReason | None = None
    source: RatingSource
    recorded_at: datetime


class CardKind(StrEnum):
    """Which card was tapped; all are read by the same SAM readers."""

    RESIDENT = "resident"  # 居民身份证
    HMT_RESIDENCE_PERMIT = "hmt_residence_permit"  # 港澳台居民居住证
    FOREIGN_PERMANENT = "foreign_permanent"  # 外国人永久居留身份证
    NUMBER_ONLY = "number_only"  # a keyboard-wedge reader typed just the number


class Gender(StrEnum):
    """GB/T 2261.1 sex codes as words."""

    UNKNOWN = "unknown"
    MALE = "male"
    FEMALE = "female"
    UNSPECIFIED = "unspecified"


class CardRead(Message):
    """Event of an ID reader: a card was read. Only what a kiosk or counter needs travels.

    The ID number is reduced to a keyed hash on the reader's host; the name is masked
    (张*明) for the screen's greeting; the age gives elderly priority, and ``elderly``
    says whether the reader's hall counts it as elderly. No photo, no address.
    """

    id_hash: IdHash
    masked_name: str = Field(max_length=32)
    age: int = Field(ge=0, le=150)
    read_at: datetime
    card_kind: CardKind = CardKind.RESIDENT
    gender: Gender = Gender.UNKNOWN
    elderly: bool = False


class KeyHandled(Message):
    """Event of a counter or rating pad: a key was pressed and what came of it.

    ``outcome`` is ``ok``, the error code the scheduler answered, or why the key was
    ignored (``stray``: no rating asked; ``repeated``: already rated; ``bounced``...).
    """

    key: str = Field(max_length=32)  # a clerk key (call_next, ...) or a pad button (button_3)
    accepted: bool
    outcome: str = Field(max_length=32)
    text: str = Field(max_length=64)  # what the device's screen said
    at: datetime


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
