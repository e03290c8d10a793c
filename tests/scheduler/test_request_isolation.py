"""One bad request never harms another sharing its batch (one database commit).

The worker runs every request already queued in one batch. Before, a request that raised
anything but a refusal failed the whole batch: in a burst of 20 kiosk requests with one
malformed request in the middle, one got ``ok``. The tests hold the worker in a commit
and queue the whole burst meanwhile, so the burst is one batch, not by luck.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from hallbus.client import BusClient
from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig
from hallbus.messages import ErrorCode, Reply, decode
from hallbus.settings import BusSettings
from hallbus.topics import Command, HallTopics
from scheduler.bridge import SchedulerService
from scheduler.domain import HallQueue
from scheduler.store import Store
from simulator.mailbox import Mailbox
from tests.conftest import WAIT

ID_HASH = "a" * 64


class HeldScheduler:
    """A scheduler whose worker can be held in a commit while a burst is queued."""

    def __init__(self, service: SchedulerService, bus: BusSettings, hall: HallConfig) -> None:
        self.service = service
        self.topics = HallTopics(hall.id)
        self.holding = threading.Event()
        self.release = threading.Event()
        self.hold_next = False
        self.replies: Mailbox[Reply] = Mailbox()
        self.client = BusClient(bus, "burst", self.topics.availability("burst"))
        for device in ("kiosk-1", "portal", "nobody-9"):
            self.client.subscribe(self.topics.reply(device), self._on_reply, inline=True)

    def _on_reply(self, _topic: str, payload: bytes) -> None:
        self.replies.put(decode(Reply, payload))

    def start(self) -> None:
        commit = self.service.store.commit

        def held_commit(*args: Any, **kwargs: Any) -> list[int]:
            if self.hold_next:
                self.hold_next = False
                self.holding.set()
                assert self.release.wait(WAIT)
            return commit(*args, **kwargs)

        self.service.store.commit = held_commit  # type: ignore[method-assign]
        self.service.start()
        self.client.start()

    def send(self, device: str, command: str, payload: bytes | dict[str, Any]) -> None:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.client.publish(self.topics.request(device, command), raw)

    def burst(self, requests: list[tuple[str, str, bytes | dict[str, Any]]]) -> None:
        """Queue ``requests`` while the worker is held in a commit: they are one batch.

        The worker reads the bus itself, so while it is held nothing reads the requests
        off the bus; they are handed to its inline handler here, as its read would (the
        replies still go over the broker).
        """
        self.holding.clear()
        self.release.clear()
        self.hold_next = True
        self.send("kiosk-1", Command.ISSUE_TICKET, _issue(f"hold-{len(self.replies.items())}"))
        assert self.holding.wait(WAIT)
        for device, command, payload in requests:
            raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.service._enqueue(self.topics.request(device, command), raw)
        self.release.set()

    def answers(self, count: int) -> dict[str | None, Reply]:
        assert self.replies.wait_count(count, WAIT), self.replies.items()
        return {r.request_id: r for r in self.replies.items()}

    def stop(self) -> None:
        self.client.stop()
        self.service.stop()


def _issue(request_id: str, service: str = "social") -> dict[str, Any]:
    return {"request_id": request_id, "service_code": service}


def _book(request_id: str, slot: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "service_code": "tax",
        "slot_start": slot,
        "id_hash": ID_HASH,
        "contact": "138****0000",
    }


@pytest.fixture
def held(
    hall: HallConfig, bus: BusSettings, clock: FakeClock, db_url: str
) -> Iterator[HeldScheduler]:
    service = SchedulerService(
        hall, Store(db_url, hall.id), bus, clock=clock, client_id=f"scheduler-{hall.id}"
    )
    scheduler = HeldScheduler(service, bus, hall)
    scheduler.start()
    yield scheduler
    scheduler.stop()


def test_malformed_requests_in_a_burst_harm_none_of_the_good_ones(held: HeldScheduler) -> None:
    deep = b'{"request_id": "deep", "x": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"
    bad: list[tuple[str, str, bytes | dict[str, Any], ErrorCode]] = [
        ("kiosk-1", Command.ISSUE_TICKET, deep, ErrorCode.BAD_REQUEST),
        ("kiosk-1", "no_such_command", deep, ErrorCode.UNKNOWN_COMMAND),
        ("nobody-9", Command.ISSUE_TICKET, deep, ErrorCode.UNKNOWN_DEVICE),
        ("portal", Command.BOOK_APPOINTMENT, _book("naive", "2026-12-01T10:30:00"), None),
        ("portal", Command.BOOK_APPOINTMENT, _book("y9999", "9999-12-31T23:59:00+08:00"), None),
        ("kiosk-1", Command.ISSUE_TICKET, {"request_id": "L" * 80, "service_code": "x"}, None),
    ]
    good = [("kiosk-1", Command.ISSUE_TICKET, _issue(f"good-{n}")) for n in range(20)]
    burst = [*good[:10], *[(d, c, p) for d, c, p, _ in bad], *good[10:]]
    held.burst(burst)

    # The deep payloads carry no id that can be read; every other request is answered by id.
    answers = held.answers(1 + len(burst))
    labels = []
    for n in range(20):
        reply = answers[f"good-{n}"]
        assert reply.status == "ok" and reply.data is not None, reply
        labels.append(reply.data["label"])
    assert sorted(labels) == [f"A{n:03d}" for n in range(2, 22)]
    for request_id in ("naive", "y9999", "L" * 80):
        reply = answers[request_id]  # the over-long id is echoed so its device can match it
        assert reply.status == "error" and reply.error is not None
        assert reply.error.code == ErrorCode.BAD_REQUEST, reply
    deep_codes = sorted(
        r.error.code for r in held.replies.items() if r.request_id is None and r.error
    )
    assert deep_codes == sorted(c for _, _, _, c in bad if c is not None)
    assert held.service.store.ticket_counts() == {"waiting": 21}


def test_a_fault_of_the_scheduler_on_one_request_is_confined_to_it(
    held: HeldScheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A domain bug that half-changes the queue, then raises: only its request fails."""
    cancel = HallQueue.cancel

    def broken_cancel(self: HallQueue, ticket_id: str, now: Any) -> Any:
        cancel(self, ticket_id, now)  # the change is made in memory ...
        raise RuntimeError("a bug after the change")  # ... and then the request fails

    monkeypatch.setattr(HallQueue, "cancel", broken_cancel)
    held.burst([("kiosk-1", Command.ISSUE_TICKET, _issue("before"))])
    ticket = held.answers(2)["before"]
    assert ticket.data is not None
    cancel_it = {"request_id": "cancel", "ticket_id": ticket.data["ticket_id"]}
    held.burst(
        [
            ("kiosk-1", Command.ISSUE_TICKET, _issue("first")),
            ("kiosk-1", Command.CANCEL, cancel_it),
            ("kiosk-1", Command.ISSUE_TICKET, _issue("after")),
        ]
    )
    answers = held.answers(6)
    assert answers["cancel"].error is not None
    assert answers["cancel"].error.code == ErrorCode.INTERNAL
    assert answers["first"].status == "ok" and answers["after"].status == "ok"
    # Nothing of the failed request was kept: the ticket still waits, with the 4 others.
    assert held.service.store.ticket_counts() == {"waiting": 5}
    assert held.service.queue.waiting_count("social") == 5
