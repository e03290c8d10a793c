"""Replaying hall events a consumer missed (gaps, reconnects, a broker that forgot them).

The scheduler keeps every call and rating event of the retention window in its outbox
with the hall's sequence number; ``replay_answer`` reads them back for one consumer,
as many as fit one reply under the size any device accepts for a payload.
"""

from __future__ import annotations

import json

from hallbus import messages as bus
from hallbus.topics import HallTopics
from scheduler.store import Store

# A replay answer stays under the size devices accept for any payload (MAX_PAYLOAD_BYTES).
REPLAY_BYTES = 12 * 1024


def replay_answer(
    store: Store, topics: HallTopics, last_seq: int, request: bus.ReplayEvents
) -> bus.EventsReplayed:
    """Kept hall events after ``request.after_seq``; only the newest number without one."""
    if request.after_seq is None:
        return bus.EventsReplayed(last_seq=last_seq)
    kept, oldest = store.kept_events(request.after_seq, request.limit)
    events: list[bus.ReplayedEvent] = []
    size = 0
    for event in kept:
        kind = topics.parse_hall_event(event.topic)
        if kind is None:
            continue
        size += len(event.payload) + 64
        if events and size > REPLAY_BYTES:
            break
        payload = json.loads(event.payload)
        events.append(bus.ReplayedEvent(event_seq=event.event_seq, kind=kind, payload=payload))
    newest = events[-1].event_seq if events else request.after_seq
    return bus.EventsReplayed(
        events=events, last_seq=last_seq, oldest_seq=oldest, more=newest < last_seq
    )
