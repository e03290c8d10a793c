"""The SAM protocol of second-generation ID card readers: frames, commands, status codes.

A frame is ``AA AA AA 96 69``, a big-endian u16 length counting every byte after it,
then ``CMD PARA`` (host to reader) or ``SW1 SW2 SW3`` (reader to host), data, and an XOR
checksum of the bytes from the length through the data. SW3 is the reader's own status;
SW1/SW2 relay the card's APDU status. Pure codec: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum, StrEnum
from functools import reduce
from operator import xor
from typing import Literal

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
HEADER_SIZE = len(PREAMBLE) + 2  # preamble and length: what a USB reader sends on its own pipe
# The longest real reply (text, photo and fingerprints: 3 + 6 + 256 + 1024 + 1024 + 1 bytes)
# fits well below this; a larger length field is noise, not a frame to wait for.
MAX_LENGTH = 0x1000
TEXT_SIZE = 256  # the card's text block
PHOTO_SIZE = 1024  # the card's photo, encrypted: only vendor libraries decode it
_MIN_LENGTH = {"request": 3, "response": 4}  # CMD PARA CHK / SW1 SW2 SW3 CHK


class Command(Enum):
    """Host commands as ``(CMD, PARA)``."""

    RESET_SAM = (0x10, 0xFF)
    SAM_STATUS = (0x11, 0xFF)
    SAM_ID = (0x12, 0xFF)
    FIND_CARD = (0x20, 0x01)
    SELECT_CARD = (0x20, 0x02)
    READ_TEXT_PHOTO = (0x30, 0x01)
    READ_NEW_ADDRESS = (0x30, 0x03)
    READ_TEXT_PHOTO_FINGERPRINT = (0x30, 0x10)
    BAUD_115200 = (0x60, 0x00)
    BAUD_57600 = (0x60, 0x01)
    BAUD_38400 = (0x60, 0x02)
    BAUD_19200 = (0x60, 0x03)
    BAUD_9600 = (0x60, 0x04)

    @classmethod
    def lookup(cls, cmd: int, para: int) -> Command | None:
        """The command for a ``(CMD, PARA)`` pair, or None if the protocol has no such one."""
        return _COMMANDS.get((cmd, para))


_COMMANDS = {c.value: c for c in Command}


class Outcome(StrEnum):
    """What a status code means for the reading cycle."""

    SUCCESS = "success"
    NO_CARD = "no_card"  # nothing to read: the normal answer while nobody taps
    CARD_ERROR = "card_error"  # the card moved, is damaged or is not an ID card: try the next tap
    HOST_ERROR = "host_error"  # the reader did not understand us: a line or driver problem
    SAM_FAULT = "sam_fault"  # the security module cannot work: the reader needs service


class Status(IntEnum):
    """SW3, the reader's status byte."""

    OK = 0x90
    CARD_FOUND = 0x9F
    BAD_CHECKSUM = 0x10
    BAD_LENGTH = 0x11
    BAD_COMMAND = 0x21
    NOT_PERMITTED = 0x23
    UNRECOGNISED_ERROR = 0x24
    CARD_REJECTS_READER = 0x31
    READER_REJECTS_CARD = 0x32
    VERIFICATION_FAILED = 0x33
    WRONG_CARD_TYPE = 0x40
    READ_FAILED = 0x41
    RANDOM_NUMBER_FAILED = 0x47
    SELF_TEST_FAILED = 0x60
    NOT_AUTHORISED = 0x66
    NO_CARD = 0x80
    SELECT_FAILED = 0x81
    NO_CONTENT = 0x91

    @property
    def meaning(self) -> str:
        """What the reader says, in words an integrator can act on."""
        return _MEANINGS[self][1]

    @property
    def outcome(self) -> Outcome:
        """How the reading cycle treats this status."""
        return _MEANINGS[self][0]


