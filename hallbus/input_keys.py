"""Key events from USB HID input devices (keypads, rating pads, keyboard-wedge readers).

The evdev part is kept to opening, grabbing and reading a device; what the keys mean is
decided by each device's pure key-map layer, tested with synthetic ``KeyEvent``s.
"""

from __future__ import annotations

import contextlib
import select
from dataclasses import dataclass
from typing import Any, Protocol

from hallbus.links import LinkGone


@dataclass(frozen=True, slots=True)
class KeyEvent:
    """A key going down (``down``) or up, at ``at`` seconds on any monotonic clock."""

    key: str  # evdev name, e.g. KEY_7
    down: bool
    at: float


class KeyEventSource(Protocol):
    """Key events of one input device."""

    def open(self) -> None:
        """Open (and grab) the device; ``LinkGone`` if it is not there."""

    def close(self) -> None:
        """Release the device."""

    def read(self, timeout: float) -> list[KeyEvent]:
        """Key events within ``timeout``; ``LinkGone`` if the device went away."""

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
            raise LinkGone(f"cannot open input device {self.describe()}: {err}") from err
        raise LinkGone(f"no input device named like {self.device_name!r}")

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
            raise LinkGone(f"input device {self.describe()} is not open")
        try:
            ready, _, _ = select.select([self._device.fd], [], [], timeout)
            if not ready:
                return []
            raw = list(self._device.read())
        except BlockingIOError:
            return []
        except OSError as err:  # ENODEV: unplugged
            raise LinkGone(f"input device {self.describe()} went away: {err}") from err
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
