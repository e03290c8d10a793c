"""The RS-485 caller/rater bus: ``FF 68 L L 68 | address | function | data | checksum | 16``.

Many keypads and raters share one line, each with an address. The frame family is the
one meters made common (a long frame with its length twice and start byte twice, so a
receiver can resynchronise after noise): optional wake-up bytes (``FF``), ``68``, the
length twice, ``68``, the address, a function code, the data, a one-byte checksum and
``16``. Whoever receives a good frame echoes it back unchanged as the acknowledgement.

What differs between vendors (wake-up byte, how the length counts, the checksum rule and
what it covers) is data: a ``BusFraming`` from the profile. Pure: bytes in, frames and
faults out; nothing here touches a port.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

HEADER_SIZE = 4  # start, L, L, start


class BusFraming(BaseModel):
    """The frame constants of one vendor's bus, from the profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wake: int | None = Field(default=0xFF, ge=0, le=0xFF)  # sent before a frame; None: none
    start: int = Field(default=0x68, ge=0, le=0xFF)
    end: int = Field(default=0x16, ge=0, le=0xFF)
    # What L counts: address, function and data (most), or the data alone.
    length_counts: Literal["address_to_end_of_data", "data"] = "address_to_end_of_data"
    checksum: Literal["sum8", "xor8"] = "sum8"  # arithmetic sum mod 256, or XOR
    # What the checksum covers: address to end of data, or from the first L on.
    checksum_covers: Literal["address_to_end_of_data", "length_to_end_of_data"] = (
        "address_to_end_of_data"
    )
    max_data: int = Field(default=64, ge=1, le=250)


@dataclass(frozen=True, slots=True)
class BusFrame:
    """One frame: who it is for or from, what it is, and its data."""

    address: int
    function: int
    data: bytes = b""


class FaultKind(StrEnum):
    """Why bytes on the line did not make a frame."""

    GARBAGE = "garbage"  # bytes outside any frame
    BAD_LENGTH = "bad_length"  # the two lengths differ, or exceed the profile's maximum
    BAD_END = "bad_end"  # no end byte where the length says the frame ends
    BAD_CHECKSUM = "bad_checksum"
    TRUNCATED = "truncated"  # a frame started but the rest never came


@dataclass(frozen=True, slots=True)
class BusFault:
    """Bytes that did not make a frame, and why; ``raw`` holds exactly those bytes."""

    kind: FaultKind
    raw: bytes
    detail: str = ""


class BusEncodeError(ValueError):
    """A frame cannot be encoded (address or data out of range)."""


def checksum(data: bytes, rule: Literal["sum8", "xor8"]) -> int:
    """The one-byte checksum of ``data`` under ``rule``."""
    if rule == "sum8":
        return sum(data) & 0xFF
    value = 0
    for byte in data:
        value ^= byte
    return value


def _length(frame_body: bytes, data_size: int, framing: BusFraming) -> int:
    return data_size if framing.length_counts == "data" else len(frame_body)


def _covered(length: int, body: bytes, framing: BusFraming) -> bytes:
    if framing.checksum_covers == "length_to_end_of_data":
        return bytes((length, length, framing.start)) + body
    return body


def encode_frame(frame: BusFrame, framing: BusFraming) -> bytes:
    """The bytes of ``frame`` on the wire, wake-up byte included."""
    if not 0 <= frame.address <= 0xFF or not 0 <= frame.function <= 0xFF:
        raise BusEncodeError("address and function are one byte each")
    if len(frame.data) > framing.max_data:
        raise BusEncodeError(f"{len(frame.data)} data bytes exceed {framing.max_data}")
    body = bytes((frame.address, frame.function)) + frame.data
    length = _length(body, len(frame.data), framing)
    wake = b"" if framing.wake is None else bytes((framing.wake,))
    check = checksum(_covered(length, body, framing), framing.checksum)
    return (
        wake
        + bytes((framing.start, length, length, framing.start))
        + body
        + bytes((check, framing.end))
    )


def frame_size(frame: BusFrame, framing: BusFraming) -> int:
    """Bytes ``frame`` takes on the wire (for line-time figures)."""
    return len(encode_frame(frame, framing))


class BusDecoder:
    """Incremental: ``feed`` any chunk of line bytes, get the frames and faults completed.

    Never raises. Every byte fed ends up in exactly one frame, one fault, or the wake-up
    count, so noise is always accounted for and never silently swallowed.
    """

    def __init__(self, framing: BusFraming) -> None:
        self.framing = framing
        self.wake_bytes = 0  # wake-up bytes seen between frames
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[BusFrame | BusFault]:
        """Take bytes off the line; return what they completed."""
        self._buffer += data
        out: list[BusFrame | BusFault] = []
        while self._buffer:
            item = self._next()
            if item is None:
                break
            out.append(item)
        return out

    def expire(self) -> list[BusFault]:
        """The line went quiet: a partial frame will never complete."""
        if not self._buffer:
            return []
        raw, self._buffer = bytes(self._buffer), bytearray()
        return [BusFault(FaultKind.TRUNCATED, raw, f"{len(raw)} bytes of an unfinished frame")]

    def _skip(self, count: int, kind: FaultKind, detail: str) -> BusFault:
        raw = bytes(self._buffer[:count])
        del self._buffer[:count]
        return BusFault(kind, raw, detail)

    def _next(self) -> BusFrame | BusFault | None:
        framing = self.framing
        buffer = self._buffer
        start = buffer.find(framing.start)
        if start != 0:
            # Bytes before a start byte: wake-up bytes are counted, the rest is garbage.
            end = len(buffer) if start < 0 else start
            junk = 0
            while junk < end and buffer[junk] == framing.wake:
                junk += 1
            if junk:
                self.wake_bytes += junk
                del buffer[:junk]
                return self._next() if buffer else None
            garbage_end = 0
            while garbage_end < end and buffer[garbage_end] != framing.wake:
                garbage_end += 1
            return self._skip(garbage_end, FaultKind.GARBAGE, f"{garbage_end} stray bytes")
        if len(buffer) < HEADER_SIZE:
            return None
        length, repeat, second_start = buffer[1], buffer[2], buffer[3]
        data_size = length if framing.length_counts == "data" else length - 2
        if second_start != framing.start or length != repeat:
            return self._skip(1, FaultKind.BAD_LENGTH, "header is not 68 L L 68")
        if not 0 <= data_size <= framing.max_data:
            return self._skip(1, FaultKind.BAD_LENGTH, f"length {length} out of range")
        total = HEADER_SIZE + 2 + data_size + 2
        if len(buffer) < total:
            return None
        if buffer[total - 1] != framing.end:
            return self._skip(1, FaultKind.BAD_END, f"byte {total - 1} is not the end byte")
        body = bytes(buffer[HEADER_SIZE : total - 2])
        expected = checksum(_covered(length, body, framing), framing.checksum)
        if buffer[total - 2] != expected:
            return self._skip(
                total,
                FaultKind.BAD_CHECKSUM,
                f"checksum {buffer[total - 2]:02X}, expected {expected:02X}",
            )
        del buffer[:total]
        return BusFrame(address=body[0], function=body[1], data=body[2:])
