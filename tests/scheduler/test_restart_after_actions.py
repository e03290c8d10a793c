"""A scheduler restarted after every kind of clerk action comes back whole.

Before the call log, a postponed or transferred ticket kept its call time but lost its
window, the reload rebuilt the hall board's recent calls from ticket rows, and every batch
after the restart failed on a call to window ``None``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig
from hallbus.settings import BusSettings
from hallbus.topics import HallTopics
from scheduler.bridge import SchedulerService
from scheduler.store import Store
from simulator.devices import VirtualCounter, VirtualKiosk
from tests.conftest import WAIT, listen


@pytest.fixture
def restartable(
    hall: HallConfig, bus: BusSettings, clock: FakeClock, db_url: str
) -> Iterator[Callable[[], SchedulerService]]:
    """Start a scheduler on the test's database; each call stops the previous one first."""
    running: list[SchedulerService] = []

    def start() -> SchedulerService:
        if running:
            running.pop().stop()
        service = SchedulerService(
            hall, Store(db_url, hall.id), bus, clock=clock, client_id=f"scheduler-{hall.id}"
        )
        service.start()
        running.append(service)
        return service

    yield start
    for service in running:
        service.stop()


def _ok(reply: Any) -> dict[str, Any]:
    assert reply.status == "ok", reply
    assert reply.data is not None
    return dict(reply.data)


@pytest.mark.parametrize("action", ["postpone", "transfer_service", "transfer_window"])
def test_restart_after_a_call_is_undone_keeps_the_board_and_every_later_batch(
    action: str,
    restartable: Callable[[], SchedulerService],
    devices: Callable[..., Any],
    bus: BusSettings,
    hall: HallConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    restartable()
    kiosk: VirtualKiosk = devices(VirtualKiosk, "kiosk-1")
    counter: VirtualCounter = devices(VirtualCounter, "counter-3", 3)
    _ok(counter.login("1003"))
    first = _ok(kiosk.issue("tax"))["label"]
    _ok(kiosk.issue("tax"))
    _ok(counter.call_next())
    match action:
        case "postpone":
            _ok(counter.postpone())
        case "transfer_service":
            _ok(counter.transfer(to_service="social"))
        case "transfer_window":
            _ok(counter.transfer(to_window=4))

    caplog.set_level(logging.WARNING, logger="scheduler")
    restartable()
    # A batch after the restart: it must commit, answer, and publish the hall board.
    issued = _ok(kiosk.issue("tax"))
    assert issued["label"] == "B003"
    topics = HallTopics(hall.id)
    board, states = listen(bus, topics.hall_state(), "obs-board")
    try:
        raw = states.wait_for(lambda _p: True, WAIT)
        assert raw is not None
        recent = json.loads(raw)["recent_calls"]
        # The call to window 3 happened and the board still lists it.
        assert [(c["label"], c["window"]) for c in recent] == [(first, 3)]
    finally:
        board.stop()
    again = _ok(counter.call_next())
    assert again["label"] in {first, "B002"}
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == [], [r.getMessage() for r in failures]


def test_a_call_undone_within_the_same_batch_is_still_announced(
    hall: HallConfig, clock: FakeClock, db_url: str
) -> None:
    """A call and a postpone sharing one commit: the call event names the window called."""
    from scheduler.domain import HallQueue

    store = Store(db_url, hall.id)
    store.open()
    try:
        queue = HallQueue(hall)
        now = clock.now()
        queue.login(1, now, clerk_code="1001")
        queue.issue_ticket("social", now, "kiosk-1")
        queue.call_next(1, now)
        queue.postpone(1, now)
        changes = queue.take_changes()
        assert [(c.label, c.window) for c in changes.calls] == [("A001", 1)]
        store.commit(changes, now)
        restored = store.load(now, hall.recent_calls).queue_for(hall)
        assert [(c.label, c.window) for c in restored.recent_calls] == [("A001", 1)]
        assert restored.waiting_count("social") == 1
    finally:
        store.close()
