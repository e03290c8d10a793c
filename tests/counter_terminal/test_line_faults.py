"""What goes wrong on a counter's line: lost echoes, noise, corrupt frames, a silent
keypad, an unplugged adapter, a scheduler restart. Nothing is called twice or lost."""

from __future__ import annotations

import random
from pathlib import Path

from counter_terminal.keys import ClerkKey as K
from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig
from hallbus.messages import TicketState, WindowStatus
from hallbus.settings import BusSettings
from scheduler.bridge import SchedulerService
from scheduler.store import Store
from tests.conftest import WAIT, Tickets
from tests.counter_terminal.counters import bus_counter


def test_a_lost_echo_makes_the_keypad_resend_and_the_key_still_acts_once(
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
        assert seen.key("counter-1", "ok") is not None
        line.faults.lost_echoes = 2  # the keypad sends "next" three times
        keys_before = seen.key_count("counter-1")
        assert line.press(1, K.CALL_NEXT)
        assert seen.window(1, lambda w: w.current is not None and w.current.label == "A001")
        assert seen.keys["counter-1"].wait_count(keys_before + 1, WAIT)
        # Noise on the line and a frame with a bad checksum: the host drops it (no echo),
        # the keypad sends it again, and it acts once.
        # 2 KB of random bytes (start bytes and wake bytes among them) before the frame.
        line.faults.noise = random.Random(3).randbytes(2048)
        line.faults.corrupt_next = True
        assert line.press(1, K.RECALL)
        assert seen.window(1, lambda w: w.current is not None and w.current.recalls == 1)
        assert line.press(1, K.CALL_NEXT)
        assert seen.window(1, lambda w: w.current is not None and w.current.label == "A002")
        assert counter.terminal.line is not None and counter.terminal.line.noise >= 2
        assert seen.keys["counter-1"].wait_count(keys_before + 3, WAIT)
    counts = scheduler.store.ticket_counts()
    assert counts == {"done": 1, "called": 1, "waiting": 1}, counts
    # One key event per press: three sends of one "next" made one.
    assert len(seen.keys["counter-1"].items()) == keys_before + 3


def test_a_keypad_without_a_sequence_byte_tells_resends_by_time(
    scheduler: SchedulerService,
    tickets: Tickets,
    bus: BusSettings,
    hall: HallConfig,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    tickets(2)
    with bus_counter(
        bus, hall, clock, tmp_path, [1], keypad="rs485-keypad-basic", rater=None
    ) as counter:
        line, seen = counter.line, counter.seen
        assert line.press(1, K.LOGIN, "1003")
        line.faults.lost_echoes = 1
        assert line.press(1, K.CALL_NEXT)
        assert seen.window(1, lambda w: w.current is not None and w.current.label == "A001")
        # One key toggles pause on this model. (The same key again within the repeat
        # window would be taken for a resend, so the clerk's next key comes between.)
        assert line.press(1, K.PAUSE_TOGGLE)
        assert seen.window(1, lambda w: w.status is WindowStatus.PAUSED)
        assert line.press(1, K.CALL_NEXT)
        assert seen.key("counter-1", "window_paused") is not None
        assert line.press(1, K.PAUSE_TOGGLE)
        assert seen.window(1, lambda w: w.status is WindowStatus.OPEN)
    assert scheduler.store.ticket_counts() == {"called": 1, "waiting": 1}


def test_a_silent_keypad_and_an_unplugged_line_are_reported_and_recover(
    scheduler: SchedulerService,
    bus: BusSettings,
    hall: HallConfig,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    with bus_counter(bus, hall, clock, tmp_path, [1, 2]) as counter:
        line, seen = counter.line, counter.seen
        assert seen.status("counter-1", faults=set())
        line.faults.silent.add(2)
        assert seen.status("counter-2", faults={"not_answering"})
        silent = seen.status_count("counter-2")
        assert line.press(1, K.LOGIN, "1001")  # the others on the line carry on
        assert seen.window(1, lambda w: w.status is WindowStatus.OPEN)
        line.faults.silent.clear()
        assert seen.status("counter-2", faults=set(), after=silent)
        # The adapter is pulled: every device on it says so; plugged back, all recover
        # and the keypad's screen is sent again.
        before = {d: seen.status_count(d) for d in ("counter-1", "pad-2")}
        line.unplug()
        assert seen.status("counter-1", faults={"line_unplugged"}, after=before["counter-1"])
        assert seen.status("pad-2", faults={"line_unplugged"}, after=before["pad-2"])
        unplugged = seen.status_count("counter-1")
        shown = len(line.shown.items())
        line.plug()
        assert seen.status("counter-1", faults=set(), after=unplugged)
        assert line.shown.wait_for(lambda s: s.address == 1, WAIT, after=shown)
        assert line.press(1, K.PAUSE)
        assert seen.window(1, lambda w: w.status is WindowStatus.PAUSED)


def test_a_key_pressed_while_the_scheduler_restarts_acts_once_when_it_is_back(
    scheduler: SchedulerService,
    tickets: Tickets,
    bus: BusSettings,
    hall: HallConfig,
    clock: FakeClock,
    db_url: str,
    tmp_path: Path,
) -> None:
    tickets(2)
    with bus_counter(bus, hall, clock, tmp_path, [1]) as counter:
        line, seen = counter.line, counter.seen
        assert line.press(1, K.LOGIN, "1001")
        assert seen.window(1, lambda w: w.status is WindowStatus.OPEN)
        scheduler.stop()
        assert line.press(1, K.CALL_NEXT)  # the keypad's daemon keeps resending it
        restarted = SchedulerService(
            hall, Store(db_url, hall.id), bus, clock=clock, client_id=f"scheduler-{hall.id}"
        )
        restarted.start()
        try:
            assert seen.window(1, lambda w: w.current is not None and w.current.label == "A001")
            assert seen.key("counter-1", "ok", after=1) is not None
            assert restarted.store.ticket_counts() == {
                TicketState.CALLED.value: 1,
                TicketState.WAITING.value: 1,
            }
        finally:
            restarted.stop()
