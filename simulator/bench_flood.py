"""A normal kiosk's request latency while another device floods the scheduler.

The hall runs with the default flood limits; kiosk-2 publishes issue requests as fast as
one client can, kiosk-1 takes tickets one at a time as a citizen would. Measured first
without, then with the flood, so the figures sit side by side.
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from hallbus.client import BusClient, Requester
from hallbus.hall_file import DEMO_HALL_FILE, load_hall
from hallbus.messages import ONLINE, ErrorCode, IssueTicket
from hallbus.settings import BusSettings
from hallbus.topics import Command, HallTopics
from scheduler.store import Store
from scheduler.tables import tickets
from simulator.bench_spine import percentile_ms, rid
from simulator.mailbox import Mailbox
from simulator.processes import SchedulerProcess, write_hall_file

WAIT = 15.0
# A kiosk's own patience (kiosk/daemon.py: 1.5 s, twice): unanswered by then, the citizen
# is shown an error.
PATIENCE_S = 3.0
# Turned away this often, the kiosk is shut out: more tries would only say so again.
SHUT_OUT = 3


def _citizen(requester: Requester, count: int) -> tuple[list[float], int]:
    """Seconds of each answered ticket, and how many went unanswered (a kiosk's error)."""
    samples: list[float] = []
    unanswered = 0
    for _ in range(count):
        request = IssueTicket(request_id=rid(), service_code="tax")
        start = time.perf_counter()
        reply = requester.request(Command.ISSUE_TICKET, request, timeout=PATIENCE_S, attempts=1)
        if reply.error is not None and reply.error.code is ErrorCode.TIMEOUT:
            unanswered += 1
            if unanswered >= SHUT_OUT:
                break
            continue
        if reply.status != "ok":
            raise RuntimeError(f"the normal kiosk was refused: {reply}")
        samples.append(time.perf_counter() - start)
        # A person every 0.2 s keeps well inside a kiosk's limit (5 a second).
        time.sleep(0.2)
    return samples, unanswered


def run_flood_bench(bus: BusSettings, count: int = 100) -> dict[str, Any]:
    """Latency of kiosk-1 alone, then while kiosk-2 floods; the flood's fate."""
    hall = load_hall(DEMO_HALL_FILE).model_copy(
        update={"id": f"bench-flood-{uuid.uuid4().hex[:6]}", "require_open_window": False}
    )
    topics = HallTopics(hall.id)
    with tempfile.TemporaryDirectory(prefix="paidui-bench-flood-") as scratch:
        folder = Path(scratch)
        online: Mailbox[bytes] = Mailbox()
        watcher = BusClient(bus, "flood-watch", topics.availability("flood-watch"))
        watcher.subscribe(topics.scheduler_availability(), lambda _t, p: online.put(p), inline=True)
        watcher.start()
        url = Store.sqlite_url(folder / "flood.db")
        scheduler = SchedulerProcess(write_hall_file(hall, folder / "hall.yaml"), url, bus)
        scheduler.start()
        kiosk = BusClient(bus, "kiosk-1", topics.availability("kiosk-1"), persistent=False)
        requester = Requester(kiosk, topics, "kiosk-1")
        requester.attach()
        flooder = BusClient(bus, "kiosk-2", topics.availability("kiosk-2"), persistent=False)
        try:
            if not online.wait_for(lambda p: p == ONLINE.encode(), WAIT):
                raise RuntimeError("scheduler did not come online")
            kiosk.start()
            flooder.start()
            quiet, lost_quiet = _citizen(requester, count)
            if lost_quiet:
                raise RuntimeError("the normal kiosk went unanswered without a flood")
            stop = threading.Event()
            sent = [0]

            def flood() -> None:
                topic = topics.request("kiosk-2", Command.ISSUE_TICKET)
                while not stop.is_set():
                    request = IssueTicket(request_id=uuid.uuid4().hex, service_code="social")
                    flooder.publish(topic, request.to_bytes(), qos=0)
                    sent[0] += 1

            thread = threading.Thread(target=flood, daemon=True)
            started = time.perf_counter()
            thread.start()
            flooded, unanswered = _citizen(requester, count)
            stop.set()
            thread.join(WAIT)
            seconds = time.perf_counter() - started
        finally:
            flooder.stop()
            kiosk.stop()
            scheduler.stop()
            watcher.stop()
        store = Store(url, hall.id)
        store.open(migrate=False)
        try:
            # The flood asks for "social", the citizen for "tax".
            with store.engine.connect() as conn:
                flood_tickets = conn.execute(
                    select(func.count()).where(tickets.c.service_code == "social")
                ).scalar_one()
        finally:
            store.close()
    return {
        "normal_kiosk_p50_ms_quiet": percentile_ms(quiet, 0.5),
        "normal_kiosk_p99_ms_quiet": percentile_ms(quiet, 0.99),
        "normal_kiosk_p50_ms_flooded": percentile_ms(flooded, 0.5),
        "normal_kiosk_p99_ms_flooded": percentile_ms(flooded, 0.99),
        # Past what the scheduler can read (a single client flooding at QoS 0 can be),
        # the broker queues the flood ahead of everyone's requests: see broker_config.
        "normal_kiosk_unanswered_flooded": unanswered,
        "flood_requests_per_s": round(sent[0] / seconds, 1),
        "flood_tickets_issued": flood_tickets,
        "flood_seconds": round(seconds, 2),
    }
