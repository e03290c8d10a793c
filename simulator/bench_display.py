"""Display wall figures: call-next to the last LED byte of the window board, and to the
announcement's first clip.

Thirty BX-5 boards share the emulated line; a clerk's call-next request goes through
mosquitto and the scheduler (SQLite) to the real LED wall daemon. A pty moves bytes at
memory speed, so the link here holds each write for the time its bytes take on the wire
at the line's baud rate (and the emulated boards wait as long before their answers land):
the figure is then comparable with the physical floor, the call frame's bytes x 10 bits
/ baud, which is reported beside it.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from display_wall.boards import BoardContent, window_content
from display_wall.bx5_protocol import Bx5Frame, encode_frame, reply_data
from display_wall.drivers import codec_for, load_led_profile
from display_wall.led_wall import LedBoardSpec, LedWall
from display_wall.profile import Bx5BoardProfile
from display_wall.voice import Announcer
from hallbus.hall_file import DEMO_HALL_FILE, DeviceConfig, WindowConfig, load_hall
from hallbus.links import SerialLine, SerialLink
from hallbus.messages import CurrentCall, TicketState, WindowState, WindowStatus
from hallbus.settings import BusSettings
from scheduler.bridge import SchedulerService
from scheduler.store import Store
from simulator.devices import VirtualCounter, VirtualKiosk
from simulator.led_line_emulator import LedLineEmulator
from simulator.mailbox import Mailbox

BOARDS = 30
CALLS = 20
VOICE_CALLS = 4
WINDOW = 7  # the window whose board is measured


class PacedLink(SerialLink):
    """A serial link that takes as long to write as the wire would at ``line``'s baud rate."""

    def __init__(self, port: str, line: SerialLine) -> None:
        super().__init__(port, line)
        self.last_byte_at = 0.0

    def write(self, data: bytes) -> None:
        """Write, then wait until the last byte would have left the UART."""
        started = time.perf_counter()
        super().write(data)
        done = started + self.line.seconds_for(len(data))
        while time.perf_counter() < done:
            time.sleep(max(0.0, done - time.perf_counter()) / 2)
        self.last_byte_at = time.perf_counter()


def _answer(profile: Bx5BoardProfile) -> bytes:
    """A board's answer, as it crosses the wire."""
    ok = reply_data(profile.commands, profile.commands.reply_ok)
    return encode_frame(Bx5Frame(profile.framing.host_address, WINDOW, ok), profile.framing)


def _floor(profile: Bx5BoardProfile, baud: int) -> dict[str, Any]:
    state = WindowState(
        window=WINDOW,
        status=WindowStatus.OPEN,
        waiting=0,
        current=CurrentCall(
            ticket_id="x",
            label="A001",
            service_code="social",
            state=TicketState.CALLED,
            called_at=datetime.now(UTC),
        ),
    )
    frame = codec_for(profile, WINDOW).frames(window_content(state, WINDOW, profile))[0]
    answer = _answer(profile)
    line = profile.line.model_copy(update={"baudrate": baud})
    return {
        "call_frame_bytes": len(frame),
        "answer_bytes": len(answer),
        "floor_ms": round(line.seconds_for(len(frame)) * 1000, 2),
        "floor_with_answer_ms": round(line.seconds_for(len(frame) + len(answer)) * 1000, 2),
    }


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": round(statistics.median(ordered) * 1000, 2),
        "p90": round(ordered[max(0, int(len(ordered) * 0.9) - 1)] * 1000, 2),
        "max": round(ordered[-1] * 1000, 2),
    }


def _hall(boards: int) -> Any:
    base = load_hall(DEMO_HALL_FILE).without_flood_limits()
    windows = [WindowConfig(number=n, services="all") for n in range(1, boards + 1)]
    devices = [
        DeviceConfig(id="kiosk-1", kind="kiosk"),
        DeviceConfig(id=f"counter-{WINDOW}", kind="counter", window=WINDOW),
        DeviceConfig(id="voice-1", kind="voice"),
    ] + [
        DeviceConfig(
            id=f"board-{n}",
            kind="window_board",
            window=n,
            bus_address=n,
            profile="bx5-window-64x16",
        )
        for n in range(1, boards + 1)
    ]
    return base.model_copy(
        update={
            "id": f"bench-{uuid.uuid4().hex[:6]}",
            "require_open_window": False,
            "windows": windows,
            "devices": devices,
        }
    )


