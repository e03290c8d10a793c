"""The scheduler killed with SIGKILL in the middle of traffic: nothing lost, nothing doubled."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from hallbus.hall_file import HallConfig
from hallbus.messages import OFFLINE, ONLINE
from hallbus.settings import BusSettings
from scheduler.tables import tickets
from simulator.devices import VirtualCounter, VirtualKiosk, VirtualWindowBoard
from simulator.mailbox import Mailbox
from simulator.processes import SchedulerProcess, write_hall_file
from tests.conftest import WAIT

pytestmark = pytest.mark.slow


@pytest.fixture
def hall_file(hall: HallConfig, tmp_path: Path) -> Path:
    return write_hall_file(hall, tmp_path / "hall.yaml")


def _wait_state_count(box: Mailbox[bytes], value: str, count: int) -> None:
    wanted = value.encode()
    assert box.wait_for(lambda _p: sum(1 for p in box.items() if p == wanted) >= count, WAIT)


@pytest.mark.load
def test_sigkill_mid_traffic_loses_and_duplicates_nothing(
    hall: HallConfig,
    hall_file: Path,
    db_url: str,
    bus: BusSettings,
    availability: Mailbox[bytes],
) -> None:
    process = SchedulerProcess(hall_file, db_url, bus)
    process.start()
    kiosks = [VirtualKiosk(bus, hall.id, f"kiosk-{n}") for n in (1, 2)]
    counter = VirtualCounter(bus, hall.id, "counter-3", 3)
    try:
        _wait_state_count(availability, ONLINE, 1)
        for daemon in [*kiosks, counter]:
            daemon.start()
        acknowledged: Mailbox[str] = Mailbox()
        per_kiosk = 50

        def take(kiosk: VirtualKiosk) -> None:
            for _ in range(per_kiosk):
                # Retries with the same request id span the downtime.
                reply = kiosk.requests.request(*_issue("tax"), timeout=0.5, attempts=60)
                assert reply.status == "ok", reply
                assert reply.data is not None
                acknowledged.put(reply.data["ticket_id"])

        threads = [threading.Thread(target=take, args=(k,)) for k in kiosks]
        for t in threads:
            t.start()
        assert acknowledged.wait_count(30, WAIT)
        process.kill()
        _wait_state_count(availability, OFFLINE, 1)
        process.start()
        _wait_state_count(availability, ONLINE, 2)
        for t in threads:
            t.join(60)
        assert len(acknowledged.items()) == 2 * per_kiosk

        assert counter.login("1003").status == "ok"
        call = counter.call_next()
        assert call.status == "ok" and call.data is not None
    finally:
        for daemon in [*kiosks, counter]:
            daemon.stop()
        process.stop()

    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(tickets.c.id, tickets.c.number).where(tickets.c.hall == hall.id)
        ).all()
    engine.dispose()
    ids = {r.id for r in rows}
    assert set(acknowledged.items()) == ids  # none lost, none created twice
    assert sorted(r.number for r in rows) == list(range(1, 2 * per_kiosk + 1))

    # A board that boots after the restart is told what window 3 is calling.
    process.start()
    board = VirtualWindowBoard(bus, hall.id, "board-3", 3)
    try:
        board.start()
        shown = board.states.wait_for(
            lambda s: s.current is not None and s.current.ticket_id == call.data["ticket_id"],
            WAIT,
        )
        assert shown is not None
    finally:
        board.stop()
        process.stop()


def _issue(service: str) -> tuple[object, object]:
    from hallbus.client import Requester
    from hallbus.messages import IssueTicket
    from hallbus.topics import Command

    return Command.ISSUE_TICKET, IssueTicket(
        request_id=Requester.new_request_id(), service_code=service
    )
