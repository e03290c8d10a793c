"""The line protocol of cheap window screens: an address byte, GBK text, CR.

``<address> <text in GBK> 0D``. A board that acknowledges answers ``<address> 06``.
GBK's two-byte characters never contain a byte below 0x40, so CR cannot occur inside
the text; control characters are dropped before encoding and address 13 (CR itself) is
not allowed. All constants are profile data (:class:`LineFraming`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class LineFraming(BaseModel):
    """Constants of one line-protocol screen model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    terminator: int = Field(default=0x0D, ge=0, le=0xFF)
    encoding: str = "gbk"
    acknowledges: bool = True  # answers each line with its address and ``ack``
    ack: int = Field(default=0x06, ge=0, le=0xFF)
    max_bytes: int = Field(default=64, ge=2, le=1024)  # text bytes one line holds

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        "".encode(value)  # raises LookupError for an unknown codec
        return value


class LineEncodeError(ValueError):
    """An address the line cannot carry."""


def clean_text(text: str, framing: LineFraming) -> bytes:
    """``text`` as the board's bytes: controls dropped, unknown characters as '?', cut to fit.

    A cut never splits a two-byte character.
    """
    printable = "".join(ch for ch in text if ch.isprintable())
    encoded = b""
    for ch in printable:
        piece = ch.encode(framing.encoding, errors="replace")
        if len(encoded) + len(piece) > framing.max_bytes:
            break
        encoded += piece
    return encoded


def encode_line(address: int, text: str, framing: LineFraming) -> bytes:
    """One line for the board at ``address``."""
    if not 0 <= address <= 0xFF or address == framing.terminator:
        raise LineEncodeError(f"address {address} cannot be sent on this line")
    return bytes([address]) + clean_text(text, framing) + bytes([framing.terminator])


def encode_ack(address: int, framing: LineFraming) -> bytes:
    """A board's acknowledgement (used by the emulator)."""
    return bytes([address, framing.ack])


@dataclass(frozen=True, slots=True)
class TextLine:
    """A decoded line: the address and its text."""

    address: int
    text: str


class LineFaultKind(StrEnum):
    """Why bytes did not make a line."""

    EMPTY = "empty"  # a terminator with no address before it
    BAD_TEXT = "bad_text"  # not valid in the board's encoding
    TOO_LONG = "too_long"


@dataclass(frozen=True, slots=True)
class LineFault:
    """Bytes that were not a line, and why."""

    kind: LineFaultKind
    size: int


class LineDecoder:
    """Host lines as a board sees them; never raises."""

    def __init__(self, framing: LineFraming) -> None:
        self.framing = framing
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[TextLine | LineFault]:
        """Every line ``data`` completes."""
        out: list[TextLine | LineFault] = []
        for byte in data:
            if byte != self.framing.terminator:
                self._buffer.append(byte)
                if len(self._buffer) > self.framing.max_bytes + 1:
                    out.append(LineFault(LineFaultKind.TOO_LONG, len(self._buffer)))
                    self._buffer.clear()
                continue
            raw = bytes(self._buffer)
            self._buffer.clear()
            if not raw:
                out.append(LineFault(LineFaultKind.EMPTY, 1))
                continue
            try:
                text = raw[1:].decode(self.framing.encoding)
            except UnicodeDecodeError:
                out.append(LineFault(LineFaultKind.BAD_TEXT, len(raw) + 1))
                continue
            out.append(TextLine(raw[0], text))
        return out

    def expire(self) -> int:
        """The line went quiet: drop a partial line; returns its size."""
        size = len(self._buffer)
        self._buffer.clear()
        return size


class AckDecoder:
    """Acknowledgements as the host reads them: ``<address> <ack>`` pairs."""

    def __init__(self, framing: LineFraming) -> None:
        self.framing = framing
        self._last: int | None = None

    def feed(self, data: bytes) -> tuple[list[int], int]:
        """Addresses acknowledged in ``data``, and how many bytes were noise."""
        acked: list[int] = []
        noise = 0
        for byte in data:
            if self._last is not None and byte == self.framing.ack:
                acked.append(self._last)
                self._last = None
                continue
            if self._last is not None:
                noise += 1
            self._last = byte
        return acked, noise

    def reset(self) -> None:
        """Forget a half-read acknowledgement."""
        self._last = None
