"""Counter device profiles: caller keypads and rating pads, one YAML file per model.

``type`` picks the family and its schema: ``bus_keypad`` and ``bus_rater`` share an RS-485
line (their line, framing and timing come from one base file, so they agree);
``hid_keypad`` and ``hid_pad`` are USB HID devices read through evdev; ``touch_pad`` is a
touchscreen the daemon draws in pygame.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from counter_terminal.bus_protocol import BusFraming
from counter_terminal.keys import ClerkKey, HidKeypadMap
from hallbus.links import SerialLine
from hallbus.messages import BadRatingReason, RatingLevel


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BusFunctions(_Strict):
    """Function codes of the bus frames."""

    poll: int = Field(default=0x00, ge=0, le=0xFF)  # host asks "are you there"; echoed
    key: int = Field(default=0x01, ge=0, le=0xFF)  # device: a key was pressed
    display: int = Field(default=0x02, ge=0, le=0xFF)  # host: text for the device's screen
    prompt: int = Field(default=0x03, ge=0, le=0xFF)  # host: a rater's prompt state


class PromptStates(_Strict):
    """Data byte of a prompt frame: what a rater lights up."""

    idle: int = 0x00
    rate: int = 0x01  # 请评价: the five level keys light
    reason: int = 0x02  # a bad rating: the reason keys light
    thanks: int = 0x03  # 谢谢评价


class BusTiming(_Strict):
    """How the host keeps the line: echoes, retries, polls."""

    echo_timeout_s: float = Field(default=0.2, gt=0)
    retries: int = Field(default=2, ge=0, le=10)  # resends of a host frame without an echo
    poll_interval_s: float = Field(default=2.0, gt=0)  # each device, when the line is idle
    missed_echoes: int = Field(default=2, ge=1)  # in a row: the device is reported silent
    reconnect_s: float = Field(default=1.0, gt=0)
    # Without a sequence byte, the same frame from the same address this soon is the
    # device resending because our echo was lost, not a second press.
    repeat_window_s: float = Field(default=0.8, ge=0)


class BusFamily(_Strict):
    """What every device on one line agrees on."""

    line: SerialLine = SerialLine()
    framing: BusFraming = BusFraming()
    functions: BusFunctions = BusFunctions()
    timing: BusTiming = BusTiming()
    # Whether a key frame's data starts with a sequence byte the device bumps per press
    # and keeps in resends; without it, resends are told apart by ``repeat_window_s``.
    sequence_byte: bool = True


class KeyFrames(_Strict):
    """A device's key frames where they differ from the line's (field raters do).

    Some raters send on a function code of their own and take as acknowledgement the
    frame back with another function; the host must echo exactly that, or they resend.
    """

    function: int | None = Field(default=None, ge=0, le=0xFF)  # None: the line's key function
    echo_function: int | None = Field(default=None, ge=0, le=0xFF)  # None: echoed unchanged


class TypedNumbers(_Strict):
    """Where a keypad puts the number typed for a key that takes one.

    ``key_then_ascii``: the key code, then the digits in ASCII (our own keypads).
    ``binary_then_key``: the number as a big-endian binary of ``size`` bytes, then the
    code; with ``confirm`` set, that code is a confirm key and the function is the
    numbered key pressed just before it (转移, then 6, then 确认: ``13``, then ``06 0F``).
    """

    order: Literal["key_then_ascii", "binary_then_key"] = "key_then_ascii"
    size: int = Field(default=1, ge=1, le=4)
    confirm: int | None = Field(default=None, ge=0, le=0xFF)
    confirm_within_s: float = Field(default=15.0, gt=0)  # an older numbered key is forgotten


class TextDisplay(_Strict):
    """A device's small screen: lines of characters, in an encoding it renders."""

    lines: int = Field(ge=1, le=8)
    width: int = Field(ge=4, le=64)  # in half-width cells; a Chinese character takes two
    encoding: str = "gbk"


