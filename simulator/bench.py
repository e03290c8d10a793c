"""``paidui bench``: latency and throughput of the spine against a real mosquitto.

The scheduler runs as its own process, as in a hall, so clients and scheduler do not
share one interpreter lock. Prints one JSON object.
"""

from __future__ import annotations

import functools
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from hallbus.client import BusClient
from hallbus.hall_file import DEMO_HALL_FILE, HallConfig, load_hall
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
from simulator.bench_spine import (
    device,
    floor_rtt,
    integrity,
    pairs_hall,
    percentile_ms,
    preload,
    rid,
    run_pairs,
    timed,
)
from simulator.mailbox import Mailbox
from simulator.processes import SchedulerProcess, write_hall_file

WAIT = 15.0


def _shows(ticket_id: str, seen: tuple[str, float]) -> bool:
    return seen[0] == ticket_id


def run_bench(seconds: float = 5.0, *, postgres: bool = True, clients: int = 8) -> dict[str, Any]:
    """Run every measurement; returns the figures (SQLite, then PostgreSQL where it runs)."""
    if not mosquitto_available():
        raise SystemExit("paidui bench needs mosquitto (apt-get install mosquitto)")
    results: dict[str, Any] = {"sqlite": _bus_bench(seconds, None, clients, deep=True)}
    if postgres:
        admin, why_not = find_postgres()
        if admin is None:
            results["postgresql"] = {"skipped": why_not}
        else:
            name = f"paidui_bench_{uuid.uuid4().hex[:8]}"
            url = create_database(admin, name)
            try:
                results["postgresql"] = _bus_bench(seconds, url, clients, deep=False)
                results["scale_out"] = run_scale_bench(url, min(seconds, 3.0))
            finally:
                drop_database(admin, name)
    results["targets"] = targets(results)
    results["call_next_decision"] = run_policy_bench()
    results["kiosk"] = _on_a_broker(run_kiosk_bench)
    results["id_reader"] = _on_a_broker(run_id_reader_bench)
    results["counter"] = _on_a_broker(run_counter_bench)
    results["display"] = _on_a_broker(run_display_bench)
    results["flood"] = _on_a_broker(run_flood_bench)
    return results


def targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target of the spine with the run's value and whether it was met."""
    sqlite = results["sqlite"]
    floor = sqlite["floor_request_p50_ms"]
    found: dict[str, tuple[float, float, bool]] = {
        # (value, target, lower is better)
        "request_p50_over_floor": (sqlite["request_p50_ms"] / floor, 3.0, True),
        "call_to_board_p50_over_floor": (sqlite["call_to_board_p50_ms"] / floor, 4.0, True),
        "call_next_p50_100k_over_1k": (
            sqlite["call_next_p50_ms_100k_waiting"] / sqlite["call_next_p50_ms"],
            1.5,
            True,
        ),
        "restart_s_100k_waiting": (sqlite["restart_s_100k_waiting"], 3.0, True),
        "sqlite_committed_per_s": (sqlite["committed_per_s"], 2000.0, False),
        "pairs_per_s": (sqlite["clients"]["pairs_per_s"], 1000.0, False),
        "duplicates_and_double_calls": (
            sum(sqlite["integrity"].values()) + sqlite["clients"]["double_calls_seen"],
            0.0,
            True,
        ),
        "scheduler_cpu_ms_per_command": (
            sqlite["clients"]["scheduler_cpu_ms_per_command"],
            0.3,
            True,
        ),
    }
    postgresql = results.get("postgresql", {})
    if "committed_per_s" in postgresql:
        found["postgresql_committed_per_s"] = (postgresql["committed_per_s"], 1000.0, False)
    return {
        name: {
            "value": round(value, 3),
            "target": target,
            "met": value <= target if lower else value >= target,
        }
        for name, (value, target, lower) in found.items()
    }


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


