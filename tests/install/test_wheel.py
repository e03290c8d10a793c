"""paidui as it is installed: a wheel built from the repository, installed without ``-e``
into a fresh virtual environment outside it with only the device machine's extra, runs a
counter daemon with a shipped profile against the emulator, the broker and the scheduler."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import yaml

from hallbus.hall_file import HallConfig
from hallbus.messages import WindowState, WindowStatus, decode
from hallbus.settings import BusSettings
from hallbus.topics import HallTopics
from scheduler.bridge import SchedulerService
from tests.conftest import WAIT, listen

REPO = Path(__file__).resolve().parents[2]
INSTALL_S = 600
NOT_SOURCE = (
    ".git",
    ".venv",
    "build",
    "*.egg-info",
    "__pycache__",
    ".hypothesis",
    "node_modules",
)  # building and installing from the package index on a loaded machine


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh environment holding ``paidui[devices]`` from a wheel."""
    root = tmp_path_factory.mktemp("installed")
    # Built from a copy of what is in the repository: a build in place would leave (and
    # reuse) a build/ folder whose stale files could end up in the wheel.
    source = root / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
        check=True,
        timeout=INSTALL_S,
    )
    (wheel,) = wheels.glob("paidui-*.whl")
    venv.EnvBuilder(with_pip=True).create(root / "env")
    bin_dir = root / "env" / "bin"
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", f"{wheel}[devices]"],
        check=True,
        timeout=INSTALL_S,
        cwd=root,
    )
    return bin_dir


@pytest.mark.slow
def test_the_wheel_ships_every_profile_and_rule_and_only_the_role_s_dependencies(
    installed: Path,
) -> None:
    probe = """
import json, importlib.util
from counter_terminal.drivers import counter_profile_names
from display_wall.drivers import led_profile_names
from id_reader.drivers import reader_profile_names
from hallbus.profiles import PROFILE_ROOT
from paidui.install import UDEV_RULES
from paidui.broker import BROKER_CONFIG_DIR
import firmware_profiles
print(json.dumps({
    "from": firmware_profiles.__file__,
    "counter": counter_profile_names(), "led": led_profile_names(),
    "readers": reader_profile_names(),
    # Printers are the kiosk's role (its extra brings python-escpos): shipped all the same.
    "printers": sorted(p.stem for p in (PROFILE_ROOT / "printers").glob("*.yaml")),
    "rules": sorted(p.name for p in UDEV_RULES.glob("*.rules")),
    "broker": sorted(p.name for p in BROKER_CONFIG_DIR.glob("*.conf")),
    "absent": [m for m in ("sqlalchemy", "fastapi", "amqtt", "rich", "psycopg")
               if importlib.util.find_spec(m) is not None],
}))
"""
    out = subprocess.run(
        [str(installed / "python"), "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=installed,  # not the repository: nothing may be found through it
        timeout=WAIT * 6,
    )
    found = json.loads(out.stdout)
    assert str(REPO) not in found["from"] and "site-packages" in found["from"]
    assert {"rs485-keypad-lcd", "field-keypad-confirm", "field-rater-5key"} <= set(found["counter"])
    assert {"bx5-window-64x16", "line-window-gbk"} <= set(found["led"])
    assert found["readers"] and found["printers"]
    assert found["rules"] == sorted(p.name for p in (REPO / "udev_rules").glob("*.rules"))
    assert "demo.conf" in found["broker"] and "production.conf" in found["broker"]
    assert found["absent"] == []  # the device extra brings no server or demo packages


@pytest.mark.slow
def test_the_installed_counter_daemon_runs_a_shipped_profile_against_the_emulator(
    installed: Path,
    scheduler: SchedulerService,
    bus: BusSettings,
    hall: HallConfig,
    tmp_path: Path,
) -> None:
    hall_file = tmp_path / "hall.yaml"
    hall_file.write_text(yaml.safe_dump(hall.model_dump(mode="json"), allow_unicode=True))
    emulator = subprocess.Popen(
        [
            *(sys.executable, "-m", "paidui", "counter-emulator"),
            *("--hall", str(hall_file), "--link", str(tmp_path / "tty")),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert emulator.stdin is not None and emulator.stdout is not None
    port = json.loads(emulator.stdout.readline())["port"]
    counter = subprocess.Popen(
        [
            *(str(installed / "paidui"), "counter", "--hall", str(hall_file), "--window", "1"),
            *("--profile", "rs485-keypad-lcd", "--port", port, "--mqtt-port", str(bus.port)),
        ],
        cwd=tmp_path,
    )
    client, states = listen(bus, HallTopics(hall.id).window_state(1), f"wheel-{hall.id}")
    try:
        assert json.loads(emulator.stdout.readline())["address"] == 1  # its first screen
        emulator.stdin.write("1 login 1001\n")
        emulator.stdin.flush()
        assert states.wait_for(lambda p: decode(WindowState, p).status is WindowStatus.OPEN, WAIT)
    finally:
        client.stop()
        counter.terminate()
        emulator.stdin.close()
        emulator.terminate()
        assert counter.wait(WAIT) in (0, -15)
        emulator.wait(WAIT)
