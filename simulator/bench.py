"""``paidui bench``: latency and throughput of the spine against a real mosquitto.

The scheduler runs as its own process, as in a hall, so clients and scheduler do not
share one interpreter lock. Prints one JSON object.
"""

from __future__ import annotations

import functools
import json
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hallbus.client import BusClient, Requester
from hallbus.hall_file import DEMO_HALL_FILE, load_hall
from hallbus.messages import ONLINE, CallNext, Finish, IssueTicket, Login, WindowState, decode
from hallbus.settings import BusSettings
from hallbus.topics import Command, HallTopics
from paidui.broker import BROKER_CONFIG_DIR, MosquittoBroker, free_port, mosquitto_available
from paidui.postgres import create_database, drop_database, find_postgres
from scheduler.store import Store
from simulator.bench_counter import run_counter_bench
from simulator.bench_display import run_display_bench
from simulator.bench_flood import run_flood_bench
from simulator.bench_id_reader import run_id_reader_bench
from simulator.bench_kiosk import run_kiosk_bench
from simulator.bench_policy import run_policy_bench
from simulator.bench_scale import hall_load, run_scale_bench
from simulator.mailbox import Mailbox
from simulator.processes import SchedulerProcess, write_hall_file

WAIT = 15.0


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000.0


def _echo_rtt(bus: BusSettings, topics: HallTopics, rounds: int) -> list[float]:
    got = threading.Event()
    client = BusClient(bus, "bench-echo", topics.availability("bench-echo"), persistent=False)
    topic = topics.device_event("bench-echo", "echo")
    client.subscribe(topic, lambda _t, _p: got.set(), inline=True)
    client.start()
    samples = []
    for _ in range(rounds):
        got.clear()
        start = time.perf_counter()
        client.publish(topic, b"x", qos=1)
        if not got.wait(WAIT):
            raise RuntimeError("echo lost")
        samples.append(time.perf_counter() - start)
    client.stop()
    return samples


def _shows(ticket_id: str, seen: tuple[str, float]) -> bool:
    return seen[0] == ticket_id


def _device(bus: BusSettings, topics: HallTopics, device_id: str) -> tuple[BusClient, Requester]:
    client = BusClient(bus, device_id, topics.availability(device_id), persistent=False)
    requester = Requester(client, topics, device_id)
    requester.attach()
    return client, requester


def run_bench(seconds: float = 5.0, *, postgres: bool = True) -> dict[str, Any]:
    """Run every measurement; returns the figures (SQLite, then PostgreSQL where it runs)."""
    if not mosquitto_available():
        raise SystemExit("paidui bench needs mosquitto (apt-get install mosquitto)")
    results: dict[str, Any] = {"sqlite": _bus_bench(seconds, None)}
    if postgres:
        admin, why_not = find_postgres()
        if admin is None:
            results["postgresql"] = {"skipped": why_not}
        else:
            name = f"paidui_bench_{uuid.uuid4().hex[:8]}"
            url = create_database(admin, name)
            try:
                results["postgresql"] = _bus_bench(seconds, url)
                results["scale_out"] = run_scale_bench(url, min(seconds, 3.0))
            finally:
                drop_database(admin, name)
    results["call_next_decision"] = run_policy_bench()
    results["kiosk"] = _on_a_broker(run_kiosk_bench)
    results["id_reader"] = _on_a_broker(run_id_reader_bench)
    results["counter"] = _on_a_broker(run_counter_bench)
    results["display"] = _on_a_broker(run_display_bench)
    results["flood"] = _on_a_broker(run_flood_bench)
    return results


