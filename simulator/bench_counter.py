"""Counter figures: a clerk's "next" key to the call on the bus, and its bytes on the line.

The key goes through the emulated RS-485 keypad on a pty, the real counter daemon,
mosquitto and the scheduler (SQLite), and the time is taken when the window's new state
reaches a subscriber, as a board would see it. A pty moves bytes at memory speed, so the
line's own time is computed from the frames (ten bits a byte) and reported beside it.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from counter_terminal.bus_devices import screen_data
from counter_terminal.bus_protocol import BusFrame, frame_size
from counter_terminal.drivers import load_counter_profile
from counter_terminal.keys import ClerkKey
from counter_terminal.profile import BusKeypadProfile, BusRaterProfile, bus_family
from counter_terminal.terminal import CounterTerminal
from hallbus.client import BusClient
from hallbus.hall_file import DEMO_HALL_FILE, load_hall
from hallbus.links import SerialLink
from hallbus.messages import WindowState, decode
from hallbus.settings import BusSettings
from hallbus.topics import HallTopics
from scheduler.bridge import SchedulerService
from scheduler.store import Store
from simulator.counter_bus_emulator import CounterBusEmulator
from simulator.devices import VirtualKiosk
from simulator.mailbox import Mailbox

CALLS = 30


def _line_bytes(keypad: BusKeypadProfile) -> dict[str, Any]:
    """Bytes of one "next" on the line: key frame and echo, new screen and echo."""
    family = bus_family(keypad)
    key = BusFrame(1, family.functions.key, bytes((1, 0x01)))
    assert keypad.display is not None
    text = screen_data(["A001 呼叫 等12人", "呼叫 A001"], keypad.display)
    screen = BusFrame(1, family.functions.display, text)
    total = 2 * frame_size(key, family.framing) + 2 * frame_size(screen, family.framing)
    return {
        "bytes": total,
        "line_ms_at_9600": round(total * 10 / 9600 * 1000, 1),
        "line_ms_at_baud": round(total * 10 / family.line.baudrate * 1000, 1),
    }


def _calling(label: str) -> Callable[[tuple[float, WindowState]], bool]:
    def check(item: tuple[float, WindowState]) -> bool:
        current = item[1].current
        return current is not None and current.label == label

    return check


def run_counter_bench(bus: BusSettings) -> dict[str, Any]:
    """Key-to-call latency through the whole counter path, and the line's share of it."""
    keypad = load_counter_profile("rs485-keypad-lcd")
    rater = load_counter_profile("rs485-rater-5key")
    assert isinstance(keypad, BusKeypadProfile) and isinstance(rater, BusRaterProfile)
    hall = (
        load_hall(DEMO_HALL_FILE)
        .without_flood_limits()
        .model_copy(update={"id": f"bench-{uuid.uuid4().hex[:6]}", "require_open_window": False})
    )
    topics = HallTopics(hall.id)
    samples: list[float] = []
    with tempfile.TemporaryDirectory(prefix="paidui-bench-counter-") as scratch:
        folder = Path(scratch)
        service = SchedulerService(hall, Store(Store.sqlite_url(folder / "b.db"), hall.id), bus)
        line = CounterBusEmulator(bus_family(keypad))
        line.add(1, keypad)
        line.add(11, rater)
        port = line.serve_pty(folder / "ttyRS485")
        link = SerialLink(port, bus_family(keypad).line)
        terminal = CounterTerminal(bus, hall, [1], keypad=keypad, pad=rater, line=link)
        kiosk = VirtualKiosk(bus, hall.id, "kiosk-1")
        states: Mailbox[tuple[float, WindowState]] = Mailbox()
        watch = BusClient(bus, f"{hall.id}-watch", topics.availability(f"{hall.id}-watch"))
        watch.subscribe(
            topics.window_state(1),
            lambda _t, p: states.put((time.perf_counter(), decode(WindowState, p))),
            inline=True,
        )
        service.start()
        terminal.start()
        kiosk.start()
        watch.start()
        try:
            for _ in range(CALLS):
                kiosk.issue("social")
            line.press(1, ClerkKey.LOGIN, "1001")
            for call in range(1, CALLS + 1):
                label = f"A{call:03d}"
                seen = len(states.items())
                pressed = time.perf_counter()
                line.press(1, ClerkKey.CALL_NEXT)
                found = states.wait_for(_calling(label), 10, after=seen)
                if found is None:
                    last = states.items()[-1][1] if states.items() else None
                    raise RuntimeError(f"{label} was never called; window: {last}")
                samples.append(found[0] - pressed)
        finally:
            watch.stop()
            kiosk.stop()
            terminal.stop()
            line.stop()
            service.stop()
    ordered = sorted(samples)
    return {
        "calls": CALLS,
        # After the first, each "next" also finishes the ticket before (two requests).
        "next_key_to_call_on_bus_ms": {
            "p50": round(statistics.median(ordered) * 1000, 2),
            "p90": round(ordered[int(len(ordered) * 0.9) - 1] * 1000, 2),
            "max": round(ordered[-1] * 1000, 2),
        },
        "one_next_on_the_line": _line_bytes(keypad),
    }