def run_led_bench(bus: BusSettings, baud: int) -> dict[str, Any]:
    """Call-next request to the window board's last byte, 30 boards on the line at ``baud``."""
    profile = load_led_profile("bx5-window-64x16")
    assert isinstance(profile, Bx5BoardProfile)
    profile = profile.model_copy(
        update={"line": profile.line.model_copy(update={"baudrate": baud})}
    )
    hall = _hall(BOARDS)
    specs = [LedBoardSpec(f"board-{n}", n, profile, n) for n in range(1, BOARDS + 1)]
    samples: list[float] = []
    sent: Mailbox[tuple[str, BoardContent, float]] = Mailbox()
    with tempfile.TemporaryDirectory(prefix="paidui-bench-led-") as scratch:
        folder = Path(scratch)
        service = SchedulerService(hall, Store(Store.sqlite_url(folder / "b.db"), hall.id), bus)
        emulator = LedLineEmulator()
        for spec in specs:
            emulator.add(spec.address, profile)
        answer_s = profile.line.seconds_for(len(_answer(profile)))  # the answer on the wire
        port = emulator.serve_pty(folder / "ttyLED", delay_s=lambda: answer_s)
        link = PacedLink(port, profile.line)
        wall = LedWall(bus, hall.id, specs, link)
        wall.line.on_sent(lambda board, content, _at: sent.put((board, content, link.last_byte_at)))
        kiosk = VirtualKiosk(bus, hall.id, "kiosk-1")
        counter = VirtualCounter(bus, hall.id, f"counter-{WINDOW}", WINDOW)
        service.start()
        wall.start()
        kiosk.start()
        counter.start()
        try:
            # Every board shows its first state before the clock starts.
            if not sent.wait_count(BOARDS, 30):
                raise RuntimeError("the boards never all showed their first state")
            counter.login("1001")
            for _ in range(CALLS):
                kiosk.issue("social")
            for _ in range(CALLS):
                seen = len(sent.items())
                asked = time.perf_counter()
                reply = counter.call_next()
                if reply.status != "ok" or reply.data is None:
                    raise RuntimeError(f"call failed: {reply}")
                label = reply.data["label"]
                found = sent.wait_for(
                    lambda item, lab=label: item[0] == f"board-{WINDOW}" and lab in item[1].text,  # type: ignore[misc]
                    10,
                    after=seen,
                )
                if found is None:
                    raise RuntimeError(f"{label} never reached board {WINDOW}")
                samples.append(found[2] - asked)
                counter.finish()
        finally:
            counter.stop()
            kiosk.stop()
            wall.stop()
            emulator.stop()
            service.stop()
    return {
        "boards": BOARDS,
        "calls": CALLS,
        "baud": baud,
        "call_to_last_led_byte_ms": _percentiles(samples),
    } | _floor(profile, baud)


def run_voice_bench(bus: BusSettings) -> dict[str, Any]:
    """Call-next request to the announcement's first clip playing (pygame.mixer)."""
    hall = _hall(WINDOW)
    first: list[float] = []
    warm: list[float] = []
    started: Mailbox[float] = Mailbox()
    with tempfile.TemporaryDirectory(prefix="paidui-bench-voice-") as scratch:
        folder = Path(scratch)
        service = SchedulerService(hall, Store(Store.sqlite_url(folder / "b.db"), hall.id), bus)
        announcer = Announcer(bus, hall.id, "voice-1", cache=folder / "clips", repeats=1)
        announcer.worker.listeners.append(lambda _a, _at: started.put(time.perf_counter()))
        finished: Mailbox[str] = Mailbox()
        announcer.worker.done_listeners.append(lambda a: finished.put(a.ticket_id))
        kiosk = VirtualKiosk(bus, hall.id, "kiosk-1")
        counter = VirtualCounter(bus, hall.id, f"counter-{WINDOW}", WINDOW)
        service.start()
        announcer.start()
        kiosk.start()
        counter.start()
        try:
            counter.login("1001")
            for _ in range(VOICE_CALLS):
                kiosk.issue("social")
            for call in range(VOICE_CALLS):
                seen = len(started.items())
                asked = time.perf_counter()
                counter.call_next()
                found = started.wait_for(lambda _t: True, 60, after=seen)
                if found is None:
                    raise RuntimeError("the announcement never started")
                (first if call == 0 else warm).append(found - asked)
                # Let it finish so the next call finds the loudspeaker free.
                finished.wait_count(call + 1, 60)
                counter.finish()
        finally:
            counter.stop()
            kiosk.stop()
            announcer.stop()
            service.stop()
    return {
        "output": announcer.worker.output.name,
        "first_call_ms_clips_made_by_espeak": round(first[0] * 1000, 1),
        "call_to_first_clip_ms": _percentiles(warm),
    }


def run_display_bench(bus: BusSettings) -> dict[str, Any]:
    """LED figures at 9600 and 115200 baud, and the voice."""
    return {
        "led_9600": run_led_bench(bus, 9600),
        "led_115200": run_led_bench(bus, 115200),
        "voice": run_voice_bench(bus),
    }
