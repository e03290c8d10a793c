"""USB HID keypads and pads through the daemon, with synthetic key events.

This machine has no ``/dev/uinput``, so no real input device can be created: the key
events come from ``simulator.key_source.SyntheticKeySource`` behind the same interface
the evdev source implements (``hallbus.input_keys.EvdevKeySource``), and only opening a
device that is not there runs real evdev code.
"""

from __future__ import annotations

import pytest

from counter_terminal.daemon import PadView
from counter_terminal.drivers import load_counter_profile
from counter_terminal.profile import HidKeypadProfile, HidPadProfile
from counter_terminal.rating import Phase
from counter_terminal.terminal import CounterSetupError, CounterTerminal
from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig
from hallbus.input_keys import EvdevKeySource
from hallbus.links import LinkGone
from hallbus.messages import RatingLevel, WindowStatus
from hallbus.settings import BusSettings
from scheduler.bridge import SchedulerService
from simulator.key_source import SyntheticKeySource
from simulator.mailbox import Mailbox
from tests.conftest import WAIT, Tickets
from tests.counter_terminal.counters import FAST, observe

KEYPAD = load_counter_profile("usb-keypad-numeric")
PAD = load_counter_profile("usb-pad-5key")
assert isinstance(KEYPAD, HidKeypadProfile) and isinstance(PAD, HidPadProfile)


def test_usb_keypad_and_pad_serve_and_rate_and_survive_an_unplug(
    scheduler: SchedulerService,
    tickets: Tickets,
    bus: BusSettings,
    hall: HallConfig,
    clock: FakeClock,
) -> None:
    tickets(2)
    keys, pad_keys = SyntheticKeySource("Keypad"), SyntheticKeySource("Evaluator")
    seen = observe(bus, hall, [3])
    terminal = CounterTerminal(
        bus,
        hall,
        [3],
        keypad=KEYPAD,
        pad=PAD,
        hid_sources={("keypad", 3): keys, ("pad", 3): pad_keys},
        counter=FAST,
        clock=clock,
    )
    views: Mailbox[PadView] = Mailbox()
    terminal.pads[3].listeners.append(views.put)
    terminal.start()
    try:
        keys.press("KEY_KP1", "KEY_KP0", "KEY_KP0", "KEY_KP3", "KEY_TAB")  # log in as 1003
        assert seen.window(3, lambda w: w.clerk is not None and w.clerk.code == "1003")
        # Window 3 handles tax only: nothing waits there yet.
        keys.press("KEY_KPENTER")
        assert seen.key("counter-3", "nothing_waiting") is not None
        tickets(1, "tax")
        keys.press("KEY_KPENTER")
        assert seen.window(3, lambda w: w.current is not None and w.current.label == "B001")
        keys.press("KEY_KPASTERISK")  # finish: the pad is asked
        assert views.wait_for(lambda v: v.phase is Phase.RATING, WAIT)
        pad_keys.press("KEY_F2")
        assert seen.ratings.wait_count(1, WAIT)
        assert seen.rating_records()[0].outcome is RatingLevel.SATISFIED
        # Unplugged: the keypad says so in its status; plugged back, keys work again.
        keys.unplug()
        assert seen.status("counter-3", faults={"input_unplugged"})
        unplugged = seen.status_count("counter-3")
        keys.plug()
        assert seen.status("counter-3", faults=set(), after=unplugged)
        keys.press("KEY_NUMLOCK")
        assert seen.window(3, lambda w: w.status is WindowStatus.PAUSED)
        # A key outside the key map is noise, reported, not acted on.
        keys.press("KEY_Q")
        assert seen.key("counter-3", "ignored") is not None
    finally:
        terminal.stop()
        seen.stop()


def test_a_usb_device_needs_its_input_and_a_bus_profile_its_port(
    bus: BusSettings, hall: HallConfig
) -> None:
    with pytest.raises(CounterSetupError, match="no input device"):
        CounterTerminal(bus, hall, [1], keypad=KEYPAD)
    bus_keypad = load_counter_profile("rs485-keypad-lcd")
    assert bus_keypad.type == "bus_keypad"
    with pytest.raises(CounterSetupError, match="port"):
        CounterTerminal(bus, hall, [1], keypad=bus_keypad)  # type: ignore[arg-type]
    basic = load_counter_profile("rs485-keypad-basic")
    rater = load_counter_profile("rs485-rater-5key")
    with pytest.raises(CounterSetupError, match="different buses"):
        CounterTerminal(bus, hall, [1], keypad=basic, pad=rater)  # type: ignore[arg-type]


def test_evdev_finds_no_keypad_here_and_says_so() -> None:
    pytest.importorskip("evdev")
    with pytest.raises(LinkGone, match="Keypad"):
        EvdevKeySource(KEYPAD.device_name).open()
