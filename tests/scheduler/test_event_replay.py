"""Hall events carry the hall's sequence number and are replayed to consumers that missed some.

The broker's PUBACK is not the end of delivery: a consumer that was away, or a broker
that died before saving its queues, is made whole from the scheduler's store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hallbus.client import BusClient, Requester
from hallbus.clock import FakeClock
from hallbus.events import HallEventFollower
from hallbus.hall_file import HallConfig
from hallbus.messages import EventsReplayed, ReplayEvents
from hallbus.settings import BusSettings
from hallbus.topics import Command, HallEventKind, HallTopics
from scheduler.bridge import SchedulerService
from simulator.devices import VirtualCounter, VirtualKiosk
from simulator.mailbox import Mailbox
from tests.conftest import WAIT, listen


def _portal(bus: BusSettings, hall: HallConfig) -> tuple[BusClient, Requester]:
    topics = HallTopics(hall.id)
    client = BusClient(bus, f"portal-{hall.id}", topics.availability("portal"), persistent=False)
    requester = Requester(client, topics, "portal")
    requester.attach()
    return client, requester


def _replay(requester: Requester, after: int | None, limit: int = 100) -> EventsReplayed:
    request = ReplayEvents(request_id=Requester.new_request_id(), after_seq=after, limit=limit)
    reply = requester.request(Command.REPLAY_EVENTS, request, timeout=WAIT, attempts=1)
    assert reply.status == "ok" and reply.data is not None, reply
    return EventsReplayed.model_validate(reply.data)


def _calls(counter: VirtualCounter, count: int) -> None:
    for _ in range(count):
        assert counter.call_next().status == "ok"
        assert counter.finish().status == "ok"


def test_events_are_numbered_and_replayed_in_order_within_retention(
    scheduler: SchedulerService,
    devices: Callable[..., Any],
    staff: Callable[[int], VirtualCounter],
    bus: BusSettings,
    hall: HallConfig,
    clock: FakeClock,
) -> None:
    client, requester = _portal(bus, hall)
    client.start()
    try:
        assert _replay(requester, None).last_seq == 0
        kiosk: VirtualKiosk = devices(VirtualKiosk, "kiosk-1")
        for _ in range(5):
            assert kiosk.issue("social").status == "ok"
        _calls(staff(1), 5)
        answer = _replay(requester, 0)
        assert [e.event_seq for e in answer.events] == [1, 2, 3, 4, 5]
        assert {e.kind for e in answer.events} == {HallEventKind.CALL}
        assert [e.payload["label"] for e in answer.events] == [f"A00{n}" for n in range(1, 6)]
        assert answer.last_seq == 5 and answer.oldest_seq == 1 and not answer.more
        paged = _replay(requester, 1, limit=2)
        assert [e.event_seq for e in paged.events] == [2, 3] and paged.more

        # The five transactions nobody rated are recorded: events 6 to 10.
        watcher, ratings = listen(bus, HallTopics(hall.id).hall_event(HallEventKind.RATING), "r")
        try:
            clock.advance(hall.rating_timeout_s + 1)
            scheduler.poke()
            assert ratings.wait_count(5, WAIT)
        finally:
            watcher.stop()
        rated = _replay(requester, 5)
        assert [e.event_seq for e in rated.events] == [6, 7, 8, 9, 10]
        assert {(e.kind, e.payload["outcome"]) for e in rated.events} == {
            (HallEventKind.RATING, "unrated")
        }
        # Past the retention window events go, but never the newest: the numbers go on.
        clock.advance((hall.event_retention_h + 1) * 3600)
        scheduler.poke()  # the tick drops them before it answers what follows it
        pruned = _replay(requester, 0)
        assert pruned.last_seq == 10 and pruned.oldest_seq == 10
        assert [e.event_seq for e in pruned.events] == [10]
    finally:
        client.stop()


def test_a_follower_gets_every_event_it_was_away_for_once_and_in_order(
    scheduler: SchedulerService,
    devices: Callable[..., Any],
    staff: Callable[[int], VirtualCounter],
    bus: BusSettings,
    hall: HallConfig,
) -> None:
    got: Mailbox[tuple[HallEventKind, int, str]] = Mailbox()

    def handle(kind: HallEventKind, seq: int, payload: bytes) -> None:
        got.put((kind, seq, json.loads(payload)["ticket_id"]))

    kiosk: VirtualKiosk = devices(VirtualKiosk, "kiosk-1")
    for _ in range(6):
        assert kiosk.issue("social").status == "ok"
    counter = staff(1)
    _calls(counter, 2)  # events 1 and 2 happened before the follower existed

    def follower() -> tuple[BusClient, HallEventFollower]:
        client, requester = _portal(bus, hall)
        follow = HallEventFollower(client, requester, handle, after_seq=got_last(), retry_s=0.05)
        follow.attach()
        client.start()
        return client, follow

    def got_last() -> int:
        return got.items()[-1][1] if got.items() else 0

    client, follow = follower()
    assert got.wait_count(2, WAIT)  # replayed on connect: it started from 0
    _calls(counter, 2)  # live: 3 and 4
    assert got.wait_count(4, WAIT)
    follow.stop()
    client.stop()  # away (not a persistent session: the broker keeps nothing for it)
    _calls(counter, 2)  # 5 and 6 happen meanwhile
    client, follow = follower()
    try:
        assert got.wait_count(6, WAIT)
        _calls(counter, 0)
        assert [seq for _, seq, _ in got.items()] == [1, 2, 3, 4, 5, 6]
        assert len({ticket for _, _, ticket in got.items()}) == 6
        assert follow.lost == 0 and follow.replayed == 2
    finally:
        follow.stop()
        client.stop()
