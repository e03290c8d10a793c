"""Field keypads and raters as deployed: bare key codes, numbers before their key or its
confirm, raters on their own function with their own echo. The emulator acts as each
device on a pty; the real counter daemon, mosquitto and the scheduler do the rest."""

from __future__ import annotations

from pathlib import Path

from counter_terminal.drivers import load_counter_profile
from counter_terminal.keys import ClerkKey as K
from counter_terminal.profile import BusRaterProfile
from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig
from hallbus.messages import BadRatingReason, RatingLevel, RatingSource, WindowStatus
from hallbus.settings import BusSettings
from scheduler.bridge import SchedulerService
from tests.conftest import WAIT, Tickets
from tests.counter_terminal.counters import bus_counter

RATER = load_counter_profile("field-rater-5key")
assert isinstance(RATER, BusRaterProfile)
STATES = RATER.prompt_states


def test_a_field_screen_keypad_and_rater_serve_and_rate(
    scheduler: SchedulerService,
    tickets: Tickets,
    bus: BusSettings,
    hall: HallConfig,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    tickets(3)
    with bus_counter(
        bus, hall, clock, tmp_path, [1, 2], keypad="field-keypad-lcd", rater="field-rater-5key"
    ) as counter:
        line, seen = counter.line, counter.seen
        # 03 E9 0A and 03 EA 0A: clerk codes as two-byte binaries before the login key.
        assert line.press(1, K.LOGIN, "1001") and line.press(2, K.LOGIN, "1002")
        assert seen.window(2, lambda w: w.status is WindowStatus.OPEN)
        assert line.press(1, K.CALL_TICKET, "2")  # 00 02 09: A002 out of order
        assert seen.window(1, lambda w: w.current is not None and w.current.label == "A002")
        assert line.shown.wait_for(lambda s: s.address == 1 and "A002" in s.lines[0], WAIT)
        assert line.press(1, K.FINISH)
        # The rater's press counts as sent only when the host echoed it with function
        # 0x85: an unchanged echo would leave it resending and this would be False.
        assert line.shown.wait_for(lambda s: s.address == 11 and s.prompt == STATES.rate, WAIT)
        assert line.press_button(11, 4)  # 不满意
        assert line.shown.wait_for(lambda s: s.address == 11 and s.prompt == STATES.reason, WAIT)
        assert line.press_button(11, 2)  # 效率
        assert seen.ratings.wait_count(1, WAIT)
        (record,) = seen.rating_records()
        assert (record.ticket_label, record.outcome, record.reason, record.source) == (
            "A002",
            RatingLevel.DISSATISFIED,
            BadRatingReason.EFFICIENCY,
            RatingSource.PAD,
        )
    assert scheduler.store.rating_counts() == {"dissatisfied": 1}


def test_a_field_keypad_transfers_with_the_number_then_confirm(
    scheduler: SchedulerService,
    tickets: Tickets,
    bus: BusSettings,
    hall: HallConfig,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    tickets(2)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    # This keypad has no login key: the clerks log in first (here from a screen keypad of
    # the same family; in a hall with their card on the paired reader).
    with bus_counter(
        bus, hall, clock, tmp_path / "a", [1, 2], keypad="field-keypad-lcd", rater=None
    ) as counter:
        assert counter.line.press(1, K.LOGIN, "1001") and counter.line.press(2, K.LOGIN, "1002")
        assert counter.seen.window(2, lambda w: w.status is WindowStatus.OPEN)
    with bus_counter(
        bus, hall, clock, tmp_path / "b", [1, 2], keypad="field-keypad-confirm", rater=None
    ) as counter:
        line, seen = counter.line, counter.seen
        assert line.press(1, K.CALL_NEXT)  # bare 0C
        assert seen.window(1, lambda w: w.current is not None and w.current.label == "A001")
        # 13 (转移), then 02 0F (2, 确认): two frames, one transfer to window 2.
        assert line.press(1, K.TRANSFER_WINDOW, "2")
        assert seen.window(1, lambda w: w.current is None)
        assert line.press(2, K.CALL_NEXT)
        assert seen.window(2, lambda w: w.current is not None and w.current.label == "A001")
