"""A synthetic evdev device: key events a test or the demo types, for HID keypads and pads.

This machine has no ``/dev/uinput``, so no real input device can be created; this source
stands in behind the same ``KeyEventSource`` interface the evdev source implements, and
can be unplugged and plugged back like a USB device.
"""

from __future__ import annotations

import itertools
import queue
import threading

from hallbus.input_keys import KeyEvent
from hallbus.links import LinkGone


class SyntheticKeySource:
    """Key events put in by ``type``/``press``, read by a daemon as from a grabbed device."""

    def __init__(self, name: str = "synthetic") -> None:
        self.name = name
        self.pending: queue.Queue[list[KeyEvent]] = queue.Queue()
        self.present = True
        self.opened = 0
        self._open = False
        self._clock = itertools.count()
        self._lock = threading.Lock()

    # --- what a person does -------------------------------------------------------------
    def press(self, *keys: str, gap_s: float = 0.15, start: float | None = None) -> None:
        """Press and release each key in turn, ``gap_s`` apart (a person's pace)."""
        with self._lock:
            at = float(next(self._clock)) * 10 if start is None else start
        events = []
        for key in keys:
            events += [KeyEvent(key, True, at), KeyEvent(key, False, at + 0.05)]
            at += gap_s
        self.pending.put(events)

    def put(self, events: list[KeyEvent]) -> None:
        """Queue raw events (a key held down, a bounce, a release without a press)."""
        self.pending.put(events)

    def unplug(self) -> None:
        """Pull the USB cable: reads fail until it is plugged back."""
        self.present = False

    def plug(self) -> None:
        """Plug it back in."""
        self.present = True

    # --- KeyEventSource -----------------------------------------------------------------
    def open(self) -> None:
        """Open, as evdev would; fails while unplugged."""
        if not self.present:
            raise LinkGone(f"no input device named like {self.name!r}")
        self._open = True
        self.opened += 1

    def close(self) -> None:
        """Release."""
        self._open = False

    def read(self, timeout: float) -> list[KeyEvent]:
        """The next batch of events, or none within ``timeout``."""
        if not self.present or not self._open:
            raise LinkGone(f"input device {self.name!r} went away")
        try:
            return self.pending.get(timeout=timeout)
        except queue.Empty:
            return []

    def describe(self) -> str:
        """Which device."""
        return f"synthetic:{self.name}"
