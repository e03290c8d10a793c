"""``paidui chaos``: a hall's whole traffic while its scheduler and broker are killed.

Kiosks issue tickets (and check in appointments booked a moment before); every window's
clerk calls, recalls, postpones, transfers to a service and to a window, marks no-shows,
pauses and resumes, logs out and back in (A/B post), serves and finishes; pads rate some
transactions and leave others to time out; kiosks cancel some tickets. Meanwhile the
scheduler process and the broker are SIGKILLed in turn and started again (on
PostgreSQL two schedulers run and the active one is killed, so the standby takes over).
A witness follows the hall's events on a persistent session, as a dashboard or an
upstream export would, through ``HallEventFollower``.

At the end everything that must hold is counted; each count must be 0:

- ``tickets_lost``: acknowledged tickets missing from the database;
- ``tickets_doubled``: tickets in the database beyond those acknowledged, and numbers
  given twice on one day;
- ``transactions_without_one_rating``: transactions with no rating record, or several;
- ``calls_missing_at_subscriber``: acknowledged calls whose event the witness never got;
- ``ratings_missing_at_subscriber``: rating records whose event the witness never got;
- ``rating_events_doubled``: rating events the witness was handed twice;
- ``scheduler_error_lines``: error records in the schedulers' logs;
- ``requests_unanswered``: requests that got no answer through all their retries.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select

from hallbus.client import BusClient, Requester
from hallbus.daemon import DeviceDaemon
from hallbus.events import HallEventFollower
from hallbus.hall_file import DEMO_HALL_FILE, HallConfig, load_hall
from hallbus.messages import (
    BookAppointment,
    CallNext,
    Cancel,
    ErrorCode,
    Finish,
    IssueTicket,
    Login,
    Logout,
    NoShow,
    Pause,
    PauseReason,
    Postpone,
    RatingLevel,
    Recall,
    Reply,
    Request,
    Resume,
    StartService,
    Transfer,
)
from hallbus.settings import BusSettings
from hallbus.topics import Command, HallEventKind, HallTopics
from paidui.broker import BROKER_CONFIG_DIR, MosquittoBroker, free_port, mosquitto_available
from scheduler.ledger import EntryKind
from scheduler.store import Store
from scheduler.tables import rating_ledger, tickets, transactions
from simulator.devices import VirtualCounter, VirtualKiosk, VirtualPortal, VirtualRatingPad
from simulator.mailbox import Mailbox
from simulator.processes import SchedulerProcess, write_hall_file

log = logging.getLogger(__name__)

WINDOWS = (1, 2, 3, 4)
SERVICES = ("social", "tax", "residence")
RETRY_S = 0.5  # a device's wait for one answer before it sends the same request again
ATTEMPTS = 80  # 40 s of retries: longer than any restart here
SETTLE_S = 90.0  # how long the end may take to drain (expiring ratings, replays)


@dataclass(frozen=True)
class ChaosOptions:
    """One chaos run."""

    seconds: float = 60.0
    db_url: str | None = None  # None: SQLite in a scratch folder
    kill_every_s: float = 5.0
    seed: int = 1


@dataclass
class _Tally:
    """What the devices were told, collected from every thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    tickets: set[str] = field(default_factory=set)
    calls: set[tuple[str, int, int]] = field(default_factory=set)  # ticket, window, recalls
    answered: int = 0
    unanswered: int = 0
    actions: Counter[str] = field(default_factory=Counter)

    def note(self, action: str, reply: Reply | None) -> None:
        with self.lock:
            if reply is None:
                self.unanswered += 1
            else:
                self.answered += 1
                self.actions[f"{action}:{reply.status}"] += 1


@dataclass
class _Witness:
    """The persistent subscriber: every hall event it was handed."""

    calls: set[tuple[str, int, int]] = field(default_factory=set)
    ratings: Counter[str] = field(default_factory=Counter)  # transaction id -> times
    handed: Mailbox[int] = field(default_factory=Mailbox)  # event numbers, in order

    def take(self, kind: HallEventKind, seq: int, payload: bytes) -> None:
        event = json.loads(payload)
        if kind == HallEventKind.CALL:
            self.calls.add((event["ticket_id"], event["window"], event["recalls"]))
        elif kind == HallEventKind.RATING:
            self.ratings[event["transaction_id"]] += 1
        self.handed.put(seq)