_MEANINGS: dict[Status, tuple[Outcome, str]] = {
    Status.OK: (Outcome.SUCCESS, "success"),
    Status.CARD_FOUND: (Outcome.SUCCESS, "card found"),
    Status.BAD_CHECKSUM: (Outcome.HOST_ERROR, "the reader got a frame with a bad checksum"),
    Status.BAD_LENGTH: (Outcome.HOST_ERROR, "the reader got a frame with a bad length"),
    Status.BAD_COMMAND: (Outcome.HOST_ERROR, "the reader does not accept this command"),
    Status.NOT_PERMITTED: (Outcome.HOST_ERROR, "operation not permitted in this state"),
    Status.UNRECOGNISED_ERROR: (Outcome.CARD_ERROR, "unrecognised error"),
    Status.CARD_REJECTS_READER: (Outcome.CARD_ERROR, "the card did not authenticate the reader"),
    Status.READER_REJECTS_CARD: (Outcome.CARD_ERROR, "the reader did not authenticate the card"),
    Status.VERIFICATION_FAILED: (Outcome.CARD_ERROR, "the card's data failed verification"),
    Status.WRONG_CARD_TYPE: (Outcome.CARD_ERROR, "not an ID card"),
    Status.READ_FAILED: (Outcome.CARD_ERROR, "reading the card failed"),
    Status.RANDOM_NUMBER_FAILED: (Outcome.CARD_ERROR, "the card gave no random number"),
    Status.SELF_TEST_FAILED: (Outcome.SAM_FAULT, "the SAM failed its self-test"),
    Status.NOT_AUTHORISED: (Outcome.SAM_FAULT, "the SAM is not authorised"),
    Status.NO_CARD: (Outcome.NO_CARD, "no card on the reader"),
    Status.SELECT_FAILED: (Outcome.CARD_ERROR, "selecting the card failed"),
    Status.NO_CONTENT: (Outcome.SUCCESS, "the card holds nothing for this item"),
}


class SamError(ValueError):
    """Base of this codec's errors."""


class SamEncodeError(SamError):
    """A frame cannot be built: too much data, or a value outside a byte."""


class ReadReplyError(SamError):
    """The data of a read reply does not hold the blocks its header announces."""


@dataclass(frozen=True, slots=True)
class Request:
    """A host command; ``cmd``/``para`` are kept raw so unknown commands can be answered."""

    cmd: int
    para: int
    data: bytes = b""

    @property
    def command(self) -> Command | None:
        """The known command, or None."""
        return Command.lookup(self.cmd, self.para)


@dataclass(frozen=True, slots=True)
class Response:
    """A reader reply; ``sw3`` is kept raw so unknown status codes can be reported."""

    sw1: int
    sw2: int
    sw3: int
    data: bytes = b""

    @property
    def status(self) -> Status | None:
        """The known status, or None for a code the protocol does not define."""
        try:
            return Status(self.sw3)
        except ValueError:
            return None

    def describe(self) -> str:
        """The status in words, with the raw bytes for a code nobody knows."""
        status = self.status
        if status is None:
            return f"unknown status {self.sw1:02X} {self.sw2:02X} {self.sw3:02X}"
        return f"{status.meaning} ({self.sw3:02X})"


class FaultKind(StrEnum):
    """Why bytes on the line did not make a frame."""

    GARBAGE = "garbage"  # bytes outside any frame
    BAD_LENGTH = "bad_length"  # the length field cannot be a frame's
    BAD_CHECKSUM = "bad_checksum"
    TRUNCATED = "truncated"  # a frame stopped short: a new one began inside it, or time ran out


@dataclass(frozen=True, slots=True)
class FrameFault:
    """Bytes the decoder dropped, and exactly why."""

    kind: FaultKind
    raw: bytes
    detail: str


Frame = Request | Response
Direction = Literal["request", "response"]


def checksum(body: bytes) -> int:
    """XOR of the bytes from the length field through the data."""
    return reduce(xor, body, 0)


def _frame(fields: bytes) -> bytes:
    length = len(fields) + 1
    if length > MAX_LENGTH:
        raise SamEncodeError(f"frame of {length} bytes exceeds the protocol's {MAX_LENGTH}")
    body = length.to_bytes(2, "big") + fields
    return PREAMBLE + body + bytes((checksum(body),))


def _byte(name: str, value: int) -> int:
    if not 0 <= value <= 0xFF:
        raise SamEncodeError(f"{name} {value} is not a byte")
    return value


