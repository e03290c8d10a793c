"""The counter's two bus devices: the clerk's keypad (``counter``) and the citizen's pad.

Each is a device of its own on the bus (its own id, availability and status), fed by
whatever hardware the profile names. Keys are queued and handled one at a time on a
worker thread, so the network thread never blocks and a key never overtakes another.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from counter_terminal.clerk import (
    CounterContext,
    Feedback,
    Step,
    after_reply,
    carry_on,
    feedback,
    plan,
    screen_lines,
)
from counter_terminal.keys import ClerkAction, ClerkKey
from counter_terminal.profile import RatingKeys, TextDisplay
from counter_terminal.rating import AskReason, Ignored, Phase, RatingSession, SendContact, Submit
from hallbus.clock import Clock, SystemClock
from hallbus.daemon import DeviceDaemon
from hallbus.hall_file import DeviceConfig, HallConfig
from hallbus.messages import (
    CardRead,
    ClerkView,
    DeviceKind,
    ErrorCode,
    KeyHandled,
    LeaveContact,
    Login,
    PayloadError,
    Rate,
    RatingClosed,
    RatingLevel,
    RatingPrompt,
    Reply,
    WindowState,
    decode,
)
from hallbus.settings import BusSettings
from hallbus.topics import Command, DeviceCommandKind, DeviceEventKind

log = logging.getLogger(__name__)

PAD_TICK_S = 0.2  # the pad looks at its clock this often while a prompt is open

ScreenSink = Callable[[list[str]], None]


@dataclass(frozen=True)
class CounterSettings:
    """How patiently a key waits for the scheduler."""

    reply_timeout_s: float = 2.0
    # A key is resent with the same id this long (the scheduler may be restarting); it
    # acts once whenever it arrives.
    give_up_s: float = 30.0

    @property
    def attempts(self) -> int:
        """Sends of one request before the clerk is told the system does not answer."""
        return max(1, round(self.give_up_s / self.reply_timeout_s))


def counter_context(hall: HallConfig, window: int) -> CounterContext:
    """What a keypad at ``window`` needs to know of the hall."""
    config = next(w for w in hall.windows if w.number == window)
    return CounterContext(
        window=window,
        services=tuple((s.code, s.prefix) for s in hall.services),
        window_services=frozenset(hall.tiers(config)),
    )


class _InputHealth:
    """The input hardware's problems, as the device's retained status shows them."""

    def __init__(self, daemon: DeviceDaemon) -> None:
        self.daemon = daemon
        self.problems: set[str] = set()
        self.detail: dict[str, str] = {}
        self._lock = threading.Lock()

    def set(self, problem: str, present: bool, detail: str = "") -> None:
        with self._lock:
            changed = (problem in self.problems) != present
            if present:
                self.problems.add(problem)
                self.detail[problem] = detail
            else:
                self.problems.discard(problem)
                self.detail.pop(problem, None)
            faults, details = sorted(self.problems), dict(self.detail)
        if changed and self.daemon.bus.connected.is_set():
            self.daemon.publish_status(healthy=not faults, faults=faults, detail=details)

    def publish(self) -> None:
        with self._lock:
            faults, details = sorted(self.problems), dict(self.detail)
        self.daemon.publish_status(healthy=not faults, faults=faults, detail=details)


class _CounterDevice(DeviceDaemon):
    """What a keypad and a pad share: a window, input health, a worker taking presses."""

    def __init__(
        self,
        settings: BusSettings,
        hall: HallConfig,
        device: DeviceConfig,
        counter: CounterSettings | None,
        clock: Clock | None,
    ) -> None:
        super().__init__(settings, hall.id, device.id)
        assert device.window is not None
        self.window = device.window
        self.counter = counter or CounterSettings()
        self.clock = clock or SystemClock()
        self.health = _InputHealth(self)
        self._worker: threading.Thread | None = None

    def start(self, timeout: float | None = 10.0) -> None:
        """Connect, publish the input's health, then take presses."""
        super().start(timeout)
        self.health.publish()
        self._worker = threading.Thread(target=self._work, name=f"keys-{self.device_id}")
        self._worker.daemon = True
        self._worker.start()
        self._show()

    def stop(self) -> None:
        """Finish the press in hand and disconnect."""
        self._end_work()
        if self._worker is not None:
            self._worker.join(timeout=self.counter.reply_timeout_s * 2)
        super().stop()

    def noise(self, reason: str) -> None:
        """Presses that made nothing (a bounce, an unmapped key): logged and published."""
        log.info("key ignored", extra={"device": self.device_id, "reason": reason})
        self._event("noise", accepted=False, outcome="ignored", text=reason)

    def _event(self, key: str, *, accepted: bool, outcome: str, text: str) -> None:
        """Publish what came of a key, for the dashboard and anyone watching the counter."""
        event = KeyHandled(
            key=key[:32],
            accepted=accepted,
            outcome=outcome[:32],
            text=text[:64],
            at=self.clock.now(),
        )
        self.bus.publish(self.topics.device_event(self.device_id, DeviceEventKind.KEY), event)

    def _work(self) -> None:
        raise NotImplementedError

    def _end_work(self) -> None:
        raise NotImplementedError

    def _show(self) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class _CardLogin:
    """A clerk's card tapped on the counter's paired reader."""

    id_hash: str