def chaos_hall() -> HallConfig:
    """The demo hall under a fresh id, with short rating prompts and no flood limits."""
    return (
        load_hall(DEMO_HALL_FILE)
        .without_flood_limits()
        .model_copy(
            update={
                "id": f"chaos-{uuid.uuid4().hex[:8]}",
                "rating_timeout_s": 2.0,
                "later_rating_s": 0.0,
                "require_open_window": False,
            }
        )
    )


class _Hall:
    """The processes that get killed: the broker and one or two schedulers."""

    def __init__(self, folder: Path, hall: HallConfig, db_url: str, standby: bool) -> None:
        self.broker = MosquittoBroker(
            BROKER_CONFIG_DIR / "demo.conf", free_port(), folder / "broker"
        )
        self.bus = BusSettings(port=self.broker.port, reconnect_max_s=1.0)
        hall_file = write_hall_file(hall, folder / "hall.yaml")
        count = 2 if standby else 1
        self.schedulers = [
            SchedulerProcess(hall_file, db_url, self.bus, log_level="INFO") for _ in range(count)
        ]
        self.kills: Counter[str] = Counter()

    def start(self) -> None:
        self.broker.start()
        for process in self.schedulers:
            process.start()

    def stop(self) -> None:
        for process in self.schedulers:
            process.stop()
        self.broker.stop()

    def active(self) -> SchedulerProcess:
        """The scheduler that leads: the last to say "active" (the only one on SQLite)."""
        if len(self.schedulers) == 1:
            return self.schedulers[0]

        def said_active_at(process: SchedulerProcess) -> str:
            # Log times, not positions: each process's log also holds its earlier lives.
            said = [str(r.get("ts")) for r in process.log.items() if r.get("msg") == "active"]
            return max(said, default="")

        return max(self.schedulers, key=said_active_at)

    def kill_scheduler(self) -> None:
        victim = self.active()
        others = [(p, len(p.log.items())) for p in self.schedulers if p is not victim]
        victim.kill()
        if not others:
            victim.start()
            self.kills["scheduler"] += 1
            return
        # Counted only when the standby is seen taking the hall over. The victim comes
        # back after that, as a failed machine does after its restart delay: restarted at
        # once, it could win the hall's lock again before the standby's next try (seen
        # once on a loaded machine), and no takeover would have been tested.
        standby, seen = others[0]
        took_over = standby.log.wait_for(lambda r: r.get("msg") == "active", 30.0, after=seen)
        victim.start()  # back as the standby
        self.kills["standby_takeover" if took_over else "active_killed_no_takeover"] += 1

    def kill_broker(self) -> None:
        self.broker.kill()
        self.broker.start()
        self.kills["broker"] += 1

    def error_lines(self) -> list[dict[str, Any]]:
        return [
            record
            for process in self.schedulers
            for record in process.log.items()
            if record.get("level") in ("error", "critical")
        ]


def _ask(
    tally: _Tally, action: str, device: DeviceDaemon, command: Command, request: Request
) -> Reply | None:
    reply = device.requests.request(command, request, timeout=RETRY_S, attempts=ATTEMPTS)
    if reply.error is not None and reply.error.code == ErrorCode.TIMEOUT:
        tally.note(action, None)
        return None
    tally.note(action, reply)
    return reply


def _rid() -> str:
    return Requester.new_request_id()


