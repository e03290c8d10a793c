"""Shipped reader profiles, the driver factory, the commands, keyed hashes and masking."""

from __future__ import annotations

import io
import logging
from datetime import date, datetime
from pathlib import Path

import pytest

from hallbus.identity import IdHasher, IdKeyError, new_id_key
from hallbus.profiles import ProfileError
from id_reader.drivers import card_source_for, load_reader_profile, reader_profile_names
from id_reader.privacy import age_on, card_event, mask_name
from id_reader.profile import SamSerialProfile, SamUsbProfile, WedgeProfile
from id_reader.sam_reader import SamCardSource
from id_reader.wedge_source import WedgeCardSource
from paidui.cli import main
from simulator.id_cards import ELDERLY_RESIDENT, SAMPLE_CARDS


def test_every_shipped_profile_loads_and_each_transport_is_covered() -> None:
    profiles = [load_reader_profile(name) for name in reader_profile_names()]
    kinds = {type(p) for p in profiles}
    assert kinds == {SamSerialProfile, SamUsbProfile, WedgeProfile}
    serial = load_reader_profile("sam-v-serial")
    assert isinstance(serial, SamSerialProfile)
    assert (serial.serial.baudrate, serial.serial.bytesize, serial.serial.parity) == (
        115200,
        8,
        "N",
    )
    assert serial.timing.read_timeout_s > serial.timing.reply_timeout_s  # from the _sam base


def test_a_bad_profile_names_the_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("name: x\ntransport: usb\nusb: {vendor_id: 1}\n")
    with pytest.raises(ProfileError, match=r"broken.*usb"):
        load_reader_profile("broken", tmp_path)


def test_driver_factory_by_transport() -> None:
    assert isinstance(card_source_for(load_reader_profile("sam-v-serial"), "/dev/x"), SamCardSource)
    assert isinstance(card_source_for(load_reader_profile("sam-v-usb"), None), SamCardSource)
    assert isinstance(card_source_for(load_reader_profile("generic-wedge"), None), WedgeCardSource)
    with pytest.raises(ValueError, match="--port"):
        card_source_for(load_reader_profile("sam-v-serial"), None)


def test_keyed_hash_is_stable_normalised_and_key_dependent() -> None:
    key = new_id_key()
    hasher = IdHasher.from_hex(key)
    number = "11010519491231002X"
    assert hasher.hash(number) == hasher.hash(" 11010519491231002x\n")
    assert hasher.hash(number) == IdHasher.from_hex(key).hash(number)
    assert hasher.hash(number) != IdHasher.from_hex(new_id_key()).hash(number)
    assert len(hasher.hash(number)) == 64 and key not in repr(hasher)
    with pytest.raises(IdKeyError):
        IdHasher(b"short")
    with pytest.raises(IdKeyError):
        IdHasher.from_hex("not hex")


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三明", "张*明"), ("王五", "王*"), ("欧阳小明", "欧**明"), ("SMITH JOHN", "S**** J***"),
     ("阿依古丽·买买提", "阿******提"), ("", ""), ("李", "李")],
)  # fmt: skip
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_age_turns_on_the_birthday_and_on_leap_days() -> None:
    assert age_on(date(1950, 3, 7), date(2026, 3, 6)) == 75
    assert age_on(date(1950, 3, 7), date(2026, 3, 7)) == 76
    assert age_on(date(2000, 2, 29), date(2026, 2, 28)) == 25
    assert age_on(date(2000, 2, 29), date(2026, 3, 1)) == 26


def test_card_event_carries_only_what_consumers_need() -> None:
    hasher = IdHasher.from_hex(new_id_key())
    now = datetime(2026, 11, 22, 9, 30)
    for card in SAMPLE_CARDS:
        event = card_event(card.holder, hasher, now, elderly_age=60)
        payload = event.model_dump_json()
        assert card.id_number not in payload and (card.name or card.name_en) not in payload
        assert set(event.model_dump()) == {
            "id_hash", "masked_name", "age", "read_at", "card_kind", "gender", "elderly",
        }  # fmt: skip
    elderly = card_event(ELDERLY_RESIDENT.holder, hasher, now, elderly_age=60)
    assert elderly.age == 76 and elderly.elderly
    assert not card_event(ELDERLY_RESIDENT.holder, hasher, now, elderly_age=80).elderly


def test_id_hash_command_matches_the_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "id.key"
    key_file.write_text(new_id_key())
    monkeypatch.setattr("sys.stdin", io.StringIO(ELDERLY_RESIDENT.id_number + "\n"))
    assert main(["id-hash", "--key-file", str(key_file)]) == 0
    expected = IdHasher.from_file(key_file).hash(ELDERLY_RESIDENT.id_number)
    assert capsys.readouterr().out.strip() == expected


def test_id_reader_refuses_to_start_without_a_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PAIDUI_ID_KEY_FILE", raising=False)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))  # main() installs its own
    monkeypatch.setattr(root, "level", root.level)
    assert main(["id-reader", "--port", "/dev/null"]) == 2
    assert "no ID key: give --key-file" in capsys.readouterr().err
