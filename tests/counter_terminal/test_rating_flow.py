"""Rating at the counter end to end: the emulated rater on the RS-485 line, the real
counter daemon, mosquitto and the scheduler's ledger."""

from __future__ import annotations

from pathlib import Path

from counter_terminal.drivers import load_counter_profile
from counter_terminal.keys import ClerkKey as K
from counter_terminal.profile import BusRaterProfile
from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig
from hallbus.messages import (
    UNRATED,
    BadRatingReason,
    RatingLevel,
    RatingRecorded,
    RatingSource,
)
from hallbus.settings import BusSettings
from scheduler.bridge import SchedulerService
from tests.conftest import WAIT, Tickets
from tests.counter_terminal.counters import Counter, bus_counter

RATER = load_counter_profile("rs485-rater-5key")
assert isinstance(RATER, BusRaterProfile)
STATES = RATER.prompt_states


def _serve_one(counter: Counter, window: int = 1) -> str:
    """Call the next ticket and finish it; the rater lights up. Returns the ticket label."""
    line, seen = counter.line, counter.seen
    assert line.press(window, K.CALL_NEXT)
    state = seen.window(window, lambda w: w.current is not None)
    assert state is not None and state.current is not None
    after = len(line.shown.items())
    assert line.press(window, K.FINISH)
    assert line.shown.wait_for(
        lambda s: s.address == 10 + window and s.prompt == STATES.rate, WAIT, after=after
    )
    return state.current.label


def _records(counter: Counter, count: int) -> list[RatingRecorded]:
    assert counter.seen.ratings.wait_count(count, WAIT)
    return list(counter.seen.rating_records())


def test_every_level_and_a_bad_rating_with_its_reason(
    scheduler: SchedulerService,
    tickets: Tickets,
    bus: BusSettings,
    hall: HallConfig,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    tickets(6)
    with bus_counter(bus, hall, clock, tmp_path, [1]) as counter:
        line = counter.line
        assert line.press(1, K.LOGIN, "1001")
        levels = list(RatingLevel)
        reasons = {
            RatingLevel.DISSATISFIED: (2, BadRatingReason.EFFICIENCY),
            RatingLevel.VERY_DISSATISFIED: (1, BadRatingReason.ATTITUDE),
        }
        for index, level in enumerate(levels):
            label = _serve_one(counter)
            button = RATER.rating.levels.index(level) + 1
            after = len(line.shown.items())
            assert line.press_button(11, button)
            if level.is_bad:
                # The rater lights the reason keys; the citizen picks one.
                assert line.shown.wait_for(
                    lambda s: s.address == 11 and s.prompt == STATES.reason, WAIT, after=after
                )
                assert line.press_button(11, reasons[level][0])
            record = _records(counter, index + 1)[index]
            assert record.ticket_label == label
            assert record.outcome == level and record.source is RatingSource.PAD
            assert record.reason == (reasons[level][1] if level.is_bad else None)
            assert record.clerk_code == "1001"
            assert line.shown.wait_for(
                lambda s: s.address == 11 and s.prompt == STATES.thanks, WAIT
            )
        assert scheduler.store.rating_counts() == {level.value: 1 for level in levels}


def test_stray_and_repeated_keys_change_nothing_and_a_timeout_records_unrated(
    scheduler: SchedulerService,
    tickets: Tickets,
    bus: BusSettings,
    hall: HallConfig,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    tickets(3)
    with bus_counter(bus, hall, clock, tmp_path, [1]) as counter:
        line, seen = counter.line, counter.seen
        assert line.press(1, K.LOGIN, "1001")
        # Nobody was asked: a press on the rater is ignored, published and logged.
        assert line.press_button(11, 5)
        stray = seen.key("pad-1", "stray")
        assert stray is not None and not stray.accepted
        # Rated once; pressing again, even another level, changes nothing.
        _serve_one(counter)
        assert line.press_button(11, 1)
        assert _records(counter, 1)[0].outcome is RatingLevel.VERY_SATISFIED
        before = seen.key_count("pad-1")
        assert line.press_button(11, 5)
        assert seen.key("pad-1", "repeated", after=before) is not None
        # Nobody answers the next prompt: at the deadline the scheduler records `unrated`.
        _serve_one(counter)
        clock.advance(hall.rating_timeout_s + 1)
        records = _records(counter, 2)
        assert records[1].outcome == UNRATED and records[1].source is RatingSource.TIMEOUT
        assert line.shown.wait_for(lambda s: s.address == 11 and s.prompt == STATES.idle, WAIT)
        # A press after the prompt closed is stray again.
        before = seen.key_count("pad-1")
        assert line.press_button(11, 2)
        assert seen.key("pad-1", "stray", after=before) is not None
        assert scheduler.store.rating_counts() == {
            RatingLevel.VERY_SATISFIED.value: 1,
            UNRATED: 1,
        }
