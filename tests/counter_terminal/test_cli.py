"""``paidui counter`` and ``paidui counter-emulator`` as an integrator runs them at a bench:
two processes on a pty, the real broker and scheduler."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from hallbus.hall_file import HallConfig
from hallbus.messages import WindowState, WindowStatus, decode
from hallbus.settings import BusSettings
from hallbus.topics import HallTopics
from scheduler.bridge import SchedulerService
from tests.conftest import WAIT, listen


def test_counter_command_runs_the_line_the_emulator_command_serves(
    scheduler: SchedulerService, bus: BusSettings, hall: HallConfig, tmp_path: Path
) -> None:
    hall_file = tmp_path / "hall.yaml"
    hall_file.write_text(yaml.safe_dump(hall.model_dump(mode="json"), allow_unicode=True))
    paidui = [sys.executable, "-m", "paidui"]
    emulator = subprocess.Popen(
        [*paidui, "counter-emulator", "--hall", str(hall_file), "--link", str(tmp_path / "tty")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert emulator.stdin is not None and emulator.stdout is not None
    port = json.loads(emulator.stdout.readline())["port"]
    counter = subprocess.Popen(
        [
            *paidui,
            "counter",
            "--hall",
            str(hall_file),
            "--window",
            "1",
            "--window",
            "2",
            "--profile",
            "rs485-keypad-lcd",
            "--profile",
            "rs485-rater-5key",
            "--port",
            port,
            "--mqtt-port",
            str(bus.port),
        ],
    )
    client, states = listen(bus, HallTopics(hall.id).window_state(2), f"cli-{hall.id}")
    try:
        # The emulator prints what each device shows: the counter daemon's first screen.
        first = json.loads(emulator.stdout.readline())
        assert first["address"] in (1, 2, 11, 12)
        emulator.stdin.write("2 login 1002\n")
        emulator.stdin.flush()
        assert states.wait_for(lambda p: decode(WindowState, p).status is WindowStatus.OPEN, WAIT)
    finally:
        client.stop()
        counter.terminate()
        emulator.stdin.close()
        emulator.terminate()
        assert counter.wait(WAIT) in (0, -15)
        emulator.wait(WAIT)


def test_counter_command_explains_what_is_missing(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "paidui",
            "counter",
            "--window",
            "1",
            "--profile",
            "rs485-keypad-lcd",
        ],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert result.returncode == 2
    assert "--port" in result.stderr
