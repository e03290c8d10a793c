"""Onbon BX-5 family LED controller frames: pure encode and incremental decode.

A frame on the wire::

    A5 x8 | dst u16 LE | src u16 LE | reserved x4 | checksum mode | display mode
          | device type | protocol version | data length u16 LE | data | CRC u16 LE | 5A

The CRC is CRC-16/ARC over everything between the preamble and the CRC. After the CRC is
appended, every byte between preamble and tail is stuffed (``A5 -> A6 02``, ``A6 -> A6 01``,
``5A -> 5B 02``, ``5B -> 5B 01``), so a raw ``A5`` or ``5A`` only ever marks a frame's
start or end. A host request's data is ``group, command, reply flag, 2 reserved bytes,
payload``. Every constant lives in :class:`Bx5Framing`, which a profile fills in.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

_HEADER = struct.Struct(
    "<HH4sBBBBH"
)  # dst, src, reserved, checksum/display mode, type, version, len
CRC_SIZE = 2


class Bx5Framing(BaseModel):
    """The frame constants of one BX controller generation (profile data)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preamble: int = Field(default=0xA5, ge=0, le=0xFF)
    preamble_count: int = Field(default=8, ge=1, le=16)
    tail: int = Field(default=0x5A, ge=0, le=0xFF)
    escape_start: int = Field(default=0xA6, ge=0, le=0xFF)  # stuffs preamble and itself
    escape_tail: int = Field(default=0x5B, ge=0, le=0xFF)  # stuffs tail and itself
    host_address: int = Field(default=0x8000, ge=0, le=0xFFFF)  # the PC's source address
    checksum_mode: int = Field(default=0, ge=0, le=0xFF)  # 0: CRC-16
    display_mode: int = Field(default=0, ge=0, le=0xFF)  # 0: dynamic areas beside programs
    device_type: int = Field(default=0xFE, ge=0, le=0xFF)  # FE: any controller
    protocol_version: int = Field(default=0x02, ge=0, le=0xFF)
    max_data: int = Field(default=4096, ge=16, le=0xFFFF)


@dataclass(frozen=True, slots=True)
class Bx5Frame:
    """One unstuffed frame: who to, who from, and its data (group, command, ...)."""

    destination: int
    source: int
    data: bytes

    @property
    def group(self) -> int | None:
        """The command group (first data byte), if any."""
        return self.data[0] if self.data else None

    @property
    def command(self) -> int | None:
        """The command within its group."""
        return self.data[1] if len(self.data) > 1 else None


class Bx5FaultKind(StrEnum):
    """Why bytes on the line did not make a frame."""

    GARBAGE = "garbage"  # bytes outside any frame
    BAD_ESCAPE = "bad_escape"  # an escape byte followed by something it cannot stand for
    BAD_CRC = "bad_crc"
    BAD_LENGTH = "bad_length"  # the header's length disagrees with the bytes received
    TRUNCATED = "truncated"  # a new preamble (or silence) before the tail
    TOO_LONG = "too_long"


@dataclass(frozen=True, slots=True)
class Bx5Fault:
    """Bytes that were not a frame, and why."""

    kind: Bx5FaultKind
    size: int
    detail: str = ""


class Bx5EncodeError(ValueError):
    """A frame that cannot be sent (address or data out of range)."""


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC (poly 0x8005 reflected, init 0): the BX controllers' checksum."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _escapes(framing: Bx5Framing) -> dict[int, bytes]:
    return {
        framing.preamble: bytes([framing.escape_start, 0x02]),
        framing.escape_start: bytes([framing.escape_start, 0x01]),
        framing.tail: bytes([framing.escape_tail, 0x02]),
        framing.escape_tail: bytes([framing.escape_tail, 0x01]),
    }


def stuff(body: bytes, framing: Bx5Framing) -> bytes:
    """Escape every byte that would read as a frame boundary."""
    table = _escapes(framing)
    return b"".join(table.get(b, bytes([b])) for b in body)


def unstuff(body: bytes, framing: Bx5Framing) -> bytes | None:
    """Undo :func:`stuff`; None when an escape is broken."""
    reverse = {(seq[0], seq[1]): raw for raw, seq in _escapes(framing).items()}
    out = bytearray()
    index = 0
    while index < len(body):
        byte = body[index]
        if byte in (framing.escape_start, framing.escape_tail):
            if index + 1 >= len(body):
                return None
            raw = reverse.get((byte, body[index + 1]))
            if raw is None:
                return None
            out.append(raw)
            index += 2
            continue
        out.append(byte)
        index += 1
    return bytes(out)


