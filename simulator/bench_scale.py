"""Scale-out figures: standby takeover time, and commands per second with several halls.

Both on PostgreSQL with the scheduler in its own process per hall (two for the
takeover), one mosquitto, as a city deployment would run them on one machine.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from hallbus.client import BusClient, Requester
from hallbus.hall_file import DEMO_HALL_FILE, HallConfig, load_hall
from hallbus.messages import ONLINE, IssueTicket, Reply
from hallbus.settings import BusSettings
from hallbus.topics import Command, HallTopics
from paidui.broker import BROKER_CONFIG_DIR, MosquittoBroker, free_port
from simulator.mailbox import Mailbox
from simulator.processes import SchedulerProcess, write_hall_file

WAIT = 15.0


def _hall(prefix: str) -> HallConfig:
    base = load_hall(DEMO_HALL_FILE).without_flood_limits()
    return base.model_copy(
        update={"id": f"{prefix}-{uuid.uuid4().hex[:8]}", "require_open_window": False}
    )


def _online(bus: BusSettings, topics: HallTopics) -> tuple[BusClient, Mailbox[bytes]]:
    box: Mailbox[bytes] = Mailbox()
    name = f"bench-watch-{uuid.uuid4().hex[:6]}"
    watcher = BusClient(bus, name, topics.availability(name), persistent=False)
    watcher.subscribe(topics.scheduler_availability(), lambda _t, p: box.put(p), inline=True)
    watcher.start()
    return watcher, box


def _takeover(bus: BusSettings, url: str, folder: Path) -> dict[str, float]:
    """Kill the active scheduler; time until the standby answers a retried request."""
    hall = _hall("failover")
    topics = HallTopics(hall.id)
    hall_file = write_hall_file(hall, folder / f"{hall.id}.yaml")
    active = SchedulerProcess(hall_file, url, bus, log_level="INFO")
    standby = SchedulerProcess(hall_file, url, bus, log_level="INFO")
    kiosk = BusClient(bus, topics.identity("kiosk-1"), topics.availability("kiosk-1"))
    requester = Requester(kiosk, topics, "kiosk-1")
    requester.attach()
    try:
        active.start()
        if active.log.wait_for(lambda r: r.get("msg") == "active", WAIT) is None:
            raise RuntimeError("no active scheduler")
        standby.start()
        if standby.log.wait_for(lambda r: "standby" in str(r.get("msg")), WAIT) is None:
            raise RuntimeError("no standby scheduler")
        kiosk.start()

        def issue(timeout: float, attempts: int) -> bool:
            request = IssueTicket(request_id=Requester.new_request_id(), service_code="tax")
            reply = requester.request(
                Command.ISSUE_TICKET, request, timeout=timeout, attempts=attempts
            )
            return reply.status == "ok"

        for _ in range(20):
            issue(WAIT, 1)
        killed = time.perf_counter()
        active.kill()
        if standby.log.wait_for(lambda r: r.get("msg") == "active", WAIT) is None:
            raise RuntimeError("the standby never took over")
        became_active = time.perf_counter()
        if not issue(0.05, 400):
            raise RuntimeError("no answer after the takeover")
        answered = time.perf_counter()
        return {
            "standby_active_ms": round((became_active - killed) * 1000, 1),
            "first_answer_ms": round((answered - killed) * 1000, 1),
        }
    finally:
        kiosk.stop()
        active.stop()
        standby.stop()


def hall_load(
    bus: BusSettings,
    topics: HallTopics,
    stop_at: float,
    counts: list[int],
    *,
    window: int = 16,
    refused: list[int] | None = None,
) -> None:
    """One hall's two kiosks keeping ``window`` requests each in flight until ``stop_at``.

    ``counts`` gets each kiosk's committed answers; refusals (``refused``) are apart: a
    refusal commits nothing and must not pass for throughput."""

    def kiosk(device_id: str) -> None:
        client = BusClient(bus, topics.identity(device_id), topics.availability(device_id))
        requester = Requester(client, topics, device_id)
        requester.attach()
        slots = threading.Semaphore(window)
        done = [0, 0]

        def on_reply(reply: Reply) -> None:
            done[0 if reply.status == "ok" else 1] += 1
            slots.release()

        requester.on_reply = on_reply
        client.start()
        while time.perf_counter() < stop_at:
            if not slots.acquire(timeout=WAIT):
                break
            request = IssueTicket(request_id=Requester.new_request_id(), service_code="tax")
            requester.forget(request.request_id)
            client.publish(topics.request(device_id, Command.ISSUE_TICKET), request)
        for _ in range(window):
            slots.acquire(timeout=WAIT)
        client.stop()
        counts.append(done[0])
        if refused is not None:
            refused.append(done[1])

    threads = [threading.Thread(target=kiosk, args=(k,)) for k in ("kiosk-1", "kiosk-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _halls(bus: BusSettings, url: str, folder: Path, halls: int, seconds: float) -> float:
    """Commands per second over ``halls`` halls, each with its own scheduler process."""
    configs = [_hall(f"scale{n}") for n in range(halls)]
    processes, watchers = [], []
    try:
        for hall in configs:
            topics = HallTopics(hall.id)
            watcher, box = _online(bus, topics)
            watchers.append(watcher)
            process = SchedulerProcess(write_hall_file(hall, folder / f"{hall.id}.yaml"), url, bus)
            process.start()
            processes.append(process)
            if box.wait_for(lambda p: p == ONLINE.encode(), WAIT) is None:
                raise RuntimeError(f"hall {hall.id}'s scheduler did not come online")
        counts: list[int] = []
        started = time.perf_counter()
        stop_at = started + seconds
        threads = [
            threading.Thread(target=hall_load, args=(bus, HallTopics(h.id), stop_at, counts))
            for h in configs
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sum(counts) / (time.perf_counter() - started)
    finally:
        for process in processes:
            process.stop()
        for watcher in watchers:
            watcher.stop()


def run_scale_bench(url: str, seconds: float) -> dict[str, Any]:
    """Takeover times (5 kills) and commands per second with 1, 2 and 4 halls."""
    with tempfile.TemporaryDirectory(prefix="paidui-scale-") as scratch:
        folder = Path(scratch)
        broker = MosquittoBroker(BROKER_CONFIG_DIR / "demo.conf", free_port(), folder / "broker")
        broker.start()
        bus = BusSettings(port=broker.port)
        try:
            takeovers = [_takeover(bus, url, folder) for _ in range(5)]
            answers = [t["first_answer_ms"] for t in takeovers]
            figures: dict[str, Any] = {
                "takeover_first_answer_ms_median": round(statistics.median(answers), 1),
                "takeover_first_answer_ms_max": max(answers),
                "takeover_standby_active_ms_median": round(
                    statistics.median(t["standby_active_ms"] for t in takeovers), 1
                ),
            }
            for halls in (1, 2, 4):
                rate = _halls(bus, url, folder, halls, seconds)
                figures[f"commands_per_s_{halls}_halls"] = round(rate, 1)
            return figures
        finally:
            broker.stop()
