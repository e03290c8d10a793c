"""``paidui board ...`` as an integrator runs it: separate processes, a pty, the real broker."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import yaml

from display_wall.drivers import led_profile_names, load_led_profile
from display_wall.profile import (
    lcd_layout_names,
    load_lcd_layout,
)
from hallbus.hall_file import HallConfig
from hallbus.messages import DeviceStatus, decode
from hallbus.settings import BusSettings
from hallbus.topics import HallTopics
from scheduler.bridge import SchedulerService
from simulator.devices import VirtualCounter
from simulator.mailbox import Mailbox
from tests.conftest import WAIT, listen

PAIDUI = [sys.executable, "-m", "paidui"]


def test_every_shipped_profile_loads_and_both_protocols_are_covered() -> None:
    profiles = [load_led_profile(name) for name in led_profile_names()]
    assert {p.type for p in profiles} >= {"bx5", "line"}  # plus installed plug-ins' models
    assert {p.role for p in profiles} == {"window", "strip"}
    assert [load_lcd_layout(name).size for name in lcd_layout_names()] == [(1920, 1080)]


def test_led_command_drives_the_boards_the_emulator_command_serves(
    scheduler: SchedulerService,
    bus: BusSettings,
    hall: HallConfig,
    staff: Callable[[int], VirtualCounter],
    tmp_path: Path,
) -> None:
    hall_file = tmp_path / "hall.yaml"
    hall_file.write_text(yaml.safe_dump(hall.model_dump(mode="json"), allow_unicode=True))
    emulator = subprocess.Popen(
        [
            *PAIDUI,
            "board",
            "emulator",
            "--hall",
            str(hall_file),
            "--link",
            str(tmp_path / "tty"),
            "--images",
            str(tmp_path / "img"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert emulator.stdin is not None and emulator.stdout is not None
    port = json.loads(emulator.stdout.readline())["port"]
    printed: Mailbox[dict[str, object]] = Mailbox()
    reader = threading.Thread(
        target=lambda: [printed.put(json.loads(line)) for line in emulator.stdout or []],
        daemon=True,
    )
    reader.start()
    topics = HallTopics(hall.id)
    client, statuses = listen(bus, topics.device_status("board-2"), f"cli-{hall.id}")
    wall = subprocess.Popen(
        [
            *PAIDUI,
            "board",
            "led",
            "--hall",
            str(hall_file),
            "--port",
            port,
            "--mqtt-port",
            str(bus.port),
        ],
    )
    try:
        counter = staff(2)
        idle = {"address": 2, "pages": ["2号窗口", "欢迎您"], "colour": "green"}
        assert printed.wait_for(lambda line: line == idle, WAIT), printed.items()
        emulator.stdin.write("silent 2\n")
        emulator.stdin.flush()
        assert counter.pause().status == "ok"
        assert statuses.wait_for(
            lambda p: decode(DeviceStatus, p).faults == ["not_answering"], WAIT
        )
        emulator.stdin.write("save\n")
        emulator.stdin.flush()
        saved = printed.wait_for(lambda line: "saved" in line, WAIT)
        assert saved is not None and Path(str(saved["saved"])).stat().st_size > 0
    finally:
        client.stop()
        wall.terminate()
        emulator.stdin.close()
        emulator.terminate()
        assert wall.wait(WAIT) in (0, -15)
        emulator.wait(WAIT)


def test_lcd_command_saves_a_frame(
    scheduler: SchedulerService, bus: BusSettings, hall: HallConfig, tmp_path: Path
) -> None:
    hall_file = tmp_path / "hall.yaml"
    hall_file.write_text(yaml.safe_dump(hall.model_dump(mode="json"), allow_unicode=True))
    shot = tmp_path / "lcd.png"
    result = subprocess.run(
        [
            *PAIDUI,
            "board",
            "lcd",
            "--hall",
            str(hall_file),
            "--screenshot",
            str(shot),
            "--mqtt-port",
            str(bus.port),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["screenshot"] == str(shot) and shot.stat().st_size > 10_000


def test_led_command_explains_a_missing_profile(tmp_path: Path, hall: HallConfig) -> None:
    data = hall.model_dump(mode="json")
    for device in data["devices"]:
        device.pop("profile", None)
    hall_file = tmp_path / "hall.yaml"
    hall_file.write_text(yaml.safe_dump(data, allow_unicode=True))
    result = subprocess.run(
        [*PAIDUI, "board", "led", "--hall", str(hall_file), "--port", "/dev/null"],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert result.returncode == 2 and "names no profile" in result.stderr
