"""One RS-485 line of keypads and raters: echoes, resends, polls and health, per address.

The line is half-duplex and shared, so one thread owns it. Frames from a device are
echoed at once as their acknowledgement; a device that does not see our echo sends the
frame again, which the sequence byte (or, without one, the time) tells apart from a new
press. Frames for a device (screen text, a rater's prompt) wait for its echo and are
resent a few times; only the newest content per device and function is kept, so a slow
line never sends stale screens. Idle devices are polled so one that stops answering is
reported, and an unplugged adapter is reopened until it comes back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from counter_terminal.bus_protocol import (
    BusDecoder,
    BusFault,
    BusFrame,
    encode_frame,
)
from counter_terminal.profile import BusFamily
from hallbus.links import ByteLink, LinkGone, LinkRunner

log = logging.getLogger(__name__)

READ_SLICE_S = 0.01  # how long one read waits, so echoes and resends stay on time
QUIET_S = 0.05  # a partial frame older than this will not complete


class LineProblem:
    """What a device's status says about its line."""

    UNPLUGGED = "line_unplugged"
    NOT_ANSWERING = "not_answering"


FrameHandler = Callable[[BusFrame], None]
HealthHandler = Callable[[int, str | None], None]  # address, problem or None when healthy


@dataclass
class _Outgoing:
    frame: BusFrame
    sends: int = 0
    sent_at: float = 0.0