def _bench_hall() -> HallConfig:
    # The shipped hall's rating timeouts stand (ratings expire during the run, as in a
    # hall); flood limits are off, since the bench is the flood. Tickets are issued with
    # nobody logged in in the throughput phase, so the hall does not insist on a window.
    return (
        load_hall(DEMO_HALL_FILE)
        .without_flood_limits()
        .model_copy(update={"id": f"bench-{uuid.uuid4().hex[:6]}", "require_open_window": False})
    )


class _Scheduler:
    """A scheduler process on a fresh hall and database, with its start timed."""

    def __init__(self, bus: BusSettings, hall: HallConfig, url: str, folder: Path) -> None:
        self.topics = HallTopics(hall.id)
        self._online: Mailbox[bytes] = Mailbox()
        self._watcher = BusClient(bus, "bench-watch", self.topics.availability("bench-watch"))
        self._watcher.subscribe(
            self.topics.scheduler_availability(), lambda _t, p: self._online.put(p), inline=True
        )
        self._watcher.start()
        self.process = SchedulerProcess(write_hall_file(hall, folder / f"{hall.id}.yaml"), url, bus)
        started = time.perf_counter()
        self.process.start()
        if not self._online.wait_for(lambda p: p == ONLINE.encode(), 60):
            raise RuntimeError("scheduler did not come online")
        self.start_s = time.perf_counter() - started

    @property
    def pid(self) -> int:
        assert self.process.process is not None
        return self.process.process.pid

    def stop(self) -> None:
        self.process.stop()
        self._watcher.stop()


def _bus_bench(seconds: float, db_url: str | None, clients: int, *, deep: bool) -> dict[str, Any]:
    """The spine on one database: floor, single requests at 1k waiting, throughput,
    device pairs; with ``deep``, call_next and the restart at 100k waiting too."""
    with tempfile.TemporaryDirectory(prefix="paidui-bench-") as scratch:
        folder = Path(scratch)
        broker = MosquittoBroker(BROKER_CONFIG_DIR / "demo.conf", free_port(), folder / "broker")
        broker.start()
        bus = BusSettings(port=broker.port)
        figures: dict[str, Any] = {}
        try:
            # The floor is taken before and after the scheduler's requests: a shared
            # machine's speed drifts, and the ratios compare the two.
            floor = floor_rtt(bus, 1000)
            hall = _bench_hall()
            url = db_url or Store.sqlite_url(folder / "bench.db")
            preload(url, hall, 1000)
            scheduler = _Scheduler(bus, hall, url, folder)
            try:
                figures |= _measure(bus, scheduler.topics, seconds)
            finally:
                scheduler.stop()
            floor += floor_rtt(bus, 1000)
            figures["floor_request_p50_ms"] = percentile_ms(floor, 0.5)
            figures["floor_request_p99_ms"] = percentile_ms(floor, 0.99)
            if deep:
                figures |= _deep_queue(bus, folder, 100_000)
            pairs = pairs_hall(_bench_hall(), clients)
            pairs_url = Store.sqlite_url(folder / "pairs.db") if db_url is None else db_url
            scheduler = _Scheduler(bus, pairs, pairs_url, folder)
            try:
                figures["clients"] = run_pairs(
                    bus, scheduler.topics, clients, seconds, scheduler.pid
                )
            finally:
                scheduler.stop()
            figures["integrity"] = integrity(pairs_url, pairs.id)
            return figures
        finally:
            broker.stop()


