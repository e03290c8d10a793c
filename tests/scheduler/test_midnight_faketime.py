"""The real scheduler process across the hall's midnight, its clock shifted from outside.

The process runs under libfaketime (Debian's ``faketime``) from 23:58:00 Shanghai time,
six times faster than real time, and the test speaks to it only over the bus: a ticket
taken before midnight is gone from the queue after it, and the new day starts at A001.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hallbus.client import BusClient
from hallbus.hall_file import HallConfig
from hallbus.messages import ONLINE, ServiceState, decode
from hallbus.settings import BusSettings
from hallbus.topics import HallTopics
from simulator.devices import VirtualKiosk
from simulator.mailbox import Mailbox
from simulator.processes import SchedulerProcess, write_hall_file
from tests.conftest import WAIT

pytestmark = pytest.mark.slow

# 23:58:00 in Shanghai is 15:58:00 UTC (twenty real seconds before midnight at six times
# the speed: room for a slow start on a loaded machine); faketime reads it in the TZ given.
START = "@2026-12-01 15:58:00 x6"


@pytest.mark.skipif(shutil.which("faketime") is None, reason="scripts/test installs faketime")
def test_a_scheduler_running_over_midnight_ends_the_day_and_starts_the_next_at_001(
    hall: HallConfig, bus: BusSettings, tmp_path: Path, db_url: str
) -> None:
    topics = HallTopics(hall.id)
    process = SchedulerProcess(
        write_hall_file(hall, tmp_path / "hall.yaml"),
        db_url,
        bus,
        wrapper=["faketime", "-m", "-f", START],
        # Timed waits (the worker's idle tick, paho's keep-alive) run on the monotonic
        # clock against the kernel's: shifting it too would make them never end.
        env={"TZ": "UTC", "FAKETIME_DONT_FAKE_MONOTONIC": "1"},
    )
    online: Mailbox[bytes] = Mailbox()
    social: Mailbox[ServiceState] = Mailbox()
    watcher = BusClient(bus, f"midnight-{hall.id}", topics.availability("midnight"))
    watcher.subscribe(topics.scheduler_availability(), lambda _t, p: online.put(p), inline=True)
    watcher.subscribe(
        topics.service_state("social"), lambda _t, p: social.put(decode(ServiceState, p))
    )
    watcher.start()
    kiosk = VirtualKiosk(bus, hall.id, "kiosk-1")
    process.start()
    try:
        assert online.wait_for(lambda p: p == ONLINE.encode(), WAIT)
        kiosk.start()
        before = kiosk.issue("social")
        assert before.data is not None, before
        # Taken on the evening of 1 December in the hall, whatever the real date is.
        assert (before.data["label"], before.data["service_date"]) == ("A001", "2026-12-01")
        seen = len(social.items())
        assert social.wait_for(lambda s: s.waiting == 1, WAIT)
        # About twenty real seconds later it is midnight in the hall: the day's ticket expires.
        assert social.wait_for(lambda s: s.waiting == 0, 4 * WAIT, after=seen)
        after = kiosk.issue("social")
        assert after.data is not None, after
        assert (after.data["label"], after.data["service_date"]) == ("A001", "2026-12-02")
    finally:
        kiosk.stop()
        process.stop()
        watcher.stop()
    errors = [r for r in process.log.items() if r.get("level") in ("error", "critical")]
    assert errors == []
