"""One active scheduler per hall: a standby takes over through the database, not by guessing.

On PostgreSQL every scheduler process of a hall asks for a session-level advisory lock
keyed by the hall. The one that holds it is active; the others poll for it. The server
drops the lock the moment the holder's connection ends (a killed process's socket is
closed by the kernel), so a standby takes over within one poll.

The lock alone cannot stop an active scheduler that lost its database connection but
not its MQTT one, or one that froze and woke up after a takeover. So taking the lock
also raises the hall's lease epoch, and every command transaction re-reads that epoch
under a share lock (``Store.commit``): a scheduler whose epoch is no longer current
cannot commit anything, and stops. SQLite is one file on one machine: no standby.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, create_engine, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from hallbus.clock import Clock
from scheduler.store import Store
from scheduler.tables import scheduler_leases

if TYPE_CHECKING:
    from scheduler.bridge import SchedulerService

log = logging.getLogger(__name__)


class LeaseError(RuntimeError):
    """The database cannot host a hall lease (not PostgreSQL, or unreachable)."""


def lock_key(hall: str) -> int:
    """The hall's advisory lock key: a signed 64-bit number derived from its id."""
    digest = hashlib.sha256(f"paidui-scheduler:{hall}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def holder_name() -> str:
    """Who holds a lease, for the logs and the lease row: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Lead:
    """A won election: the epoch to fence commits with, and when it was won."""

    epoch: int
    since: datetime


class HallLease:
    """The advisory lock and lease epoch of one hall, held on a connection of its own."""

    def __init__(self, url: str, hall: str, *, poll_s: float = 0.1) -> None:
        self.url = url
        self.hall = hall
        self.poll_s = poll_s
        self._conn: Connection | None = None

    def _connect(self) -> Connection:
        if not self.url.startswith("postgresql"):
            raise LeaseError("a standby scheduler needs PostgreSQL; SQLite has one writer only")
        # keepalives: a holder whose machine vanished loses the lock within seconds, not
        # after the kernel's two-hour default.
        engine = create_engine(
            self.url,
            poolclass=NullPool,
            connect_args={
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 3,
            },
        )
        try:
            return engine.connect()
        except SQLAlchemyError as err:
            raise LeaseError(f"cannot reach the database for the hall lease: {err}") from err

    def try_acquire(self, now: datetime) -> Lead | None:
        """One attempt at the hall's lock; the lead if this process holds it now."""
        try:
            if self._conn is None:
                self._conn = self._connect()
            key = lock_key(self.hall)
            won = bool(self._conn.execute(select(func.pg_try_advisory_lock(key))).scalar())
            self._conn.commit()
            if not won:
                return None
            # Only the lock holder migrates, so two schedulers never race on the schema.
            Store.migrate(self._conn.engine)
            return Lead(self._raise_epoch(now), now)
        except SQLAlchemyError as err:
            log.warning("hall lease: database unreachable", extra={"error": str(err)})
            self._drop()
            return None

    def acquire(self, stop: threading.Event, now: Callable[[], datetime]) -> Lead | None:
        """Block until this process holds the hall's lock (None if ``stop`` is set first)."""
        while not stop.is_set():
            lead = self.try_acquire(now())
            if lead is not None:
                return lead
            stop.wait(self.poll_s)
        return None

    def backend_pid(self) -> int | None:
        """The server process holding our lock (an operator can end it to force a takeover)."""
        if self._conn is None:
            return None
        pid = self._conn.execute(select(func.pg_backend_pid())).scalar()
        self._conn.commit()
        return int(pid) if pid is not None else None

    def _raise_epoch(self, now: datetime) -> int:
        assert self._conn is not None
        conn = self._conn
        with conn.begin():
            # Waits for an old leader's commit in flight (it holds the row in share mode),
            # after which that leader can commit nothing more.
            conn.execute(
                pg_insert(scheduler_leases)
                .values(hall=self.hall, epoch=0, holder=holder_name(), since=now)
                .on_conflict_do_nothing()
            )
            epoch = conn.execute(
                update(scheduler_leases)
                .where(scheduler_leases.c.hall == self.hall)
                .values(epoch=scheduler_leases.c.epoch + 1, holder=holder_name(), since=now)
                .returning(scheduler_leases.c.epoch)
            ).scalar_one()
        return int(epoch)

    def alive(self) -> bool:
        """Whether the lock's connection still answers (so the lock is still ours)."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(select(1))
            self._conn.commit()
        except SQLAlchemyError:
            self._drop()
            return False
        return True

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._conn.close()
            self._conn = None

    def release(self) -> None:
        """Let the standby take over (closing the connection releases the lock)."""
        self._drop()


class LeaderRunner:
    """Wait for the hall's lease, then run the scheduler until stopped, deposed or cut off."""

    def __init__(
        self,
        lease: HallLease,
        make_service: Callable[[], SchedulerService],
        *,
        clock: Clock,
        check_s: float = 1.0,
    ) -> None:
        self.lease = lease
        self.make_service = make_service
        self.clock = clock
        self.check_s = check_s
        self.active = threading.Event()

    def run(self, stop: threading.Event) -> str:
        """Block; returns why it ended: ``stopped``, ``deposed`` or ``lease_lost``."""
        log.info("standby: waiting for the hall's lease", extra={"hall": self.lease.hall})
        lead = self.lease.acquire(stop, self.clock.now)
        if lead is None:
            return "stopped"
        service = self.make_service()
        service.store.fence_epoch = lead.epoch
        try:
            service.start(timeout=None)
            self.active.set()
            log.info("active", extra={"hall": self.lease.hall, "epoch": lead.epoch})
            while not stop.wait(self.check_s):
                if service.deposed.is_set():
                    return "deposed"
                if not self.lease.alive():
                    # Our lock may be someone else's by now: step down without a word.
                    log.error("lost the hall's lease connection; stepping down")
                    service.deposed.set()
                    return "lease_lost"
            return "stopped"
        finally:
            service.stop()
            self.lease.release()