def encode_request(command: Command | tuple[int, int], data: bytes = b"") -> bytes:
    """A host command frame."""
    cmd, para = command.value if isinstance(command, Command) else command
    return _frame(bytes((_byte("CMD", cmd), _byte("PARA", para))) + data)


def encode_response(status: Status | int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    """A reader reply frame (what the emulator sends)."""
    return _frame(bytes((_byte("SW1", sw1), _byte("SW2", sw2), _byte("SW3", int(status)))) + data)


def encode_frame(frame: Frame) -> bytes:
    """The bytes of a decoded frame (round trip)."""
    if isinstance(frame, Request):
        return encode_request((frame.cmd, frame.para), frame.data)
    return encode_response(frame.sw3, frame.data, frame.sw1, frame.sw2)


def declared_length(header: bytes) -> int | None:
    """The length field of a frame header, or None if ``header`` does not start a frame."""
    if len(header) < HEADER_SIZE or not header.startswith(PREAMBLE):
        return None
    return int.from_bytes(header[len(PREAMBLE) : HEADER_SIZE], "big")


class SamDecoder:
    """Incremental decoder: ``feed`` bytes as they arrive, get whole frames and faults.

    It never raises. After garbage, a bad length or a bad checksum it resynchronises on
    the next preamble; a frame cut short by a new one is reported as truncated once the
    bytes show it, or when the host gives up waiting and calls ``expire``. The protocol
    does not escape preambles: a frame whose data holds one that could begin a frame is
    held until that frame completes (then it was a cut) or the host expires both.
    """

    def __init__(self, direction: Direction) -> None:
        self.direction = direction
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame | FrameFault]:
        """Take bytes from the line; return every frame and fault they complete."""
        self._buffer += data
        out: list[Frame | FrameFault] = []
        while self._buffer:
            if not self._at_preamble(out):
                break
            item = self._take_frame()
            if item is None:
                break
            out.append(item)
        return out

    def expire(self) -> list[Frame | FrameFault]:
        """The rest is not coming: drop every incomplete frame held, decode whole ones after."""
        out: list[Frame | FrameFault] = []
        while self._buffer:
            held = bytes(self._buffer)
            start = held.find(PREAMBLE, 1) if held.startswith(PREAMBLE) else -1
            cut = start if start > 0 else len(held)
            del self._buffer[:cut]
            out.append(
                FrameFault(FaultKind.TRUNCATED, held[:cut], f"{cut} bytes never completed a frame")
            )
            out += self.feed(b"")
        return out

    def _at_preamble(self, out: list[Frame | FrameFault]) -> bool:
        """Drop garbage before the next preamble; False if no whole preamble is here yet."""
        buffer = bytes(self._buffer)
        start = buffer.find(PREAMBLE)
        if start < 0:
            # Keep a tail that may be the start of a preamble still arriving.
            keep = next(
                (n for n in range(len(PREAMBLE) - 1, 0, -1) if buffer.endswith(PREAMBLE[:n])), 0
            )
            start = len(buffer) - keep
        if start > 0:
            out.append(
                FrameFault(FaultKind.GARBAGE, buffer[:start], f"{start} bytes outside a frame")
            )
            del self._buffer[:start]
        return self._buffer[: len(PREAMBLE)] == PREAMBLE

    def _next_frame_start(self, end: int, *, intact: bool) -> tuple[int, bool] | None:
        """Where a new frame begins after the preamble at the start and before ``end``,
        and whether all of it is here.

        A frame cut short is followed at once by the next one, whose preamble may straddle
        the cut frame's declared end (a short reply cut after 0-3 bytes). When the span's
        checksum fails, a preamble there, or bytes at the end of what has arrived that
        match a preamble's start, mark the cut. When it holds (a cut frame matches by
        chance 1 time in 256), only a preamble that starts a frame does, whole with its
        checksum or still arriving: a real reply may carry a preamble's bytes in its data
        (the protocol does not escape them), but then they rarely also make a frame.
        """
        buffer = bytes(self._buffer)
        for start in range(len(PREAMBLE), end):
            ahead = buffer[start : start + len(PREAMBLE)]
            if not intact and ahead and PREAMBLE.startswith(ahead):
                return start, True
            if intact and ahead == PREAMBLE:
                whole = self._frame_at(buffer, start)
                if whole is not None:
                    return start, whole
        return None

    def _frame_at(self, buffer: bytes, start: int) -> bool | None:
        """True: a whole frame with its checksum is at ``start``; False: one may still be
        arriving there; None: no frame starts there."""
        length = declared_length(buffer[start : start + HEADER_SIZE])
        if length is None:
            return False
        if not _MIN_LENGTH[self.direction] <= length <= MAX_LENGTH:
            return None
        end = start + HEADER_SIZE + length
        if len(buffer) < end:
            return False
        return (
            True if checksum(buffer[start + len(PREAMBLE) : end - 1]) == buffer[end - 1] else None
        )

    def _take_frame(self) -> Frame | FrameFault | None:
        """The frame at the start of the buffer, a fault, or None if more bytes are needed."""
        length = declared_length(bytes(self._buffer[:HEADER_SIZE]))
        if length is None:
            return None
        if not _MIN_LENGTH[self.direction] <= length <= MAX_LENGTH:
            # Only the preamble is dropped: the length bytes may begin the next frame, and
            # preambles cannot overlap, so the rescan starts right after this one.
            del self._buffer[: len(PREAMBLE)]
            return FrameFault(
                FaultKind.BAD_LENGTH,
                PREAMBLE,
                f"length {length} outside {_MIN_LENGTH[self.direction]}..{MAX_LENGTH}",
            )
        end = HEADER_SIZE + length
        if len(self._buffer) < end:
            return None
        raw = bytes(self._buffer[:end])
        expected = checksum(raw[len(PREAMBLE) : -1])
        found = self._next_frame_start(end, intact=expected == raw[-1])
        if found is not None:
            restart, whole = found
            if not whole:
                # It checks out but holds the start of a frame still arriving: wait to see
                # if that frame completes (this one was cut) or not; expire settles a cut.
                return None
            del self._buffer[:restart]
            return FrameFault(
                FaultKind.TRUNCATED,
                raw[:restart],
                f"frame declared {length} bytes but a new frame began after "
                f"{restart - HEADER_SIZE}",
            )
        del self._buffer[:end]
        if expected != raw[-1]:
            return FrameFault(
                FaultKind.BAD_CHECKSUM,
                raw,
                f"checksum {raw[-1]:02X}, expected {expected:02X}",
            )
        fields = raw[HEADER_SIZE:-1]
        if self.direction == "request":
            return Request(fields[0], fields[1], fields[2:])
        return Response(fields[0], fields[1], fields[2], fields[3:])


