"""The conformance kit for RS-485 caller keypad drivers and profiles.

A driver package (or a new profile of a built-in driver) subclasses
``KeypadConformance`` in one of its test modules::

    from paidui.testing.keypads import KeypadConformance
    from acme_led.keypad import DRIVER

    class TestAcmeKeypad(KeypadConformance):
        driver = DRIVER
        profile_name = "acme-bcd-keypad"

and pytest runs every test below against it. The pure tests check the driver's two
sides against each other: every key of the profile, with a number where it takes one,
encoded as the device sends it and decoded as the host reads it, comes out the same
action; any frame at all is an action or noise, never an exception. The last one runs
the real counter daemon on a pty to the emulated keypad, with real mosquitto and the
real scheduler: a clerk logs in and calls a ticket with its keys.
Needs pytest, hypothesis and mosquitto (``apt-get install mosquitto``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from counter_terminal.bus_protocol import BusFrame
from counter_terminal.daemon import CounterSettings
from counter_terminal.drivers import KEYPAD_DRIVERS, KeypadDriver, load_counter_profile
from counter_terminal.keys import NUMBERED_KEYS, ClerkAction, ClerkKey, KeyNoise
from counter_terminal.profile import BusKeypadBase, bus_family
from counter_terminal.terminal import CounterTerminal
from hallbus.client import BusClient
from hallbus.hall_file import DEMO_HALL_FILE, DeviceConfig, HallConfig, load_hall
from hallbus.links import SerialLink
from hallbus.messages import DeviceKind, WindowState, WindowStatus, decode
from hallbus.settings import BusSettings
from hallbus.topics import HallTopics
from paidui.testing import running_broker
from scheduler.bridge import SchedulerService
from scheduler.store import Store
from simulator.counter_bus_emulator import CounterBusEmulator
from simulator.devices import VirtualKiosk
from simulator.mailbox import Mailbox

WAIT = 10.0  # seconds any one expected thing may take
# A number for each key that takes one: a clerk code, a window, a service, a ticket.
NUMBERS = {
    ClerkKey.LOGIN: "1001",
    ClerkKey.TRANSFER_WINDOW: "2",
    ClerkKey.TRANSFER_SERVICE: "1",
    ClerkKey.CALL_TICKET: "7",
}


class KeypadConformance:
    """Subclass with ``driver`` and ``profile_name`` (and ``address`` if 1 is not valid)."""

    driver: ClassVar[KeypadDriver]
    profile_name: ClassVar[str]
    address: ClassVar[int] = 1

    def profile(self) -> BusKeypadBase:
        """The profile under test, loaded the way the daemon loads it."""
        profile = load_counter_profile(self.profile_name)
        assert isinstance(profile, BusKeypadBase), f"{self.profile_name} is not a bus keypad"
        return profile

    def frames(self, key: ClerkKey, number: str) -> list[BusFrame]:
        """The key frames the device sends, as the host receives them."""
        profile = self.profile()
        function = profile.key_frames.function
        function = profile.functions.key if function is None else function
        sequence = b"\x01" if profile.sequence_byte else b""
        return [
            BusFrame(self.address, function, sequence + data)
            for data in self.driver.encode(profile, key, number)
        ]

    # --- pure -------------------------------------------------------------------------
    def test_the_driver_is_registered_under_the_profile_s_type(self) -> None:
        assert KEYPAD_DRIVERS.get(self.driver.type) is self.driver
        profile = self.profile()
        assert profile.type == self.driver.type
        assert isinstance(profile, self.driver.profile_model)

    def test_every_key_reads_back_as_the_clerk_pressed_it(self) -> None:
        profile = self.profile()
        assert ClerkKey.CALL_NEXT in profile.keys.values(), "a keypad must call the next"
        for key in sorted(set(profile.keys.values())):
            number = NUMBERS.get(key, "") if key in NUMBERED_KEYS else ""
            decoder = self.driver.decoder(profile)
            results = [decoder.action(f, float(i)) for i, f in enumerate(self.frames(key, number))]
            assert results[-1] == ClerkAction(key, number or None), (key, results)
            assert all(isinstance(r, ClerkAction) and r.key is key for r in results), results

    # Each subclass runs this with its own driver: the executors differ by design.
    @settings(deadline=None, suppress_health_check=[HealthCheck.differing_executors])
    @given(st.lists(st.binary(max_size=12), max_size=6))
    def test_any_frame_is_an_action_or_noise(self, payloads: list[bytes]) -> None:
        profile = self.profile()
        decoder = self.driver.decoder(profile)
        for at, data in enumerate(payloads):
            result = decoder.action(BusFrame(self.address, profile.functions.key, data), at)
            assert isinstance(result, ClerkAction | KeyNoise)
            if isinstance(result, ClerkAction) and result.number is not None:
                assert result.number.isdigit() and result.key in NUMBERED_KEYS

    # --- the real daemon on a pty ---------------------------------------------------------
    @pytest.fixture(scope="class")
    @classmethod
    def bus(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusSettings]:
        """mosquitto with the project's demo configuration, for this class."""
        yield from running_broker(tmp_path_factory)

    def hall(self) -> HallConfig:
        """The demo hall with this keypad at window 1."""
        base = load_hall(DEMO_HALL_FILE)
        devices = [
            DeviceConfig(id="kiosk-1", kind=DeviceKind.KIOSK),
            DeviceConfig(
                id="counter-1", kind=DeviceKind.COUNTER, window=1, bus_address=self.address
            ),
        ]
        return base.model_copy(update={"id": f"kit-{uuid.uuid4().hex[:8]}", "devices": devices})

    def test_the_counter_daemon_logs_in_and_calls_with_its_keys(
        self, bus: BusSettings, tmp_path: Path
    ) -> None:
        hall, profile = self.hall(), self.profile()
        if ClerkKey.LOGIN not in profile.keys.values():
            pytest.skip(f"{self.profile_name} has no login key (its clerks log in by card)")
        scheduler = SchedulerService(hall, Store(Store.sqlite_url(tmp_path / "k.db"), hall.id), bus)
        line = CounterBusEmulator(bus_family(profile))
        line.add(self.address, profile)
        port = line.serve_pty(tmp_path / "ttyRS485")
        terminal = CounterTerminal(
            bus,
            hall,
            [1],
            keypad=profile,
            line=SerialLink(port, bus_family(profile).line),
            counter=CounterSettings(reply_timeout_s=1.0, give_up_s=20.0),
        )
        topics = HallTopics(hall.id)
        states: Mailbox[WindowState] = Mailbox()
        watcher = BusClient(bus, f"kit-watch-{hall.id}", topics.availability("kit-watch"))
        watcher.subscribe(
            topics.window_state(1), lambda _t, p: states.put(decode(WindowState, p)), inline=True
        )
        kiosk = VirtualKiosk(bus, hall.id, "kiosk-1")
        scheduler.start()
        watcher.start()
        terminal.start()
        kiosk.start()
        try:
            assert line.press(self.address, ClerkKey.LOGIN, NUMBERS[ClerkKey.LOGIN])
            assert states.wait_for(lambda s: s.status is WindowStatus.OPEN, WAIT)
            issued = kiosk.issue(hall.services[0].code)
            assert issued.status == "ok", issued
            assert line.press(self.address, ClerkKey.CALL_NEXT)
            assert states.wait_for(lambda s: s.current is not None, WAIT)
        finally:
            kiosk.stop()
            terminal.stop()
            line.stop()
            watcher.stop()
            scheduler.stop()
