"""Waiting counts go out at most every WAITING_COUNT_EVERY_S, everything else at once.

Under load each ticket moves the waiting count of its service, the hall board and every
window that serves it; the scheduler holds a state back while only its counts moved, and
sends the newest when its turn comes. The throttle's clock is held still here (the
scheduler's ``ticker``), so nothing depends on how fast the machine is.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from hallbus.hall_file import HallConfig
from hallbus.settings import BusSettings
from hallbus.topics import HallTopics
from scheduler.bridge import WAITING_COUNT_EVERY_S, SchedulerService
from simulator.devices import VirtualKiosk
from tests.conftest import WAIT, Ticker, listen

QUOTA = 5


@pytest.fixture
def hall(hall: HallConfig) -> HallConfig:
    """The test hall with a daily quota on social (the first test stays below it)."""
    data = hall.model_dump(mode="json", by_alias=True, exclude_none=True)
    for service in data["services"]:
        if service["code"] == "social":
            service["quota"] = QUOTA
    return HallConfig.model_validate(data)


@pytest.fixture
def scheduler_ticker(ticker: Ticker) -> Ticker:
    return ticker


def test_counts_are_held_back_and_the_newest_sent_when_due_other_changes_at_once(
    scheduler: SchedulerService,
    hall: HallConfig,
    bus: BusSettings,
    ticker: Ticker,
    devices: Callable[..., VirtualKiosk],
    staff: Callable[[int], object],
) -> None:
    topics = HallTopics(hall.id)
    service_client, services = listen(bus, topics.service_state("social"), "watch-social")
    hall_client, halls = listen(bus, topics.hall_state(), "watch-hall")
    board_client, boards = listen(bus, topics.window_state(2), "watch-board-2")
    try:
        for retained in (services, halls, boards):  # every state is sent at the start
            assert retained.wait_count(1, WAIT)
        kiosk = devices(VirtualKiosk, "kiosk-1")
        for _ in range(3):  # the throttle's clock stands still: all three are counts only
            assert kiosk.issue("social").status == "ok"
        ticker.now += WAITING_COUNT_EVERY_S
        scheduler.poke()

        def waiting(payload: bytes) -> int:
            return int(json.loads(payload)["waiting"])

        assert services.wait_for(lambda p: waiting(p) == 3, WAIT)
        assert halls.wait_for(lambda p: json.loads(p)["waiting"]["social"] == 3, WAIT)
        # Ordered on each topic: had 1 or 2 been sent, they would have come before 3.
        assert [waiting(p) for p in services.items()] == [0, 3]
        assert [json.loads(p)["waiting"]["social"] for p in halls.items()] == [0, 3]
        assert boards.wait_for(lambda p: waiting(p) == 3, WAIT)  # window 2 serves social
        assert [waiting(p) for p in boards.items()] == [0, 3]

        # A clerk opens a window: the service's open windows change, so the state goes out
        # at once, though its count was sent a moment ago (and carries the newest count).
        assert kiosk.issue("social").status == "ok"
        staff(1)
        opened = services.wait_for(lambda p: json.loads(p)["open_windows"] >= 1, WAIT)
        assert opened is not None and waiting(opened) == 4
    finally:
        for client in (service_client, hall_client, board_client):
            client.stop()


def test_a_service_reaching_its_quota_is_greyed_and_the_counts_before_held_back(
    scheduler: SchedulerService,
    hall: HallConfig,
    bus: BusSettings,
    devices: Callable[..., VirtualKiosk],
) -> None:
    # Over the bus: the greyed state arrives, and none of the counts before it (the
    # throttle's clock stands still). That it goes out with the ticket that took the last
    # number, not at the next idle tick, is the domain's rule, tested in test_domain.py.
    client, services = listen(bus, HallTopics(hall.id).service_state("social"), "watch-q")
    try:
        assert services.wait_count(1, WAIT)
        kiosk = devices(VirtualKiosk, "kiosk-1")
        for _ in range(QUOTA):
            assert kiosk.issue("social").status == "ok"
        greyed = services.wait_for(lambda p: "unavailable" in json.loads(p), WAIT)
        assert greyed is not None
        state = json.loads(greyed)
        assert state["unavailable"]["code"] == "quota_reached" and state["waiting"] == QUOTA
        # The counts before it were held back: the start's state, then the greyed one.
        assert [json.loads(p)["waiting"] for p in services.items()] == [0, QUOTA]
    finally:
        client.stop()