class _Clerk:
    """One window's clerk pressing keys, and the citizen at its pad."""

    def __init__(
        self, window: int, counter: VirtualCounter, pad: VirtualRatingPad, tally: _Tally, seed: int
    ) -> None:
        self.window = window
        self.counter = counter
        self.pad = pad
        self.tally = tally
        self.random = random.Random(seed)
        self.holding = False  # a called ticket at the window
        self.serving = False

    def ask(self, action: str, command: Command, request: Request) -> Reply | None:
        reply = _ask(self.tally, action, self.counter, command, request)
        gone = (ErrorCode.NO_CURRENT_TICKET, ErrorCode.WINDOW_CLOSED)
        if reply is not None and reply.error is not None and reply.error.code in gone:
            self.holding = self.serving = False
        return reply

    def note_call(self, reply: Reply | None) -> None:
        if reply is None or reply.status != "ok" or reply.data is None:
            return
        data = reply.data
        if data.get("state") == "called":
            with self.tally.lock:
                self.tally.calls.add((data["ticket_id"], self.window, data["recalls"]))
            self.holding, self.serving = True, False
        else:  # a recall past the allowed ones is a no-show
            self.holding = self.serving = False

    def step(self) -> None:
        roll = self.random.random()
        if not self.holding:
            if roll < 0.05:
                self.ask("pause", Command.PAUSE, Pause(request_id=_rid(), reason=PauseReason.BREAK))
                self.ask("resume", Command.RESUME, Resume(request_id=_rid()))
            elif roll < 0.10:  # A/B post: the next clerk takes over the window
                self.ask("logout", Command.LOGOUT, Logout(request_id=_rid()))
                self.login()
            else:
                self.note_call(
                    self.ask("call_next", Command.CALL_NEXT, CallNext(request_id=_rid()))
                )
            return
        if not self.serving and roll < 0.10:
            self.note_call(self.ask("recall", Command.RECALL, Recall(request_id=_rid())))
        elif not self.serving and roll < 0.18:
            self.ask("postpone", Command.POSTPONE, Postpone(request_id=_rid()))
            self.holding = False
        elif not self.serving and roll < 0.25:
            self.ask("no_show", Command.NO_SHOW, NoShow(request_id=_rid()))
            self.holding = False
        elif roll < 0.32:
            service = self.random.choice(SERVICES)
            self.ask(
                "transfer_service",
                Command.TRANSFER,
                Transfer(request_id=_rid(), to_service=service),
            )
            self.holding = self.serving = False
        elif roll < 0.38:
            target = self.random.choice([w for w in WINDOWS if w != self.window])
            self.ask(
                "transfer_window", Command.TRANSFER, Transfer(request_id=_rid(), to_window=target)
            )
            self.holding = self.serving = False
        elif not self.serving:
            reply = self.ask("start", Command.START_SERVICE, StartService(request_id=_rid()))
            self.serving = reply is not None and reply.status == "ok"
        else:
            self.finish()

    def finish(self) -> None:
        reply = self.ask("finish", Command.FINISH, Finish(request_id=_rid()))
        self.holding = self.serving = False
        if reply is None or reply.status != "ok" or reply.data is None:
            return
        if self.random.random() < 0.6:  # the others walk away: recorded as unrated
            level = self.random.choice(list(RatingLevel))
            request = self.pad_rating(reply.data["transaction_id"], level)
            _ask(self.tally, "rate", self.pad, Command.RATE, request)

    @staticmethod
    def pad_rating(transaction_id: str, level: RatingLevel) -> Request:
        from hallbus.messages import BadRatingReason, Rate

        reason = BadRatingReason.EFFICIENCY if level.is_bad else None
        return Rate(request_id=_rid(), transaction_id=transaction_id, level=level, reason=reason)

    def login(self) -> None:
        code = str(1000 + self.window)
        self.ask("login", Command.LOGIN, Login(request_id=_rid(), clerk_code=code))