class KeypadDevice(_CounterDevice):
    """The clerk's caller keypad at one window."""

    kind = DeviceKind.COUNTER

    def __init__(
        self,
        settings: BusSettings,
        hall: HallConfig,
        device: DeviceConfig,
        *,
        screen: ScreenSink | None = None,
        display: TextDisplay | None = None,
        counter: CounterSettings | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(settings, hall, device, counter, clock)
        self.context = counter_context(hall, self.window)
        self.id_reader = device.id_reader
        self.screen = screen
        self.display = display
        self.state: WindowState | None = None
        self.last: Feedback | None = None
        self._shown: list[str] | None = None
        self._keys: queue.Queue[ClerkAction | _CardLogin | None] = queue.Queue()
        self._awaiting_pin: Login | None = None  # a login the scheduler wants a PIN for

    def setup(self) -> None:
        """Follow the window's retained state, and the paired reader's cards for logins."""
        self.bus.subscribe(self.topics.window_state(self.window), self._on_window)
        if self.id_reader is not None:
            self.bus.subscribe(
                self.topics.device_event(self.id_reader, DeviceEventKind.CARD_READ), self._on_card
            )

    def press(self, action: ClerkAction) -> None:
        """A key from the hardware (any thread)."""
        self._keys.put(action)

    def _end_work(self) -> None:
        self._keys.put(None)

    # --- handlers ----------------------------------------------------------------------
    def _on_window(self, topic: str, payload: bytes) -> None:
        try:
            self.state = decode(WindowState, payload)
        except PayloadError as err:
            log.warning("bad window state", extra={"topic": topic, "error": str(err)})
            return
        self._show()

    def _on_card(self, topic: str, payload: bytes) -> None:
        try:
            card = decode(CardRead, payload)
        except PayloadError as err:
            log.warning("bad card event", extra={"topic": topic, "error": str(err)})
            return
        # A clerk taps their own card to log in (the hall file holds their keyed hash).
        # Queued like a key: it must not block this client's other messages.
        self._keys.put(_CardLogin(card.id_hash))

    def _work(self) -> None:
        while (action := self._keys.get()) is not None:
            try:
                self._handle(action)
            except Exception:
                log.exception("key failed", extra={"device": self.device_id})

    def _handle(self, item: ClerkAction | _CardLogin) -> None:
        if isinstance(item, _CardLogin):
            action = ClerkAction(ClerkKey.LOGIN)
            login = Login(request_id=uuid.uuid4().hex, id_hash=item.id_hash)
            steps: list[Step] | Feedback = [Step(Command.LOGIN, login)]
        elif item.key is ClerkKey.LOGIN and self._awaiting_pin is not None and item.number:
            # The number typed now is the PIN for the code or card given just before. It
            # is sent once, never shown or logged.
            action = item
            steps = self._with_pin(self._awaiting_pin, item.number)
        else:
            action = item
            steps = plan(action, self.state, self.context, uuid.uuid4().hex)
        self._awaiting_pin = None  # any other key gives up the login in hand
        if isinstance(steps, Feedback):
            self._tell(action, steps)
            return
        reply: Reply | None = None
        for step in steps:
            reply = self.requests.request(
                step.command,
                step.request,
                timeout=self.counter.reply_timeout_s,
                attempts=self.counter.attempts,
            )
            self.state = after_reply(self.state, step, reply)
            if not carry_on(step, reply):
                break
        assert reply is not None
        if reply.error is not None and reply.error.code is ErrorCode.PIN_REQUIRED:
            last = steps[-1].request
            if isinstance(last, Login) and last.pin is None:
                self._awaiting_pin = last  # the next "login" with a number sends its PIN
        self._tell(action, feedback(action, reply))

    @staticmethod
    def _with_pin(login: Login, pin: str) -> list[Step] | Feedback:
        try:
            request = Login(
                request_id=uuid.uuid4().hex,
                clerk_code=login.clerk_code,
                id_hash=login.id_hash,
                pin=pin,
            )
        except ValidationError:
            return Feedback(False, "密码为4-8位数字", "bad_pin")
        return [Step(Command.LOGIN, request)]

    def _tell(self, action: ClerkAction, said: Feedback) -> None:
        self.last = said
        log.info(
            "key handled",
            extra={"device": self.device_id, "key": action.key.value, "outcome": said.code},
        )
        self._event(action.key.value, accepted=said.ok, outcome=said.code, text=said.text)
        self._show()

    def _show(self) -> None:
        if self.screen is None or self.display is None:
            return
        lines = screen_lines(self.state, self.last, self.display.lines, self.display.width)
        if lines != self._shown:
            self._shown = lines
            self.screen(lines)


@dataclass(frozen=True)
class PadView:
    """What a pad shows: the clerk's card, or the prompt in its phase."""

    phase: Phase
    window: int
    clerk: ClerkView | None
    ticket_label: str | None
    level: RatingLevel | None
    seconds_left: int | None
    digits: str = ""  # the callback number being typed (contact screen)
    service: str | None = None  # the service rated, in Chinese


PadListener = Callable[[PadView], None]


class PadDevice(_CounterDevice):
    """The citizen's rating pad at one window."""

    kind = DeviceKind.RATING_PAD

    def __init__(
        self,
        settings: BusSettings,
        hall: HallConfig,
        device: DeviceConfig,
        keys: RatingKeys,
        *,
        counter: CounterSettings | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(settings, hall, device, counter, clock)
        self.session = RatingSession(keys)
        self.clerk: ClerkView | None = None
        self.listeners: list[PadListener] = []
        self._lock = threading.Lock()
        self._inbox: queue.Queue[int | None] = queue.Queue()
        self._shown: PadView | None = None

    def setup(self) -> None:
        """Listen for prompts, and follow the window for the clerk's card."""
        self.bus.subscribe(self.topics.device_commands(self.device_id), self._on_command)
        self.bus.subscribe(self.topics.window_state(self.window), self._on_window)

    def press(self, button: int) -> None:
        """A button (or a touch on one) from the hardware, any thread."""
        self._inbox.put(button)

    def _end_work(self) -> None:
        self._inbox.put(None)

    def view(self) -> PadView:
        """What the pad shows now."""
        with self._lock:
            session = self.session
            prompt = session.prompt
            left = None
            if prompt is not None and session.phase in (Phase.RATING, Phase.REASON, Phase.CONTACT):
                until = session.next_change() or prompt.deadline
                left = max(0, round((until - self.clock.now()).total_seconds()))
            return PadView(
                phase=session.phase,
                window=self.window,
                clerk=(prompt.clerk if prompt is not None and prompt.clerk else self.clerk),
                ticket_label=prompt.ticket_label if prompt is not None else None,
                service=prompt.service_names.get("zh") if prompt is not None else None,
                level=session.level,
                seconds_left=left,
                digits=session.digits,
            )

    # --- handlers ----------------------------------------------------------------------
    def _on_window(self, topic: str, payload: bytes) -> None:
        try:
            state = decode(WindowState, payload)
        except PayloadError as err:
            log.warning("bad window state", extra={"topic": topic, "error": str(err)})
            return
        self.clerk = state.clerk
        self._show()

    def _on_command(self, topic: str, payload: bytes) -> None:
        kind = topic.rsplit("/", 1)[-1]
        now = self.clock.now()
        try:
            if kind == DeviceCommandKind.RATING_PROMPT:
                prompt = decode(RatingPrompt, payload)
                with self._lock:
                    opened = self.session.open(prompt, now)
                log.info(
                    "rating prompt" if opened else "rating prompt again, ignored",
                    extra={"device": self.device_id, "ticket": prompt.ticket_label},
                )
            elif kind == DeviceCommandKind.RATING_CLOSED:
                closed = decode(RatingClosed, payload)
                with self._lock:
                    self.session.close(closed.transaction_id, now)
            else:
                log.warning("unknown pad command", extra={"topic": topic})
                return
        except PayloadError as err:
            log.warning("bad pad command", extra={"topic": topic, "error": str(err)})
            return
        self._inbox.put(0)  # wake the worker: the view changed
        self._show()

    def _work(self) -> None:
        while True:
            try:
                button = self._inbox.get(timeout=PAD_TICK_S)
            except queue.Empty:
                button = 0
            if button is None:
                return
            try:
                self._step(button)
            except Exception:
                log.exception("pad step failed", extra={"device": self.device_id})

    def _step(self, button: int) -> None:
        now = self.clock.now()
        with self._lock:
            due = self.session.tick(now)
            outcome = self.session.press(button, now) if button else None
        if due is not None:
            self._submit(due, "reason_timeout")
        if isinstance(outcome, Submit):
            self._submit(outcome, f"button_{button}")
        elif isinstance(outcome, SendContact):
            self._leave_contact(outcome)
        elif isinstance(outcome, Ignored) and outcome.kind == "typing":
            pass  # a digit of a phone number: neither logged nor published
        elif isinstance(outcome, AskReason):
            self._event(f"button_{button}", accepted=True, outcome="ask_reason", text="请选择原因")
        elif isinstance(outcome, Ignored):
            log.info("pad key ignored", extra={"device": self.device_id, "reason": outcome.reason})
            self._event(
                f"button_{button}", accepted=False, outcome=outcome.kind, text=outcome.reason
            )
        self._show()

    def _submit(self, submit: Submit, key: str) -> None:
        # The id derives from the transaction: however often this is sent, it rates once.
        rate = Rate(
            request_id=f"rate.{submit.transaction_id}"[:64],
            transaction_id=submit.transaction_id,
            level=submit.level,
            reason=submit.reason,
            comment=submit.comment,
        )
        reply = self.requests.request(
            Command.RATE, rate, timeout=self.counter.reply_timeout_s, attempts=self.counter.attempts
        )
        if reply.status == "ok":
            self._event(key, accepted=True, outcome="ok", text=f"rated {submit.level.value}")
            return
        code = reply.error.code if reply.error is not None else ErrorCode.INTERNAL
        log.warning("rating refused", extra={"device": self.device_id, "code": code.value})
        self._event(key, accepted=False, outcome=code.value, text="评价未记录")

    def _leave_contact(self, contact: SendContact) -> None:
        # The id derives from the transaction: one number per bad rating, sent once.
        request = LeaveContact(
            request_id=f"contact.{contact.transaction_id}"[:64],
            transaction_id=contact.transaction_id,
            phone=contact.phone,
        )
        reply = self.requests.request(
            Command.LEAVE_CONTACT,
            request,
            timeout=self.counter.reply_timeout_s,
            attempts=self.counter.attempts,
        )
        if reply.status == "ok" and reply.data is not None:
            masked = str(reply.data.get("masked", ""))
            self._event("contact", accepted=True, outcome="ok", text=f"回访号码 {masked}")
            return
        code = reply.error.code if reply.error is not None else ErrorCode.INTERNAL
        log.warning("callback number refused", extra={"device": self.device_id, "code": code.value})
        self._event("contact", accepted=False, outcome=code.value, text="号码未记录")

    def _show(self) -> None:
        view = self.view()
        if view == self._shown:
            return
        self._shown = view
        for listener in self.listeners:
            try:
                listener(view)
            except Exception:
                log.exception("pad output failed", extra={"device": self.device_id})