def _on_a_broker(bench: Callable[[BusSettings], dict[str, Any]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        broker = MosquittoBroker(
            BROKER_CONFIG_DIR / "demo.conf", free_port(), Path(scratch) / "broker"
        )
        broker.start()
        try:
            return bench(BusSettings(port=broker.port))
        finally:
            broker.stop()


def _bus_bench(seconds: float, db_url: str | None) -> dict[str, float | int]:
    # Windows open as their clerks log in; the throughput phase issues tickets with
    # nobody logged in, so the bench hall does not insist on an open window.
    hall = (
        load_hall(DEMO_HALL_FILE)
        .without_flood_limits()
        .model_copy(
            update={
                "id": f"bench-{uuid.uuid4().hex[:6]}",
                "rating_timeout_s": 3600.0,
                "require_open_window": False,
            }
        )
    )
    topics = HallTopics(hall.id)
    with tempfile.TemporaryDirectory(prefix="paidui-bench-") as scratch:
        folder = Path(scratch)
        broker = MosquittoBroker(BROKER_CONFIG_DIR / "demo.conf", free_port(), folder / "broker")
        broker.start()
        bus = BusSettings(port=broker.port)
        hall_file = write_hall_file(hall, folder / "hall.yaml")
        online: Mailbox[bytes] = Mailbox()
        watcher = BusClient(bus, "bench-watch", topics.availability("bench-watch"))
        watcher.subscribe(topics.scheduler_availability(), lambda _t, p: online.put(p), inline=True)
        watcher.start()
        url = db_url or Store.sqlite_url(folder / "bench.db")
        scheduler = SchedulerProcess(hall_file, url, bus)
        scheduler.start()
        try:
            if not online.wait_for(lambda p: p == ONLINE.encode(), WAIT):
                raise RuntimeError("scheduler did not come online")
            return _measure(bus, topics, seconds)
        finally:
            scheduler.stop()
            watcher.stop()
            broker.stop()


def _measure(bus: BusSettings, topics: HallTopics, seconds: float) -> dict[str, float | int]:
    echo = _echo_rtt(bus, topics, 2000)

    kiosk, kiosk_requests = _device(bus, topics, "kiosk-1")
    counter, counter_requests = _device(bus, topics, "counter-1")
    board_seen: Mailbox[tuple[str, float]] = Mailbox()

    def on_board(_topic: str, payload: bytes) -> None:
        state = decode(WindowState, payload)
        if state.current is not None:
            board_seen.put((state.current.ticket_id, time.perf_counter()))

    board = BusClient(bus, "board-1", topics.availability("board-1"), persistent=False)
    board.subscribe(topics.window_state(1), on_board, inline=True)
    for client in (kiosk, counter, board):
        client.start()
    login = counter_requests.request(
        Command.LOGIN, Login(request_id=Requester.new_request_id(), clerk_code="1001")
    )
    if login.status != "ok":
        raise RuntimeError(f"bench clerk could not log in: {login}")

    def timed(
        requester: Requester, command: Command, request: IssueTicket | CallNext | Finish
    ) -> float:
        start = time.perf_counter()
        reply = requester.request(command, request, timeout=WAIT, attempts=1)
        if reply.status != "ok":
            raise RuntimeError(f"bench request failed: {reply}")
        return time.perf_counter() - start

    issue = [
        timed(
            kiosk_requests,
            Command.ISSUE_TICKET,
            IssueTicket(request_id=Requester.new_request_id(), service_code="social"),
        )
        for _ in range(1000)
    ]
    calls, call_to_board = [], []
    for _ in range(300):
        start = time.perf_counter()
        reply = counter_requests.request(
            Command.CALL_NEXT,
            CallNext(request_id=Requester.new_request_id()),
            timeout=WAIT,
            attempts=1,
        )
        calls.append(time.perf_counter() - start)
        assert reply.data is not None
        ticket_id = reply.data["ticket_id"]
        shown = board_seen.wait_for(functools.partial(_shows, ticket_id), WAIT)
        if shown is None:
            raise RuntimeError(f"board never showed {ticket_id}")
        call_to_board.append(shown[1] - start)
        timed(counter_requests, Command.FINISH, Finish(request_id=Requester.new_request_id()))

    for client in (kiosk, counter, board):
        client.stop()  # the throughput phase reuses the kiosk ids
    throughput = _sustained(bus, topics, seconds)
    requests = issue + calls
    return {
        "mqtt_rtt_p50_ms": round(_percentile(echo, 0.5), 3),
        "mqtt_rtt_p99_ms": round(_percentile(echo, 0.99), 3),
        "request_p50_ms": round(_percentile(requests, 0.5), 3),
        "request_p99_ms": round(_percentile(requests, 0.99), 3),
        "issue_ticket_p50_ms": round(_percentile(issue, 0.5), 3),
        "call_next_p50_ms": round(_percentile(calls, 0.5), 3),
        "call_to_board_p50_ms": round(_percentile(call_to_board, 0.5), 3),
        "call_to_board_p99_ms": round(_percentile(call_to_board, 0.99), 3),
        "commands_per_s": round(throughput, 1),
        "request_mean_ms": round(statistics.fmean(requests) * 1000, 3),
    }


def _sustained(bus: BusSettings, topics: HallTopics, seconds: float) -> float:
    """Issue tickets from two kiosks, each keeping 32 requests in flight."""
    counts: list[int] = []
    started = time.perf_counter()
    hall_load(bus, topics, started + seconds, counts, window=32)
    return sum(counts) / (time.perf_counter() - started)


def main_bench(seconds: float = 5.0, *, postgres: bool = True) -> int:
    """Entry point of ``paidui bench``."""
    print(json.dumps(run_bench(seconds, postgres=postgres)), flush=True)
    return 0
