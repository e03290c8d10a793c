"""The broker restarted under running daemons: they reconnect and carry on."""

from __future__ import annotations

from pathlib import Path

import pytest

from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig
from hallbus.settings import BusSettings
from paidui.broker import BROKER_CONFIG_DIR, MosquittoBroker, free_port
from scheduler.bridge import SchedulerService
from scheduler.store import Store
from simulator.devices import VirtualCounter, VirtualKiosk, VirtualWindowBoard
from tests.conftest import WAIT

pytestmark = pytest.mark.slow


def test_daemons_reconnect_after_broker_restart(
    hall: HallConfig, tmp_path: Path, clock: FakeClock, db_url: str
) -> None:
    broker = MosquittoBroker(BROKER_CONFIG_DIR / "demo.conf", free_port(), tmp_path / "broker")
    broker.start()
    bus = BusSettings(port=broker.port)
    service = SchedulerService(hall, Store(db_url, hall.id), bus, clock=clock)
    kiosk = VirtualKiosk(bus, hall.id, "kiosk-1")
    counter = VirtualCounter(bus, hall.id, "counter-1", 1)
    board = VirtualWindowBoard(bus, hall.id, "board-1", 1)
    daemons = [kiosk, counter, board]
    try:
        service.start()
        for daemon in daemons:
            daemon.start()
        assert counter.login("1001").status == "ok"
        assert kiosk.issue("social").status == "ok"

        broker.stop()
        broker.start()
        for client in [service.bus, *(d.bus for d in daemons)]:
            assert client.connected.wait(WAIT), client.client_id

        # Traffic flows again, and the board gets the call.
        second = kiosk.issue("social")
        assert second.status == "ok" and second.data is not None
        assert second.data["label"] == "A002"
        assert counter.call_next().status == "ok"
        assert board.states.wait_for(
            lambda s: s.current is not None and s.current.label == "A001", WAIT
        )
    finally:
        for daemon in daemons:
            daemon.stop()
        service.stop()
        broker.stop()
