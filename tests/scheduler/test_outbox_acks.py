"""The outbox forgets a row once the broker has acknowledged it, and only then.

A row is a hall event or a device command written with the command that caused it; it is
published after the commit and deleted once the broker has taken it (QoS 1), in batches at
most every ACK_EVERY_S. The scheduler's ``ticker`` is held still here, so when that
happens is the test's to say, not the machine's speed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hallbus.hall_file import HallConfig
from hallbus.settings import BusSettings
from hallbus.topics import HallEventKind, HallTopics
from scheduler.bridge import ACK_EVERY_S, SchedulerService
from simulator.devices import VirtualCounter
from tests.conftest import WAIT, Ticker, Tickets, listen


@pytest.fixture
def scheduler_ticker(ticker: Ticker) -> Ticker:
    return ticker


def test_a_call_s_event_is_forgotten_once_acknowledged_and_its_time_has_come(
    scheduler: SchedulerService,
    hall: HallConfig,
    bus: BusSettings,
    ticker: Ticker,
    staff: Callable[[int], VirtualCounter],
    tickets: Tickets,
) -> None:
    call_topic = HallTopics(hall.id).hall_event(HallEventKind.CALL)
    watcher, calls = listen(bus, call_topic, f"watch-calls-{hall.id}")

    def calls_kept() -> int:
        return sum(row.topic == call_topic for row in scheduler.store.pending_outbox())

    try:
        counter = staff(1)
        tickets(3)
        for _ in range(3):
            assert counter.call_next().status == "ok"
            assert counter.finish().status == "ok"
        # Heard by a follower, so the broker has taken them and acknowledged them (it
        # acknowledges a message as it passes it on).
        assert calls.wait_count(3, WAIT)
        tickets(1)  # a commit, before the acknowledgements are due: they stay
        assert calls_kept() == 3
        ticker.now += ACK_EVERY_S
        # The broker's acknowledgements reached the scheduler before this request did
        # (one connection, in order); its commit forgets the rows they acknowledge.
        tickets(1)
        assert calls_kept() == 0
    finally:
        watcher.stop()
