"""A keyboard-wedge reader as a source of taps: evdev key events through the key map.

The evdev part is kept to opening, grabbing and reading the device; everything that
decides what the keys mean is in ``id_reader.wedge`` and tested with synthetic events.
"""

from __future__ import annotations

import contextlib
import select
from collections import deque
from typing import Any, Protocol

from id_reader.card_text import CardDataError, holder_from_number
from id_reader.links import ReaderGone
from id_reader.profile import WedgeProfile
from id_reader.sources import LineHealth, NoCard, PollResult, Tapped, Unreadable
from id_reader.wedge import KeyEvent, TypedNumber, WedgeDecoder, WedgeNoise

READ_WAIT_S = 0.2  # one poll waits this long for keys, so the daemon can notice a stop


class KeyEventSource(Protocol):
    """Key events of one input device."""

    def open(self) -> None:
        """Open (and grab) the device; ``ReaderGone`` if it is not there."""

    def close(self) -> None:
        """Release the device."""

    def read(self, timeout: float) -> list[KeyEvent]:
        """Key events within ``timeout``."""

    def describe(self) -> str:
        """Which device."""


class EvdevKeySource:
    """An input device read through python-evdev, grabbed so keys never reach a desktop."""

    def __init__(self, device_name: str, path: str | None = None) -> None:
        self.device_name = device_name
        self.path = path
        self._device: Any = None

    def open(self) -> None:
        """Find the device by path or name, and grab it."""
        import evdev  # Linux only; imported here so the rest of the package works elsewhere

        try:
            paths = [self.path] if self.path else evdev.list_devices()
            for path in paths:
                device = evdev.InputDevice(path)
                if self.path or self.device_name.lower() in device.name.lower():
                    device.grab()
                    self._device = device
                    return
                device.close()
        except OSError as err:
            raise ReaderGone(f"cannot open the reader's input device: {err}") from err
        raise ReaderGone(f"no input device named like {self.device_name!r}")

    def close(self) -> None:
        """Ungrab and close."""
        device, self._device = self._device, None
        if device is not None:
            with contextlib.suppress(OSError):
                device.ungrab()
            with contextlib.suppress(OSError):
                device.close()

    def read(self, timeout: float) -> list[KeyEvent]:
        """Key presses and releases (auto-repeat ignored)."""
        from evdev import ecodes

        if self._device is None:
            raise ReaderGone("the reader's input device is not open")
        try:
            ready, _, _ = select.select([self._device.fd], [], [], timeout)
            if not ready:
                return []
            raw = list(self._device.read())
        except BlockingIOError:
            return []
        except OSError as err:  # ENODEV: unplugged
            raise ReaderGone(f"the reader's input device went away: {err}") from err
        events = []
        for event in raw:
            if event.type != ecodes.EV_KEY or event.value == 2:
                continue
            names = ecodes.KEY.get(event.code, f"KEY_{event.code}")
            name = names if isinstance(names, str) else names[0]  # aliases share a code
            events.append(KeyEvent(name, event.value == 1, event.timestamp()))
        return events

    def describe(self) -> str:
        """The device path or name."""
        return f"evdev:{self.path or self.device_name}"


class WedgeCardSource:
    """A keyboard-wedge reader as a source of taps."""

    poll_interval_s = 0.0  # ``poll`` itself waits for keys
    absent_polls = 1

    def __init__(self, profile: WedgeProfile, keys: KeyEventSource) -> None:
        self.profile = profile
        self.keys = keys
        self.reconnect_s = 1.0
        self.repeat_guard_s = profile.wedge.repeat_guard_s
        self.line = LineHealth()
        self._decoder = WedgeDecoder(profile.wedge)
        self._typed: deque[Tapped | Unreadable] = deque()

    def open(self) -> None:
        """Open and grab the input device."""
        self._decoder = WedgeDecoder(self.profile.wedge)
        self.keys.open()

    def close(self) -> None:
        """Release the input device."""
        self.keys.close()

    def describe(self) -> str:
        """The input device."""
        return self.keys.describe()

    def poll(self) -> PollResult:
        """The next number typed, waiting briefly for keys."""
        if not self._typed:
            for event in self.keys.read(READ_WAIT_S):
                result = self._decoder.feed(event)
                if isinstance(result, WedgeNoise):
                    self.line.add(result.reason)
                elif isinstance(result, TypedNumber):
                    self._typed.append(self._holder(result))
        return self._typed.popleft() if self._typed else NoCard()

    @staticmethod
    def _holder(typed: TypedNumber) -> Tapped | Unreadable:
        try:
            return Tapped(holder_from_number(typed.number))
        except CardDataError as err:
            return Unreadable(str(err))