class _Citizens:
    """Tickets taken at the kiosks, a few cancelled, a few appointments checked in."""

    def __init__(
        self, kiosk: VirtualKiosk, portal: VirtualPortal, tally: _Tally, seed: int
    ) -> None:
        self.kiosk = kiosk
        self.portal = portal
        self.tally = tally
        self.random = random.Random(seed)

    def step(self) -> None:
        roll = self.random.random()
        id_hash = None
        if roll < 0.08:
            id_hash = secrets.token_hex(32)
            slot = datetime.now(UTC) + timedelta(seconds=30)
            booking = BookAppointment(
                request_id=_rid(), service_code="tax", slot_start=slot, id_hash=id_hash,
                contact="138****0000",
            )  # fmt: skip
            booked = _ask(self.tally, "book", self.portal, Command.BOOK_APPOINTMENT, booking)
            if booked is None or booked.status != "ok":
                id_hash = None
        service = None if id_hash else self.random.choice(SERVICES)
        request = IssueTicket(request_id=_rid(), service_code=service, id_hash=id_hash)
        reply = _ask(
            self.tally,
            "issue" if service else "check_in",
            self.kiosk,
            Command.ISSUE_TICKET,
            request,
        )
        if reply is None or reply.status != "ok" or reply.data is None:
            return
        ticket_id = reply.data["ticket_id"]
        with self.tally.lock:
            self.tally.tickets.add(ticket_id)
        if self.random.random() < 0.05:
            _ask(
                self.tally,
                "cancel",
                self.kiosk,
                Command.CANCEL,
                Cancel(request_id=_rid(), ticket_id=ticket_id),
            )


@contextmanager
def _devices(bus: BusSettings, hall: HallConfig) -> Iterator[dict[str, DeviceDaemon]]:
    started: dict[str, DeviceDaemon] = {}
    try:
        for device_id in ("kiosk-1", "kiosk-2"):
            started[device_id] = VirtualKiosk(bus, hall.id, device_id)
        started["portal"] = VirtualPortal(bus, hall.id, "portal")
        for window in WINDOWS:
            started[f"counter-{window}"] = VirtualCounter(bus, hall.id, f"counter-{window}", window)
            started[f"pad-{window}"] = VirtualRatingPad(bus, hall.id, f"pad-{window}", window)
        for daemon in started.values():
            daemon.start()
        yield started
    finally:
        for daemon in started.values():
            daemon.stop()


def _loop(stop: threading.Event, step: Callable[[], None], pause_s: float) -> None:
    while not stop.is_set():
        step()
        stop.wait(pause_s)  # a person's pace, not a flood


def run_chaos(options: ChaosOptions) -> dict[str, Any]:
    """Drive a hall through kills of its scheduler and broker; count what did not hold."""
    if not mosquitto_available():
        raise SystemExit("paidui chaos needs mosquitto (apt-get install mosquitto)")
    hall = chaos_hall()
    topics = HallTopics(hall.id)
    tally = _Tally()
    witness = _Witness()
    with tempfile.TemporaryDirectory(prefix="paidui-chaos-") as scratch:
        folder = Path(scratch)
        db_url = options.db_url or Store.sqlite_url(folder / "chaos.db")
        standby = db_url.startswith("postgresql")
        processes = _Hall(folder, hall, db_url, standby)
        processes.start()
        watch_client = BusClient(
            processes.bus, f"{hall.id}.witness", topics.availability("witness")
        )
        follower = HallEventFollower(
            watch_client, Requester(watch_client, topics, "portal"), witness.take, after_seq=0
        )
        follower.requester.attach()
        follower.attach()
        watch_client.start(timeout=30)
        stop = threading.Event()
        started = time.monotonic()
        try:
            with _devices(processes.bus, hall) as devices:
                clerks = [
                    _Clerk(w, devices[f"counter-{w}"], devices[f"pad-{w}"], tally, options.seed + w)  # type: ignore[arg-type]
                    for w in WINDOWS
                ]
                for clerk in clerks:
                    clerk.login()
                citizens = [
                    _Citizens(devices[k], devices["portal"], tally, options.seed + n)  # type: ignore[arg-type]
                    for n, k in enumerate(("kiosk-1", "kiosk-2"))
                ]
                steps: list[Callable[[], None]] = [c.step for c in clerks]
                steps += [c.step for c in citizens]
                workers = [
                    threading.Thread(target=_loop, args=(stop, step, 0.05), daemon=True)
                    for step in steps
                ]
                for worker in workers:
                    worker.start()
                victims = [processes.kill_scheduler, processes.kill_broker]
                turn = 0
                while not stop.wait(options.kill_every_s):
                    if time.monotonic() - started + options.kill_every_s > options.seconds:
                        break
                    victims[turn % len(victims)]()
                    turn += 1
                stop.set()
                for worker in workers:
                    worker.join(ATTEMPTS * RETRY_S + 10)
                for clerk in clerks:  # the day ends: what is at a window is finished
                    if clerk.holding:
                        clerk.finish()
            counts = _settle_and_count(db_url, hall, tally, witness, follower, processes)
        finally:
            stop.set()
            follower.stop()
            watch_client.stop()
            processes.stop()
    counts["seconds"] = round(time.monotonic() - started, 1)
    counts["kills"] = dict(processes.kills)
    return counts