class BusLine:
    """The host end of one line: hands each device's frames to its handler."""

    def __init__(
        self,
        link: ByteLink,
        family: BusFamily,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.link = link
        self.family = family
        self.clock = clock
        self.noise = 0  # faults seen on the line since start
        self._handlers: dict[int, FrameHandler] = {}
        self._key_functions: dict[int, tuple[int, int | None]] = {}  # key, echo function
        self._health: dict[int, HealthHandler] = {}
        self._slots: dict[tuple[int, int], BusFrame] = {}  # content waiting to be sent
        self._current: dict[tuple[int, int], BusFrame] = {}  # what each device should show
        self._pending: _Outgoing | None = None
        self._missed: dict[int, int] = {}
        self._problem: dict[int, str | None] = {}
        self._last_heard: dict[int, float] = {}  # heard from or polled
        self._last_key: dict[int, tuple[bytes, float]] = {}
        self._lock = threading.Lock()
        self._decoder = BusDecoder(family.framing)
        self._runner = LinkRunner(
            link,
            f"bus-{link.describe()}",
            step=self._step,
            on_open=self._opened,
            on_gone=self._gone,
            reconnect_s=family.timing.reconnect_s,
        )

    # --- wiring ------------------------------------------------------------------------
    def attach(
        self,
        address: int,
        on_frame: FrameHandler,
        on_health: HealthHandler,
        *,
        key_function: int | None = None,
        echo_function: int | None = None,
    ) -> None:
        """Route a device's key frames and health changes; before ``start``.

        ``key_function``: the function its key frames carry (None: the line's);
        ``echo_function``: the function its acknowledgement must carry (None: its frame
        echoed unchanged).
        """
        if address in self._handlers:
            raise ValueError(f"two devices at address {address} on {self.link.describe()}")
        self._handlers[address] = on_frame
        self._key_functions[address] = (
            self.family.functions.key if key_function is None else key_function,
            echo_function,
        )
        self._health[address] = on_health
        self._missed[address] = 0
        self._problem[address] = None

    def send(self, address: int, function: int, data: bytes) -> None:
        """Queue a frame for a device; newer content for the same function replaces it."""
        frame = BusFrame(address, function, data)
        with self._lock:
            self._slots[(address, function)] = self._current[(address, function)] = frame

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Run the line in its own thread."""
        self._runner.start()

    def stop(self) -> None:
        """Stop and close the port."""
        self._runner.stop()

    # --- the loop ----------------------------------------------------------------------
    def _opened(self) -> None:
        self._decoder = BusDecoder(self.family.framing)
        self._pending = None
        for address in self._handlers:
            self._missed[address] = 0
            self._last_heard[address] = -1e9  # poll everyone at once after a (re)connect
            self._set_problem(address, None)

    def _gone(self, _err: LinkGone) -> None:
        self._report_all(LineProblem.UNPLUGGED)

    def _step(self) -> None:
        data = self.link.read(READ_SLICE_S)
        now = self.clock()
        if data:
            for item in self._decoder.feed(data):
                if isinstance(item, BusFault):
                    self._fault(item)
                else:
                    self._frame(item, now)
        else:
            for fault in self._decoder.expire():
                self._fault(fault)
        self._drive(now)

    def _fault(self, fault: BusFault) -> None:
        self.noise += 1
        log.info(
            "noise on the bus line",
            extra={"port": self.link.describe(), "fault": fault.kind.value, "detail": fault.detail},
        )

    def _frame(self, frame: BusFrame, now: float) -> None:
        address = frame.address
        if address not in self._handlers:
            log.info("frame from an unknown address", extra={"address": address})
            return
        self._heard(address, now)
        pending = self._pending
        if pending is not None and frame == pending.frame:
            self._pending = None  # our frame's echo
            return
        key_function, echo_function = self._key_functions[address]
        if frame.function != key_function:
            log.debug("unexpected frame", extra={"address": address, "function": frame.function})
            return
        # Acknowledge first: the device is waiting for this echo to stop resending.
        echo = frame if echo_function is None else BusFrame(address, echo_function, frame.data)
        self.link.write(encode_frame(echo, self.family.framing))
        if self._is_resend(frame, now):
            log.info("resent key frame dropped", extra={"address": address})
            return
        self._handlers[address](frame)

    def _is_resend(self, frame: BusFrame, now: float) -> bool:
        last = self._last_key.get(frame.address)
        self._last_key[frame.address] = (frame.data, now)
        if last is None or last[0] != frame.data:
            return False
        if self.family.sequence_byte:
            return True  # same sequence byte and key: the same press
        return now - last[1] < self.family.timing.repeat_window_s

    def _heard(self, address: int, now: float) -> None:
        self._last_heard[address] = now
        self._missed[address] = 0
        self._set_problem(address, None)

    def _drive(self, now: float) -> None:
        timing = self.family.timing
        pending = self._pending
        if pending is not None:
            if now - pending.sent_at < timing.echo_timeout_s:
                return
            if pending.sends <= timing.retries:
                self._write(pending, now)
                return
            self._pending = None
            self._missed_echo(pending.frame.address)
        frame = self._next_frame(now)
        if frame is not None:
            self._pending = _Outgoing(frame)
            self._write(self._pending, now)

    def _next_frame(self, now: float) -> BusFrame | None:
        with self._lock:
            for key, frame in self._slots.items():
                if (
                    self._problem.get(key[0]) is None
                    or frame.function == self.family.functions.poll
                ):
                    del self._slots[key]
                    return frame
            # A silent device's screen waits; its polls go on so its return is noticed.
        for address in self._handlers:
            if now - self._last_heard.get(address, -1e9) >= self.family.timing.poll_interval_s:
                self._last_heard[address] = now  # one poll per interval, answered or not
                return BusFrame(address, self.family.functions.poll)
        return None

    def _write(self, outgoing: _Outgoing, now: float) -> None:
        outgoing.sends += 1
        outgoing.sent_at = now
        self.link.write(encode_frame(outgoing.frame, self.family.framing))

    def _missed_echo(self, address: int) -> None:
        self._missed[address] += 1
        if self._missed[address] >= self.family.timing.missed_echoes:
            self._set_problem(address, LineProblem.NOT_ANSWERING)

    def _set_problem(self, address: int, problem: str | None) -> None:
        before = self._problem.get(address)
        if before == problem:
            return
        self._problem[address] = problem
        if problem is None:
            # Back from silence or a replug: it may have restarted blank, so send it all.
            with self._lock:
                for key, frame in self._current.items():
                    if key[0] == address:
                        self._slots[key] = frame
        self._health[address](address, problem)

    def _report_all(self, problem: str) -> None:
        for address in self._handlers:
            self._set_problem(address, problem)
