"""LED board drivers: built-in BX-5 and line protocol, and third-party ones as plug-ins.

A driver is data plus three callables: its profile schema (a ``LedBoardProfileBase``
subclass whose ``type`` is the driver's), a codec factory (``BoardCodec``: content to
frames, answers read back) and, for the conformance kit, the demo and the bench, an
emulator factory (``BoardEmulator``: the board on the far end of the wire). A package
adds one by naming a ``LedBoardDriver`` in the ``paidui.drivers`` entry-point group;
``paidui.testing.led_boards`` is the test suite it must pass.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from display_wall.boards import BoardCodec, BoardContent, Bx5Codec, LineCodec
from display_wall.profile import Bx5BoardProfile, LedBoardProfileBase, LineBoardProfile
from hallbus.drivers import DriverRegistry
from hallbus.profiles import (
    load_raw_profile,
    profile_names,
)


class BoardEmulator(Protocol):
    """One emulated board on a multi-drop line: it hears every byte the host sends."""

    def feed(self, data: bytes) -> tuple[list[BoardContent], bytes]:
        """What the board put up because of ``data``, and the bytes it answers."""


@dataclass(frozen=True, slots=True)
class LedBoardDriver:
    """One LED board protocol."""

    type: str
    profile_model: builtins.type[LedBoardProfileBase]
    codec: Callable[[Any, int], BoardCodec]  # (profile, address) -> codec
    emulator: Callable[[Any, int], BoardEmulator] | None = None  # (profile, address)
    profile_dirs: tuple[Path, ...] = ()  # a plug-in's own profiles
    kind: str = "led_board"


BX5_DRIVER = LedBoardDriver("bx5", Bx5BoardProfile, Bx5Codec)
LINE_DRIVER = LedBoardDriver("line", LineBoardProfile, LineCodec)
# The built-ins' emulators share one line with frame-by-frame reading of both protocols:
# simulator/led_line_emulator.py.

LED_DRIVERS: DriverRegistry[LedBoardDriver] = DriverRegistry(
    "led_board", [BX5_DRIVER, LINE_DRIVER], plugin_class=LedBoardDriver
)


def codec_for(profile: LedBoardProfileBase, address: int) -> BoardCodec:
    """The codec of a board's model at ``address``."""
    return LED_DRIVERS.get(profile.type).codec(profile, address)


# --- profiles: each validated by the schema of the driver its ``type`` names ----------


def led_profile_folders() -> list[Path]:
    """Where LED board profiles are found: the site's, the shipped, each plug-in's."""
    return LED_DRIVERS.profile_folders("led_boards")


def validate_led_profile(data: dict[str, Any], name: str, where: str) -> LedBoardProfileBase:
    """A merged profile validated by the schema of the driver its ``type`` names."""
    profile = LED_DRIVERS.validate(data, name, where)
    assert isinstance(profile, LedBoardProfileBase)
    return profile


def load_led_profile(name: str) -> LedBoardProfileBase:
    """An LED board profile (shipped or a plug-in's), validated by its driver's schema."""
    folders = led_profile_folders()
    data = load_raw_profile(folders, name)
    return validate_led_profile(data, name, ", ".join(str(f) for f in folders))


def led_profile_names() -> list[str]:
    """Every LED board model, shipped or plugged in."""
    return profile_names(led_profile_folders())
