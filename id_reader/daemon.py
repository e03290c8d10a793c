"""The ID reader daemon: polls its reader, publishes one card event per tap, and its health.

One worker thread owns the reader. A tap becomes a ``CardRead`` event carrying a keyed
hash of the ID number, the age, the sex and a masked name; the number, the full name,
the address and the photo stay in this process's memory for the length of one poll and
are never logged, published or stored. An unplugged, silent or failing reader is
reported in the retained status and reopened until it answers again.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from hallbus.clock import Clock, SystemClock
from hallbus.daemon import DeviceDaemon
from hallbus.identity import IdHasher
from hallbus.links import LinkGone
from hallbus.messages import CardRead, DeviceKind
from hallbus.settings import BusSettings
from hallbus.topics import DeviceEventKind
from id_reader.privacy import card_event
from id_reader.sources import (
    CardSource,
    NoCard,
    PollResult,
    ReaderFault,
    SamFault,
    Tapped,
    Unreadable,
)

log = logging.getLogger(__name__)


class ReaderProblem(StrEnum):
    """Faults in the reader's retained status."""

    UNPLUGGED = "reader_unplugged"
    NO_RESPONSE = "no_response"
    SAM_FAULT = "sam_fault"
    LINE_NOISE = "line_noise"  # garbage or bad frames on the line; cleared by a clean poll
    CARD_UNREADABLE = "card_unreadable"  # the last tap gave no card; cleared when it leaves


# Faults that leave the reader unable to read anything.
BLOCKING = frozenset({ReaderProblem.UNPLUGGED, ReaderProblem.NO_RESPONSE, ReaderProblem.SAM_FAULT})


@dataclass(frozen=True)
class IdReaderSettings:
    """What the reader's host knows of its hall."""

    timezone: str = "Asia/Shanghai"
    elderly_age: int = 60  # the hall's ``elderly_age``


class TapTracker:
    """One event per tap: a card read again before it was seen gone is the same tap.

    Readers differ: some find a card that stays on them at every poll, others only once.
    Counting "no card" answers in a row covers both, and a card that slides between two
    polls is not taken for a second tap. ``repeat_guard_s`` covers readers that say
    nothing about presence (keyboard wedges) and repeat a number.
    """

    def __init__(self, absent_polls: int, repeat_guard_s: float = 0.0) -> None:
        self.absent_polls = absent_polls
        self.repeat_guard_s = repeat_guard_s
        self._present: str | None = None
        self._absent = 0
        self._last: tuple[str, float] | None = None

    def card(self, key: str, at: float) -> bool:
        """A card was read; True if it is a new tap."""
        same_card_still_there = self._present == key
        self._present, self._absent = key, 0
        if same_card_still_there:
            return False
        if (
            self._last is not None
            and self._last[0] == key
            and at - self._last[1] < self.repeat_guard_s
        ):
            return False
        self._last = (key, at)
        return True

    def unreadable(self) -> None:
        """Something is on the reader that gave no card."""
        self._absent = 0

    def no_card(self) -> bool:
        """The reader found nothing; True on the poll where whatever was there counts as gone."""
        self._absent += 1
        if self._absent == self.absent_polls:
            self._present = None
            return True
        return False


