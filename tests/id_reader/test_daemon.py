"""The reader daemon against the emulated reader over a real pty and the real broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from hallbus.daemon import DeviceDaemon
from hallbus.hall_file import HallConfig
from hallbus.links import SerialLine, SerialLink
from hallbus.messages import CardKind, Gender
from hallbus.settings import BusSettings
from id_reader.daemon import IdReaderDaemon, IdReaderSettings, TapTracker
from id_reader.privacy import age_on
from id_reader.sam_protocol import Command, Status
from id_reader.sam_reader import SamCardSource
from simulator.id_cards import ELDERLY_RESIDENT, FOREIGN_PERMANENT, YOUNG_RESIDENT
from simulator.id_reader_emulator import FindAfterRead, IdReaderEmulator
from tests.conftest import WAIT
from tests.id_reader.readers import FAST, HASHER, Watch, healthy, more_polls, watch

READER = "idr-1"


@pytest.fixture
def emulator(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[IdReaderEmulator]:
    """A reader on a pty behind a stable path, as udev's by-id link gives one."""
    mode: FindAfterRead = getattr(request, "param", "fails")
    reader = IdReaderEmulator(find_after_read=mode)
    reader.serve_pty(tmp_path / "ttyIDR0")
    yield reader
    reader.stop()


@pytest.fixture
def reader(
    emulator: IdReaderEmulator,
    tmp_path: Path,
    devices: Callable[..., DeviceDaemon],
    bus: BusSettings,
    hall: HallConfig,
) -> Iterator[tuple[IdReaderDaemon, Watch]]:
    """The daemon on the emulator's port, and an observer of what it publishes."""
    observed = watch(bus, hall.id, READER)
    source = SamCardSource(SerialLink(str(tmp_path / "ttyIDR0"), SerialLine()), FAST)
    daemon: IdReaderDaemon = devices(
        IdReaderDaemon, READER, source, HASHER, IdReaderSettings(elderly_age=60)
    )
    assert observed.status(healthy), "the reader never came up"
    yield daemon, observed
    observed.stop()


@pytest.mark.parametrize("emulator", ["fails", "succeeds"], indirect=True)
def test_one_event_per_tap_while_the_card_stays(
    emulator: IdReaderEmulator, reader: tuple[IdReaderDaemon, Watch]
) -> None:
    _, observed = reader
    emulator.place(ELDERLY_RESIDENT)
    assert observed.events.wait_count(1, WAIT)
    assert more_polls(emulator, 15)  # the card stays on the reader for many polls
    (card,) = observed.cards()
    assert card.id_hash == HASHER.hash(ELDERLY_RESIDENT.id_number)
    assert card.masked_name == "张*明"
    assert card.card_kind is CardKind.RESIDENT and card.gender is Gender.MALE
    assert card.age == age_on(date(1950, 3, 7), card.read_at.date()) and card.elderly
    # Lifted and tapped again: a second tap.
    emulator.remove()
    assert more_polls(emulator, 3)
    emulator.place(ELDERLY_RESIDENT)
    assert observed.events.wait_count(2, WAIT)
    assert more_polls(emulator, 10)
    assert len(observed.cards()) == 2


def test_different_people_and_cards(
    emulator: IdReaderEmulator, reader: tuple[IdReaderDaemon, Watch]
) -> None:
    _, observed = reader
    emulator.place(YOUNG_RESIDENT)
    assert observed.events.wait_count(1, WAIT)
    emulator.place(FOREIGN_PERMANENT)  # swapped without a gap: another card, another tap
    assert observed.events.wait_count(2, WAIT)
    young, foreign = observed.cards()
    assert young.masked_name == "阿******提" and not young.elderly
    assert young.gender is Gender.FEMALE
    assert foreign.card_kind is CardKind.FOREIGN_PERMANENT
    assert foreign.id_hash == HASHER.hash(FOREIGN_PERMANENT.id_number)
    assert foreign.masked_name == "史*斯" and foreign.elderly


def test_unplugged_reader_is_reported_and_recovers(
    emulator: IdReaderEmulator, reader: tuple[IdReaderDaemon, Watch]
) -> None:
    _, observed = reader
    seen = observed.seen()
    emulator.unplug()
    gone = observed.status(lambda s: "reader_unplugged" in s.faults)
    assert gone is not None and not gone.healthy
    assert "ttyIDR0" in gone.detail["reader"]
    emulator.plug()
    assert observed.recovers("reader_unplugged", after=seen)
    emulator.place(YOUNG_RESIDENT)
    assert observed.events.wait_count(1, WAIT)


