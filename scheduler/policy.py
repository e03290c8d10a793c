"""Who is called next: the waiting room's lanes and the pluggable calling policy.

Every waiting ticket sits in exactly one lane, keyed by its service, its priority class
and the window it was sent to (if any); a lane keeps its tickets sorted by the time they
joined the line. A decision therefore looks only at lane heads: at most (services of the
window x priority classes) of them, however many tickets wait. That is why a call takes
the same time with a thousand tickets waiting as with a hundred thousand.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from sortedcontainers import SortedList

from hallbus.messages import PriorityClass

# Tier given to a ticket sent to a window that does not handle its service.
TARGETED_TIER = 1


@dataclass(frozen=True)
class LinePlace:
    """Where a waiting ticket stands in its service's line, for telling its holder.

    The calling order: a higher class first, then earlier in line (a postponed ticket
    rejoins at the end), then the lower number for the same moment. A window's tiers may
    still let a ticket of another service go first; that the holder cannot foresee.
    """

    priority: PriorityClass
    queued_at: datetime
    number: int

    def called_before(self, other: LinePlace) -> bool:
        """Whether this ticket is called before ``other`` of the same service."""
        if self.priority.rank != other.priority.rank:
            return self.priority.rank < other.priority.rank
        return (self.queued_at, self.number) < (other.queued_at, other.number)


@dataclass(frozen=True)
class LaneKey:
    """Which line a waiting ticket stands in."""

    service_code: str
    priority: PriorityClass
    target_window: int | None


class Place(NamedTuple):
    """A ticket's place in its lane: who joined first, then who was numbered first.

    A tuple, so that the sorted lanes compare places in C: a restart sorts 100,000 of
    them, and every ticket issued or called moves one.
    """

    queued_at: datetime
    seq: int
    ticket_id: str


class WaitingRoom:
    """The waiting tickets of a hall, in lanes."""

    def __init__(self) -> None:
        self._lanes: dict[LaneKey, SortedList[Place]] = {}
        self._by_service: dict[str, set[LaneKey]] = {}
        self._by_target: dict[int, set[LaneKey]] = {}
        self._where: dict[str, tuple[LaneKey, Place]] = {}
        self._counts: dict[str, int] = {}
        self._targeted: dict[int, int] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, ticket_id: str) -> bool:
        return ticket_id in self._where

    def add(self, ticket_id: str, key: LaneKey, queued_at: datetime) -> None:
        """Put a ticket in a lane at ``queued_at``."""
        if ticket_id in self._where:
            raise ValueError(f"ticket {ticket_id} is already waiting")
        place = Place(queued_at, next(self._seq), ticket_id)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = SortedList()
            self._by_service.setdefault(key.service_code, set()).add(key)
            if key.target_window is not None:
                self._by_target.setdefault(key.target_window, set()).add(key)
        lane.add(place)
        self._where[ticket_id] = (key, place)
        self._counts[key.service_code] = self._counts.get(key.service_code, 0) + 1
        if key.target_window is not None:
            self._targeted[key.target_window] = self._targeted.get(key.target_window, 0) + 1

    def add_lanes(self, lanes: dict[LaneKey, list[tuple[str, datetime]]]) -> None:
        """Put many tickets in their lanes at once (a restart): each lane sorted once.
        ``lanes`` maps each lane to its (ticket id, queued at) pairs."""
        for key, tickets in lanes.items():
            places = [
                Place(queued_at, next(self._seq), ticket_id) for ticket_id, queued_at in tickets
            ]
            for place in places:
                if place.ticket_id in self._where:
                    raise ValueError(f"ticket {place.ticket_id} is already waiting")
                self._where[place.ticket_id] = (key, place)
            self._counts[key.service_code] = self._counts.get(key.service_code, 0) + len(places)
            if key.target_window is not None:
                targeted = self._targeted.get(key.target_window, 0)
                self._targeted[key.target_window] = targeted + len(places)
            lane = self._lanes.get(key)
            if lane is None:
                self._lanes[key] = SortedList(places)
                self._by_service.setdefault(key.service_code, set()).add(key)
                if key.target_window is not None:
                    self._by_target.setdefault(key.target_window, set()).add(key)
            else:
                lane.update(places)

    def remove(self, ticket_id: str) -> LaneKey:
        """Take a ticket out of its lane; returns the lane it stood in."""
        key, place = self._where.pop(ticket_id)
        lane = self._lanes[key]
        lane.remove(place)
        if not lane:
            del self._lanes[key]
            self._by_service[key.service_code].discard(key)
            if key.target_window is not None:
                self._by_target[key.target_window].discard(key)
        self._counts[key.service_code] -= 1
        if key.target_window is not None:
            self._targeted[key.target_window] -= 1
        return key

    def place_of(self, ticket_id: str) -> Place:
        """Where a waiting ticket stands in its lane."""
        return self._where[ticket_id][1]

    def lane_size(self, key: LaneKey) -> int:
        """Tickets in one lane."""
        lane = self._lanes.get(key)
        return len(lane) if lane else 0

    def head(self, key: LaneKey) -> Place | None:
        """The first place of a lane, if the lane has anyone."""
        lane = self._lanes.get(key)
        return lane[0] if lane else None

    def lanes_of_service(self, service_code: str) -> set[LaneKey]:
        """Non-empty lanes of a service, whatever their target."""
        return self._by_service.get(service_code, set())

    def lanes_targeting(self, window: int) -> set[LaneKey]:
        """Non-empty lanes of tickets sent to one window."""
        return self._by_target.get(window, set())

    def count(self, service_code: str) -> int:
        """Tickets waiting for a service (targeted ones included)."""
        return self._counts.get(service_code, 0)

    def targeted_count(self, window: int) -> int:
        """Tickets sent to one window."""
        return self._targeted.get(window, 0)

    def in_order(self, service_code: str) -> Iterator[str]:
        """Ticket ids of a service by priority class, then place: the likely calling order."""
        lanes = sorted(self.lanes_of_service(service_code), key=lambda k: k.priority.rank)
        by_class = itertools.groupby(lanes, key=lambda k: k.priority.rank)
        for _, group in by_class:
            merged = heapq.merge(*(iter(self._lanes[k]) for k in group))
            for place in merged:
                yield place.ticket_id


@dataclass(frozen=True)
class WindowView:
    """What a policy needs to know about the calling window."""

    number: int
    tiers: dict[str, int]  # service code -> tier


class CallingPolicy(Protocol):
    """Chooses the ticket a window calls next, without changing anything."""

    def choose(self, room: WaitingRoom, window: WindowView, now: datetime) -> str | None:
        """The id of the ticket to call, or None when no eligible ticket waits."""
        ...


class DefaultCallingPolicy:
    """Priority class, then the window's tier for the service, then time in line.

    Ageing: a ticket in line longer than ``max_wait`` goes before everything else, the
    longest-waiting first, so no ticket waits past the bound while newer ones are called.
    A ticket is eligible once its place time has come: an early appointment waits for
    its slot.
    """

    def __init__(self, max_wait: timedelta) -> None:
        self.max_wait = max_wait

    def choose(self, room: WaitingRoom, window: WindowView, now: datetime) -> str | None:
        """See CallingPolicy."""
        aged_before = now - self.max_wait
        best: tuple[object, ...] | None = None
        best_id: str | None = None
        for key, tier in self._candidate_lanes(room, window):
            place = room.head(key)
            if place is None or place.queued_at > now:
                continue
            if place.queued_at <= aged_before:
                rank: tuple[object, ...] = (0, place.queued_at, place.seq)
            else:
                rank = (1, key.priority.rank, tier, place.queued_at, place.seq)
            if best is None or rank < best:
                best, best_id = rank, place.ticket_id
        return best_id

    @staticmethod
    def _candidate_lanes(room: WaitingRoom, window: WindowView) -> Iterator[tuple[LaneKey, int]]:
        for code, tier in window.tiers.items():
            for key in room.lanes_of_service(code):
                if key.target_window is None:
                    yield key, tier
        for key in room.lanes_targeting(window.number):
            yield key, window.tiers.get(key.service_code, TARGETED_TIER)
