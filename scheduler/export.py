"""The upstream export: every rating record and case step to the province's 好差评 platform.

Reads the scheduler's database (the ledger and case steps are append-only, with the
ledger's signed checkpoints) and pushes
what the platform has not acknowledged yet as JSON batches signed with HMAC-SHA256
under a shared secret. Each record has a stable id (``rating:<hall>:<seq>``,
``case_step:<id>``), so a batch sent twice (a lost answer, a retry) is taken once by
the platform. The cursor moves only after a 2xx answer and is kept in the database:
a crash or a stall of the platform loses nothing, it only grows the lag.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select, update

from hallbus.clock import Clock
from hallbus.hall_file import HallConfig
from scheduler.store import Store
from scheduler.tables import (
    case_notices,
    case_steps,
    export_cursors,
    ledger_checkpoints,
    rating_cases,
    rating_ledger,
    transactions,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Paidui-Signature"


@dataclass(frozen=True)
class ExportSettings:
    """Where and how the hall pushes its records."""

    url: str
    secret: bytes
    target: str = "upstream"  # the cursor's name: one per platform
    batch_size: int = 50
    timeout_s: float = 5.0

    @classmethod
    def from_files(cls, url: str, secret_file: Path, **extra: Any) -> ExportSettings:
        """Settings with the shared secret read from its file (never on the command line)."""
        return cls(url=url, secret=secret_file.read_bytes().strip(), **extra)


@dataclass(frozen=True)
class Lag:
    """How far the platform is behind the hall."""

    ratings: int  # ledger entries not yet acknowledged
    case_steps: int
    last_error: str | None


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value: ``hmac-sha256=<hex>`` over the exact body."""
    return "hmac-sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class UpstreamExporter:
    """Pushes a hall's unacknowledged records, batch by batch, in order."""

    def __init__(
        self, store: Store, settings: ExportSettings, clock: Clock, client: httpx.Client
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.client = client

    # --- the cursor -------------------------------------------------------------------
    def _cursor(self) -> tuple[int, int]:
        with self.store.engine.begin() as conn:
            row = conn.execute(
                select(export_cursors.c.ratings_seq, export_cursors.c.case_step_id).where(
                    export_cursors.c.hall == self.store.hall,
                    export_cursors.c.target == self.settings.target,
                )
            ).first()
            if row is None:
                conn.execute(
                    insert(export_cursors).values(
                        hall=self.store.hall,
                        target=self.settings.target,
                        ratings_seq=0,
                        case_step_id=0,
                        updated_at=self.clock.now(),
                    )
                )
                return 0, 0
        return int(row[0]), int(row[1])

    def _advance(self, ratings_seq: int, case_step_id: int, error: str | None) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                update(export_cursors)
                .where(
                    export_cursors.c.hall == self.store.hall,
                    export_cursors.c.target == self.settings.target,
                )
                .values(
                    ratings_seq=ratings_seq,
                    case_step_id=case_step_id,
                    updated_at=self.clock.now(),
                    last_error=error,
                )
            )

    # --- one batch --------------------------------------------------------------------
    def _pending(self, after_seq: int, after_step: int) -> tuple[list[dict[str, Any]], int, int]:
        hall, size = self.store.hall, self.settings.batch_size
        with self.store.engine.connect() as conn:
            entries = conn.execute(
                select(rating_ledger)
                .where(rating_ledger.c.hall == hall, rating_ledger.c.seq > after_seq)
                .order_by(rating_ledger.c.seq)
                .limit(size)
            ).all()
            steps = conn.execute(
                select(case_steps, rating_cases.c.transaction_id)
                .join(rating_cases, rating_cases.c.id == case_steps.c.case_id)
                .where(rating_cases.c.hall == hall, case_steps.c.id > after_step)
                .order_by(case_steps.c.id)
                .limit(size)
            ).all()
        records: list[dict[str, Any]] = [
            {
                "id": f"rating:{hall}:{e.seq}",
                "type": "rating" if e.kind == "rating" else "review",
                "transaction_id": e.transaction_id,
                "outcome": e.outcome,
                "reason": e.reason,
                "comment": e.note,
                "source": e.source,
                "service": e.service_code,
                "window": e.window,
                "clerk": e.clerk_code,
                "recorded_at": e.recorded_at.isoformat(),
                "ledger_hash": e.hash,
            }
            for e in entries
        ]
        records += [
            {
                "id": f"case_step:{s.id}",
                "type": "case_step",
                "case_id": s.case_id,
                "transaction_id": s.transaction_id,
                "step": s.state,
                "result": s.result,
                "note": s.note,
                "actor": s.actor,
                "at": s.at.isoformat(),
            }
            for s in steps
        ]
        last_seq = entries[-1].seq if entries else after_seq
        last_step = steps[-1].id if steps else after_step
        # The ledger's signed heads go with the entries they vouch for: the platform is a
        # witness the hall's database does not hold (scheduler/checkpoints.py).
        with self.store.engine.connect() as conn:
            heads = conn.execute(
                select(ledger_checkpoints).where(
                    ledger_checkpoints.c.hall == hall,
                    ledger_checkpoints.c.seq > after_seq,
                    ledger_checkpoints.c.seq <= last_seq,
                )
            ).all()
        records += [
            {
                "id": f"checkpoint:{hall}:{h.seq}",
                "type": "ledger_checkpoint",
                "seq": h.seq,
                "hash": h.hash,
                "at": h.at.isoformat(),
                "signature": h.signature,
            }
            for h in heads
        ]
        return records, last_seq, last_step

    def push_once(self) -> int:
        """Send the next batch; the number of records the platform took (0: none pending).

        Raises ``httpx.HTTPError`` when the platform failed or did not answer in time; the
        cursor then stays and the same batch goes again next time.
        """
        after_seq, after_step = self._cursor()
        records, last_seq, last_step = self._pending(after_seq, after_step)
        if not records:
            return 0
        body = json.dumps(
            {
                "hall": self.store.hall,
                "batch_id": f"{self.store.hall}:{after_seq}:{after_step}",
                "records": records,
            },
            ensure_ascii=False,
            sort_keys=True,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.settings.secret, body),
        }
        try:
            answer = self.client.post(
                self.settings.url, content=body, headers=headers, timeout=self.settings.timeout_s
            )
            answer.raise_for_status()
        except httpx.HTTPError as err:
            self._advance(after_seq, after_step, f"{type(err).__name__}: {err}"[:200])
            raise
        self._advance(last_seq, last_step, None)
        return len(records)

    def run(
        self,
        stop: threading.Event,
        idle_s: float = 2.0,
        retry_s: float = 5.0,
        notifier: DepartmentNotifier | None = None,
    ) -> None:
        """Push until stopped: batches back to back, a pause when idle or after a failure;
        departments are told of new cases between batches."""
        while not stop.is_set():
            if notifier is not None:
                notifier.notify_once()
            try:
                sent = self.push_once()
            except httpx.HTTPError as err:
                log.warning("upstream export failed; retrying", extra={"error": str(err)})
                stop.wait(retry_s)
                continue
            if not sent:
                stop.wait(idle_s)

    def lag(self) -> Lag:
        """Records the platform has not acknowledged yet."""
        self._cursor()
        found = export_lag(self.store, self.settings.target)
        assert found is not None
        return found