def test_garbage_on_the_line_is_reported_then_cleared(
    emulator: IdReaderEmulator, reader: tuple[IdReaderDaemon, Watch]
) -> None:
    _, observed = reader
    seen = observed.seen()
    emulator.faults.garbage = b"\x00\x13\x37\xaa\x96noise"
    noisy = observed.status(lambda s: "line_noise" in s.faults, after=seen)
    assert noisy is not None and noisy.healthy  # noise alone does not stop reading
    assert "outside a frame" in noisy.detail["last_problem"]
    assert observed.recovers("line_noise", after=seen)
    emulator.place(ELDERLY_RESIDENT)
    assert observed.events.wait_count(1, WAIT)


def test_bad_checksums_mid_read_still_give_exactly_one_event(
    emulator: IdReaderEmulator, reader: tuple[IdReaderDaemon, Watch]
) -> None:
    _, observed = reader
    seen = observed.seen()
    emulator.faults.corrupt_replies = 3
    emulator.place(ELDERLY_RESIDENT)
    assert observed.events.wait_count(1, WAIT)
    assert observed.recovers("line_noise", after=seen)
    assert more_polls(emulator, 10)
    assert len(observed.cards()) == 1


def test_sam_failure_is_reported_and_recovers(
    emulator: IdReaderEmulator, reader: tuple[IdReaderDaemon, Watch]
) -> None:
    _, observed = reader
    seen = observed.seen()
    emulator.faults.sam_status = Status.SELF_TEST_FAILED
    failed = observed.status(lambda s: "sam_fault" in s.faults)
    assert failed is not None and not failed.healthy
    assert "self-test" in failed.detail["last_problem"]
    emulator.faults.sam_status = None
    assert observed.recovers("sam_fault", after=seen)


def test_slow_replies_within_the_timeout_work_and_a_silent_reader_is_reported(
    emulator: IdReaderEmulator, reader: tuple[IdReaderDaemon, Watch]
) -> None:
    _, observed = reader
    emulator.faults.reply_delay_s = FAST.reply_timeout_s / 3
    emulator.place(ELDERLY_RESIDENT)
    assert observed.events.wait_count(1, WAIT)
    seen = observed.seen()
    emulator.faults.silent = True
    silent = observed.status(lambda s: "no_response" in s.faults)
    assert silent is not None and not silent.healthy
    emulator.faults.silent = False
    emulator.faults.reply_delay_s = 0
    assert observed.recovers("no_response", after=seen)
    assert len(observed.cards()) == 1


def test_unreadable_card_is_reported_without_the_number(
    emulator: IdReaderEmulator,
    reader: tuple[IdReaderDaemon, Watch],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, observed = reader
    broken = replace(YOUNG_RESIDENT, id_number=YOUNG_RESIDENT.id_number[:-1] + "0")
    emulator.place(broken)
    status = observed.status(lambda s: "card_unreadable" in s.faults)
    assert status is not None and status.healthy
    assert "check digit" in status.detail["last_problem"]
    assert observed.cards() == []
    assert broken.id_number not in caplog.text
    assert broken.id_number not in status.model_dump_json()
    emulator.remove()
    assert observed.recovers("card_unreadable")


def test_reader_answers_every_command_of_the_cycle(
    emulator: IdReaderEmulator, reader: tuple[IdReaderDaemon, Watch]
) -> None:
    _, observed = reader
    emulator.place(YOUNG_RESIDENT)
    assert observed.events.wait_count(1, WAIT)
    assert emulator.count(Command.SAM_STATUS) >= 1
    assert emulator.count(Command.SELECT_CARD) >= 1
    assert emulator.count(Command.READ_TEXT_PHOTO) == 1


def test_tap_tracker_rules() -> None:
    tracker = TapTracker(absent_polls=2)
    assert tracker.card("a", 0.0)
    assert not tracker.card("a", 0.1)
    assert not tracker.no_card()  # one miss: the card may just have slid
    assert not tracker.card("a", 0.2)
    assert not tracker.no_card() and tracker.no_card()  # two misses in a row: gone
    assert tracker.card("a", 0.3)
    assert tracker.card("b", 0.4)
    guarded = TapTracker(absent_polls=1, repeat_guard_s=2.0)
    assert guarded.card("n", 10.0)
    assert guarded.no_card()
    assert not guarded.card("n", 11.0)  # a wedge repeating itself
    assert guarded.no_card()
    assert guarded.card("n", 12.5)
