"""The upstream export against a local receiver that fails, stalls and loses its answers.

The receiver is a real HTTP server on loopback that checks each batch's signature and
keeps records by id, as a platform that is idempotent by record id would.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hallbus.clock import FakeClock
from hallbus.hall_file import DEMO_HALL_FILE, HallConfig, load_hall
from hallbus.messages import BadRatingReason, RatingLevel
from paidui.broker import free_port
from scheduler.calendar import WorkCalendar
from scheduler.cases import CallbackResult, CaseState
from scheduler.checkpoints import sign_head
from scheduler.domain import HallQueue
from scheduler.export import (
    SIGNATURE_HEADER,
    DepartmentNotifier,
    ExportSettings,
    UpstreamExporter,
    export_lag,
)
from scheduler.store import Store

SECRET = b"shared-with-the-province"
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


class Platform:
    """What the province's endpoint does next: 'ok', 'fail', 'stall' or 'lose' the answer."""

    def __init__(self) -> None:
        self.script: list[str] = []
        self.received: Counter[str] = Counter()
        self.release = threading.Event()
        self.refused = 0
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "hmac-sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(self.headers.get(SIGNATURE_HEADER, ""), expected):
                    platform.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                mode = platform.script.pop(0) if platform.script else "ok"
                if mode == "stall":
                    platform.release.wait(10)  # longer than the exporter waits
                if mode in ("ok", "lose"):
                    sent = json.loads(body)
                    for record in sent.get("records", [{"id": f"notice:{sent.get('case_id')}"}]):
                        platform.received[record["id"]] += 1
                self.send_response(200 if mode == "ok" else 503)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/haocha/batches"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Platform:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hall() -> HallConfig:
    return load_hall(DEMO_HALL_FILE).model_copy(update={"id": f"x-{uuid.uuid4().hex[:8]}"})


@pytest.fixture
def store(hall: HallConfig, db_url: str) -> Iterator[Store]:
    """Six ratings, two of them bad with a case each, one case followed to its callback."""
    opened = Store(db_url, hall.id)
    opened.open()
    queue = HallQueue(hall)
    queue.login(1, NOW, clerk_code="1001")
    levels = [RatingLevel.SATISFIED, RatingLevel.DISSATISFIED, RatingLevel.VERY_SATISFIED]
    for n, level in enumerate(levels * 2):
        queue.issue_ticket("social", NOW, "kiosk-1")
        queue.call_next(1, NOW)
        done = queue.finish(1, NOW + timedelta(minutes=n))
        reason = BadRatingReason.ATTITUDE if level.is_bad else None
        queue.rate(done.id, level, NOW + timedelta(minutes=n), window=1, reason=reason)
        opened.commit(queue.take_changes(), NOW)
    third = opened.ledger_entries()[2]  # a signed head of the ledger at entry 3
    key = Ed25519PrivateKey.generate()
    opened.save_checkpoint(sign_head(key, hall.id, third.seq, third.hash, NOW))
    case = opened.cases()[0]
    for to in (CaseState.CONTACTED, CaseState.RECTIFIED, CaseState.CALLED_BACK):
        result = CallbackResult.SATISFIED if to == CaseState.CALLED_BACK else None
        opened.advance_case(
            case.id, to, actor="manager", now=NOW, today=NOW.date(), calendar=WorkCalendar(),
            note="x", result=result,
        )  # fmt: skip
    yield opened
    opened.close()


def _exporter(store: Store, url: str, secret: bytes = SECRET, batch: int = 4) -> UpstreamExporter:
    settings = ExportSettings(url=url, secret=secret, batch_size=batch, timeout_s=0.5)
    return UpstreamExporter(store, settings, FakeClock(NOW), httpx.Client())


def test_every_record_reaches_the_platform_once_through_failures_stalls_and_lost_answers(
    store: Store,
) -> None:
    with Platform() as platform:
        exporter = _exporter(store, platform.url)
        assert export_lag(store) is None  # nothing exported yet
        platform.script = ["fail", "stall", "lose"]
        for expected in (httpx.HTTPStatusError, httpx.ReadTimeout, httpx.HTTPStatusError):
            with pytest.raises(expected):
                exporter.push_once()
            lag = exporter.lag()
            assert (lag.ratings, lag.case_steps) == (6, 3)  # the cursor stays
            assert lag.last_error is not None
        sent = []
        while taken := exporter.push_once():
            sent.append(taken)
        assert sum(sent) == 10  # six ratings, three case steps, one checkpoint
        expected_ids = {f"rating:{store.hall}:{seq}" for seq in range(1, 7)}
        assert expected_ids <= set(platform.received)
        assert len([i for i in platform.received if i.startswith("case_step:")]) == 3
        assert f"checkpoint:{store.hall}:3" in platform.received  # the platform witnesses it
        # The batch whose answer was lost came twice; the platform keeps records by id.
        assert max(platform.received.values()) == 2
        lag = exporter.lag()
        assert (lag.ratings, lag.case_steps, lag.last_error) == (0, 0, None)


def test_a_batch_under_the_wrong_secret_is_refused_and_nothing_moves(store: Store) -> None:
    with Platform() as platform:
        forged = _exporter(store, platform.url, secret=b"guessed")
        with pytest.raises(httpx.HTTPStatusError):
            forged.push_once()
        assert platform.refused == 1 and not platform.received
        assert forged.lag().ratings == 6


def test_each_department_is_told_of_its_bad_ratings_once_even_after_a_failure(
    store: Store, hall: HallConfig
) -> None:
    with Platform() as platform:
        services = [
            s.model_copy(update={"department": "人社局"}) if s.code == "social" else s
            for s in hall.services
        ]
        wired = hall.model_copy(
            update={"services": services, "department_webhooks": {"人社局": platform.url}}
        )
        notifier = DepartmentNotifier(store, wired, SECRET, FakeClock(NOW), httpx.Client(), 0.5)
        assert len(notifier.pending()) == 2  # two bad ratings of 社保, the same day
        assert notifier.pending()[0]["department"] == "人社局"
        platform.script = ["fail"]
        assert notifier.notify_once() == 1  # one went, one waits for the next round
        assert notifier.notify_once() == 1
        assert notifier.notify_once() == 0
        assert sorted(platform.received.values()) == [1, 1]
        # A department without a webhook is not told (and nothing piles up for it).
        unwired = wired.model_copy(update={"department_webhooks": {}})
        assert (
            DepartmentNotifier(store, unwired, SECRET, FakeClock(NOW), httpx.Client()).pending()
            == []
        )
