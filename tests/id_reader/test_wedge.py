"""Keyboard-wedge readers: the key map with synthetic key events.

This machine has no ``/dev/uinput``, so no real input device can be created: the key
events are synthetic and fed through the same ``KeyEventSource`` interface the evdev
driver implements. Only opening a device by name runs the real evdev code.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hallbus.daemon import DeviceDaemon
from hallbus.hall_file import HallConfig
from hallbus.input_keys import EvdevKeySource
from hallbus.links import LinkGone
from hallbus.messages import CardKind, Gender
from hallbus.settings import BusSettings
from id_reader.daemon import IdReaderDaemon, IdReaderSettings
from id_reader.drivers import load_reader_profile
from id_reader.profile import WedgeKeys, WedgeProfile
from id_reader.sources import NoCard, Tapped, Unreadable
from id_reader.wedge import KeyEvent, TypedNumber, WedgeDecoder, WedgeNoise
from id_reader.wedge_source import WedgeCardSource
from simulator.id_cards import ELDERLY_RESIDENT, id_number
from simulator.key_source import SyntheticKeySource
from tests.conftest import WAIT
from tests.id_reader.readers import HASHER, healthy, watch


def profile() -> WedgeProfile:
    """The shipped keyboard-wedge profile."""
    loaded = load_reader_profile("generic-wedge")
    assert isinstance(loaded, WedgeProfile)
    return loaded


def typing(number: str, start: float = 0.0, gap: float = 0.004) -> list[KeyEvent]:
    """Key events of a reader typing ``number`` and Enter (X with shift, as readers do)."""
    events, at = [], start
    for char in number:
        key = f"KEY_{char}"
        if char == "X":
            events.append(KeyEvent("KEY_LEFTSHIFT", True, at))
        events += [KeyEvent(key, True, at), KeyEvent(key, False, at + 0.001)]
        if char == "X":
            events.append(KeyEvent("KEY_LEFTSHIFT", False, at + 0.001))
        at += gap
    return [*events, KeyEvent("KEY_ENTER", True, at), KeyEvent("KEY_ENTER", False, at + 0.001)]


def decode_all(keys: WedgeKeys, events: list[KeyEvent]) -> list[TypedNumber | WedgeNoise]:
    """Every result of feeding ``events``."""
    decoder = WedgeDecoder(keys)
    return [r for e in events if (r := decoder.feed(e)) is not None]


def test_a_typed_number_with_check_letter() -> None:
    number = id_number("11010519491231002")  # ends in X
    assert number.endswith("X")
    assert decode_all(profile().wedge, typing(number)) == [TypedNumber(number)]


def test_keypad_digits_map_like_the_top_row() -> None:
    keys = profile().wedge
    events = [KeyEvent(f"KEY_KP{d}", True, i * 0.002) for i, d in enumerate("12345678901234567")]
    events += [KeyEvent("KEY_8", True, 0.04), KeyEvent("KEY_ENTER", True, 0.042)]
    assert decode_all(keys, events) == [TypedNumber("123456789012345678")]


def test_a_person_typing_slowly_never_makes_a_number() -> None:
    number = ELDERLY_RESIDENT.id_number
    results = decode_all(profile().wedge, typing(number, gap=0.3))
    assert not any(isinstance(r, TypedNumber) for r in results)
    assert any(isinstance(r, WedgeNoise) and "pause" in r.reason for r in results)


def test_wrong_length_and_unmapped_keys_are_noise_without_the_keys() -> None:
    short = decode_all(profile().wedge, typing("1234"))
    assert short == [WedgeNoise("4 characters typed, 18 expected")]
    stray = decode_all(profile().wedge, [KeyEvent("KEY_1", True, 0), KeyEvent("KEY_A", True, 0)])
    assert stray == [WedgeNoise("key KEY_A is not in the key map; 1 keys dropped")]


def test_typed_number_repr_hides_it() -> None:
    assert ELDERLY_RESIDENT.id_number not in repr(TypedNumber(ELDERLY_RESIDENT.id_number))


def test_wedge_source_turns_numbers_into_holders_and_rejects_bad_ones() -> None:
    keys = SyntheticKeySource("ID Card Reader")
    source = WedgeCardSource(profile(), keys)
    source.open()
    keys.pending.put(typing(ELDERLY_RESIDENT.id_number))
    result = source.poll()
    assert isinstance(result, Tapped)
    holder = result.holder
    assert holder.kind is CardKind.NUMBER_ONLY and holder.gender is Gender.MALE
    assert holder.birth_date == ELDERLY_RESIDENT.birth_date and holder.name == ""
    keys.pending.put(typing(ELDERLY_RESIDENT.id_number[:-1] + "0"))
    unreadable = source.poll()
    assert isinstance(unreadable, Unreadable) and "check digit" in unreadable.reason
    assert isinstance(source.poll(), NoCard)


def test_wedge_reader_daemon_publishes_one_event_per_tap(
    devices: Callable[..., DeviceDaemon], bus: BusSettings, hall: HallConfig
) -> None:
    keys = SyntheticKeySource("ID Card Reader")
    observed = watch(bus, hall.id, "idr-wedge")
    devices(
        IdReaderDaemon, "idr-wedge", WedgeCardSource(profile(), keys), HASHER, IdReaderSettings()
    )
    assert observed.status(healthy)
    other = id_number("32010619981105123")
    keys.pending.put(typing(ELDERLY_RESIDENT.id_number, start=100.0))
    keys.pending.put(typing(ELDERLY_RESIDENT.id_number, start=100.5))  # the reader repeats
    keys.pending.put(typing(other, start=101.0))  # typed after the repeat, so read after it
    assert observed.events.wait_count(2, WAIT)
    card, next_card = observed.cards()
    assert card.card_kind is CardKind.NUMBER_ONLY and card.masked_name == "" and card.elderly
    assert card.id_hash == HASHER.hash(ELDERLY_RESIDENT.id_number)
    assert next_card.id_hash == HASHER.hash(other) and not next_card.elderly
    observed.stop()


def test_evdev_finds_no_reader_here_and_says_so() -> None:
    pytest.importorskip("evdev")
    with pytest.raises(LinkGone, match="ID Card Reader"):
        EvdevKeySource("ID Card Reader").open()
