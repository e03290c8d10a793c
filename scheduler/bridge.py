"""The scheduler on the bus: requests in, domain decides, store commits, replies and state out.

One worker thread is the hall's single writer, and it also does the connection's network
work (hallbus/driven.py): it reads every request that has arrived, runs them as one batch
under one commit, then writes the batch's replies and messages. A commit slower than the
keep-alive (15 s) would let the broker drop the connection: the persistent session keeps
the requests meanwhile, and the worker reconnects once the commit returns.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.client import MQTTMessageInfo
from pydantic import ValidationError

from hallbus import messages as bus
from hallbus.client import BusClient
from hallbus.clock import Clock, SystemClock
from hallbus.hall_file import DeviceConfig, HallConfig
from hallbus.messages import (
    REQUEST_MODELS,
    BadRatingReason,
    CallAnnouncement,
    ConfigApplied,
    CurrentCall,
    DeviceKind,
    ErrorCode,
    HallState,
    LedgerEntryView,
    Message,
    PayloadError,
    PrintRecorded,
    PriorityClass,
    RatingClosed,
    RatingPrompt,
    RatingRecorded,
    RatingSource,
    RecentCall,
    Reply,
    Request,
    ServiceState,
    TicketIssued,
    TransferDone,
    Unavailable,
    WindowState,
    decode,
)
from hallbus.settings import BusSettings
from hallbus.topics import Command, DeviceCommandKind, HallEventKind, HallTopics
from scheduler.cases import CaseError, CaseState
from scheduler.checkpoints import WitnessFile, sign_head
from scheduler.contacts import ContactVault, mask
from scheduler.domain import CallRecord, Changes, HallQueue, QueueError, Transaction
from scheduler.event_delivery import replay_answer
from scheduler.flood import FloodGuard, Rate, Verdict
from scheduler.hours import last_ended_day
from scheduler.ledger import EntryKind, LedgerEntry
from scheduler.login_check import check_login_pin
from scheduler.merit import last_month_stars
from scheduler.rating_token import RatingTokens
from scheduler.store import (
    LeadershipLost,
    OutboxMessage,
    ProcessedRequest,
    Store,
    StoreError,
    config_hash,
)
from scheduler.views import (
    appointment_view,
    clerk_view,
    ticket_fields,
    ticket_view,
    transaction_view,
    window_view,
)

log = logging.getLogger(__name__)

# Which requests each kind of device may make; the topic proves who is asking.
ALLOWED_COMMANDS: dict[DeviceKind, frozenset[Command]] = {
    DeviceKind.KIOSK: frozenset({Command.ISSUE_TICKET, Command.CANCEL, Command.REPORT_PRINT}),
    DeviceKind.COUNTER: frozenset(
        {
            Command.LOGIN,
            Command.LOGOUT,
            Command.PAUSE,
            Command.RESUME,
            Command.CALL_NEXT,
            Command.CALL_TICKET,
            Command.RECALL,
            Command.START_SERVICE,
            Command.NO_SHOW,
            Command.POSTPONE,
            Command.TRANSFER,
            Command.FINISH,
            Command.DESK_CONTACT,
        }
    ),
    DeviceKind.RATING_PAD: frozenset({Command.RATE, Command.LEAVE_CONTACT}),
    # The web side: the ticket's public rating page, booking, and managers' reviews.
    DeviceKind.PORTAL: frozenset(
        {
            Command.RATE,
            Command.BOOK_APPOINTMENT,
            Command.CANCEL_APPOINTMENT,
            Command.CHANGE_APPOINTMENT,
            Command.REVIEW_RATING,
            Command.APPLY_CONFIG,
            Command.REPLAY_EVENTS,
            Command.VOID_TICKET,
        }
    ),
}

# The scheduler's own connection speaks MQTT 3.1.1, whatever its devices speak: paho
# builds an MQTT 5 properties object for every packet it reads, 9 to 15 us a request, and
# the scheduler reads every request of the hall (measured: 0.91 of the CPU per command).
# What MQTT 5 gave it is kept: a request that asks for something now still expires at the
# broker (mosquitto honours a publisher's expiry for a 3.1.1 subscriber), and its session
# still ends after an hour away (`persistent_client_expiration` in broker_config).
SCHEDULER_PROTOCOL = "3.1.1"
MAX_BATCH = 256  # commands sharing one commit under load
WAITING_COUNT_EVERY_S = 0.5  # waiting counts (windows, services, hall) at most this often
ACK_EVERY_S = 1.0  # acknowledged outbox rows are forgotten at most this often ...
ACK_BATCH = 512  # ... unless this many rows are on their way
PRUNE_EVERY = timedelta(minutes=10)  # how often kept hall events past retention are dropped
ANSWER_MEMORY = timedelta(days=1)  # how long a retried request still gets its first answer


class _Signal(Enum):
    TICK = "tick"
    REPUBLISH = "republish"
    STOP = "stop"


def _acknowledged(info: MQTTMessageInfo) -> bool:
    """Whether the broker has acknowledged a QoS 1 publish."""
    try:
        return info.is_published()
    except (RuntimeError, ValueError):
        # Published while the connection was down: paho sends it after the reconnect, and
        # the reconnect's republish sends every unacknowledged row again anyway.
        return False


def _loose_request_id(payload: bytes) -> str | None:
    """The request id of a payload too broken to validate, so the error can be matched.

    Any string is echoed, even one too long or odd to be accepted: the device matches its
    reply by it, and the payload's size limit already bounds it.
    """
    if len(payload) > bus.MAX_PAYLOAD_BYTES:
        return None
    try:
        raw = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: JSON nested deeper than the interpreter's recursion limit.
        return None
    value = raw.get("request_id") if isinstance(raw, dict) else None
    if isinstance(value, str) and value:
        return value
    return None


def request_fingerprint(command: Command, request: Request) -> str:
    """What a request asks, without its id: a reused id with another body is refused."""
    body = request.model_dump_json(exclude={"request_id"})
    return hashlib.sha256(f"{command.value}\n{body}".encode()).hexdigest()[:32]


class SchedulerService:
    """The hall's scheduler process: owns the queue, the store and the bus adapter."""

    def __init__(
        self,
        hall: HallConfig,
        store: Store,
        bus_settings: BusSettings,
        *,
        clock: Clock | None = None,
        client_id: str | None = None,
        rating_tokens: RatingTokens | None = None,
        ledger_key: Ed25519PrivateKey | None = None,
        witness: WitnessFile | None = None,
        contacts: ContactVault | None = None,
        ticker: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hall = hall
        # Seconds for the throttles (waiting counts, acknowledgements); tests hold it still.
        self._ticker = ticker
        self.rating_tokens = rating_tokens
        # Signed heads of the rating ledger, and the file that keeps them outside the store.
        self.ledger_key = ledger_key
        self.witness = witness
        self.contacts = contacts  # seals callback numbers left at the pads
        self._checkpointed_seq = 0
        self._checkpoint_due = False
        self.config_version = 0
        self.store = store
        self.clock = clock or SystemClock()
        self.topics = HallTopics(hall.id)
        self.bus = BusClient(
            bus_settings.model_copy(update={"protocol": SCHEDULER_PROTOCOL}),
            client_id or self.topics.scheduler_identity(),
            self.topics.scheduler_availability(),
            driven=True,  # its network work runs on the worker (hallbus/driven.py)
        )
        self.queue = HallQueue(hall)
        self._inbox: queue.Queue[tuple[str, bytes] | _Signal] = queue.Queue()
        # (device, request id) -> (answer, fingerprint of the request, when answered)
        self._answers: OrderedDict[tuple[str, str], tuple[bytes, str, datetime]] = OrderedDict()
        self._acks_written_at = ticker()
        # Outbox rows on their way, in the order they were published (worker thread only).
        self._in_flight: deque[tuple[MQTTMessageInfo, int]] = deque()
        self._worker: threading.Thread | None = None
        # The batch in hand: answers waiting for their commit, and retries of them.
        self._batch_keys: dict[tuple[str, str], tuple[bytes, str]] = {}
        self._batch_duplicates: list[tuple[str, str]] = []
        self._last_state: dict[str, bytes] = {}  # topic -> retained payload last sent
        # Retained states whose counts alone moved wait for their turn (see _publish_counted).
        self._shown: dict[str, Message] = {}
        self._count_sent_at: dict[str, float] = {}
        self._count_due: dict[str, tuple[float, Callable[[], None]]] = {}
        self.processed = 0  # commands committed, for benchmarks
        self._index_hall()
        # A board line is made once per call, not again on every publish of the board.
        self._board_lines: dict[CallRecord, RecentCall] = {}
        self._event_seq = 0  # the newest hall event's number; set from the store
        self._pruned_at: datetime | None = None
        self._summarised_through: date | None = None
        # 星级柜员 derived from last month's ratings where the hall has rules (else None).
        self._stars: dict[str, int] | None = None
        self.flood = FloodGuard(self._rate_of, time.monotonic)
        self.deposed = threading.Event()  # a standby took over: commit nothing more

    # --- lifecycle ---------------------------------------------------------------
    def start(self, timeout: float | None = 10.0) -> None:
        """Open the store, restore the queue, connect, and republish retained state."""
        self.store.open()
        self.config_version, self.hall = self.store.config_in_force(self.hall, self.clock.now())
        self._restore()
        self._refresh_stars()
        self.bus.subscribe(self.topics.all_requests(), self._enqueue, inline=True)
        self.bus.on_connected(lambda: self._inbox.put(_Signal.REPUBLISH))
        self._worker = threading.Thread(target=self._work, name="scheduler", daemon=True)
        self._worker.start()
        self.bus.start(timeout=timeout)

    def stop(self) -> None:
        """Finish the command in hand, disconnect, close the store."""
        if self._worker is not None:
            self._inbox.put(_Signal.STOP)
            self.bus.wake()
            self._worker.join(timeout=10.0)
            self._worker = None
        # A deposed scheduler leaves the availability to the one that replaced it.
        self.bus.stop(announce=not self.deposed.is_set())
        self.store.close()

    def poke(self) -> None:
        """Make the worker look at the clock now (tests advance a fake clock, then poke)."""
        self._inbox.put(_Signal.TICK)
        self.bus.wake()

    def _index_hall(self) -> None:
        # Looked up for every request (devices, as it is read) and every transaction (its
        # clerk, service and rating pads): maps, not scans of the hall file's lists, which
        # run to a thousand devices in a large hall. Replaced whole when the hall changes.
        self._devices: dict[str, DeviceConfig] = {d.id: d for d in self.hall.devices}
        self._clerks = {c.code: c for c in self.hall.clerks}
        self._services = {s.code: s for s in self.hall.services}
        self._pads: dict[int, list[DeviceConfig]] = {}
        for device in self.hall.devices:
            if device.kind is DeviceKind.RATING_PAD and device.window is not None:
                self._pads.setdefault(device.window, []).append(device)

    # --- the worker --------------------------------------------------------------
    def _rate_of(self, device_id: str) -> Rate:
        device = self._devices.get(device_id)
        limit = self.hall.rate_limit(device.kind if device is not None else None)
        return Rate(limit.per_s, limit.burst)

    def _enqueue(self, topic: str, payload: bytes) -> None:
        # As the request is read: a flood is turned away here, before it takes memory.
        parsed = self.topics.parse_request(topic)
        device_id = parsed.device_id if parsed is not None else None
        known = device_id if device_id in self._devices else FloodGuard.UNKNOWN
        verdict = self.flood.check(known)
        if verdict is Verdict.ACCEPT:
            self._inbox.put((topic, payload))
        elif verdict is Verdict.REFUSE and device_id is not None:
            self._reply(
                device_id,
                Reply.fail(
                    _loose_request_id(payload),
                    ErrorCode.RATE_LIMITED,
                    "too many requests from this device; slow down and retry",
                ),
            )

    def _take_batch(self) -> list[tuple[str, bytes] | _Signal]:
        """Pump the bus until requests have come (the inline handler queues them) or the
        idle wait is over (a TICK); then everything that has arrived, up to MAX_BATCH.

        Group commit: everything taken here shares one database transaction, and no
        command is acknowledged, or visible on the bus, before that commit.
        """
        deadline = time.monotonic() + self._idle_wait()
        self.bus.pump(0.0)  # writes what the last batch published, reads what came since
        while self._inbox.empty():
            left = deadline - time.monotonic()
            if left <= 0:
                return [_Signal.TICK]
            self.bus.pump(left)
        items: list[tuple[str, bytes] | _Signal] = []
        while len(items) < MAX_BATCH:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        return items

    def _work(self) -> None:
        running = True
        while running:
            try:
                items = self._take_batch()
            except Exception:
                log.exception("the bus loop failed; carrying on")
                time.sleep(0.1)  # a fault that repeats at once must not spin the worker
                items = [_Signal.TICK]
            running = _Signal.STOP not in items
            try:
                if _Signal.TICK in items:
                    self._prune_events()
                board_cleared = self._close_days()
                self._handle_requests([item for item in items if isinstance(item, tuple)])
                self._expire_ratings()
                self._commit_batch()
                self._publish_due_counts()
                self._checkpoint()
                if board_cleared:
                    self._publish_hall()
                if _Signal.TICK in items:
                    self._refresh_services()
                    self._summarise_days()
                if _Signal.REPUBLISH in items:
                    self._republish()
                if self._inbox.empty():
                    self._flush_acks()  # the broker's acknowledgements, when due
                if self.deposed.is_set():
                    running = False
            except Exception:
                # Committing or publishing failed: never let that take the scheduler down.
                log.exception("worker failed on a batch; rebuilding state from the store")
                self._fail_batch()
                self._restore()

    def _handle_requests(self, requests: list[tuple[str, bytes]]) -> None:
        """Run a batch's requests; one that fails by a fault of ours harms no other.

        Bad input is refused at the edge (validation, QueueError) and changes nothing. A
        request that still raises may have half-changed the queue, so the uncommitted batch
        is thrown away, the queue rebuilt from the last commit and the batch run again
        without it. Requests answered before it get the same answer again.
        """
        failed: set[int] = set()
        while True:
            for index, (topic, payload) in enumerate(requests):
                if index in failed:
                    continue
                try:
                    self._handle_request(topic, payload)
                except Exception:
                    log.exception("a request failed; it is refused, the rest of its batch runs")
                    failed.add(index)
                    self._refuse_failed(topic, payload)
                    self._batch_keys.clear()
                    self._batch_duplicates.clear()
                    given = self._answers.copy()
                    self._restore()
                    # Refusals already sent stand: a request id has one answer, never a
                    # refusal first and then the deed.
                    self._answers.update(given)
                    break
            else:
                return

    def _refuse_failed(self, topic: str, payload: bytes) -> None:
        parsed = self.topics.parse_request(topic)
        if parsed is not None:
            self._reply(
                parsed.device_id,
                Reply.fail(
                    _loose_request_id(payload),
                    ErrorCode.INTERNAL,
                    "the scheduler failed on this request; it changed nothing",
                ),
            )

    def _idle_wait(self) -> float:
        wait = 1.0
        if self._count_due:
            soonest = min(due for due, _ in self._count_due.values())
            wait = min(wait, max(soonest - self._ticker(), 0.0) + 0.001)
        deadline = self.queue.next_rating_deadline()
        if deadline is None:
            return wait
        until = (deadline - self.clock.now()).total_seconds() + 0.001
        return min(max(until, 0.0), wait)

    def _restore(self) -> None:
        now = self.clock.now()
        state = self.store.load(now, self.hall.recent_calls)
        self.queue = state.queue_for(self.hall)
        self._index_hall()
        self.flood.forget(set(self._devices))
        # Numbers of events that were never committed are given again: no consumer saw them.
        self._event_seq = self.store.last_event_seq()
        self._checkpointed_seq = self.store.last_checkpoint_seq()
        self._close_days()  # a start on a later date ends what the earlier days left open
        self._answers.clear()
        for answer in state.processed:
            key = (answer.requester, answer.request_id)
            self._answers[key] = (answer.reply.encode(), answer.fingerprint, now)

    # --- requests -------------------------------------------------------------------
    def _reply(self, device_id: str, reply: Reply | bytes) -> None:
        # QoS 0: a reply is not the record of what was done (the commit is), and a device
        # that misses one asks again with the same request id and is given the same answer
        # from memory. QoS 1 only bought a PUBACK per command to handle here.
        payload = reply.to_bytes() if isinstance(reply, Reply) else reply
        self.bus.publish(self.topics.reply(device_id), payload, qos=0)

    def _handle_request(self, topic: str, payload: bytes) -> None:
        parsed = self.topics.parse_request(topic)
        if parsed is None:
            log.warning("dropped message on unexpected topic", extra={"topic": topic})
            return
        device = self._devices.get(parsed.device_id)
        if device is None:
            log.warning("request from unknown device", extra={"device": parsed.device_id})
            self._reply(
                parsed.device_id,
                Reply.fail(
                    _loose_request_id(payload),
                    ErrorCode.UNKNOWN_DEVICE,
                    f"device {parsed.device_id} is not configured in hall {self.hall.id}",
                ),
            )
            return
        try:
            command = Command(parsed.command)
        except ValueError:
            self._reply(
                device.id,
                Reply.fail(
                    _loose_request_id(payload),
                    ErrorCode.UNKNOWN_COMMAND,
                    f"unknown command {parsed.command!r}",
                ),
            )
            return
        try:
            request = decode(REQUEST_MODELS[command], payload)
        except PayloadError as err:
            log.warning(
                "malformed request",
                extra={"device": device.id, "command": command.value, "error": str(err)},
            )
            self._reply(device.id, Reply.fail(_loose_request_id(payload), err.code, str(err)))
            return
        if command not in ALLOWED_COMMANDS.get(device.kind, frozenset()):
            self._reply(
                device.id,
                Reply.fail(
                    request.request_id,
                    ErrorCode.NOT_ALLOWED,
                    f"a {device.kind.value} may not send {command.value}",
                ),
            )
            return
        if isinstance(request, bus.ReplayEvents):
            self._reply(device.id, Reply.ok(request.request_id, self._replay(request)))
            return  # a read: nothing to commit or to remember
        key = (device.id, request.request_id)
        fingerprint = request_fingerprint(command, request)
        known = self._answers.get(key)
        in_batch = self._batch_keys.get(key)
        first = known[1] if known else in_batch[1] if in_batch else None
        if first and first != fingerprint:  # rows from before fingerprints have none
            # A device that reuses an id for another request must not get the old answer
            # as if the new one had been done.
            self._reply(
                device.id,
                Reply.fail(
                    request.request_id,
                    ErrorCode.REQUEST_ID_REUSED,
                    f"request id {request.request_id} was used for another request",
                ),
            )
            return
        if known is not None:
            self._reply(device.id, known[0])  # a retry: same answer, nothing done again
            return
        if in_batch is not None:
            self._batch_duplicates.append(key)  # a retry within the batch: answered with it
            return
        if isinstance(request, bus.ApplyConfig):
            self._apply_config(request, key, fingerprint)
            return
        if isinstance(request, bus.DeskContact):
            # The case is opened when its rating commits, and its step commits on its own.
            self._commit_batch()
        self._execute(device, command, request, key, fingerprint)

    def _apply_config(
        self, request: bus.ApplyConfig, key: tuple[str, str], fingerprint: str
    ) -> None:
        """A manager's configuration change: checked, stored as a version, in force at once."""
        self._commit_batch()  # what came before runs under the configuration it came under
        now = self.clock.now()
        try:
            config = self._checked_config(request.config)
        except QueueError as err:
            refusal = Reply.fail(request.request_id, err.code, err.message).to_bytes()
            self._remember(key, refusal, fingerprint, now)
            self._reply(key[0], refusal)
            return
        previous = self.store.newest_config()
        source_hash = previous[2] if previous else config_hash(self.hall)

        def answer(version: int) -> ProcessedRequest:
            reply = Reply.ok(request.request_id, ConfigApplied(version=version))
            return ProcessedRequest(key[0], key[1], reply.to_bytes().decode(), fingerprint)

        try:
            version = self.store.save_config(
                config, author=request.author, source_hash=source_hash, now=now, answer=answer
            )
        except StoreError:
            log.exception("could not store the configuration; it was not applied")
            failed = Reply.fail(request.request_id, ErrorCode.INTERNAL, "could not save; retry")
            self._reply(key[0], failed)
            return
        reply = answer(version).reply.encode()
        self.hall, self.config_version = config, version
        self._restore()
        self._remember(key, reply, fingerprint, now)
        self._reply(key[0], reply)
        self._republish()
        log.info("configuration applied", extra={"version": version, "author": request.author})

    def _checked_config(self, raw: dict[str, Any]) -> HallConfig:
        """Validate a new configuration against the hall's rules and the live queue."""
        try:
            config = HallConfig.model_validate(raw)
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
            )
            raise QueueError(ErrorCode.INVALID_CONFIG, problems[:400]) from err
        if config.id != self.hall.id:
            raise QueueError(ErrorCode.INVALID_CONFIG, "the hall id cannot change")
        windows = {w.number for w in config.windows}
        services = {s.code for s in config.services}
        for ticket in self.queue.active_tickets():
            if ticket.service_code not in services:
                raise QueueError(
                    ErrorCode.INVALID_CONFIG,
                    f"ticket {ticket.label} still waits for {ticket.service_code}; "
                    "serve or transfer it before removing the service",
                )
            if ticket.window is not None and ticket.window not in windows:
                raise QueueError(
                    ErrorCode.INVALID_CONFIG,
                    f"window {ticket.window} still holds {ticket.label}; "
                    "finish it before removing the window",
                )
        return config

    def _execute(
        self,
        device: DeviceConfig,
        command: Command,
        request: Request,
        key: tuple[str, str],
        fingerprint: str,
    ) -> None:
        now = self.clock.now()
        try:
            data = self._apply(device, command, request, now)
        except QueueError as err:
            # A refusal changed nothing, so it needs no commit.
            refusal = Reply.fail(request.request_id, err.code, err.message).to_bytes()
            self._remember(key, refusal, fingerprint, now)
            self._reply(device.id, refusal)
            return
        self._batch_keys[key] = (Reply.ok_bytes(request.request_id, data), fingerprint)

    def _apply(
        self, device: DeviceConfig, command: Command, request: Request, now: datetime
    ) -> Message:
        window = device.window or 0
        queue = self.queue
        match request:
            case bus.IssueTicket():
                issued = queue.issue_ticket(
                    request.service_code,
                    now,
                    device.id,
                    id_hash=request.id_hash,
                    age=request.age,
                    disabled=request.disabled,
                    booking_code=request.booking_code,
                )
                return TicketIssued(  # validated once, not as a TicketView first
                    **ticket_fields(issued.ticket),
                    people_ahead=issued.people_ahead,
                    estimated_wait_s=issued.estimated_wait_s,
                    appointment_slot=issued.appointment.slot_start if issued.appointment else None,
                    rating_token=(
                        self.rating_tokens.token(issued.ticket.id) if self.rating_tokens else None
                    ),
                )
            case bus.Cancel():
                return ticket_view(queue.cancel(request.ticket_id, now))
            case bus.VoidTicket():
                voided = queue.void(request.ticket_id, now)
                log.info(
                    "ticket voided",
                    extra={
                        "ticket": voided.label,
                        "manager": request.manager,
                        "reason": request.reason,
                    },
                )
                return ticket_view(voided)
            case bus.Login():
                check_login_pin(self.store, self.hall, request, window, now)
                return window_view(
                    queue.login(
                        window, now, clerk_code=request.clerk_code, id_hash=request.id_hash
                    ),
                    self._stars,
                )
            case bus.Logout():
                return window_view(queue.logout(window, now), self._stars)
            case bus.Pause():
                return window_view(queue.pause(window, request.reason, now), self._stars)
            case bus.Resume():
                return window_view(queue.resume(window, now), self._stars)
            case bus.CallNext():
                return ticket_view(queue.call_next(window, now))
            case bus.CallTicket():
                return ticket_view(queue.call_ticket(window, request.label, now))
            case bus.Recall():
                return ticket_view(queue.recall(window, now))
            case bus.StartService():
                return ticket_view(queue.start_service(window, now))
            case bus.NoShow():
                return ticket_view(queue.no_show(window, now))
            case bus.Postpone():
                return ticket_view(queue.postpone(window, now))
            case bus.Transfer():
                ticket, closed = queue.transfer(
                    window, now, to_service=request.to_service, to_window=request.to_window
                )
                return TransferDone(
                    ticket=ticket_view(ticket),
                    transaction=transaction_view(closed) if closed else None,
                )
            case bus.Finish():
                return transaction_view(queue.finish(window, now))
            case bus.Rate():
                portal = device.kind == DeviceKind.PORTAL
                rated = queue.rate(
                    request.transaction_id,
                    request.level,
                    now,
                    source=RatingSource.QR if portal else RatingSource.PAD,
                    window=None if portal else window,
                    reason=request.reason,
                    comment=request.comment,
                )
                return transaction_view(rated)
            case bus.LeaveContact():
                if self.contacts is None:
                    raise QueueError(ErrorCode.NOT_ALLOWED, "this hall keeps no callback numbers")
                masked = mask(request.phone)
                sealed = self.contacts.seal(request.phone)
                if (
                    self.store.save_case_contact(
                        request.transaction_id, sealed, masked, now, window=window
                    )
                    is None
                ):
                    raise QueueError(
                        ErrorCode.UNKNOWN_TRANSACTION,
                        f"no open case of {request.transaction_id} at window {window}",
                    )
                return bus.ContactKept(masked=masked)
            case bus.DeskContact():
                return self._desk_contact(window, now)
            case bus.BookAppointment():
                return appointment_view(
                    queue.book_appointment(
                        request.service_code,
                        request.slot_start,
                        request.id_hash,
                        request.contact,
                        now,
                    )
                )
            case bus.CancelAppointment():
                return appointment_view(queue.cancel_appointment(request.code, now))
            case bus.ChangeAppointment():
                return appointment_view(
                    queue.change_appointment(request.code, request.slot_start, now)
                )
            case bus.ReportPrint():
                if not queue.holds_ticket(request.ticket_id) and not self.store.has_ticket(
                    request.ticket_id
                ):
                    raise QueueError(
                        ErrorCode.UNKNOWN_TICKET, f"no ticket {request.ticket_id} in this hall"
                    )
                report = queue.report_print(request.ticket_id, request.state, request.faults)
                return PrintRecorded(
                    ticket_id=report.ticket_id, state=report.state, faults=list(report.faults)
                )
            case bus.ReviewRating():
                entry = self._review(request, now)
                return LedgerEntryView(
                    seq=entry.seq,
                    hash=entry.hash,
                    kind="not_adopted",
                    transaction_id=entry.transaction_id,
                )
        raise QueueError(ErrorCode.UNKNOWN_COMMAND, f"unhandled command {command}")

    def _desk_contact(self, window: int, now: datetime) -> bus.DeskContactRecorded:
        """The clerk at ``window`` spoke with the citizen of its newest bad rating there."""
        clerk = self.queue.window(window).clerk
        if clerk is None:
            raise QueueError(ErrorCode.WINDOW_CLOSED, f"window {window}: nobody logged in")
        found = self.store.case_awaiting_contact_at(window)
        if found is None:
            raise QueueError(
                ErrorCode.UNKNOWN_TRANSACTION, f"no case awaiting contact at window {window}"
            )
        case_id, label = found
        try:
            self.store.advance_case(
                case_id,
                CaseState.CONTACTED,
                actor=f"clerk {clerk.code} at window {window}",
                now=now,
                today=now.astimezone(self.hall.zone).date(),
                calendar=self.queue.calendar,
                note="当面沟通 (at the desk)",
            )
        except (CaseError, StoreError) as err:  # a manager moved it meanwhile
            raise QueueError(ErrorCode.INVALID_STATE, str(err)) from err
        return bus.DeskContactRecorded(case_id=case_id, ticket_label=label)

    def _replay(self, request: bus.ReplayEvents) -> bus.EventsReplayed:
        """Kept hall events after a consumer's last one (committing the batch so far first)."""
        self._commit_batch()  # events of the batch so far are part of the answer
        return replay_answer(self.store, self.topics, self._event_seq, request)

    def _review(self, request: bus.ReviewRating, now: datetime) -> LedgerEntry:
        entries = self.queue.ledger_entries(request.transaction_id)
        if entries is None:
            entries = self.store.ledger_entries(request.transaction_id)
        rating = next((e for e in entries if e.kind == EntryKind.RATING), None)
        if rating is None:
            raise QueueError(
                ErrorCode.UNKNOWN_TRANSACTION, f"no rating recorded for {request.transaction_id}"
            )
        return self.queue.review_rating(
            rating,
            entries,
            reviewer=request.reviewer,
            approver=request.approver,
            reason=request.reason,
            now=now,
        )

    def _remember(
        self, key: tuple[str, str], reply: bytes, fingerprint: str, now: datetime
    ) -> None:
        self._answers[key] = (reply, fingerprint, now)
        while self._answers:
            oldest_key, (_, _, at) = next(iter(self._answers.items()))
            if now - at <= ANSWER_MEMORY:
                break
            del self._answers[oldest_key]

    # --- commit and publish -------------------------------------------------------------
    def _commit_batch(self) -> None:
        """Persist what the batch changed, then answer, then tell the devices."""
        changes = self.queue.take_changes()
        if changes.empty and not self._batch_keys:
            return
        now = self.clock.now()
        answered = [
            ProcessedRequest(device_id, request_id, reply.decode(), fingerprint)
            for (device_id, request_id), (reply, fingerprint) in self._batch_keys.items()
        ]
        events = self._events(changes, now)
        try:
            ids = self.store.commit(
                changes, now, answered=answered, messages=events, published=self._acks_due()
            )
        except LeadershipLost as err:
            # Say nothing to the devices: they retry, and the new leader answers them.
            log.error("deposed: another scheduler leads the hall", extra={"error": str(err)})
            self._batch_keys.clear()
            self._batch_duplicates.clear()
            self.deposed.set()
            # Off the bus at once: two clients with one identity would take turns kicking
            # each other off, and this one would swallow requests meant for the leader.
            self.bus.stop(announce=False)
            return
        except StoreError:
            log.exception("commit failed; rebuilding state from the store")
            self._fail_batch()
            self._restore()
            return
        self.processed += len(answered)
        for key, (reply, fingerprint) in self._batch_keys.items():
            self._remember(key, reply, fingerprint, now)
            self._reply(key[0], reply)
        for key in self._batch_duplicates:
            self._reply(key[0], self._batch_keys[key][0])
        self._batch_keys.clear()
        self._batch_duplicates.clear()
        for outbox_id, message in zip(ids, events, strict=True):
            info = self.bus.publish(message.topic, message.payload, retain=message.retain)
            self._in_flight.append((info, outbox_id))
        self._publish_state(changes)
        self.bus.flush()  # the answers go now, not after the batch's chores

    def _fail_batch(self) -> None:
        """Tell every device of an unsaved batch to retry; nothing of it took effect."""
        for device_id, request_id in [*self._batch_keys, *self._batch_duplicates]:
            self._reply(
                device_id,
                Reply.fail(request_id, ErrorCode.INTERNAL, "the scheduler could not save; retry"),
            )
        self._batch_keys.clear()
        self._batch_duplicates.clear()

    def _events(self, changes: Changes, now: datetime) -> list[OutboxMessage]:
        """What devices must hear about, written to the outbox with the command."""
        events: list[OutboxMessage] = []
        for call in changes.calls:
            self._event_seq += 1
            announcement = CallAnnouncement(
                event_seq=self._event_seq,
                ticket_id=call.ticket_id,
                label=call.label,
                window=call.window,
                service_code=call.service_code,
                recalls=call.recalls,
                called_at=call.called_at,
            )
            events.append(
                OutboxMessage(
                    self.topics.hall_event(HallEventKind.CALL),
                    announcement.to_bytes(),
                    False,
                    announcement.event_seq,
                )
            )
        for transaction in changes.prompts:
            events.extend(self._prompt_messages(transaction))
        for transaction in changes.pad_closed:
            events.extend(self._closed_messages(transaction, None))
        for entry, rated in changes.ledger:
            if rated is None or rated.outcome is None:
                continue  # a review is no news for the hall's devices
            self._event_seq += 1
            record = RatingRecorded(
                event_seq=self._event_seq,
                seq=entry.seq,
                hash=entry.hash,
                transaction_id=rated.id,
                ticket_id=rated.ticket_id,
                ticket_label=rated.ticket_label,
                service_code=rated.service_code,
                window=rated.window,
                clerk_code=rated.clerk_code,
                outcome=rated.outcome,
                reason=BadRatingReason(entry.reason) if entry.reason else None,
                source=RatingSource(entry.source),
                recorded_at=entry.recorded_at,
            )
            events.append(
                OutboxMessage(
                    self.topics.hall_event(HallEventKind.RATING),
                    record.to_bytes(),
                    False,
                    record.event_seq,
                )
            )
            if not rated.pad_closed:
                events.extend(self._closed_messages(rated, rated.outcome))
        return events

    def _closed_messages(
        self, transaction: Transaction, outcome: bus.RatingOutcome | None
    ) -> list[OutboxMessage]:
        closed = RatingClosed(transaction_id=transaction.id, outcome=outcome).to_bytes()
        return [
            OutboxMessage(
                self.topics.device_command(pad.id, DeviceCommandKind.RATING_CLOSED), closed, False
            )
            for pad in self._pads.get(transaction.window, ())
        ]

    def _prompt_messages(self, transaction: Transaction) -> list[OutboxMessage]:
        clerk = self._clerks.get(transaction.clerk_code) if transaction.clerk_code else None
        service = self._services.get(transaction.service_code)
        prompt = RatingPrompt(
            transaction_id=transaction.id,
            ticket_label=transaction.ticket_label,
            window=transaction.window,
            clerk=clerk_view(clerk, self._stars),
            deadline=transaction.pad_deadline,
            service_names=service.names if service is not None else {},
        ).to_bytes()
        return [
            OutboxMessage(
                self.topics.device_command(pad.id, DeviceCommandKind.RATING_PROMPT), prompt, False
            )
            for pad in self._pads.get(transaction.window, ())
        ]

    def _publish_retained(self, topic: str, state: Message) -> None:
        # Retained state is derived from the queue and republished whole after every
        # (re)connect, so QoS 0 loses nothing here and spares the broker a PUBACK per board
        # update; an unchanged state is not sent again.
        payload = state.to_bytes()
        if self._last_state.get(topic) != payload:
            self._last_state[topic] = payload
            self.bus.publish(topic, payload, qos=0, retain=True)

    def _publish_state(self, changes: Changes) -> None:
        # Retained state is derived from the queue, so it needs no outbox: after a restart
        # it is recomputed and republished whole.
        for window in sorted(changes.windows):
            self._publish_window(window)
        for window in sorted(changes.window_counts - changes.windows):
            self._publish_count(self.topics.window_state(window), self._window_publisher(window))
        for code in sorted(changes.services):
            self._publish_service(code)
        for code in sorted(changes.service_counts - changes.services):
            self._publish_count(self.topics.service_state(code), self._service_publisher(code))
        if changes.services or changes.calls:
            self._publish_hall()
        elif changes.service_counts:
            self._publish_count(self.topics.hall_state(), self._publish_hall)

    def _publish_window(self, window: int) -> None:
        state = self.queue.window(window)
        ticket = state.current
        current = None
        if ticket is not None and ticket.called_at is not None:
            current = CurrentCall(
                ticket_id=ticket.id,
                label=ticket.label,
                service_code=ticket.service_code,
                state=ticket.state,
                called_at=ticket.called_at,
                recalls=ticket.recalls,
                serving_since=ticket.serving_since,
                priority=None if ticket.priority is PriorityClass.NORMAL else ticket.priority,
            )
        shown = WindowState(
            window=window,
            status=state.status,
            pause_reason=state.pause_reason,
            clerk=clerk_view(state.clerk, self._stars),
            current=current,
            waiting=self.queue.waiting_for_window(window),
            status_since=state.status_since,
        )
        self._publish_counted(
            self.topics.window_state(window),
            shown,
            {"waiting": shown.waiting},
            self._window_publisher(window),
        )

    def _publish_count(self, topic: str, publish: Callable[[], None]) -> None:
        """A state whose waiting figures alone may have moved (most windows and services
        of a busy hall, on every ticket): not even built before its count is due."""
        due = self._count_sent_at.get(topic, 0.0) + WAITING_COUNT_EVERY_S
        if topic in self._shown and self._ticker() < due:
            if topic not in self._count_due:
                self._count_due[topic] = (due, publish)
            return
        publish()

    def _window_publisher(self, window: int) -> Callable[[], None]:
        return lambda: self._publish_window(window)

    def _service_publisher(self, code: str) -> Callable[[], None]:
        return lambda: self._publish_service(code)

    def _publish_counted(
        self, topic: str, shown: Message, counts: dict[str, Any], again: Callable[[], None]
    ) -> None:
        """Publish a retained state; when only its ``counts`` moved since it was last sent,
        at most every WAITING_COUNT_EVERY_S (``again`` rebuilds it when its turn comes).

        Under load every ticket moves the waiting counts of a window, its services and the
        hall board: sent each time, they were most of the scheduler's messages, while a
        board or a kiosk showing a count half a second late misleads nobody. Any other
        change (a call, a pause, a service closing) goes out at once, and so does the
        newest count with it.
        """
        last = self._shown.get(topic)
        moment = self._ticker()
        if last is not None and last.model_copy(update=counts) == shown:
            due = self._count_sent_at.get(topic, 0.0) + WAITING_COUNT_EVERY_S
            if moment < due:
                self._count_due[topic] = (due, again)
                return
        self._count_due.pop(topic, None)
        self._shown[topic] = shown
        self._count_sent_at[topic] = moment
        self._publish_retained(topic, shown)

    def _publish_due_counts(self) -> None:
        """Retained states held back for their counts, once their time has come."""
        moment = self._ticker()
        for _, again in [entry for entry in self._count_due.values() if entry[0] <= moment]:
            again()

    def _publish_service(self, code: str) -> None:
        service = self.queue.service(code)
        unavailable = self.queue.availability(code, self.clock.now())
        state = ServiceState(
            service_code=code,
            names=service.names,
            prefix=service.prefix,
            documents=service.documents,
            green_channel=service.green_channel,
            waiting=self.queue.waiting_count(code),
            estimated_wait_s=self.queue.estimated_wait_s(code),
            open_windows=self.queue.staffed_windows(code),
            unavailable=(
                Unavailable(
                    code=unavailable.code,
                    message=unavailable.message,
                    opens_at=unavailable.opens_at,
                )
                if unavailable
                else None
            ),
            longest_waiting_since=self.queue.longest_waiting_since(code),
            hours_today=self.queue.hours_today(code, self.clock.now()),
        )
        counts = {
            "waiting": state.waiting,
            "estimated_wait_s": state.estimated_wait_s,
            "longest_waiting_since": state.longest_waiting_since,
        }
        topic = self.topics.service_state(code)
        self._publish_counted(topic, state, counts, self._service_publisher(code))

    def _publish_hall(self) -> None:
        state = HallState(
            recent_calls=self._recent_call_lines(),
            waiting={s.code: self.queue.waiting_count(s.code) for s in self.hall.services},
            names=self.hall.names,
            languages=self.hall.languages,
            notices=self.hall.notices,
        )
        counts = {"waiting": state.waiting}
        self._publish_counted(self.topics.hall_state(), state, counts, self._publish_hall)

    def _recent_call_lines(self) -> list[RecentCall]:
        made = self._board_lines
        lines = [
            made.get(c) or RecentCall(label=c.label, window=c.window, called_at=c.called_at)
            for c in self.queue.recent_calls
        ]
        self._board_lines = dict(zip(self.queue.recent_calls, lines, strict=True))
        return lines

    def _republish(self) -> None:
        """After a start or reconnect: every retained state, open prompts, unsent events."""
        self._last_state.clear()
        self._shown.clear()
        self._count_due.clear()
        for window in self.queue.window_numbers():
            self._publish_window(window)
        for service in self.hall.services:
            self._publish_service(service.code)
        self._publish_hall()
        now = self.clock.now()
        for transaction in self.queue.awaiting_rating():
            if transaction.pad_closed or transaction.pad_deadline < now:
                continue
            for message in self._prompt_messages(transaction):
                self.bus.publish(message.topic, message.payload)
        self._in_flight.clear()  # copies sent before the loss are sent again below
        for row in self.store.pending_outbox():
            info = self.bus.publish(row.topic, row.payload, retain=row.retain)
            self._in_flight.append((info, row.id))
        log.info("republished retained state", extra={"hall": self.hall.id})

    def _expire_ratings(self) -> None:
        deadline = self.queue.next_rating_deadline()
        now = self.clock.now()
        if deadline is None or deadline >= now:
            return
        self.queue.expire_ratings(now)  # committed with the batch

    def _refresh_services(self) -> None:
        """Opening hours turn over with the clock: republish what changed (deduplicated)."""
        for service in self.hall.services:
            self._publish_service(service.code)

    def _close_days(self) -> bool:
        """End what ended service days left open (committed with the batch); True if the
        hall board lost the ended day's calls."""
        closed = self.queue.close_days(self.clock.now())
        if closed is None:
            return False
        self._checkpoint_due = True  # each day ends with a signed head of the ledger
        self._refresh_stars()  # a new month may have begun
        log.info(
            "service day ended",
            extra={
                "through": closed.through.isoformat(),
                "expired": len(closed.expired),
                "no_show": len(closed.no_shows),
                "finished": len(closed.finished),
                "logged_out": len(closed.logged_out),
            },
        )
        return closed.board_cleared

    def _refresh_stars(self) -> None:
        """Stars from last calendar month's ratings, by the hall file's rules."""
        today = self.clock.now().astimezone(self.hall.zone).date()
        self._stars = last_month_stars(self.store.engine, self.hall, today)

    def _checkpoint(self) -> None:
        """Sign the ledger's committed head every ``checkpoint_every`` entries and at day end."""
        ledger = self.queue.ledger
        if self.ledger_key is None or ledger.head_seq <= self._checkpointed_seq:
            self._checkpoint_due = False
            return
        if not self._checkpoint_due and (
            ledger.head_seq - self._checkpointed_seq < self.hall.checkpoint_every
        ):
            return
        checkpoint = sign_head(
            self.ledger_key, self.hall.id, ledger.head_seq, ledger.head_hash, self.clock.now()
        )
        try:
            self.store.save_checkpoint(checkpoint)
        except LeadershipLost:
            return  # the next commit finds it out and steps down
        self._checkpointed_seq, self._checkpoint_due = checkpoint.seq, False
        payload = checkpoint.to_json().encode()
        self.bus.publish(self.topics.ledger_checkpoint(), payload, retain=True)
        if self.witness is not None:
            try:
                self.witness.append(checkpoint)
            except OSError:
                # The database and the bus still hold it; the file misses this one only.
                log.exception("could not append to the checkpoint file")

    def _summarise_days(self) -> None:
        # A day is summarised once its last transactions have their rating records.
        now = self.clock.now()
        grace = timedelta(seconds=self.hall.rating_timeout_s + self.hall.later_rating_s + 1)
        through = last_ended_day(self.hall, now - grace, self.queue.calendar)
        if through == self._summarised_through:
            return
        try:
            self.store.summarise_days(through, now)
        except StoreError:
            log.exception("could not write the day summaries; tried again at the next tick")
            return
        self._summarised_through = through

    def _prune_events(self) -> None:
        now = self.clock.now()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        before = now - timedelta(hours=self.hall.event_retention_h)
        try:
            self.store.prune_events(before)
        except StoreError:
            log.exception("could not drop old hall events; they are kept longer")

    def _take_acked(self) -> list[int]:
        # A broker acknowledges one connection's QoS 1 messages in the order it received
        # them (MQTT 3.1.1 and 5.0, 4.6), and paho sends them in the order published: the
        # acknowledged rows are the ones at the front, so no look past the first one waiting.
        ids = []
        while self._in_flight and _acknowledged(self._in_flight[0][0]):
            ids.append(self._in_flight.popleft()[1])
        return ids

    def _acks_due(self) -> list[int]:
        """Outbox rows the broker acknowledged, to forget now: at most every ACK_EVERY_S
        (or when ACK_BATCH are on their way), not in every batch's transaction.

        Writing them with every commit cost two statements a batch. An acknowledgement
        written later only means that a crash in between sends those rows once more on the
        restart, as it always could for the last batch: hall events carry their number and
        followers drop what they have, and device commands are idempotent.
        """
        moment = self._ticker()
        if moment - self._acks_written_at < ACK_EVERY_S and len(self._in_flight) < ACK_BATCH:
            return []
        self._acks_written_at = moment
        return self._take_acked()

    def _flush_acks(self) -> None:
        acked = self._acks_due()
        if acked:
            try:
                self.store.delete_outbox(acked, self.clock.now())
            except StoreError:
                log.exception("could not clear acknowledged outbox rows; they will be resent")