def encode_frame(frame: Bx5Frame, framing: Bx5Framing) -> bytes:
    """The bytes of a frame on the wire, preamble to tail."""
    if not (0 <= frame.destination <= 0xFFFF and 0 <= frame.source <= 0xFFFF):
        raise Bx5EncodeError("BX addresses are 0..65535")
    if len(frame.data) > framing.max_data:
        raise Bx5EncodeError(
            f"{len(frame.data)} data bytes; this controller takes {framing.max_data}"
        )
    header = _HEADER.pack(
        frame.destination,
        frame.source,
        bytes(4),
        framing.checksum_mode,
        framing.display_mode,
        framing.device_type,
        framing.protocol_version,
        len(frame.data),
    )
    body = header + frame.data
    body += struct.pack("<H", crc16_arc(body))
    return (
        bytes([framing.preamble]) * framing.preamble_count
        + stuff(body, framing)
        + bytes([framing.tail])
    )


def request_data(
    group: int, command: int, payload: bytes = b"", *, want_reply: bool = True
) -> bytes:
    """A host command's data: group, command, reply flag, two reserved bytes, payload."""
    return bytes([group, command, 0x01 if want_reply else 0x02, 0, 0]) + payload


class Bx5Decoder:
    """Turns bytes from the line into frames and faults; never raises.

    A raw preamble byte always starts a frame (stuffing guarantees it never occurs
    inside one), so after any noise the next frame is found.
    """

    def __init__(self, framing: Bx5Framing) -> None:
        self.framing = framing
        self._body = bytearray()
        self._in_frame = False
        self._garbage = 0
        self._limit = 2 * (_HEADER.size + framing.max_data + CRC_SIZE)

    def feed(self, data: bytes) -> list[Bx5Frame | Bx5Fault]:
        """Everything ``data`` completes, in order."""
        out: list[Bx5Frame | Bx5Fault] = []
        framing = self.framing
        for byte in data:
            if byte == framing.preamble:
                self._flush_garbage(out)
                if self._in_frame and self._body:
                    out.append(Bx5Fault(Bx5FaultKind.TRUNCATED, len(self._body), "new preamble"))
                self._in_frame = True
                self._body.clear()
            elif not self._in_frame:
                self._garbage += 1
            elif byte == framing.tail:
                out.append(self._finish(bytes(self._body)))
                self._in_frame = False
                self._body.clear()
            else:
                self._body.append(byte)
                if len(self._body) > self._limit:
                    out.append(Bx5Fault(Bx5FaultKind.TOO_LONG, len(self._body)))
                    self._in_frame = False
                    self._body.clear()
        self._flush_garbage(out)
        return out

    def expire(self) -> list[Bx5Fault]:
        """The line went quiet: a partial frame will not complete."""
        out: list[Bx5Fault] = []
        if self._in_frame and self._body:
            out.append(Bx5Fault(Bx5FaultKind.TRUNCATED, len(self._body), "silence"))
        self._in_frame = False
        self._body.clear()
        return out

    def _flush_garbage(self, out: list[Bx5Frame | Bx5Fault]) -> None:
        if self._garbage:
            out.append(Bx5Fault(Bx5FaultKind.GARBAGE, self._garbage))
            self._garbage = 0

    def _finish(self, stuffed: bytes) -> Bx5Frame | Bx5Fault:
        size = len(stuffed)
        body = unstuff(stuffed, self.framing)
        if body is None:
            return Bx5Fault(Bx5FaultKind.BAD_ESCAPE, size)
        if len(body) < _HEADER.size + CRC_SIZE:
            return Bx5Fault(Bx5FaultKind.BAD_LENGTH, size, f"{len(body)} bytes is no frame")
        dst, src, _reserved, _ck, _dm, _type, _version, length = _HEADER.unpack_from(body)
        if _HEADER.size + length + CRC_SIZE != len(body):
            return Bx5Fault(
                Bx5FaultKind.BAD_LENGTH,
                size,
                f"header says {length} data bytes, frame has {len(body) - _HEADER.size - CRC_SIZE}",
            )
        (crc,) = struct.unpack_from("<H", body, len(body) - CRC_SIZE)
        expected = crc16_arc(body[:-CRC_SIZE])
        if crc != expected:
            return Bx5Fault(Bx5FaultKind.BAD_CRC, size, f"got {crc:04X}, expected {expected:04X}")
        return Bx5Frame(dst, src, body[_HEADER.size : -CRC_SIZE])


# --- commands ------------------------------------------------------------------------