def export_lag(store: Store, target: str = "upstream") -> Lag | None:
    """How far a platform is behind the hall (None: nothing is exported to it)."""
    hall = store.hall
    with store.engine.connect() as conn:
        cursor = conn.execute(
            select(
                export_cursors.c.ratings_seq,
                export_cursors.c.case_step_id,
                export_cursors.c.last_error,
            ).where(export_cursors.c.hall == hall, export_cursors.c.target == target)
        ).first()
        if cursor is None:
            return None
        ratings = conn.execute(
            select(func.count()).where(
                rating_ledger.c.hall == hall, rating_ledger.c.seq > cursor.ratings_seq
            )
        ).scalar_one()
        joined = case_steps.join(rating_cases, rating_cases.c.id == case_steps.c.case_id)
        steps = conn.execute(
            select(func.count())
            .select_from(joined)
            .where(rating_cases.c.hall == hall, case_steps.c.id > cursor.case_step_id)
        ).scalar_one()
    return Lag(int(ratings), int(steps), cursor.last_error)


class DepartmentNotifier:
    """Tells the department responsible for a service of each bad rating, the same day.

    One signed JSON notice per case to the department's webhook (``department_webhooks``
    in the hall file); a case is marked notified only on a 2xx answer, so a department
    that is down gets it as soon as it is back, once.
    """

    def __init__(
        self,
        store: Store,
        hall: HallConfig,
        secret: bytes,
        clock: Clock,
        client: httpx.Client,
        timeout_s: float = 5.0,
    ) -> None:
        self.store = store
        self.hall = hall
        self.secret = secret
        self.clock = clock
        self.client = client
        self.timeout_s = timeout_s

    def _department(self, service_code: str) -> str:
        service = self.hall.service(service_code)
        return (service.department if service else None) or service_code

    def pending(self) -> list[dict[str, Any]]:
        """Cases of departments with a webhook that have not been told yet."""
        hall = self.hall.id
        told = select(case_notices.c.case_id).where(case_notices.c.hall == hall)
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(
                    rating_cases,
                    transactions.c.service_code,
                    transactions.c.window,
                    transactions.c.clerk_code,
                    transactions.c.ticket_label,
                )
                .join(transactions, transactions.c.id == rating_cases.c.transaction_id)
                .where(rating_cases.c.hall == hall, rating_cases.c.id.not_in(told))
                .order_by(rating_cases.c.opened_on, rating_cases.c.id)
            ).all()
        notices = []
        for row in rows:
            department = self._department(row.service_code)
            if department not in self.hall.department_webhooks:
                continue
            notices.append(
                {
                    "hall": hall,
                    "case_id": row.id,
                    "department": department,
                    "service": row.service_code,
                    "window": row.window,
                    "clerk": row.clerk_code,
                    "ticket": row.ticket_label,
                    "outcome": row.outcome,
                    "reason": row.reason,
                    "opened_on": row.opened_on.isoformat(),
                    "contact_due": row.contact_due.isoformat(),
                }
            )
        return notices

    def notify_once(self) -> int:
        """Send every pending notice; how many departments took theirs.

        A department that fails keeps its notices for the next round; others go on.
        """
        taken = 0
        for notice in self.pending():
            body = json.dumps(notice, ensure_ascii=False, sort_keys=True).encode()
            url = self.hall.department_webhooks[notice["department"]]
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(self.secret, body),
            }
            try:
                answer = self.client.post(
                    url, content=body, headers=headers, timeout=self.timeout_s
                )
                answer.raise_for_status()
            except httpx.HTTPError as err:
                log.warning(
                    "department notice failed; retried later",
                    extra={"department": notice["department"], "error": str(err)},
                )
                continue
            with self.store.engine.begin() as conn:
                conn.execute(
                    insert(case_notices).values(
                        case_id=notice["case_id"],
                        hall=self.hall.id,
                        department=notice["department"],
                        sent_at=self.clock.now(),
                    )
                )
            taken += 1
        return taken
