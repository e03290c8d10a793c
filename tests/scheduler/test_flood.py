"""Per-device flood limits: one device's flood costs another device nothing."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from hallbus.client import BusClient
from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig, RateLimitConfig
from hallbus.messages import ErrorCode, IssueTicket, Reply, decode
from hallbus.settings import BusSettings
from hallbus.topics import Command, HallTopics
from scheduler.bridge import SchedulerService
from scheduler.flood import FloodGuard, Rate, Verdict
from scheduler.store import Store
from simulator.devices import VirtualKiosk
from simulator.mailbox import Mailbox
from tests.conftest import WAIT


class Ticking:
    """Monotonic seconds moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_its_rate_and_answers_a_bounded_number_of_refusals() -> None:
    clock = Ticking()
    guard = FloodGuard(lambda _d: Rate(per_s=2, burst=3), clock)
    assert [guard.check("kiosk-1") for _ in range(3)] == [Verdict.ACCEPT] * 3
    # Refusals are answered up to one burst's worth, then dropped without a word.
    assert [guard.check("kiosk-1") for _ in range(4)] == [Verdict.REFUSE] * 3 + [Verdict.DROP]
    assert guard.check("kiosk-2") is Verdict.ACCEPT  # another device has its own bucket
    clock.now += 0.5  # one token back at 2 per second
    assert guard.check("kiosk-1") is Verdict.ACCEPT
    assert guard.check("kiosk-1") is Verdict.REFUSE
    clock.now += 60  # never more than the burst, however long it was quiet
    assert [guard.check("kiosk-1") for _ in range(4)] == [Verdict.ACCEPT] * 3 + [Verdict.REFUSE]
    assert guard.refused == 6


def test_devices_not_in_the_hall_share_one_bucket() -> None:
    guard = FloodGuard(lambda _d: Rate(per_s=1, burst=2), Ticking())
    assert guard.check(FloodGuard.UNKNOWN) is Verdict.ACCEPT
    assert guard.check(FloodGuard.UNKNOWN) is Verdict.ACCEPT
    assert guard.check(FloodGuard.UNKNOWN) is Verdict.REFUSE
    guard.forget(set())
    assert guard.check(FloodGuard.UNKNOWN) is Verdict.REFUSE  # not reset by a config change


def test_the_hall_file_sets_limits_per_kind(hall: HallConfig) -> None:
    from hallbus.messages import DeviceKind

    custom = hall.model_copy(update={"rate_limits": {"kiosk": RateLimitConfig(per_s=1, burst=2)}})
    assert custom.rate_limit(DeviceKind.KIOSK) == RateLimitConfig(per_s=1, burst=2)
    assert custom.rate_limit(DeviceKind.COUNTER).burst == 30  # the default stands
    with pytest.raises(ValueError, match="unknown device kinds: toaster"):
        HallConfig.model_validate(
            {**hall.model_dump(mode="json"), "rate_limits": {"toaster": {"per_s": 1, "burst": 1}}}
        )


LIMIT = RateLimitConfig(per_s=5, burst=10)


@pytest.fixture
def limited(
    hall: HallConfig, bus: BusSettings, clock: FakeClock, db_url: str
) -> Iterator[SchedulerService]:
    tight = hall.model_copy(update={"rate_limits": {"kiosk": LIMIT}})
    service = SchedulerService(
        tight, Store(db_url, hall.id), bus, clock=clock, client_id=f"scheduler-{hall.id}"
    )
    service.start()
    yield service
    service.stop()


@pytest.mark.slow
def test_a_flooding_kiosk_is_refused_and_another_kiosk_is_served_meanwhile(
    limited: SchedulerService, bus: BusSettings, hall: HallConfig
) -> None:
    topics = HallTopics(hall.id)
    refusals: Mailbox[Reply] = Mailbox()
    flooder = BusClient(bus, "flood-kiosk-2", topics.availability("flood-kiosk-2"))
    flooder.subscribe(
        topics.reply("kiosk-2"), lambda _t, p: refusals.put(decode(Reply, p)), inline=True
    )
    flooder.start()
    normal = VirtualKiosk(bus, hall.id, "kiosk-1")
    normal.start()
    flood = 20_000
    stop = threading.Event()

    def flood_it() -> None:
        for _ in range(flood):
            request = IssueTicket(request_id=uuid.uuid4().hex, service_code="social")
            flooder.publish(topics.request("kiosk-2", Command.ISSUE_TICKET), request.to_bytes())
            if stop.is_set():
                return

    started = time.monotonic()
    thread = threading.Thread(target=flood_it)
    thread.start()
    try:
        # While the flood runs, a normal kiosk takes tickets as a citizen would.
        for _ in range(3):
            reply = normal.issue("tax")
            assert reply.status == "ok", reply
        thread.join(120)
        elapsed = time.monotonic() - started
        # The scheduler took from the flood no more than the kiosk's limit allows ...
        assert refusals.wait_for(lambda r: r.error is not None, WAIT)
        counts = limited.store.ticket_counts()
        issued_by_flood = counts.get("waiting", 0) - 3
        assert issued_by_flood <= LIMIT.burst + LIMIT.per_s * (elapsed + WAIT)
        # ... refused the rest as rate_limited, answering only a bounded share of them ...
        codes = {r.error.code for r in refusals.items() if r.error is not None}
        assert codes == {ErrorCode.RATE_LIMITED}
        assert limited.flood.refused > 0
        assert len(refusals.items()) < flood / 10
        # ... and queued nothing of it.
        assert limited._inbox.qsize() < 100
    finally:
        stop.set()
        thread.join(WAIT)
        normal.stop()
        flooder.stop()