class Bx5Commands(BaseModel):
    """Command group and code of each command the wall uses (profile data)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ping: tuple[int, int] = (0xA2, 0x00)  # "are you there"; answered like any command
    dynamic_text: tuple[int, int] = (0xA3, 0x06)  # real-time text into a dynamic area
    brightness: tuple[int, int] = (0xA3, 0x02)
    reply_group: int = Field(default=0xA0, ge=0, le=0xFF)  # the controller's answers
    reply_ok: int = Field(default=0x00, ge=0, le=0xFF)


class Effect(StrEnum):
    """How a dynamic area shows its text."""

    STATIC = "static"
    SCROLL_LEFT = "scroll_left"


EFFECT_CODES = {Effect.STATIC: 0x01, Effect.SCROLL_LEFT: 0x03}
PIXEL_UNITS = 0x8000  # the high bit of a coordinate: pixels, not 8-pixel columns


@dataclass(frozen=True, slots=True)
class DynamicArea:
    """Where on the board the text goes (pixels) and how it runs."""

    width: int
    height: int
    x: int = 0
    y: int = 0
    area_id: int = 0
    speed: int = 10  # scroll step delay; lower is faster
    stay_s: int = 0  # how long a static page stays before the next


def dynamic_text_payload(area: DynamicArea, text: bytes, effect: Effect) -> bytes:
    """The payload of a dynamic-area text command: one area, replaced in place.

    ``text`` is already encoded (GB2312) with the board's inline colour code in front.
    """
    area_data = (
        bytes([0x00])  # area type: text
        + struct.pack(
            "<HHHH",
            PIXEL_UNITS | area.x,
            PIXEL_UNITS | area.y,
            PIXEL_UNITS | area.width,
            PIXEL_UNITS | area.height,
        )
        + bytes([area.area_id, 0x00])  # area id, line spacing
        + bytes([0x00])  # run mode 0: show the data in a loop until replaced
        + struct.pack("<H", 0)  # timeout: none
        + bytes([0x00, 0x00])  # no voice, no extension bytes
        + bytes([0x0A])  # centred horizontally and vertically
        + bytes([0x01, 0x01])  # single line, no automatic wrap
        + bytes([EFFECT_CODES[effect], 0x00, area.speed & 0xFF, area.stay_s & 0xFF])
        + struct.pack("<I", len(text))
        + text
    )
    # process mode 0 (keep the area), reserved, delete no areas, one area follows
    return bytes([0x00, 0x00, 0x00, 0x01]) + struct.pack("<H", len(area_data)) + area_data


def brightness_payload(level: int) -> bytes:
    """Fixed brightness ``level`` (1..16) for all 48 half-hours of the day."""
    if not 1 <= level <= 16:
        raise Bx5EncodeError("BX brightness is 1..16")
    return bytes([0x00]) + bytes([level]) * 48


def reply_data(commands: Bx5Commands, status: int) -> bytes:
    """The data of a controller's answer (used by the emulator)."""
    return bytes([commands.reply_group, status])


def reply_status(frame: Bx5Frame, commands: Bx5Commands) -> int | None:
    """The status of a controller's answer; None when the frame is not an answer."""
    if frame.group != commands.reply_group or frame.command is None:
        return None
    return frame.command


@dataclass(frozen=True, slots=True)
class Bx5Request:
    """A host command as a controller reads it."""

    group: int
    command: int
    want_reply: bool
    payload: bytes


def parse_request(data: bytes) -> Bx5Request | None:
    """Split a host frame's data; None if it is too short to be a command."""
    if len(data) < 5:
        return None
    return Bx5Request(data[0], data[1], data[2] == 0x01, data[5:])


@dataclass(frozen=True, slots=True)
class DynamicText:
    """What a dynamic-area text command asks the board to show."""

    area: DynamicArea
    effect: Effect | None  # None: an effect code this codec does not name
    text: bytes


def parse_dynamic_text(payload: bytes) -> DynamicText | None:
    """Read back :func:`dynamic_text_payload`; None if the payload does not hold one area."""
    if len(payload) < 6 or payload[3] != 1:
        return None
    (size,) = struct.unpack_from("<H", payload, 4)
    area_data = payload[6:]
    fixed = 1 + 8 + 2 + 1 + 2 + 2 + 1 + 2 + 4 + 4
    if size != len(area_data) or size < fixed:
        return None
    x, y, width, height = struct.unpack_from("<HHHH", area_data, 1)
    area_id = area_data[9]
    effect_code, _exit, speed, stay = area_data[19:23]
    (text_size,) = struct.unpack_from("<I", area_data, 23)
    text = area_data[27:]
    if text_size != len(text):
        return None
    effects = {code: effect for effect, code in EFFECT_CODES.items()}
    area = DynamicArea(
        width=width & ~PIXEL_UNITS,
        height=height & ~PIXEL_UNITS,
        x=x & ~PIXEL_UNITS,
        y=y & ~PIXEL_UNITS,
        area_id=area_id,
        speed=speed,
        stay_s=stay,
    )
    return DynamicText(area, effects.get(effect_code), text)
