"""Where taps come from: what every reader driver gives the daemon.

A source is polled by the daemon's worker thread. ``poll`` returns within about one
poll interval with one of three results; a reader that is gone or broken raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from id_reader.card_text import Holder


class ReaderFault(Exception):
    """Base of the faults that make a reader unusable until it recovers."""


class NoReply(ReaderFault):
    """The reader did not answer in time."""


class SamFault(ReaderFault):
    """The reader's security module reports it cannot work."""


@dataclass(frozen=True, slots=True)
class NoCard:
    """Nothing on the reader."""


@dataclass(frozen=True, slots=True)
class Tapped:
    """A card was read; the holder as far as the event needs it."""

    holder: Holder


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Something was tapped but gave no usable card; ``reason`` carries no personal data."""

    reason: str


PollResult = NoCard | Tapped | Unreadable


@dataclass
class LineHealth:
    """Problems on the line since the daemon last looked (noise, bad checksums, retries)."""

    faults: list[str] = field(default_factory=list)

    def add(self, fault: str) -> None:
        """Note a problem."""
        self.faults.append(fault)

    def take(self) -> list[str]:
        """The problems noted since the last call."""
        taken, self.faults = self.faults, []
        return taken


class CardSource(Protocol):
    """One reader, as the daemon drives it."""

    poll_interval_s: float  # how long the daemon waits between polls that found nothing
    reconnect_s: float
    absent_polls: int  # "no card" answers in a row before a card counts as taken away
    repeat_guard_s: float  # the same card again this soon is the same tap
    line: LineHealth

    def open(self) -> None:
        """Open the reader and check it can work; ``LinkGone`` or ``ReaderFault`` if not."""

    def close(self) -> None:
        """Release the reader."""

    def poll(self) -> PollResult:
        """Look for a card once."""

    def describe(self) -> str:
        """Where the reader is, for its status."""
