"""Several halls on one broker and one PostgreSQL database, and the central report."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig
from hallbus.settings import BusSettings
from paidui.cli import main
from scheduler.bridge import SchedulerService
from scheduler.store import Store
from simulator.devices import VirtualCounter, VirtualKiosk
from simulator.processes import write_hall_file

pytestmark = pytest.mark.slow


def test_halls_share_a_broker_and_a_database_and_are_reported_together(
    hall: HallConfig,
    postgres_url: str,
    bus: BusSettings,
    clock: FakeClock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    second = hall.model_copy(update={"id": f"t-{uuid.uuid4().hex[:10]}"})
    schedulers = [
        SchedulerService(h, Store(postgres_url, h.id), bus, clock=clock) for h in (hall, second)
    ]
    # The same device ids in both halls: their broker identities differ by hall.
    kiosks = [VirtualKiosk(bus, h.id, "kiosk-1") for h in (hall, second)]
    counter = VirtualCounter(bus, hall.id, "counter-3", 3)
    started = [*schedulers, *kiosks, counter]
    try:
        for part in started:
            part.start()
        labels: dict[str, list[str]] = {hall.id: [], second.id: []}
        for kiosk, count in zip(kiosks, (3, 2), strict=True):
            for _ in range(count):
                reply = kiosk.issue("tax")
                assert reply.status == "ok" and reply.data is not None
                labels[kiosk.topics.hall].append(str(reply.data["label"]))
        assert counter.login("1003").status == "ok"
        assert counter.call_next().status == "ok"
        assert counter.start_service().status == "ok"
        assert counter.finish().status == "ok"
    finally:
        for part in reversed(started):
            part.stop()
    # Each hall numbers its own tickets.
    assert labels[hall.id] == ["B001", "B002", "B003"]
    assert labels[second.id] == ["B001", "B002"]

    day = clock.now().astimezone(hall.zone).date().isoformat()
    files = [write_hall_file(h, tmp_path / f"{h.id}.yaml") for h in (hall, second)]
    args = ["report", "halls", "--db", postgres_url, "--from", day, "--to", day]
    assert main([*args, "--hall-file", str(files[0]), "--hall-file", str(files[1])]) == 0
    report = {row["hall"]: row for row in json.loads(capsys.readouterr().out)}
    assert report[hall.id]["issued"] == 3 and report[hall.id]["served"] == 1
    assert report[second.id]["issued"] == 2 and report[second.id]["served"] == 0
    assert report["*"]["issued"] == 5 and report["*"]["served"] == 1