def _settle_and_count(
    db_url: str,
    hall: HallConfig,
    tally: _Tally,
    witness: _Witness,
    follower: HallEventFollower,
    processes: _Hall,
) -> dict[str, Any]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            finished = conn.execute(
                select(func.count()).select_from(transactions).where(transactions.c.hall == hall.id)
            ).scalar_one()
        # Every transaction gets its rating record once its prompt times out (2 s): wait for
        # the witness to be handed as many rating events as there are transactions.
        witness.handed.wait_for(lambda _seq: sum(witness.ratings.values()) >= finished, SETTLE_S)
        with engine.connect() as conn:
            issued = conn.execute(
                select(tickets.c.id, tickets.c.service_date, tickets.c.label).where(
                    tickets.c.hall == hall.id
                )
            ).all()
            rating_counts: dict[str, int] = dict(
                conn.execute(  # type: ignore[arg-type]
                    select(transactions.c.id, func.count(rating_ledger.c.seq))
                    .select_from(
                        transactions.outerjoin(
                            rating_ledger,
                            (rating_ledger.c.transaction_id == transactions.c.id)
                            & (rating_ledger.c.kind == EntryKind.RATING.value),
                        )
                    )
                    .where(transactions.c.hall == hall.id)
                    .group_by(transactions.c.id)
                ).all()
            )
    finally:
        engine.dispose()
    in_db = {row.id for row in issued}
    numbers = Counter((row.service_date, row.label) for row in issued)
    rated = {t for t, n in rating_counts.items() if n >= 1}
    return {
        "must_be_zero": {
            "tickets_lost": len(tally.tickets - in_db),
            "tickets_doubled": len(in_db - tally.tickets) + sum(n - 1 for n in numbers.values()),
            "transactions_without_one_rating": sum(1 for n in rating_counts.values() if n != 1),
            "calls_missing_at_subscriber": len(tally.calls - witness.calls),
            "ratings_missing_at_subscriber": len(rated - set(witness.ratings)),
            "rating_events_doubled": sum(n - 1 for n in witness.ratings.values() if n > 1),
            "scheduler_error_lines": len(processes.error_lines()),
            "requests_unanswered": tally.unanswered,
        },
        "traffic": {
            "tickets": len(in_db),
            "transactions": len(rating_counts),
            "calls": len(tally.calls),
            "requests_answered": tally.answered,
            "events_replayed_to_witness": follower.replayed,
            "actions": dict(sorted(tally.actions.items())),
        },
        # With the last line of any traceback: what failed, not only that something did.
        "errors_logged": [
            " | ".join(
                filter(None, [record.get("msg"), (record.get("exc") or "").strip().split("\n")[-1]])
            )
            for record in processes.error_lines()
        ][:10],
    }


def main_chaos(options: ChaosOptions) -> int:
    """Entry point of ``paidui chaos``: JSON on stdout, exit 1 if any count is not 0."""
    counts = run_chaos(options)
    print(json.dumps(counts, ensure_ascii=False), flush=True)
    failed = [name for name, count in counts["must_be_zero"].items() if count]
    return 1 if failed else 0