class IdReaderDaemon(DeviceDaemon):
    """One ID reader on the bus."""

    kind = DeviceKind.ID_READER

    def __init__(
        self,
        bus: BusSettings,
        hall: str,
        device_id: str,
        source: CardSource,
        hasher: IdHasher,
        settings: IdReaderSettings | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(bus, hall, device_id)
        self.source = source
        self.hasher = hasher
        self.reader = settings or IdReaderSettings()
        self.clock = clock or SystemClock()
        self.taps = 0
        self.line_faults = 0
        self._zone = ZoneInfo(self.reader.timezone)
        self._tracker = TapTracker(source.absent_polls, source.repeat_guard_s)
        self._problems: dict[ReaderProblem, str] = {}
        self._published: tuple[object, ...] | None = None
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------
    def start(self, timeout: float | None = 10.0) -> None:
        """Connect, then start polling the reader."""
        super().start(timeout)
        self._stop.clear()
        self._worker = threading.Thread(
            target=self._work, name=f"reader-{self.device_id}", daemon=True
        )
        self._worker.start()

    def stop(self) -> None:
        """Stop polling, release the reader, disconnect."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=10)
        self.source.close()
        super().stop()

    # --- the worker -------------------------------------------------------------------
    def _work(self) -> None:
        opened = False
        while not self._stop.is_set():
            if not opened:
                opened = self._open()
                if not opened:
                    self._stop.wait(self.source.reconnect_s)
                    continue
            try:
                result = self.source.poll()
            except (LinkGone, ReaderFault) as err:
                self.source.close()
                opened = False
                self._trouble(err)
                self._publish_status()
                self._stop.wait(self.source.reconnect_s)
                continue
            except Exception:  # a driver bug must not end the daemon, nor spin it
                log.exception("reader poll failed", extra={"reader": self.device_id})
                self.source.close()
                opened = False
                self._stop.wait(self.source.reconnect_s)
                continue
            self._handle(result)
            self._publish_status()
            if isinstance(result, NoCard):
                self._stop.wait(self.source.poll_interval_s)

    def _open(self) -> bool:
        try:
            self.source.open()
        except (LinkGone, ReaderFault) as err:
            self._trouble(err)
            self._publish_status()
            return False
        for problem in BLOCKING:
            self._problems.pop(problem, None)
        log.info("reader ready", extra={"reader": self.source.describe()})
        return True

    def _trouble(self, err: Exception) -> None:
        problem = ReaderProblem.NO_RESPONSE
        if isinstance(err, LinkGone):
            problem = ReaderProblem.UNPLUGGED
        elif isinstance(err, SamFault):
            problem = ReaderProblem.SAM_FAULT
        if problem not in self._problems:
            log.warning("reader problem", extra={"problem": problem.value, "error": str(err)})
        for other in BLOCKING - {problem}:
            self._problems.pop(other, None)
        self._problems[problem] = str(err)

    def _handle(self, result: PollResult) -> None:
        noise = self.source.line.take()
        if noise:
            self.line_faults += len(noise)
            self._problems[ReaderProblem.LINE_NOISE] = noise[-1]
            log.warning("noise on the reader's line", extra={"faults": noise})
        else:
            self._problems.pop(ReaderProblem.LINE_NOISE, None)
        match result:
            case Tapped(holder):
                now = self.clock.now().astimezone(self._zone)
                event = card_event(holder, self.hasher, now, self.reader.elderly_age)
                self._problems.pop(ReaderProblem.CARD_UNREADABLE, None)
                if self._tracker.card(event.id_hash, time.monotonic()):
                    self._publish_card(event)
            case Unreadable(reason):
                self._tracker.unreadable()
                if ReaderProblem.CARD_UNREADABLE not in self._problems:
                    log.warning("card unreadable", extra={"reason": reason})
                self._problems[ReaderProblem.CARD_UNREADABLE] = reason
            case NoCard():
                if self._tracker.no_card():
                    self._problems.pop(ReaderProblem.CARD_UNREADABLE, None)

    def _publish_card(self, event: CardRead) -> None:
        self.taps += 1
        topic = self.topics.device_event(self.device_id, DeviceEventKind.CARD_READ)
        self.bus.publish(topic, event)
        log.info(
            "card read",
            extra={"kind": event.card_kind.value, "age": event.age, "hash": event.id_hash[:8]},
        )

    def _publish_status(self) -> None:
        faults = sorted(p.value for p in self._problems)
        detail = {
            "reader": self.source.describe(),
            "taps": str(self.taps),
            "line_faults": str(self.line_faults),
        }
        if self._problems:
            detail["last_problem"] = list(self._problems.values())[-1][:200]
        healthy = not BLOCKING & self._problems.keys()
        state = (healthy, tuple(faults), tuple(sorted(detail.items())))
        if state != self._published:
            self._published = state
            self.publish_status(healthy=healthy, faults=faults, detail=detail)
