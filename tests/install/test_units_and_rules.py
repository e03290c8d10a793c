"""udev rules and systemd units: syntax, coverage of every profile, and what they run."""

from __future__ import annotations

import configparser
import fnmatch
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from hallbus.hall_file import DEMO_HALL_FILE, load_hall
from hallbus.profiles import PROFILE_ROOT, load_raw_profile
from paidui.cli import build_parser
from paidui.install import UDEV_RULES, device_unit, install

MATCH_KEYS = {"ACTION", "SUBSYSTEM", "SUBSYSTEMS", "KERNEL", "DRIVERS", "ATTR", "ATTRS", "ENV"}
ASSIGN_KEYS = {"GROUP", "MODE", "OWNER", "SYMLINK", "TAG", "GOTO", "LABEL", "IMPORT", "RUN", "ENV"}
PAIR = re.compile(r'^\s*([A-Z]+)(\{[^}]+\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*$')
# USB-serial chips for RS-485 lines: FTDI, Silicon Labs CP210x, WCH CH340, Prolific PL2303.
RS485_CHIPS = {("0403", "6001"), ("10c4", "ea60"), ("1a86", "7523"), ("067b", "2303")}


def _rules() -> list[tuple[str, int, list[tuple[str, str, str, str]]]]:
    """Every rule of every file as (file, line, [(key, attribute, operator, value)])."""
    parsed = []
    for path in sorted(UDEV_RULES.glob("*.rules")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            pairs = []
            for piece in re.split(r',(?=(?:[^"]*"[^"]*")*[^"]*$)', line):
                found = PAIR.match(piece)
                assert found, f"{path.name}:{number}: cannot read {piece!r}"
                key, attribute, operator, value = found.groups()
                pairs.append((key, attribute or "", operator, value))
            parsed.append((path.name, number, pairs))
    return parsed


def test_every_rule_is_well_formed() -> None:
    labels: dict[str, set[str]] = {}
    gotos: list[tuple[str, str]] = []
    for name, number, pairs in _rules():
        where = f"{name}:{number}"
        for key, attribute, operator, value in pairs:
            matching = operator in ("==", "!=")
            assert key in (MATCH_KEYS if matching else ASSIGN_KEYS), f"{where}: {key}{operator}"
            if key in ("ATTRS", "ATTR", "ENV", "IMPORT"):
                assert attribute, f"{where}: {key} needs {{attribute}}"
            if key == "MODE":
                assert re.fullmatch(r"0[0-7]{3}", value), f"{where}: mode {value}"
            if key == "GROUP":
                assert value == "paidui", f"{where}: devices belong to the daemons' group"
            if key == "LABEL":
                labels.setdefault(name, set()).add(value)
            if key == "GOTO":
                gotos.append((name, value))
        keys = {key for key, *_ in pairs}
        assert keys & (MATCH_KEYS | {"LABEL"}), f"{where}: a rule with nothing to match"
        if "SYMLINK" in keys:
            assert "GROUP" in keys and "MODE" in keys, f"{where}: named but not restricted"
    for name, label in gotos:
        assert label in labels.get(name, set()), f"{name}: GOTO {label} has no LABEL"


def _usb_ids(data: Any) -> set[tuple[str, str]]:
    found = set()
    if isinstance(data, dict):
        if "vendor_id" in data and "product_id" in data:
            found.add((f"{data['vendor_id']:04x}", f"{data['product_id']:04x}"))
        for value in data.values():
            found |= _usb_ids(value)
    return found


def _device_names(data: Any) -> set[str]:
    found = set()
    if isinstance(data, dict):
        if isinstance(data.get("device_name"), str):
            found.add(data["device_name"])
        for value in data.values():
            found |= _device_names(value)
    return found


def _shipped_profiles() -> list[dict[str, Any]]:
    return [
        load_raw_profile([path.parent], path.stem)
        for path in sorted(PROFILE_ROOT.glob("*/*.yaml"))
        if not path.stem.startswith("_")
    ]


def test_every_profiles_usb_ids_and_input_names_have_a_rule() -> None:
    rules = [{(k, a): v for k, a, _op, v in pairs} for _, _, pairs in _rules()]
    with_ids = {(r.get(("ATTRS", "{idVendor}")), r.get(("ATTRS", "{idProduct}"))) for r in rules}
    names = [r[("ATTRS", "{name}")] for r in rules if ("ATTRS", "{name}") in r]
    wanted_ids: set[tuple[str, str]] = set()
    wanted_names: set[str] = set()
    for profile in _shipped_profiles():
        wanted_ids |= _usb_ids(profile)
        wanted_names |= _device_names(profile)
    assert wanted_ids, "the profiles name USB devices"
    assert wanted_ids | RS485_CHIPS <= with_ids
    for device_name in wanted_names:
        assert any(fnmatch.fnmatchcase(device_name, glob) for glob in names), device_name


def test_chips_without_a_serial_number_are_named_by_their_port() -> None:
    for _, _, pairs in _rules():
        rule = {(k, a): v for k, a, _op, v in pairs}
        ids = (rule.get(("ATTRS", "{idVendor}")), rule.get(("ATTRS", "{idProduct}")))
        if ids in {("1a86", "7523"), ("067b", "2303")}:
            assert "by-path/$env{ID_PATH_TAG}" in rule[("SYMLINK", "")]
        if ids in {("0403", "6001"), ("10c4", "ea60")}:
            assert "by-serial/" in rule[("SYMLINK", "")]


# A folder name with what systemd would otherwise take as a specifier, a variable, a
# C escape and a word break.
PHOTOS = "/srv/clerk photos/100%/$HOME/a\\b"


@pytest.fixture
def laid_out(tmp_path: Path) -> Path:
    site = tmp_path / "site.yaml"
    port = "/dev/paidui/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0"
    site.write_text(
        yaml.safe_dump(
            {
                "daemons": [
                    {
                        "name": "kiosk-1",
                        "command": "kiosk",
                        "device": "/dev/paidui/printer",
                        "args": ["--device-id", "kiosk-1", "--printer", "usb:0416:5011"],
                    },
                    {
                        "name": "counters",
                        "command": "counter",
                        "device": port,
                        "args": [
                            *("--window", "1", "--profile", "rs485-keypad-lcd", "--port", port),
                            *("--photos", PHOTOS),
                        ],
                    },
                    {"name": "lcd", "command": "board lcd"},
                    {"name": "voice", "command": "board voice", "args": ["--no-audio"]},
                ]
            }
        )
    )
    paidui = str(Path(sys.executable).with_name("paidui"))  # the venv's own command
    install(
        load_hall(DEMO_HALL_FILE), site, tmp_path / "root", paidui=paidui, mosquitto="/bin/true"
    )
    return tmp_path / "root"


def _units(root: Path) -> list[Path]:
    return sorted((root / "etc/systemd/system").glob("*.service"))


def test_units_pass_systemd_analyze_verify(laid_out: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is required: scripts/test installs systemd")
    units = _units(laid_out)
    assert {u.name for u in units} >= {
        "paidui-broker.service",
        "paidui-scheduler.service",
        "paidui-web.service",
        "paidui-kiosk-1.service",
        "paidui-counters.service",
    }
    result = subprocess.run(
        [analyze, "verify", *map(str, units)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "error" not in result.stderr.lower(), result.stderr


def _service(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser["Service"]


def test_every_unit_runs_unprivileged_and_sandboxed(laid_out: Path) -> None:
    for unit in _units(laid_out):
        service = _service(unit)
        assert service["User"] == "paidui", unit.name
        for key in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp"):
            assert key in service, f"{unit.name}: {key}"
        assert service["CapabilityBoundingSet"] == "", unit.name
        assert service["SystemCallFilter"] == "@system-service", unit.name
        assert "PrivateDevices" in service or service.get("DevicePolicy") == "closed"


def test_a_device_daemon_starts_with_its_device(laid_out: Path) -> None:
    text = (laid_out / "etc/systemd/system/paidui-counters.service").read_text()
    unit = device_unit("/dev/paidui/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0")
    assert f"BindsTo={unit}" in text and f"WantedBy={unit}" in text
    escape = shutil.which("systemd-escape")
    if escape is not None:
        path = "/dev/paidui/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0"
        expected = subprocess.run(
            [escape, "--path", "--suffix=device", path], capture_output=True, text=True
        ).stdout.strip()
        assert unit == expected


def test_every_exec_start_is_a_valid_paidui_command(laid_out: Path) -> None:
    parser = build_parser()
    env = {"${PAIDUI_DB}": "sqlite:////tmp/x.db", "${PAIDUI_WEB_HOST}": "127.0.0.1"}
    env |= {"${PAIDUI_WEB_PORT}": "8000", "${PAIDUI_PUBLIC_URL}": "https://h/"}
    for unit in _units(laid_out):
        if unit.name == "paidui-broker.service":
            continue
        command = _service(unit)["ExecStart"]
        for name, value in env.items():
            command = command.replace(name, value)
        words = shlex.split(command)
        assert words[0].endswith("paidui"), unit.name
        parser.parse_args(words[1:])  # exits (SystemExit) on anything paidui does not take


def test_arguments_reach_the_daemon_exactly_as_written(laid_out: Path) -> None:
    command = _service(laid_out / "etc/systemd/system/paidui-counters.service")["ExecStart"]
    # What systemd does before splitting the line: %% is %, $$ is $ (no specifiers or
    # variables are left to expand: systemd-analyze verify above checks the line as a whole).
    assert "%/" not in command.replace("%%", "") and "$H" not in command.replace("$$", "")
    # Then it splits the line into words as a shell would, and reads C escapes in each
    # (systemd.syntax(7)): a doubled backslash is one.
    words = shlex.split(command.replace("%%", "%").replace("$$", "$"))
    assert words[words.index("--photos") + 1].replace("\\\\", "\\") == PHOTOS