class RatingKeys(_Strict):
    """What a pad's buttons mean: levels when rating, reasons after a bad rating."""

    levels: list[RatingLevel] = Field(default_factory=lambda: list(RatingLevel))
    reasons: list[BadRatingReason] = Field(default_factory=lambda: list(BadRatingReason))
    # After a bad level, a reason is awaited this long; then ``other`` is recorded with a
    # note that none was chosen, so the bad rating itself is never lost.
    reason_timeout_s: float = Field(default=10.0, gt=0)
    # After a bad rating, offer to leave a mobile number for the callback (touch pads:
    # five-key raters have no digits). The rating itself is sent first, never delayed.
    ask_contact: bool = False
    contact_timeout_s: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _complete(self) -> RatingKeys:
        if sorted(self.levels) != sorted(RatingLevel):
            raise ValueError("levels must list each of the five levels once")
        if len(set(self.reasons)) != len(self.reasons) or not self.reasons:
            raise ValueError("reasons must list reasons once each")
        return self


class _ProfileBase(_Strict):
    id: str
    name: str
    notes: str = ""


class BusKeypadBase(_ProfileBase, BusFamily):
    """What every caller keypad on the RS-485 bus says; a keypad driver's schema adds to it."""

    type: str  # the keypad driver that reads its frames (counter_terminal/drivers.py)
    keys: dict[int, ClerkKey]  # key code (the data byte after the sequence) to function
    numbers: TypedNumbers = TypedNumbers()
    key_frames: KeyFrames = KeyFrames()
    display: TextDisplay | None = None

    @model_validator(mode="after")
    def _confirm_is_not_a_key(self) -> BusKeypadBase:
        if self.numbers.confirm is not None and self.numbers.confirm in self.keys:
            raise ValueError(f"confirm code {self.numbers.confirm:#04x} is also a key")
        return self


class BusKeypadProfile(BusKeypadBase):
    """A caller keypad on the RS-485 bus whose frames the profile's data describes."""

    type: Literal["bus_keypad"]


class BusRaterProfile(_ProfileBase, BusFamily):
    """A rating pad (评价器) on the RS-485 bus."""

    type: Literal["bus_rater"]
    buttons: dict[int, int]  # key code to button 1..5
    prompt_states: PromptStates = PromptStates()
    rating: RatingKeys = RatingKeys()
    key_frames: KeyFrames = KeyFrames()
    display: TextDisplay | None = None


class HidKeypadProfile(_ProfileBase):
    """A USB HID caller keypad."""

    type: Literal["hid_keypad"]
    device_name: str = Field(min_length=1)  # matched against the evdev name
    functions: dict[str, ClerkKey]  # evdev key name to function
    digits: dict[str, str]
    clear: str | None = None
    entry_timeout_s: float = Field(default=10.0, gt=0)
    debounce_s: float = Field(default=0.15, ge=0)
    reconnect_s: float = Field(default=1.0, gt=0)

    def keymap(self) -> HidKeypadMap:
        """The key map the pure decoder reads."""
        return HidKeypadMap(
            functions=dict(self.functions),
            digits=dict(self.digits),
            clear=self.clear,
            entry_timeout_s=self.entry_timeout_s,
            debounce_s=self.debounce_s,
        )


class HidPadProfile(_ProfileBase):
    """A USB HID rating pad with five keys."""

    type: Literal["hid_pad"]
    device_name: str = Field(min_length=1)
    buttons: dict[str, int]  # evdev key name to button 1..5
    debounce_s: float = Field(default=0.15, ge=0)
    reconnect_s: float = Field(default=1.0, gt=0)
    rating: RatingKeys = RatingKeys()


class TouchPadProfile(_ProfileBase):
    """A touchscreen rating pad the daemon draws."""

    type: Literal["touch_pad"]
    width: int = Field(default=1024, ge=320)
    height: int = Field(default=600, ge=240)
    fullscreen: bool = True
    rating: RatingKeys = RatingKeys()


CounterProfile = Annotated[
    BusKeypadProfile | BusRaterProfile | HidKeypadProfile | HidPadProfile | TouchPadProfile,
    Field(discriminator="type"),
]
KeypadProfile = BusKeypadBase | HidKeypadProfile
PadProfile = BusRaterProfile | HidPadProfile | TouchPadProfile


class AnyBuiltInProfile(RootModel[CounterProfile]):
    """Any of the built-in families, told apart by ``type``."""


BUILT_IN_TYPES = frozenset({"bus_keypad", "bus_rater", "hid_keypad", "hid_pad", "touch_pad"})


def bus_family(profile: BusKeypadBase | BusRaterProfile) -> BusFamily:
    """The line settings a bus device shares with the others on its line."""
    return BusFamily(
        line=profile.line,
        framing=profile.framing,
        functions=profile.functions,
        timing=profile.timing,
        sequence_byte=profile.sequence_byte,
    )
