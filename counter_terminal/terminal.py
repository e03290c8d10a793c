"""A counter daemon process: the keypads and pads of some windows, wired to their hardware.

One process per RS-485 line (its keypads and raters may serve many windows), or per
counter with USB devices. Each window's keypad and pad are devices of their own on the
bus; the hardware behind them comes from the profiles.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from counter_terminal.bus_devices import (
    PHASE_TEXT,
    prompt_state,
    rater_button,
    screen_data,
)
from counter_terminal.bus_line import BusLine
from counter_terminal.bus_protocol import BusFrame
from counter_terminal.clerk import fit
from counter_terminal.daemon import CounterSettings, KeypadDevice, PadDevice, PadView
from counter_terminal.drivers import keypad_driver
from counter_terminal.keys import (
    ClerkAction,
    HidKeypadDecoder,
    HidPadDecoder,
    KeyNoise,
    PadButton,
)
from counter_terminal.profile import (
    BusKeypadBase,
    BusRaterProfile,
    HidKeypadProfile,
    HidPadProfile,
    KeypadProfile,
    PadProfile,
    bus_family,
)
from hallbus.clock import Clock
from hallbus.hall_file import DeviceConfig, HallConfig
from hallbus.input_keys import KeyEvent, KeyEventSource
from hallbus.links import ByteLink, LinkGone
from hallbus.messages import DeviceKind
from hallbus.settings import BusSettings

log = logging.getLogger(__name__)

READ_WAIT_S = 0.2
INPUT_UNPLUGGED = "input_unplugged"


class CounterSetupError(ValueError):
    """The hall file and the profiles do not fit together; the message says how."""


@dataclass
class HidInput:
    """One USB HID keypad or pad: reopened when unplugged, its keys through the key map."""

    source: KeyEventSource
    feed: Callable[[KeyEvent], None]
    on_problem: Callable[[bool, str], None]  # present, detail
    reconnect_s: float = 1.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Read in a thread of its own."""
        self._thread = threading.Thread(target=self._run, name=self.source.describe())
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        """Stop reading and release the device."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.source.close()

    def _run(self) -> None:
        opened = False
        while not self._stop.is_set():
            try:
                if not opened:
                    self.source.open()
                    opened = True
                    self.on_problem(False, "")
                for event in self.source.read(READ_WAIT_S):
                    self.feed(event)
            except LinkGone as err:
                if opened:
                    log.warning("input device lost", extra={"error": str(err)})
                with contextlib.suppress(OSError):
                    self.source.close()
                opened = False
                self.on_problem(True, str(err))
                self._stop.wait(self.reconnect_s)


def _window_device(hall: HallConfig, window: int, kind: DeviceKind) -> DeviceConfig:
    found = hall.devices_of_window(window, kind)
    if not found:
        raise CounterSetupError(f"the hall file has no {kind.value} device at window {window}")
    return found[0]


def _address(device: DeviceConfig) -> int:
    if device.bus_address is None:
        raise CounterSetupError(f"{device.id} is on the RS-485 bus but has no bus_address")
    return device.bus_address


class CounterTerminal:
    """The keypads and pads of ``windows``, on one RS-485 line and/or USB devices."""

    def __init__(
        self,
        settings: BusSettings,
        hall: HallConfig,
        windows: list[int],
        *,
        keypad: KeypadProfile | None = None,
        pad: PadProfile | None = None,
        line: ByteLink | None = None,
        hid_sources: dict[tuple[str, int], KeyEventSource] | None = None,
        counter: CounterSettings | None = None,
        clock: Clock | None = None,
    ) -> None:
        if keypad is None and pad is None:
            raise CounterSetupError("give a keypad profile, a pad profile, or both")
        bus_profiles = [p for p in (keypad, pad) if isinstance(p, BusKeypadBase | BusRaterProfile)]
        families = {bus_family(p) for p in bus_profiles}
        if len(families) > 1:
            raise CounterSetupError("the keypad and the rater profiles speak different buses")
        if bus_profiles and line is None:
            raise CounterSetupError("an RS-485 profile needs the line's port")
        self.hall = hall
        self.keypads: dict[int, KeypadDevice] = {}
        self.pads: dict[int, PadDevice] = {}
        self.line = BusLine(line, families.pop()) if bus_profiles and line is not None else None
        self._inputs: list[HidInput] = []
        sources = hid_sources or {}
        for window in windows:
            if keypad is not None:
                self._keypad(settings, window, keypad, sources, counter, clock)
            if pad is not None:
                self._pad(settings, window, pad, sources, counter, clock)

    # --- wiring ------------------------------------------------------------------------
    def _keypad(
        self,
        settings: BusSettings,
        window: int,
        profile: KeypadProfile,
        sources: dict[tuple[str, int], KeyEventSource],
        counter: CounterSettings | None,
        clock: Clock | None,
    ) -> None:
        device = _window_device(self.hall, window, DeviceKind.COUNTER)
        if isinstance(profile, BusKeypadBase):
            assert self.line is not None
            line, address, display = self.line, _address(device), profile.display
            keypad = KeypadDevice(
                settings,
                self.hall,
                device,
                display=display,
                screen=(
                    (
                        lambda lines: line.send(
                            address, profile.functions.display, screen_data(lines, display)
                        )
                    )
                    if display is not None
                    else None
                ),
                counter=counter,
                clock=clock,
            )

            frames = keypad_driver(profile).decoder(profile)

            def on_frame(frame: BusFrame) -> None:
                action = frames.action(frame, time.monotonic())
                if isinstance(action, ClerkAction):
                    keypad.press(action)
                else:
                    keypad.noise(action.reason)

            line.attach(
                address,
                on_frame,
                lambda _a, p: _line_health(keypad, p),
                key_function=profile.key_frames.function,
                echo_function=profile.key_frames.echo_function,
            )
        else:
            keypad = KeypadDevice(settings, self.hall, device, counter=counter, clock=clock)
            decoder = HidKeypadDecoder(profile.keymap())

            def on_key(event: KeyEvent) -> None:
                result = decoder.feed(event)
                if isinstance(result, ClerkAction):
                    keypad.press(result)
                elif isinstance(result, KeyNoise):
                    keypad.noise(result.reason)

            self._inputs.append(self._hid(keypad, profile, sources, on_key))
        self.keypads[window] = keypad

    def _pad(
        self,
        settings: BusSettings,
        window: int,
        profile: PadProfile,
        sources: dict[tuple[str, int], KeyEventSource],
        counter: CounterSettings | None,
        clock: Clock | None,
    ) -> None:
        device = _window_device(self.hall, window, DeviceKind.RATING_PAD)
        pad = PadDevice(settings, self.hall, device, profile.rating, counter=counter, clock=clock)
        if isinstance(profile, BusRaterProfile):
            assert self.line is not None
            line, address = self.line, _address(device)

            def on_frame(frame: BusFrame) -> None:
                button = rater_button(frame, profile)
                if isinstance(button, PadButton):
                    pad.press(button.button)
                else:
                    pad.noise(button.reason)

            def show(view: PadView) -> None:
                line.send(
                    address, profile.functions.prompt, bytes((prompt_state(view.phase, profile),))
                )
                if profile.display is not None:
                    text = fit(PHASE_TEXT[view.phase], profile.display.width)
                    line.send(
                        address, profile.functions.display, screen_data([text], profile.display)
                    )

            line.attach(
                address,
                on_frame,
                lambda _a, p: _line_health(pad, p),
                key_function=profile.key_frames.function,
                echo_function=profile.key_frames.echo_function,
            )
            pad.listeners.append(show)
        elif isinstance(profile, HidPadProfile):
            decoder = HidPadDecoder(dict(profile.buttons), profile.debounce_s)

            def on_key(event: KeyEvent) -> None:
                result = decoder.feed(event)
                if isinstance(result, PadButton):
                    pad.press(result.button)
                elif isinstance(result, KeyNoise):
                    pad.noise(result.reason)

            self._inputs.append(self._hid(pad, profile, sources, on_key))
        # A touch pad is drawn by ``counter_terminal.touch_pad``, which presses for itself.
        self.pads[window] = pad

    def _hid(
        self,
        device: KeypadDevice | PadDevice,
        profile: HidKeypadProfile | HidPadProfile,
        sources: dict[tuple[str, int], KeyEventSource],
        feed: Callable[[KeyEvent], None],
    ) -> HidInput:
        key = ("keypad" if isinstance(device, KeypadDevice) else "pad", device.window)
        source = sources.get(key)
        if source is None:
            raise CounterSetupError(f"no input device given for the {key[0]} of window {key[1]}")
        return HidInput(
            source,
            feed,
            lambda present, detail: device.health.set(INPUT_UNPLUGGED, present, detail),
            profile.reconnect_s,
        )

    # --- lifecycle ---------------------------------------------------------------------
    def start(self, timeout: float | None = 10.0) -> None:
        """Connect every device, then open the hardware."""
        for device in [*self.keypads.values(), *self.pads.values()]:
            device.start(timeout)
        if self.line is not None:
            self.line.start()
        for hid in self._inputs:
            hid.start()

    def stop(self) -> None:
        """Close the hardware, then disconnect."""
        for hid in self._inputs:
            hid.stop()
        if self.line is not None:
            self.line.stop()
        for device in [*self.keypads.values(), *self.pads.values()]:
            device.stop()


def _line_health(device: KeypadDevice | PadDevice, problem: str | None) -> None:
    for known in ("line_unplugged", "not_answering"):
        device.health.set(known, problem == known)
