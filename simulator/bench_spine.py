"""Honest figures of the scheduler's spine, for ``paidui bench``.

- The floor: a request/reply through a second process that answers at once
  (``simulator.bench_echo``), over the same broker and client code.
- A queue already ``waiting`` long, written to the store before the scheduler starts,
  so the restart time and call_next as a request are measured at that length.
- Closed-loop device pairs: each kiosk takes a ticket and waits for it, its keypad
  finishes the last citizen and calls the next, as devices send them; only committed
  answers count, refusals apart; the scheduler's CPU per command from the OS; duplicate
  numbers and double calls counted in the database afterwards.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psutil
from sqlalchemy import create_engine, func, select

from hallbus.client import BusClient, Requester
from hallbus.hall_file import HallConfig
from hallbus.messages import CallNext, Finish, IssueTicket, Login, Reply, Request
from hallbus.settings import BusSettings
from hallbus.topics import Command, HallTopics
from scheduler.domain import HallQueue
from scheduler.store import Store
from scheduler.tables import tickets, transactions

WAIT = 15.0
PRELOAD_BATCH = 5_000


def percentile_ms(samples: list[float], share: float) -> float:
    """The ``share`` percentile of ``samples`` (seconds) in milliseconds."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000.0, 3)


def device(bus: BusSettings, topics: HallTopics, device_id: str) -> tuple[BusClient, Requester]:
    """A device's client and requester (not yet started)."""
    client = BusClient(bus, device_id, topics.availability(device_id), persistent=False)
    requester = Requester(client, topics, device_id)
    requester.attach()
    return client, requester