@dataclass(frozen=True, slots=True)
class CardBlocks:
    """The blocks of a read reply: the text, the encrypted photo and any fingerprints."""

    text: bytes
    photo: bytes
    fingerprint: bytes = b""


def split_read_data(data: bytes, *, with_fingerprint: bool = False) -> CardBlocks:
    """The data of a ``READ_TEXT_PHOTO``(``_FINGERPRINT``) reply into its blocks."""
    sizes_len = 6 if with_fingerprint else 4
    if len(data) < sizes_len:
        raise ReadReplyError(f"read reply of {len(data)} bytes has no block sizes")
    sizes = [int.from_bytes(data[i : i + 2], "big") for i in range(0, sizes_len, 2)]
    if len(data) != sizes_len + sum(sizes):
        raise ReadReplyError(
            f"read reply announces blocks of {sizes} bytes but carries {len(data) - sizes_len}"
        )
    blocks, offset = [], sizes_len
    for size in sizes:
        blocks.append(data[offset : offset + size])
        offset += size
    return CardBlocks(*blocks)


def join_read_data(blocks: CardBlocks, *, with_fingerprint: bool = False) -> bytes:
    """The data of a read reply (what the emulator sends)."""
    parts = [blocks.text, blocks.photo] + ([blocks.fingerprint] if with_fingerprint else [])
    sizes = b"".join(len(p).to_bytes(2, "big") for p in parts)
    return sizes + b"".join(parts)
