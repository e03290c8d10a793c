"""The 'Acme ASCII' LED board protocol: a pure codec, no I/O.

An illustrative protocol of the kind cheap window boards speak, made up for this
example (no real vendor's): every byte of a frame except STX and ETX is printable ASCII,
so the framing needs no escaping.

    request  STX, address (2 hex digits), command, payload, ETX, BCC (2 hex digits)
    answer   ACK or NAK, address (2 hex digits)

BCC is the XOR of every byte from the address up to and including ETX. Commands: ``T``
(text: a colour letter, ``S`` static or ``L`` scroll left, then the text's bytes in the
board's encoding as hex digits) and ``P`` (ping: no payload, answered like any frame).
"""

from __future__ import annotations

from dataclasses import dataclass

STX, ETX, ACK, NAK = 0x02, 0x03, 0x06, 0x15
TEXT, PING = "T", "P"
MAX_FRAME = 1024  # longer than any frame a board accepts: garbage, start again
MAX_ADDRESS = 0xFF


class AcmeEncodeError(ValueError):
    """A frame this protocol cannot carry (address out of range, ...)."""


@dataclass(frozen=True, slots=True)
class AcmeFrame:
    """One request frame."""

    address: int
    command: str
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class AcmeText:
    """A text command's meaning."""

    colour: str
    scrolling: bool
    text: bytes


def _bcc(body: bytes) -> bytes:
    value = 0
    for byte in body:
        value ^= byte
    return b"%02X" % value


def encode_frame(frame: AcmeFrame) -> bytes:
    """A request frame's bytes."""
    if not 0 <= frame.address <= MAX_ADDRESS:
        raise AcmeEncodeError(f"address {frame.address} is not 0..255")
    if len(frame.command) != 1 or not frame.command.isascii():
        raise AcmeEncodeError(f"command {frame.command!r} is not one ASCII letter")
    body = b"%02X" % frame.address + frame.command.encode() + frame.payload + bytes([ETX])
    return bytes([STX]) + body + _bcc(body)


def text_payload(colour: str, scrolling: bool, text: bytes) -> bytes:
    """A ``T`` command's payload."""
    return colour.encode("ascii") + (b"L" if scrolling else b"S") + text.hex().upper().encode()


def parse_text(payload: bytes) -> AcmeText | None:
    """A ``T`` payload read back; None if malformed."""
    if len(payload) < 2 or payload[1:2] not in (b"S", b"L"):
        return None
    try:
        text = bytes.fromhex(payload[2:].decode("ascii"))
    except ValueError:
        return None
    return AcmeText(chr(payload[0]), payload[1:2] == b"L", text)


def encode_answer(address: int, ok: bool = True) -> bytes:
    """A board's answer."""
    return bytes([ACK if ok else NAK]) + b"%02X" % address


def _hex_address(data: bytes) -> int | None:
    try:
        return int(data.decode("ascii"), 16) if len(data) == 2 else None
    except (UnicodeDecodeError, ValueError):
        return None


class FrameDecoder:
    """Request frames from a byte stream; never raises, resynchronises on the next STX."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.faults = 0  # frames dropped: bad BCC, malformed, too long

    def feed(self, data: bytes) -> list[AcmeFrame]:
        """Bytes in, whole valid frames out."""
        frames: list[AcmeFrame] = []
        for byte in data:
            if byte == STX:
                if self._buffer:
                    self.faults += 1  # a frame cut short by the next one
                self._buffer = bytearray([STX])
                continue
            if not self._buffer:
                continue  # noise between frames
            self._buffer.append(byte)
            if len(self._buffer) > MAX_FRAME:
                self.faults += 1
                self._buffer.clear()
                continue
            etx = self._buffer.find(ETX)
            if etx >= 0 and len(self._buffer) == etx + 3:
                frame = self._frame(bytes(self._buffer))
                self._buffer.clear()
                if frame is None:
                    self.faults += 1
                else:
                    frames.append(frame)
        return frames

    @staticmethod
    def _frame(raw: bytes) -> AcmeFrame | None:
        body, bcc = raw[1:-2], raw[-2:]
        if len(body) < 4 or _bcc(body) != bcc:
            return None
        address = _hex_address(body[:2])
        command = body[2:3].decode("ascii", errors="replace")
        if address is None or not command.isalpha():
            return None
        return AcmeFrame(address, command, body[3:-1])


class AnswerDecoder:
    """Answers from a byte stream: (address, ok) for each ACK or NAK read."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> tuple[list[tuple[int, bool]], int]:
        """Bytes in; answers read and how many bytes were noise."""
        answers: list[tuple[int, bool]] = []
        noise = 0
        for byte in data:
            if not self._buffer:
                if byte in (ACK, NAK):
                    self._buffer.append(byte)
                else:
                    noise += 1
                continue
            self._buffer.append(byte)
            if len(self._buffer) == 3:
                address = _hex_address(bytes(self._buffer[1:]))
                if address is None:
                    noise += 3
                else:
                    answers.append((address, self._buffer[0] == ACK))
                self._buffer.clear()
        return answers, noise
