"""The conformance kit for ID reader drivers.

A driver package subclasses ``ReaderConformance`` in one of its test modules::

    from paidui.testing.id_readers import ReaderConformance
    from acme_reader.driver import DRIVER

    class TestAcmeReader(ReaderConformance):
        driver = DRIVER
        profile_name = "acme-nfc"

and pytest runs every test below against it: the driver is registered and its profile
validates against its schema; then the real ID reader daemon polls the driver's card
source on a pty to the driver's emulator, with real mosquitto: a card placed is one
event however long it stays, carries only the keyed hash of the number and a masked
name (never the number or the name on the bus), a card lifted and placed again is a
second tap, and the reader reports itself healthy. A driver whose emulator is not in its
package (paidui's built-ins) overrides ``emulator``.
Needs pytest and mosquitto (``apt-get install mosquitto``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from hallbus.client import BusClient
from hallbus.identity import IdHasher, new_id_key
from hallbus.messages import CardRead, DeviceStatus, decode
from hallbus.settings import BusSettings
from hallbus.topics import DeviceEventKind, HallTopics
from id_reader.daemon import IdReaderDaemon, IdReaderSettings
from id_reader.drivers import READER_DRIVERS, ReaderDriver, ReaderEmulator, load_reader_profile
from id_reader.profile import ReaderProfileBase
from paidui.testing import running_broker
from simulator.id_cards import ELDERLY_RESIDENT, YOUNG_RESIDENT
from simulator.mailbox import Mailbox

WAIT = 10.0  # seconds any one expected thing may take
HASHER = IdHasher.from_hex(new_id_key())


class ReaderConformance:
    """Subclass with ``driver`` and ``profile_name``."""

    driver: ClassVar[ReaderDriver]
    profile_name: ClassVar[str]

    def profile(self) -> ReaderProfileBase:
        """The profile under test, loaded the way the daemon loads it."""
        return load_reader_profile(self.profile_name)

    def emulator(self, profile: ReaderProfileBase) -> ReaderEmulator:
        """The driver's emulated reader."""
        assert self.driver.emulator is not None, "a reader driver must bring an emulator"
        return self.driver.emulator(profile)

    def test_the_driver_is_registered_under_the_profile_s_transport(self) -> None:
        assert READER_DRIVERS.get(self.driver.type) is self.driver
        profile = self.profile()
        assert profile.transport == self.driver.type
        assert isinstance(profile, self.driver.profile_model)

    # --- the real daemon on a pty ---------------------------------------------------------
    @pytest.fixture(scope="class")
    @classmethod
    def bus(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusSettings]:
        """mosquitto with the project's demo configuration, for this class."""
        yield from running_broker(tmp_path_factory)

    def test_the_daemon_publishes_one_private_event_per_tap(
        self, bus: BusSettings, tmp_path: Path
    ) -> None:
        profile = self.profile()
        hall, device = f"kit-{uuid.uuid4().hex[:8]}", "idr-1"
        topics = HallTopics(hall)
        emulator = self.emulator(profile)
        port = emulator.serve_pty(tmp_path / "ttyIDR")
        source = self.driver.source(profile, port, None)
        cards: Mailbox[bytes] = Mailbox()
        statuses: Mailbox[bytes] = Mailbox()
        watcher = BusClient(bus, f"kit-watch-{hall}", topics.availability("kit-watch"))
        watcher.subscribe(
            topics.device_event(device, DeviceEventKind.CARD_READ),
            lambda _t, p: cards.put(p),
            inline=True,
        )
        watcher.subscribe(topics.device_status(device), lambda _t, p: statuses.put(p), inline=True)
        daemon = IdReaderDaemon(bus, hall, device, source, HASHER, IdReaderSettings())
        watcher.start()
        daemon.start()
        try:
            healthy = statuses.wait_for(lambda p: decode(DeviceStatus, p).faults == [], WAIT)
            assert healthy is not None, "the reader never reported itself healthy"
            emulator.place(ELDERLY_RESIDENT)
            assert cards.wait_count(1, WAIT)
            first = decode(CardRead, cards.items()[0])
            assert first.id_hash == HASHER.hash(ELDERLY_RESIDENT.id_number)
            raw = cards.items()[0].decode("utf-8")
            assert ELDERLY_RESIDENT.id_number not in raw and ELDERLY_RESIDENT.name not in raw
            # Lifted, and another citizen's card: a second tap, and only one per card.
            emulator.remove()
            emulator.place(YOUNG_RESIDENT)
            assert cards.wait_count(2, WAIT)
            second = decode(CardRead, cards.items()[1])
            assert second.id_hash == HASHER.hash(YOUNG_RESIDENT.id_number)
            # The card stays while the daemon asks the reader many more times: no new event.
            asked = emulator.polls()
            assert emulator.wait_for_polls(asked + 15, WAIT)
            assert len(cards.items()) == 2, "one card on the reader made two events"
        finally:
            daemon.stop()
            watcher.stop()
            emulator.stop()
