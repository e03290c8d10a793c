"""Hot standby on PostgreSQL: two schedulers for one hall, one active through the hall's lease.

The first test kills the active scheduler process with SIGKILL in the middle of traffic
and checks that the standby process takes over with nothing lost or doubled. The second
deposes an active scheduler that is still running (its lock connection ended, as on a
network fault) and checks that it can commit nothing more while the new one answers.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from hallbus.client import Requester
from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig
from hallbus.messages import ONLINE, IssueTicket
from hallbus.settings import BusSettings
from hallbus.topics import Command
from scheduler.bridge import SchedulerService
from scheduler.domain import Changes
from scheduler.leader import HallLease, LeaseError
from scheduler.store import LeadershipLost, Store
from scheduler.tables import tickets
from simulator.devices import VirtualCounter, VirtualKiosk
from simulator.mailbox import Mailbox
from simulator.processes import SchedulerProcess, write_hall_file
from tests.conftest import WAIT

pytestmark = pytest.mark.slow


def _issue() -> tuple[Command, IssueTicket]:
    return Command.ISSUE_TICKET, IssueTicket(
        request_id=Requester.new_request_id(), service_code="tax"
    )


def _tickets(url: str, hall: str) -> list[tuple[str, int]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(tickets.c.id, tickets.c.number).where(tickets.c.hall == hall)
        ).all()
    engine.dispose()
    return [(r.id, r.number) for r in rows]


def _logged(process: SchedulerProcess, message: str) -> bool:
    return process.log.wait_for(lambda record: record.get("msg") == message, WAIT) is not None


def test_standby_takes_over_when_the_active_is_killed(
    hall: HallConfig,
    tmp_path: Path,
    postgres_url: str,
    bus: BusSettings,
    availability: Mailbox[bytes],
) -> None:
    hall_file = write_hall_file(hall, tmp_path / "hall.yaml")
    active = SchedulerProcess(hall_file, postgres_url, bus, log_level="INFO")
    standby = SchedulerProcess(hall_file, postgres_url, bus, log_level="INFO")
    kiosks = [VirtualKiosk(bus, hall.id, f"kiosk-{n}") for n in (1, 2)]
    counter = VirtualCounter(bus, hall.id, "counter-3", 3)
    try:
        active.start()
        assert _logged(active, "active")
        standby.start()
        assert _logged(standby, "standby: waiting for the hall's lease")
        assert availability.wait_for(lambda p: p == ONLINE.encode(), WAIT)
        for daemon in [*kiosks, counter]:
            daemon.start()
        assert counter.login("1003").status == "ok"
        acknowledged: Mailbox[str] = Mailbox()
        answered_at: list[float] = []
        per_kiosk = 40

        def take(kiosk: VirtualKiosk) -> None:
            for _ in range(per_kiosk):
                # Retries with the same request id span the takeover.
                reply = kiosk.requests.request(*_issue(), timeout=0.5, attempts=60)
                assert reply.status == "ok", reply
                assert reply.data is not None
                answered_at.append(time.monotonic())
                acknowledged.put(reply.data["ticket_id"])

        threads = [threading.Thread(target=take, args=(k,)) for k in kiosks]
        for thread in threads:
            thread.start()
        assert acknowledged.wait_count(25, WAIT)
        killed_at = time.monotonic()
        active.kill()
        assert _logged(standby, "active")
        for thread in threads:
            thread.join(60)
        assert len(acknowledged.items()) == 2 * per_kiosk
        # The clerk goes on calling as if nothing happened, from the new scheduler.
        call = counter.call_next()
        assert call.status == "ok" and call.data is not None
        after = [t for t in answered_at if t > killed_at]
        assert after, "no request was answered after the kill"
        print(f"takeover: first answer {1000 * (min(after) - killed_at):.0f} ms after SIGKILL")
    finally:
        for daemon in [*kiosks, counter]:
            daemon.stop()
        active.stop()
        standby.stop()

    rows = _tickets(postgres_url, hall.id)
    assert {ticket_id for ticket_id, _ in rows} == set(acknowledged.items())  # none lost
    assert sorted(number for _, number in rows) == list(range(1, 2 * per_kiosk + 1))  # none twice


def test_a_deposed_scheduler_commits_nothing_and_the_new_one_answers(
    hall: HallConfig, postgres_url: str, bus: BusSettings, clock: FakeClock
) -> None:
    first_lease, second_lease = HallLease(postgres_url, hall.id), HallLease(postgres_url, hall.id)
    first_lead = first_lease.try_acquire(clock.now())
    assert first_lead is not None
    assert second_lease.try_acquire(clock.now()) is None  # one leader at a time
    old = SchedulerService(hall, Store(postgres_url, hall.id), bus, clock=clock)
    old.store.fence_epoch = first_lead.epoch
    new: SchedulerService | None = None
    kiosk = VirtualKiosk(bus, hall.id, "kiosk-1")
    try:
        old.start()
        kiosk.start()
        assert kiosk.issue("tax").status == "ok"
        # The old leader's lock connection ends (a network fault), the process runs on.
        pid = first_lease.backend_pid()
        admin = create_engine(postgres_url)
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        admin.dispose()
        # The server ends that backend on its own time; the standby polls as in a hall.
        give_up = threading.Event()
        timer = threading.Timer(WAIT, give_up.set)
        timer.start()
        second_lead = second_lease.acquire(give_up, clock.now)
        timer.cancel()
        assert second_lead is not None and second_lead.epoch == first_lead.epoch + 1
        # The old one still hears a request, cannot commit it, answers nothing, steps off.
        command, request = _issue()
        pending = kiosk.requests.send(command, request)
        assert old.deposed.wait(WAIT)
        assert pending.reply is None
        new = SchedulerService(hall, Store(postgres_url, hall.id), bus, clock=clock)
        new.store.fence_epoch = second_lead.epoch
        new.start()
        retried = kiosk.requests.request(command, request, timeout=1.0, attempts=10)
        assert retried.status == "ok" and retried.data is not None
        assert retried.data["label"] == "B002"
    finally:
        kiosk.stop()
        old.stop()
        if new is not None:
            new.stop()
        first_lease.release()
        second_lease.release()
    assert sorted(number for _, number in _tickets(postgres_url, hall.id)) == [1, 2]


def test_a_stale_epoch_cannot_commit(hall: HallConfig, postgres_url: str, clock: FakeClock) -> None:
    lease = HallLease(postgres_url, hall.id)
    lead = lease.try_acquire(clock.now())
    assert lead is not None
    store = Store(postgres_url, hall.id)
    store.open()
    try:
        store.fence_epoch = lead.epoch - 1
        with pytest.raises(LeadershipLost):
            store.commit(Changes(), clock.now())
        store.fence_epoch = lead.epoch
        store.commit(Changes(), clock.now())
    finally:
        store.close()
        lease.release()


def test_sqlite_has_no_standby(tmp_path: Path, hall: HallConfig, clock: FakeClock) -> None:
    with pytest.raises(LeaseError, match="PostgreSQL"):
        HallLease(Store.sqlite_url(tmp_path / "x.db"), hall.id).try_acquire(clock.now())
