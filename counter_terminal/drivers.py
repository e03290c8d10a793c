"""Keypad drivers: the built-in one that reads frames by the profile's data, and
third-party ones as plug-ins for keypads whose frames data cannot describe.

A keypad driver is data plus two callables: its profile schema (a ``BusKeypadBase``
subclass whose ``type`` is the driver's), a decoder factory (the host's side: key frames
to clerk actions, ``KeyFrameDecoder``) and an encoder (the device's side, for the
emulator and the conformance kit: a key and the number typed to the data of its
frames). A package adds one by naming a ``KeypadDriver`` in the ``paidui.drivers``
entry-point group; ``paidui.testing.keypads`` is the test suite it must pass.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from counter_terminal.bus_devices import KeypadFrames, key_payloads
from counter_terminal.bus_protocol import BusFrame
from counter_terminal.keys import ClerkAction, ClerkKey, KeyNoise
from counter_terminal.profile import (
    BUILT_IN_TYPES,
    AnyBuiltInProfile,
    BusKeypadBase,
    BusKeypadProfile,
    BusRaterProfile,
    HidKeypadProfile,
    HidPadProfile,
    TouchPadProfile,
)
from hallbus.drivers import DriverRegistry
from hallbus.profiles import (
    Where,
    folders_of,
    load_raw_profile,
    profile_names,
    validate_profile,
)


class KeyFrameDecoder(Protocol):
    """One keypad's key frames to actions; it may keep state between frames."""

    def action(self, frame: BusFrame, now: float) -> ClerkAction | KeyNoise:
        """The action of ``frame`` received at monotonic ``now``, or why there is none."""


@dataclass(frozen=True, slots=True)
class KeypadDriver:
    """One way of reading an RS-485 caller keypad's key frames."""

    type: str
    profile_model: builtins.type[BusKeypadBase]
    decoder: Callable[[Any], KeyFrameDecoder]  # (profile) -> decoder
    encode: Callable[[Any, ClerkKey, str], list[bytes]]  # (profile, key, number) -> data
    profile_dirs: tuple[Path, ...] = ()  # a plug-in's own profiles
    kind: str = "bus_keypad"


BUS_KEYPAD_DRIVER = KeypadDriver("bus_keypad", BusKeypadProfile, KeypadFrames, key_payloads)

KEYPAD_DRIVERS: DriverRegistry[KeypadDriver] = DriverRegistry(
    "bus_keypad", [BUS_KEYPAD_DRIVER], plugin_class=KeypadDriver
)


def keypad_driver(profile: BusKeypadBase) -> KeypadDriver:
    """The driver that reads ``profile``'s keypads."""
    return KEYPAD_DRIVERS.get(profile.type)


# --- profiles: built-in families, and keypads of plug-in drivers by their schema -----

AnyCounterProfile = (
    BusKeypadBase | BusRaterProfile | HidKeypadProfile | HidPadProfile | TouchPadProfile
)


def counter_profile_folders() -> list[Path]:
    """Where keypad and pad profiles are found: the site's, the shipped, each plug-in's."""
    return KEYPAD_DRIVERS.profile_folders("counter_devices")


def load_counter_profile(name: str, folder: Where | None = None) -> AnyCounterProfile:
    """Load and validate a keypad or pad profile (a plug-in keypad by its driver's schema)."""
    folders = folders_of(folder) if folder is not None else counter_profile_folders()
    data = load_raw_profile(folders, name)
    return validate_counter_profile(data, name, ", ".join(str(f) for f in folders))


def validate_counter_profile(data: dict[str, Any], name: str, where: str) -> AnyCounterProfile:
    """A merged profile validated as its built-in family or by its keypad driver's schema."""
    if str(data.get("type")) in BUILT_IN_TYPES:
        return validate_profile(AnyBuiltInProfile, data, name, where).root
    profile = KEYPAD_DRIVERS.validate(data, name, where)
    assert isinstance(profile, BusKeypadBase)
    return profile


def counter_profile_names(folder: Where | None = None) -> list[str]:
    """Every keypad and pad profile, shipped, the site's or plugged in."""
    return profile_names(folder if folder is not None else counter_profile_folders())
