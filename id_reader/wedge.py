"""Keyboard-wedge readers: keystrokes to ID numbers, by the profile's key map.

The reader types the number and a terminator faster than any person. Keys further apart
than ``max_key_gap_ms`` start the number afresh, so a person poking at a keyboard that
shares the bus never makes a number. Pure: key events in, numbers out; the evdev driver
around it is a few lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hallbus.input_keys import KeyEvent
from id_reader.profile import WedgeKeys

__all__ = ["KeyEvent", "TypedNumber", "WedgeDecoder", "WedgeNoise"]

SHIFT_KEYS = frozenset({"KEY_LEFTSHIFT", "KEY_RIGHTSHIFT"})


@dataclass(frozen=True, slots=True)
class TypedNumber:
    """A whole number typed and terminated. Its ``repr`` hides it."""

    number: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class WedgeNoise:
    """Keys that did not make a number, and why (never the keys themselves)."""

    reason: str


class WedgeDecoder:
    """Turns one reader's key events into typed numbers."""

    def __init__(self, keys: WedgeKeys) -> None:
        self.keys = keys
        self._typed: list[str] = []
        self._last_at: float | None = None
        self._shift = False

    def feed(self, event: KeyEvent) -> TypedNumber | WedgeNoise | None:
        """Take one key event; a number when the terminator ends a whole one."""
        if event.key in SHIFT_KEYS:
            self._shift = event.down
            return None
        if not event.down:
            return None
        noise = None
        gap_ms = None if self._last_at is None else (event.at - self._last_at) * 1000
        if self._typed and gap_ms is not None and gap_ms > self.keys.max_key_gap_ms:
            noise = WedgeNoise(f"{len(self._typed)} keys dropped after a {gap_ms:.0f} ms pause")
            self._typed = []
        self._last_at = event.at
        if event.key == self.keys.terminator:
            return self._finish() or noise
        char = self.keys.keys.get(event.key)
        if char is None:
            dropped = len(self._typed)
            self._typed = []
            return WedgeNoise(f"key {event.key} is not in the key map; {dropped} keys dropped")
        self._typed.append(char.upper() if self._shift else char)
        return noise

    def _finish(self) -> TypedNumber | WedgeNoise | None:
        typed, self._typed = "".join(self._typed), []
        if not typed:
            return None
        if len(typed) != self.keys.number_length:
            return WedgeNoise(f"{len(typed)} characters typed, {self.keys.number_length} expected")
        return TypedNumber(typed)
