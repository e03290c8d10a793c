"""Helpers for the ID reader tests: an emulated reader on a pty and a daemon watching it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hallbus.client import BusClient
from hallbus.identity import IdHasher, new_id_key
from hallbus.messages import CardRead, DeviceStatus, decode
from hallbus.settings import BusSettings
from hallbus.topics import DeviceEventKind, HallTopics
from id_reader.daemon import IdReaderDaemon
from id_reader.profile import SamTiming
from simulator.id_reader_emulator import IdReaderEmulator
from simulator.mailbox import Mailbox
from tests.conftest import WAIT, listen

# Fast enough that a test sees many polls in a fraction of a second.
FAST = SamTiming(
    reply_timeout_s=0.3, read_timeout_s=1.0, poll_interval_s=0.02, absent_polls=2, reconnect_s=0.05
)
HASHER = IdHasher.from_hex(new_id_key())


@dataclass
class Watch:
    """What the bus shows of one reader: its card events and its retained status."""

    events: Mailbox[bytes]
    statuses: Mailbox[bytes]
    clients: tuple[BusClient, BusClient]

    def cards(self) -> list[CardRead]:
        """Every card event so far."""
        return [decode(CardRead, p) for p in self.events.items()]

    def status(
        self, predicate: Callable[[DeviceStatus], bool], *, after: int = 0
    ) -> DeviceStatus | None:
        """The first status matching ``predicate`` (among those after the first ``after``)."""
        found = self.position(predicate, after=after)
        return decode(DeviceStatus, self.statuses.items()[found]) if found is not None else None

    def position(self, predicate: Callable[[DeviceStatus], bool], *, after: int = 0) -> int | None:
        """Where the first matching status (after the first ``after``) is in the list."""
        found: list[int] = []

        def matches(payload: bytes) -> bool:
            return predicate(decode(DeviceStatus, payload))

        def located(_payload: bytes) -> bool:
            items = self.statuses.items()
            found[:] = [i for i in range(after, len(items)) if matches(items[i])][:1]
            return bool(found)

        self.statuses.wait_for(located, WAIT, after=after)
        return found[0] if found else None

    def recovers(self, problem: str, *, after: int = 0) -> bool:
        """Whether ``problem`` was reported and a status with nothing wrong followed it."""
        reported = self.position(lambda s: problem in s.faults, after=after)
        return reported is not None and self.status(healthy, after=reported + 1) is not None

    def seen(self) -> int:
        """How many statuses arrived so far."""
        return len(self.statuses.items())

    def stop(self) -> None:
        """Disconnect the observers."""
        for client in self.clients:
            client.stop()


def healthy(status: DeviceStatus) -> bool:
    """A status with nothing wrong."""
    return status.healthy and not status.faults


def watch(bus: BusSettings, hall_id: str, reader_id: str) -> Watch:
    """Observe a reader's events and status on the bus."""
    topics = HallTopics(hall_id)
    event_client, events = listen(
        bus, topics.device_event(reader_id, DeviceEventKind.CARD_READ), f"ev-{reader_id}"
    )
    status_client, statuses = listen(bus, topics.device_status(reader_id), f"st-{reader_id}")
    return Watch(events, statuses, (event_client, status_client))


def more_polls(emulator: IdReaderEmulator, polls: int) -> bool:
    """Wait until the daemon sent ``polls`` more commands to the reader."""
    return emulator.requests.wait_count(len(emulator.requests.items()) + polls, WAIT)


__all__ = ["FAST", "HASHER", "IdReaderDaemon", "Watch", "healthy", "more_polls", "watch"]