def _deep_queue(bus: BusSettings, folder: Path, waiting: int) -> dict[str, float]:
    """Restart time and call_next as a request with ``waiting`` tickets in line."""
    hall = _bench_hall()
    url = Store.sqlite_url(folder / "deep.db")
    preload(url, hall, waiting)
    scheduler = _Scheduler(bus, hall, url, folder)
    try:
        counter, counter_requests = device(bus, scheduler.topics, "counter-1")
        counter.start()
        login = counter_requests.request(
            Command.LOGIN, Login(request_id=rid(), clerk_code="1001"), timeout=WAIT
        )
        if login.status != "ok":
            raise RuntimeError(f"bench clerk could not log in: {login}")
        calls = []
        for _ in range(300):
            seconds, ok = timed(counter_requests, Command.CALL_NEXT, CallNext(request_id=rid()))
            if not ok:
                raise RuntimeError("call_next refused with a long line waiting")
            calls.append(seconds)
            timed(counter_requests, Command.FINISH, Finish(request_id=rid()))
        counter.stop()
        rss = psutil.Process(scheduler.pid).memory_info().rss
        return {
            "restart_s_100k_waiting": round(scheduler.start_s, 2),
            "call_next_p50_ms_100k_waiting": percentile_ms(calls, 0.5),
            "call_next_p99_ms_100k_waiting": percentile_ms(calls, 0.99),
            "scheduler_rss_mb_100k_waiting": round(rss / 2**20, 1),
        }
    finally:
        scheduler.stop()


def _measure(bus: BusSettings, topics: HallTopics, seconds: float) -> dict[str, Any]:
    kiosk, kiosk_requests = device(bus, topics, "kiosk-1")
    counter, counter_requests = device(bus, topics, "counter-1")
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
        Command.LOGIN, Login(request_id=rid(), clerk_code="1001"), timeout=WAIT
    )
    if login.status != "ok":
        raise RuntimeError(f"bench clerk could not log in: {login}")

    def committed(seconds_ok: tuple[float, bool]) -> float:
        if not seconds_ok[1]:
            raise RuntimeError("a bench request was refused")
        return seconds_ok[0]

    issue = [
        committed(
            timed(
                kiosk_requests,
                Command.ISSUE_TICKET,
                IssueTicket(request_id=rid(), service_code="social"),
            )
        )
        for _ in range(1000)
    ]
    calls, call_to_board = [], []
    for _ in range(300):
        start = time.perf_counter()
        reply = counter_requests.request(
            Command.CALL_NEXT, CallNext(request_id=rid()), timeout=WAIT, attempts=1
        )
        calls.append(time.perf_counter() - start)
        if reply.data is None:
            raise RuntimeError(f"call_next refused: {reply}")
        ticket_id = reply.data["ticket_id"]
        shown = board_seen.wait_for(functools.partial(_shows, ticket_id), WAIT)
        if shown is None:
            raise RuntimeError(f"board never showed {ticket_id}")
        call_to_board.append(shown[1] - start)
        committed(timed(counter_requests, Command.FINISH, Finish(request_id=rid())))

    for client in (kiosk, counter, board):
        client.stop()  # the throughput phase reuses the kiosk ids
    done, refused, elapsed = _sustained(bus, topics, seconds)
    requests = issue + calls
    return {
        "request_p50_ms": percentile_ms(requests, 0.5),
        "request_p99_ms": percentile_ms(requests, 0.99),
        "issue_ticket_p50_ms": percentile_ms(issue, 0.5),
        "call_next_p50_ms": percentile_ms(calls, 0.5),
        "call_to_board_p50_ms": percentile_ms(call_to_board, 0.5),
        "call_to_board_p99_ms": percentile_ms(call_to_board, 0.99),
        # Pipelined (32 in flight per kiosk): what the scheduler commits when kept busy.
        "committed_per_s": round(done / elapsed, 1),
        "refused_in_throughput_run": refused,
        "request_mean_ms": round(statistics.fmean(requests) * 1000, 3),
    }


def _sustained(bus: BusSettings, topics: HallTopics, seconds: float) -> tuple[int, int, float]:
    """Issue tickets from two kiosks, each keeping 32 requests in flight: committed
    answers, refusals, seconds."""
    counts: list[int] = []
    refused: list[int] = []
    started = time.perf_counter()
    hall_load(bus, topics, started + seconds, counts, window=32, refused=refused)
    return sum(counts), sum(refused), time.perf_counter() - started


def main_bench(seconds: float = 5.0, *, postgres: bool = True, clients: int = 8) -> int:
    """Entry point of ``paidui bench``."""
    print(json.dumps(run_bench(seconds, postgres=postgres, clients=clients)), flush=True)
    return 0
