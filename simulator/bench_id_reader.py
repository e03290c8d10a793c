"""ID reader figures: tap to card event on the bus, and the bytes a tap puts on the wire.

The tap latency is measured with the shipped serial profile's poll interval and with
polling as fast as the line allows; a pty moves bytes at memory speed, so the serial
line's own time is computed from the bytes (ten bits a byte) and reported beside it.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from hallbus.client import BusClient
from hallbus.identity import IdHasher, new_id_key
from hallbus.links import SerialLink
from hallbus.settings import BusSettings
from hallbus.topics import DeviceEventKind, HallTopics
from id_reader.daemon import IdReaderDaemon
from id_reader.drivers import load_reader_profile
from id_reader.profile import SamSerialProfile, SamTiming
from id_reader.sam_protocol import Command, encode_request
from id_reader.sam_reader import SamCardSource
from simulator.id_cards import ELDERLY_RESIDENT
from simulator.id_reader_emulator import IdReaderEmulator
from simulator.mailbox import Mailbox

HALL = "bench"
TAPS = 20


def _taps(bus: BusSettings, timing: SamTiming, scratch: Path) -> list[float]:
    """Seconds from a card landing on the reader to its event arriving on the bus."""
    topics = HallTopics(HALL)
    emulator = IdReaderEmulator()
    port = emulator.serve_pty(scratch / "ttyIDR0")
    profile = load_reader_profile("sam-v-serial")
    assert isinstance(profile, SamSerialProfile)
    source = SamCardSource(SerialLink(port, profile.serial), timing)
    daemon = IdReaderDaemon(bus, HALL, "idr-bench", source, IdHasher.from_hex(new_id_key()))
    arrived: Mailbox[float] = Mailbox()
    observer = BusClient(bus, "bench-observer", topics.availability("bench-observer"))
    observer.subscribe(
        topics.device_event("idr-bench", DeviceEventKind.CARD_READ),
        lambda _t, _p: arrived.put(time.perf_counter()),
        inline=True,
    )
    observer.start()
    daemon.start()
    samples = []
    phase = random.Random(5)
    try:
        for tap in range(TAPS):
            # Citizens do not tap in step with the polls: land anywhere in an interval.
            time.sleep(phase.uniform(0, timing.poll_interval_s))
            placed = time.perf_counter()
            emulator.place(ELDERLY_RESIDENT)
            if not arrived.wait_count(tap + 1, 10):
                raise RuntimeError("a tap never reached the bus")
            samples.append(arrived.items()[tap] - placed)
            emulator.remove()
            polls = len(emulator.requests.items()) + timing.absent_polls + 1
            emulator.requests.wait_count(polls, 10)  # the reader sees the card gone
    finally:
        daemon.stop()
        observer.stop()
        emulator.stop()
    return samples


def _wire_bytes() -> dict[str, Any]:
    """Bytes of one tap's cycle each way, and their time on the line at 115200 and 9600."""
    emulator = IdReaderEmulator()
    emulator.place(ELDERLY_RESIDENT)
    cycle = (Command.FIND_CARD, Command.SELECT_CARD, Command.READ_TEXT_PHOTO)
    sent = [encode_request(command) for command in cycle]
    received = [emulator.receive(frame) for frame in sent]
    total = sum(map(len, sent)) + sum(map(len, received))
    return {
        "host_to_reader_bytes": sum(map(len, sent)),
        "reader_to_host_bytes": sum(map(len, received)),
        "wire_s_at_115200": round(total * 10 / 115200, 4),
        "wire_s_at_9600": round(total * 10 / 9600, 3),
    }


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(ordered[int(len(ordered) * 0.9) - 1] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def run_id_reader_bench(bus: BusSettings) -> dict[str, Any]:
    """Tap-to-event latency at the shipped poll interval and at a fast one, and wire bytes."""
    profile = load_reader_profile("sam-v-serial")
    assert isinstance(profile, SamSerialProfile)
    fast = profile.timing.model_copy(update={"poll_interval_s": 0.01})
    with tempfile.TemporaryDirectory() as scratch:
        shipped = _taps(bus, profile.timing, Path(scratch))
    with tempfile.TemporaryDirectory() as scratch:
        quick = _taps(bus, fast, Path(scratch))
    return {
        "taps": TAPS,
        f"tap_to_event_poll_{profile.timing.poll_interval_s}s": _summary(shipped),
        "tap_to_event_poll_0.01s": _summary(quick),
        "one_tap_on_the_wire": _wire_bytes(),
    }
