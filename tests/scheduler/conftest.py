"""Fixtures of the scheduler's process tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hallbus.client import BusClient
from hallbus.hall_file import HallConfig
from hallbus.settings import BusSettings
from hallbus.topics import HallTopics
from simulator.mailbox import Mailbox


@pytest.fixture
def availability(bus: BusSettings, hall: HallConfig) -> Iterator[Mailbox[bytes]]:
    """The scheduler's retained availability as it changes (online, offline, ...)."""
    topics = HallTopics(hall.id)
    box: Mailbox[bytes] = Mailbox()
    watcher = BusClient(bus, f"watch-{hall.id}", topics.availability(f"watch-{hall.id}"))
    watcher.subscribe(topics.scheduler_availability(), lambda _t, p: box.put(p), inline=True)
    watcher.start()
    yield box
    watcher.stop()
