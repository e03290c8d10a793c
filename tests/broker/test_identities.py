"""Broker identities cannot collide within or across halls, and secrets are written whole.

The attack: device ``y.scheduler`` of hall ``x`` had the identity ``x.y.scheduler``, the
scheduler of hall ``x.y``. ``paidui broker acl`` wrote both blocks and ``paidui devices
provision`` overwrote the real scheduler's password.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from hallbus.hall_file import DEMO_HALL_FILE, DeviceConfig, HallConfig, load_hall
from hallbus.messages import DeviceKind
from paidui.acl import AclError, render_acl
from paidui.cli import main as paidui
from paidui.credentials import BrokerFolder


def _hall(hall_id: str, *extra: DeviceConfig) -> HallConfig:
    base = load_hall(DEMO_HALL_FILE)
    return base.model_copy(update={"id": hall_id, "devices": [*base.devices, *extra]})


def test_a_device_cannot_take_another_halls_scheduler_identity() -> None:
    with pytest.raises(ValidationError, match=r"device id 'y\.scheduler'"):
        DeviceConfig(id="y.scheduler", kind=DeviceKind.KIOSK)
    raw = load_hall(DEMO_HALL_FILE).model_dump(mode="json")
    with pytest.raises(ValidationError, match=r"hall id 'x\.y'"):
        HallConfig.model_validate({**raw, "id": "x.y"})


def test_the_acl_writer_refuses_the_attack_even_past_the_hall_files_validation() -> None:
    """Topic builders check ids again, so no second block for one identity is written."""
    sneaky = DeviceConfig.model_construct(id="y.scheduler", kind=DeviceKind.KIOSK)
    halls = [
        _hall("x").model_copy(update={"devices": [sneaky]}),
        _hall("x").model_copy(update={"id": "x.y", "devices": []}),
    ]
    with pytest.raises(ValueError, match="invalid"):
        render_acl(halls)
    with pytest.raises(AclError, match="twice"):
        render_acl([_hall("x"), _hall("x")])


def test_provision_refuses_a_hall_file_with_a_dotted_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = load_hall(DEMO_HALL_FILE).model_dump(mode="json")
    raw["id"] = "x"
    raw["devices"].append({"id": "y.scheduler", "kind": "kiosk"})
    hall_file = tmp_path / "x.yaml"
    hall_file.write_text(yaml.safe_dump(raw, allow_unicode=True))
    broker = tmp_path / "broker"
    BrokerFolder(broker).init("x", ["localhost"], now=dt.datetime.now(dt.UTC))
    before = (broker / "passwd").read_bytes() if (broker / "passwd").exists() else b""
    with pytest.raises((SystemExit, ValidationError, ValueError)):
        paidui(
            [
                "devices", "provision", "y.scheduler", "--hall", str(hall_file),
                "--dir", str(broker), "--out", str(tmp_path / "bundle"),
                "--broker-host", "localhost",
            ]
        )  # fmt: skip
    after = (broker / "passwd").read_bytes() if (broker / "passwd").exists() else b""
    assert after == before


def test_a_crash_while_writing_the_password_file_keeps_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = BrokerFolder(tmp_path)
    folder.set_password("demo.kiosk-1", "first")
    folder.set_password("demo.kiosk-2", "second")
    before = folder.passwd.read_bytes()

    def power_cut(_fd: int) -> None:  # stands in for the machine dying mid-write
        raise OSError("power cut")

    monkeypatch.setattr(os, "fsync", power_cut)
    with pytest.raises(OSError, match="power cut"):
        folder.set_password("demo.kiosk-3", "third")
    assert folder.passwd.read_bytes() == before
    assert folder.identities() == ["demo.kiosk-1", "demo.kiosk-2"]
    assert [p.name for p in tmp_path.iterdir()] == ["passwd"]  # no partial file left
    assert folder.passwd.stat().st_mode & 0o777 == 0o600
