"""Following a hall's events with no gaps: calls and rating records, each exactly once.

The broker's PUBACK does not make an event safe: mosquitto writes its persistence every
``autosave_interval``, so a broker killed in between forgets queued messages for
persistent subscribers. Hall events therefore carry the hall's sequence number
(``event_seq``) and the scheduler keeps them for a retention window. A follower hands its
handler every event in order, once: on a gap, and after every (re)connect, it asks the
scheduler for the events after the last one it handed on (``replay_events``).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from hallbus.client import BusClient, Requester
from hallbus.messages import EventsReplayed, ReplayEvents
from hallbus.topics import Command, HallEventKind, HallTopics

log = logging.getLogger(__name__)

EventHandler = Callable[[HallEventKind, int, bytes], None]  # kind, event_seq, payload


@dataclass(frozen=True)
class _Live:
    kind: HallEventKind
    seq: int
    payload: bytes


_SYNC = "sync"
_STOP = "stop"


class HallEventFollower:
    """Hands a hall's events to ``handler`` in sequence, replaying what the bus lost.

    ``after_seq`` is the last event the consumer already has (kept by the consumer across
    its own restarts); None starts at the newest event when the follower first syncs.
    The handler runs on the follower's own thread, one event at a time.
    """

    def __init__(
        self,
        bus: BusClient,
        requester: Requester,
        handler: EventHandler,
        *,
        after_seq: int | None = None,
        kinds: tuple[HallEventKind, ...] = tuple(HallEventKind),
        retry_s: float = 1.0,
        request_timeout_s: float = 3.0,
    ) -> None:
        self.bus = bus
        self.requester = requester
        self.topics: HallTopics = requester.topics
        self.handler = handler
        self.last_seq = after_seq
        self.kinds = kinds
        self.retry_s = retry_s
        self.request_timeout_s = request_timeout_s
        self.lost = 0  # events that had left the scheduler's retention before we asked
        self.replayed = 0  # events that came by replay, not live
        self._inbox: queue.Queue[_Live | str] = queue.Queue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def attach(self) -> None:
        """Subscribe and start the follower's thread; call before ``bus.start()``."""
        for kind in self.kinds:
            self.bus.subscribe(self.topics.hall_event(kind), self._on_event, inline=True)
        self.bus.on_connected(lambda: self._inbox.put(_SYNC))
        self._thread = threading.Thread(target=self._run, name="hall-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop handing on events."""
        self._stopping.set()
        self._inbox.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None

    def _on_event(self, topic: str, payload: bytes) -> None:
        kind = self.topics.parse_hall_event(topic)
        try:
            seq = json.loads(payload).get("event_seq")
        except (ValueError, AttributeError, RecursionError):
            seq = None
        if kind is None or not isinstance(seq, int):
            log.warning("hall event without a sequence number dropped", extra={"topic": topic})
            return
        self._inbox.put(_Live(kind, seq, payload))

    def _run(self) -> None:
        while not self._stopping.is_set():
            item = self._inbox.get()
            if item == _STOP:
                return
            if isinstance(item, _Live):
                self._take(item)
            else:
                self._sync(until=None)

    def _take(self, event: _Live) -> None:
        if self.last_seq is not None and event.seq > self.last_seq + 1:
            self._sync(until=event.seq - 1)  # a gap: fetch what lies between
        if self.last_seq is not None and event.seq <= self.last_seq:
            return  # already handed on (by a replay, or the broker sent it twice)
        self._hand_on(event.kind, event.seq, event.payload)

    def _hand_on(self, kind: HallEventKind, seq: int, payload: bytes) -> None:
        if kind in self.kinds:
            self.handler(kind, seq, payload)
        self.last_seq = seq

    def _sync(self, until: int | None) -> None:
        """Replay until caught up (``until``: at least that far), retrying while it fails."""
        while not self._stopping.is_set():
            answer = self._ask(self.last_seq)
            if answer is None:
                self._stopping.wait(self.retry_s)  # the scheduler is away: try again soon
                continue
            if self.last_seq is None:
                self.last_seq = answer.last_seq  # a new follower starts at the newest event
                return
            if answer.oldest_seq is not None and answer.oldest_seq > self.last_seq + 1:
                gone = answer.oldest_seq - self.last_seq - 1
                self.lost += gone
                log.error("hall events past retention were lost", extra={"count": gone})
                self.last_seq = answer.oldest_seq - 1
                continue
            for event in answer.events:
                if event.event_seq > self.last_seq:
                    self.replayed += 1
                    payload = json.dumps(event.payload, ensure_ascii=False).encode()
                    self._hand_on(event.kind, event.event_seq, payload)
            caught_up = not answer.more or not answer.events
            if caught_up and (until is None or self.last_seq >= until):
                return
            if caught_up:
                # The scheduler numbers events only as it commits them; one the broker
                # delivered first is never behind a hole, but be safe: skip ahead.
                self.last_seq = until
                return

    def _ask(self, after_seq: int | None) -> EventsReplayed | None:
        request = ReplayEvents(request_id=Requester.new_request_id(), after_seq=after_seq)
        reply = self.requester.request(
            Command.REPLAY_EVENTS, request, timeout=self.request_timeout_s, attempts=1
        )
        if reply.status != "ok" or reply.data is None:
            log.warning("event replay failed; retrying", extra={"error": str(reply.error)})
            return None
        return EventsReplayed.model_validate(reply.data)
