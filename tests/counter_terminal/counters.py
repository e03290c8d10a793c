"""Helpers: a counter daemon on an emulated RS-485 line, and what its devices report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from counter_terminal.daemon import CounterSettings
from counter_terminal.drivers import load_counter_profile
from counter_terminal.profile import BusKeypadProfile, BusRaterProfile, bus_family
from counter_terminal.terminal import CounterTerminal
from hallbus.client import BusClient
from hallbus.clock import Clock
from hallbus.hall_file import HallConfig
from hallbus.links import SerialLink
from hallbus.messages import DeviceStatus, KeyHandled, RatingRecorded, WindowState, decode
from hallbus.settings import BusSettings
from hallbus.topics import DeviceEventKind, HallEventKind, HallTopics
from simulator.counter_bus_emulator import CounterBusEmulator
from simulator.mailbox import Mailbox
from tests.conftest import WAIT, listen

FAST = CounterSettings(reply_timeout_s=1.0, give_up_s=20.0)


@dataclass
class Observed:
    """Everything the test watches on the bus, each a mailbox of decoded messages."""

    clients: list[BusClient]
    keys: dict[str, Mailbox[bytes]]
    statuses: dict[str, Mailbox[bytes]]
    windows: dict[int, Mailbox[bytes]]
    ratings: Mailbox[bytes]

    def key(
        self, device: str, outcome: str, *, after: int = 0, text: str = ""
    ) -> KeyHandled | None:
        """The first key event of ``device`` with this outcome (after ``after`` events),
        and whose text starts with ``text``: an earlier key's event may still be on its way."""

        def matches(payload: bytes) -> bool:
            event = decode(KeyHandled, payload)
            return event.outcome == outcome and (event.text or "").startswith(text)

        found = self.keys[device].wait_for(matches, WAIT, after=after)
        return decode(KeyHandled, found) if found is not None else None

    def status_count(self, device: str) -> int:
        """Statuses of ``device`` so far."""
        return len(self.statuses[device].items())

    def key_count(self, device: str) -> int:
        """Key events so far."""
        return len(self.keys[device].items())

    def status(self, device: str, *, faults: set[str], after: int = 0) -> DeviceStatus | None:
        """The first status of ``device`` with exactly these faults."""
        found = self.statuses[device].wait_for(
            lambda p: set(decode(DeviceStatus, p).faults) == faults, WAIT, after=after
        )
        return decode(DeviceStatus, found) if found is not None else None

    def window(self, number: int, check: Callable[[WindowState], bool]) -> WindowState | None:
        """Window ``number``'s state once it passes ``check``: the newest or a later one."""
        newest = max(0, len(self.windows[number].items()) - 1)
        found = self.windows[number].wait_for(
            lambda p: check(decode(WindowState, p)), WAIT, after=newest
        )
        return decode(WindowState, found) if found is not None else None

    def rating_records(self) -> list[RatingRecorded]:
        """Rating records published so far."""
        return [decode(RatingRecorded, p) for p in self.ratings.items()]

    def stop(self) -> None:
        """Disconnect the observers."""
        for client in self.clients:
            client.stop()


def observe(bus: BusSettings, hall: HallConfig, windows: list[int]) -> Observed:
    """Listen to the keys, statuses and window states of ``windows`` and to ratings."""
    topics = HallTopics(hall.id)
    clients = []
    keys, statuses, states = {}, {}, {}
    for window in windows:
        for device in (f"counter-{window}", f"pad-{window}"):
            client, keys[device] = listen(
                bus, topics.device_event(device, DeviceEventKind.KEY), f"k-{hall.id}-{device}"
            )
            clients.append(client)
            client, statuses[device] = listen(
                bus, topics.device_status(device), f"s-{hall.id}-{device}"
            )
            clients.append(client)
        client, states[window] = listen(bus, topics.window_state(window), f"w-{hall.id}-{window}")
        clients.append(client)
    client, ratings = listen(bus, topics.hall_event(HallEventKind.RATING), f"r-{hall.id}")
    clients.append(client)
    return Observed(clients, keys, statuses, states, ratings)


@dataclass
class Counter:
    """A running counter daemon on an emulated line."""

    terminal: CounterTerminal
    line: CounterBusEmulator
    seen: Observed


@contextmanager
def bus_counter(
    bus: BusSettings,
    hall: HallConfig,
    clock: Clock,
    tmp_path: Path,
    windows: list[int],
    *,
    keypad: str = "rs485-keypad-lcd",
    rater: str | None = "rs485-rater-5key",
) -> Iterator[Counter]:
    """The keypads and raters of ``windows`` on one emulated line, run by the real daemon."""
    keypad_profile = load_counter_profile(keypad)
    rater_profile = load_counter_profile(rater) if rater else None
    assert isinstance(keypad_profile, BusKeypadProfile)
    assert rater_profile is None or isinstance(rater_profile, BusRaterProfile)
    family = bus_family(keypad_profile)
    line = CounterBusEmulator(family)
    for window in windows:
        line.add(window, keypad_profile)
        if rater_profile is not None:
            line.add(10 + window, rater_profile)
    port = line.serve_pty(tmp_path / "ttyRS485")
    seen = observe(bus, hall, windows)
    terminal = CounterTerminal(
        bus,
        hall,
        windows,
        keypad=keypad_profile,
        pad=rater_profile,
        line=SerialLink(port, family.line),
        counter=FAST,
        clock=clock,
    )
    terminal.start()
    try:
        yield Counter(terminal, line, seen)
    finally:
        terminal.stop()
        line.stop()
        seen.stop()