def floor_rtt(bus: BusSettings, rounds: int) -> list[float]:
    """Seconds per request/reply through a second process that answers at once."""
    hall = "bench-floor"
    server = subprocess.Popen(
        [sys.executable, "-m", "simulator.bench_echo", "--port", str(bus.port), "--hall", hall],
        stdout=subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != b"ready":
            raise RuntimeError("the echo process did not start")
        client, requester = device(bus, HallTopics(hall), "kiosk-1")
        client.start()
        samples = []
        for _ in range(rounds):
            request = IssueTicket(request_id=rid(), service_code="social")
            seconds, reply = timed_reply(requester, Command.ISSUE_TICKET, request)
            if reply.status != "ok":
                raise RuntimeError(f"the echo process did not answer: {reply}")
            samples.append(seconds)
        client.stop()
        return samples
    finally:
        server.terminate()
        server.wait(10)


def preload(url: str, hall: HallConfig, waiting: int) -> None:
    """Write ``waiting`` waiting tickets of today into the store, as a day's backlog."""
    store = Store(url, hall.id)
    store.open()
    try:
        queue = HallQueue(hall)
        now = datetime.now(UTC)
        codes = [s.code for s in hall.services]
        for n in range(waiting):
            queue.issue_ticket(codes[n % len(codes)], now, "kiosk-1")
            if (n + 1) % PRELOAD_BATCH == 0:
                store.commit(queue.take_changes(), now)
        store.commit(queue.take_changes(), now)
    finally:
        store.close()


def timed_reply(requester: Requester, command: Command, request: Request) -> tuple[float, Reply]:
    """Seconds for one request (one attempt), and its reply."""
    start = time.perf_counter()
    reply = requester.request(command, request, timeout=WAIT, attempts=1)
    return time.perf_counter() - start, reply


def timed(requester: Requester, command: Command, request: Request) -> tuple[float, bool]:
    """Seconds for one request and whether it was committed (ok)."""
    seconds, reply = timed_reply(requester, command, request)
    return seconds, reply.status == "ok"


def rid() -> str:
    """A fresh request id."""
    return Requester.new_request_id()


@dataclass
class PairsRun:
    """What the device pairs saw."""

    latencies: list[float] = field(default_factory=list)
    committed: int = 0
    refused: int = 0
    cycles: int = 0
    called: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def pairs_hall(base: HallConfig, pairs: int) -> HallConfig:
    """``base`` with ``pairs`` 一窗通办 windows, each with a kiosk, a keypad and a clerk."""
    numbers = range(1, pairs + 1)
    return HallConfig.model_validate(
        {
            **base.model_dump(mode="json", by_alias=True, exclude_none=True),
            "windows": [{"number": n, "services": "all"} for n in numbers],
            "clerks": [{"code": f"b{n}", "name": f"柜员{n}"} for n in numbers],
            "devices": [
                *({"id": f"kiosk-{n}", "kind": "kiosk"} for n in numbers),
                *({"id": f"counter-{n}", "kind": "counter", "window": n} for n in numbers),
            ],
        }
    )


def run_pairs(
    bus: BusSettings, topics: HallTopics, pairs: int, seconds: float, scheduler_pid: int
) -> dict[str, Any]:
    """``pairs`` kiosk/keypad pairs in closed loops for ``seconds``; the figures."""
    run = PairsRun()
    ready = threading.Barrier(pairs + 1)
    deadline: list[float] = [0.0]

    def pair(n: int) -> None:
        kiosk, kiosk_requests = device(bus, topics, f"kiosk-{n}")
        counter, counter_requests = device(bus, topics, f"counter-{n}")
        kiosk.start()
        counter.start()
        login = counter_requests.request(
            Command.LOGIN, Login(request_id=rid(), clerk_code=f"b{n}"), timeout=WAIT
        )
        if login.status != "ok":
            raise RuntimeError(f"bench clerk b{n} could not log in: {login}")
        ready.wait()
        holding = False
        while time.perf_counter() < deadline[0]:
            steps: list[tuple[Command, Request]] = [
                (Command.ISSUE_TICKET, IssueTicket(request_id=rid(), service_code="social"))
            ]
            if holding:
                steps.append((Command.FINISH, Finish(request_id=rid())))
            for command, request in steps:
                sender = kiosk_requests if command is Command.ISSUE_TICKET else counter_requests
                _record(run, *timed(sender, command, request))
            start = time.perf_counter()
            reply = counter_requests.request(
                Command.CALL_NEXT, CallNext(request_id=rid()), timeout=WAIT, attempts=1
            )
            _record(run, time.perf_counter() - start, reply.status == "ok")
            holding = reply.status == "ok"
            with run.lock:
                run.cycles += 1
                if reply.data is not None and holding:
                    run.called.append(str(reply.data["ticket_id"]))
        kiosk.stop()
        counter.stop()

    threads = [threading.Thread(target=pair, args=(n,)) for n in range(1, pairs + 1)]
    for thread in threads:
        thread.start()
    cpu = psutil.Process(scheduler_pid)
    before = cpu.cpu_times()
    started = time.perf_counter()
    deadline[0] = started + seconds
    ready.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    after = cpu.cpu_times()
    used = (after.user + after.system) - (before.user + before.system)
    return {
        "pairs": pairs,
        "pairs_per_s": round(run.cycles / elapsed, 1),
        "committed_per_s": round(run.committed / elapsed, 1),
        "refused": run.refused,
        "request_p50_ms": percentile_ms(run.latencies, 0.5),
        "request_p99_ms": percentile_ms(run.latencies, 0.99),
        "scheduler_cpu_ms_per_command": round(used * 1000 / max(run.committed, 1), 3),
        "double_calls_seen": len(run.called) - len(set(run.called)),
    }


def _record(run: PairsRun, seconds: float, ok: bool) -> None:
    with run.lock:
        run.latencies.append(seconds)
        if ok:
            run.committed += 1
        else:
            run.refused += 1


def integrity(url: str, hall: str) -> dict[str, int]:
    """Duplicate numbers and tickets served twice, counted in the database."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            numbered = (
                select(func.count())
                .select_from(tickets)
                .where(tickets.c.hall == hall)
                .group_by(tickets.c.service_date, tickets.c.issued_service, tickets.c.number)
                .having(func.count() > 1)
                .subquery()
            )
            served = (
                select(func.count())
                .select_from(transactions)
                .where(transactions.c.hall == hall)
                .group_by(transactions.c.ticket_id)
                .having(func.count() > 1)
                .subquery()
            )
            duplicates = conn.execute(select(func.count()).select_from(numbered)).scalar_one()
            double = conn.execute(select(func.count()).select_from(served)).scalar_one()
    finally:
        engine.dispose()
    return {"duplicate_numbers": int(duplicates), "tickets_served_twice": int(double)}
