"""A keypad plug-in: 'Acme BCD' caller keypads, whose typed numbers come as packed BCD.

The line and the frames are paidui's RS-485 bus; only the data of a key frame differs:
the key code, then the number typed before it as packed BCD, two digits a byte, an odd
count padded with a leading F nibble (login 1001: ``0A 10 01``; window 2: ``07 F2``).
No profile data can say that, so this driver brings a decoder (the host's side) and an
encoder (the device's side, for paidui's emulator and its conformance kit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from counter_terminal.bus_protocol import BusFrame
from counter_terminal.drivers import KeypadDriver
from counter_terminal.keys import NUMBERED_KEYS, ClerkAction, ClerkKey, KeyNoise
from counter_terminal.profile import BusKeypadBase

MAX_DIGITS = 8


class AcmeKeypadProfile(BusKeypadBase):
    """An Acme BCD keypad: the bus keypad's keys and line, numbers in packed BCD."""

    type: Literal["acme-bcd"]


def bcd(number: str) -> bytes:
    """``number``'s digits packed two a byte, an odd count led by an F nibble."""
    digits = ("F" + number) if len(number) % 2 else number
    return bytes.fromhex(digits)


def unbcd(data: bytes) -> str | None:
    """The digits of packed BCD; None if any nibble but a leading F is not a digit."""
    text = data.hex().upper()
    if text.startswith("F"):
        text = text[1:]
    return text if text.isdigit() else None


class AcmeKeypadFrames:
    """Acme key frames to clerk actions (stateless: a frame carries the whole press)."""

    def __init__(self, profile: AcmeKeypadProfile) -> None:
        self.profile = profile

    def action(self, frame: BusFrame, now: float) -> ClerkAction | KeyNoise:
        """The action of ``frame``."""
        data = frame.data[1:] if self.profile.sequence_byte else frame.data
        if not data:
            return KeyNoise("key frame without a key code")
        key = self.profile.keys.get(data[0])
        if key is None:
            return KeyNoise(f"key code {data[0]:#04x} is not in {self.profile.id}")
        if len(data) == 1:
            return ClerkAction(key)
        number = unbcd(data[1:])
        if number is None or len(number) > MAX_DIGITS:
            return KeyNoise(f"key code {data[0]:#04x} came with bytes that are not BCD")
        return ClerkAction(key, number if key in NUMBERED_KEYS else None)


def encode(profile: AcmeKeypadProfile, key: ClerkKey, number: str) -> list[bytes]:
    """The data of the key frame an Acme keypad sends for ``key`` after ``number``."""
    code = next(c for c, k in profile.keys.items() if k is key)
    return [bytes((code,)) + (bcd(number) if number else b"")]


DRIVER = KeypadDriver(
    "acme-bcd",
    AcmeKeypadProfile,
    AcmeKeypadFrames,
    encode,
    profile_dirs=(Path(__file__).with_name("keypad_profiles"),),
)
