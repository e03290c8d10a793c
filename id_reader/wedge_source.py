"""A keyboard-wedge reader as a source of taps: evdev key events through the key map.

The evdev part (``hallbus.input_keys``) only opens, grabs and reads the device; everything
that decides what the keys mean is in ``id_reader.wedge`` and tested with synthetic events.
"""

from __future__ import annotations

from collections import deque

from hallbus.input_keys import KeyEventSource
from hallbus.links import LinkGone
from id_reader.card_text import CardDataError, holder_from_number
from id_reader.profile import WedgeProfile
from id_reader.sources import LineHealth, NoCard, PollResult, Tapped, Unreadable
from id_reader.wedge import TypedNumber, WedgeDecoder, WedgeNoise

READ_WAIT_S = 0.2  # one poll waits this long for keys, so the daemon can notice a stop


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
        try:
            self.keys.open()
        except LinkGone as err:
            raise LinkGone(str(err)) from err

    def close(self) -> None:
        """Release the input device."""
        self.keys.close()

    def describe(self) -> str:
        """The input device."""
        return self.keys.describe()

    def poll(self) -> PollResult:
        """The next number typed, waiting briefly for keys."""
        if not self._typed:
            try:
                events = self.keys.read(READ_WAIT_S)
            except LinkGone as err:
                raise LinkGone(str(err)) from err
            for event in events:
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
