"""The driver registry with real entry points, and `paidui profiles check`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from display_wall.drivers import (
    BX5_DRIVER,
    LED_DRIVERS,
    LINE_DRIVER,
    LedBoardDriver,
    load_led_profile,
)
from hallbus.drivers import DriverRegistry, UnknownDriverError
from hallbus.profiles import PROFILE_ROOT
from paidui.cli import main

# A module the fake distributions' entry points can name.
WRONG_CLASS = object()
DUPLICATE = LedBoardDriver("bx5", BX5_DRIVER.profile_model, BX5_DRIVER.codec)


def _distribution(root: Path, name: str, entry: str) -> None:
    """A real installed distribution (dist-info on sys.path) with one paidui.drivers entry."""
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[paidui.drivers]\n{name} = {entry}\n")


def test_plugins_are_found_and_broken_ones_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _distribution(tmp_path, "missing_module", "no_such_module:DRIVER")
    _distribution(tmp_path, "wrong_class", "tests.hallbus.test_drivers:WRONG_CLASS")
    _distribution(tmp_path, "taken_type", "tests.hallbus.test_drivers:DUPLICATE")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = DriverRegistry("led_board", [BX5_DRIVER, LINE_DRIVER], plugin_class=LedBoardDriver)
    # The built-ins and the installed example plug-in still work.
    assert {"bx5", "line", "acme-ascii"} <= set(registry.types())
    assert registry.get("bx5") is BX5_DRIVER
    problems = {p.entry_point.split(" = ")[0]: p.error for p in registry.problems}
    assert "cannot be imported" in problems["missing_module"]
    assert "already taken" in problems["taken_type"]
    # An object with no kind is another kind's business, not an error.
    assert "wrong_class" not in problems
    with pytest.raises(UnknownDriverError, match=r"installed: .*bx5"):
        registry.get("nope")


def test_the_example_plugin_profile_loads_through_its_driver() -> None:
    profile = load_led_profile("acme-window-96x16")
    assert profile.type == "acme-ascii"
    assert LED_DRIVERS.origin("acme-ascii").startswith("acme-ascii = acme_led.driver")


def test_profiles_check_accepts_good_files_and_names_the_bad_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "led_boards"
    folder.mkdir()
    good = folder / "my-window.yaml"
    good.write_text("inherits: _bx5\nname: My window\nrole: window\nwidth: 64\nheight: 16\n")
    bad = folder / "my-strip.yaml"
    bad.write_text("inherits: _bx5\nname: Strip\nrole: strip\nwidth: 64\nheight: 4\n")
    unknown = folder / "my-other.yaml"
    unknown.write_text("type: zk-led\nname: Z\nrole: window\nwidth: 64\nheight: 16\n")
    assert main(["profiles", "check", str(good)]) == 0
    assert json.loads(capsys.readouterr().out)["type"] == "bx5"
    assert main(["profiles", "check", str(good), str(bad), str(unknown)]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["ok"] for line in lines] == [True, False, False]
    assert "height" in lines[1]["error"]
    assert "zk-led" in lines[2]["error"] and "bx5" in lines[2]["error"]


def test_every_shipped_profile_passes_the_check(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(PROFILE_ROOT.glob("*/*.yaml"))
    assert main(["profiles", "check", *map(str, files)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(files)
