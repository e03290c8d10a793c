"""ID reader profiles: how a model is reached and timed, one YAML file per model.

``transport`` picks the family: ``serial`` and ``usb`` SAM readers speak the same frames;
``keyboard_wedge`` readers type the number as keystrokes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from hallbus.links import SerialLine


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SamTiming(_Strict):
    """How long to wait for a SAM reader, and how often to look for a card."""

    reply_timeout_s: float = Field(default=0.5, gt=0)  # status, find and select
    read_timeout_s: float = Field(default=2.0, gt=0)  # reading text and photo off the card
    poll_interval_s: float = Field(default=0.1, gt=0)
    # A card counts as gone after this many "no card" answers in a row; a card that only
    # slid on the reader between two polls is not a second tap.
    absent_polls: int = Field(default=2, ge=1)
    reconnect_s: float = Field(default=1.0, gt=0)


class UsbPipes(_Strict):
    """A USB SAM reader: its ids and bulk endpoints.

    Readers built on the SAM_V module send a frame's preamble and length on one pipe and
    the rest on another, both ways; a reader with one pipe each way names it twice.
    """

    vendor_id: int = Field(ge=0, le=0xFFFF)
    product_id: int = Field(ge=0, le=0xFFFF)
    interface: int = 0
    header_out: int = Field(ge=0x01, le=0x0F)
    body_out: int = Field(ge=0x01, le=0x0F)
    header_in: int = Field(ge=0x81, le=0x8F)
    body_in: int = Field(ge=0x81, le=0x8F)
    timeout_ms: int = Field(default=500, gt=0)  # every bulk transfer; pyusb has none by default
    packet_size: int = Field(default=64, gt=0)


class WedgeKeys(_Strict):
    """A reader that types: which input device it is and how its keys make a number."""

    # Matched against the evdev device name (case-insensitive substring).
    device_name: str = Field(min_length=1)
    # evdev key names to the characters they type; shifted letters are typed with SHIFT.
    keys: dict[str, str]
    terminator: str = "KEY_ENTER"
    # A reader types a whole number in well under this; a human at a keyboard does not.
    max_key_gap_ms: int = Field(default=80, gt=0)
    number_length: int = Field(default=18, ge=1)
    # The same number typed again this soon is the reader repeating itself, not a new tap.
    repeat_guard_s: float = Field(default=2.0, ge=0)


class ReaderProfileBase(_Strict):
    """What every ID reader profile says; a reader driver's schema adds to it."""

    id: str
    name: str
    notes: str = ""
    transport: str  # the reader driver that serves it (id_reader/drivers.py)


class SamSerialProfile(ReaderProfileBase):
    """A SAM reader on a serial port."""

    transport: Literal["serial"]
    serial: SerialLine = SerialLine(baudrate=115200)  # SAM modules run 115200 8N1
    timing: SamTiming = SamTiming()


class SamUsbProfile(ReaderProfileBase):
    """A SAM reader speaking the same frames over USB bulk endpoints."""

    transport: Literal["usb"]
    usb: UsbPipes
    timing: SamTiming = SamTiming()


class WedgeProfile(ReaderProfileBase):
    """A reader that acts as a keyboard and types the ID number."""

    transport: Literal["keyboard_wedge"]
    wedge: WedgeKeys


ReaderProfile = Annotated[
    SamSerialProfile | SamUsbProfile | WedgeProfile, Field(discriminator="transport")
]


class AnyBuiltInReader(RootModel[ReaderProfile]):
    """Any of the built-in readers, told apart by ``transport``."""


BUILT_IN_TRANSPORTS = frozenset({"serial", "usb", "keyboard_wedge"})
