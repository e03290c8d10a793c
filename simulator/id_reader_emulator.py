"""A SAM ID card reader on the far end of a serial line (pty), or behind an emulated USB port.

It answers the frames a real reader answers: SAM status, find, select, read, with cards
placed on and taken off it. Tests and the demo can make it fail the way readers do: a
SAM that fails its self-test, replies with bad checksums, noise on the line, slow or no
replies, and being unplugged and plugged back (the port's path stays the same, as a
udev ``by-id`` link does).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Literal

from id_reader.card_text import CardText, encode_card_text
from id_reader.sam_protocol import (
    PHOTO_SIZE,
    CardBlocks,
    Command,
    FaultKind,
    FrameFault,
    Request,
    SamDecoder,
    Status,
    encode_response,
    join_read_data,
)
from simulator.mailbox import Mailbox
from simulator.pty_port import PtyPort

FindAfterRead = Literal["fails", "succeeds"]


class _Phase(Enum):
    IDLE = "idle"
    FOUND = "found"
    SELECTED = "selected"
    READ = "read"


@dataclass
class Faults:
    """What the reader does wrong, set by tests and the demo."""

    sam_status: Status | None = None  # e.g. SELF_TEST_FAILED: every SAM answer says so
    corrupt_replies: int = 0  # the next N replies have a wrong checksum
    garbage: bytes = b""  # sent on the line before the next reply
    reply_delay_s: float = 0.0  # slow replies
    silent: bool = False  # answers nothing at all


class IdReaderEmulator:
    """One reader: the card on it, what it was asked, and the port it listens on."""

    def __init__(self, *, find_after_read: FindAfterRead = "fails", seed: int = 7) -> None:
        # Real readers differ: most stop finding a card once it was read until it is
        # lifted; some keep finding it. The daemon must send one event either way.
        self.find_after_read = find_after_read
        self.faults = Faults()
        self.requests: Mailbox[Request] = Mailbox()
        self._random = random.Random(seed)
        self._card: CardText | None = None
        self._phase = _Phase.IDLE
        self._decoder = SamDecoder("request")
        self._lock = threading.Lock()
        self._port: PtyPort | None = None

    # --- the card ---------------------------------------------------------------------
    def place(self, card: CardText) -> None:
        """Put a card on the reader."""
        with self._lock:
            self._card, self._phase = card, _Phase.IDLE

    def remove(self) -> None:
        """Lift the card off."""
        with self._lock:
            self._card, self._phase = None, _Phase.IDLE

    def count(self, command: Command) -> int:
        """How often the host sent ``command``."""
        return sum(1 for r in self.requests.items() if r.command is command)

    # --- the protocol -------------------------------------------------------------------
    def polls(self) -> int:
        """How many commands the host has sent so far."""
        return len(self.requests.items())

    def wait_for_polls(self, count: int, timeout: float) -> bool:
        """Wait until the host has sent ``count`` commands in all."""
        return self.requests.wait_count(count, timeout)

    def receive(self, data: bytes) -> bytes:
        """Take bytes from the host; return the reader's answer bytes."""
        out = bytearray()
        with self._lock:
            for item in self._decoder.feed(data):
                reply = self._answer(item)
                if reply is None:
                    continue
                if self.faults.garbage:
                    out += self.faults.garbage
                    self.faults.garbage = b""
                if self.faults.corrupt_replies > 0:
                    self.faults.corrupt_replies -= 1
                    reply = reply[:-1] + bytes((reply[-1] ^ 0x5A,))
                out += reply
        return bytes(out)

    def _answer(self, item: Request | object) -> bytes | None:
        if isinstance(item, FrameFault):
            if item.kind is FaultKind.BAD_CHECKSUM:
                return encode_response(Status.BAD_CHECKSUM)
            if item.kind is FaultKind.BAD_LENGTH:
                return encode_response(Status.BAD_LENGTH)
            return None  # noise: a real reader stays quiet
        if not isinstance(item, Request):
            return None
        self.requests.put(item)
        if self.faults.silent:
            return None
        command = item.command
        sam = self.faults.sam_status
        if sam is not None and command is not None:
            return encode_response(sam)
        match command:
            case Command.SAM_STATUS | Command.RESET_SAM:
                return encode_response(Status.OK)
            case Command.SAM_ID:
                return encode_response(Status.OK, bytes(range(16)))
            case Command.FIND_CARD:
                return self._find()
            case Command.SELECT_CARD:
                if self._phase is not _Phase.FOUND or self._card is None:
                    return encode_response(Status.SELECT_FAILED)
                self._phase = _Phase.SELECTED
                return encode_response(Status.OK, b"\x00" * 8)
            case Command.READ_TEXT_PHOTO | Command.READ_TEXT_PHOTO_FINGERPRINT:
                return self._read(with_fingerprint=command is Command.READ_TEXT_PHOTO_FINGERPRINT)
            case _:
                return encode_response(Status.BAD_COMMAND)

    def _find(self) -> bytes:
        card_found = self._card is not None and not (
            self._phase is _Phase.READ and self.find_after_read == "fails"
        )
        if not card_found:
            return encode_response(Status.NO_CARD)
        self._phase = _Phase.FOUND
        return encode_response(Status.CARD_FOUND, b"\x00" * 4)

    def _read(self, *, with_fingerprint: bool) -> bytes:
        if self._phase is not _Phase.SELECTED or self._card is None:
            return encode_response(Status.READ_FAILED)
        self._phase = _Phase.READ
        # The photo is encrypted (WLT): random bytes are as opaque as the real thing.
        photo = self._random.randbytes(PHOTO_SIZE)
        blocks = CardBlocks(encode_card_text(self._card), photo)
        return encode_response(Status.OK, join_read_data(blocks, with_fingerprint=with_fingerprint))

    # --- serial, through a pty behind a stable path --------------------------------------
    def serve_pty(self, link: Path) -> str:
        """Listen on a new pty reached through ``link`` (a symlink); returns ``link``."""
        self._port = PtyPort(link, self.receive, delay_s=lambda: self.faults.reply_delay_s)
        self.plug()
        return str(link)

    def plug(self) -> None:
        """Plug the reader in: a new port appears under the same path."""
        if self._port is None:
            raise RuntimeError("serve_pty first")
        with self._lock:
            self._decoder = SamDecoder("request")
        self._port.plug()

    def unplug(self) -> None:
        """Pull the cable: the port disappears and the host's reads fail."""
        if self._port is not None:
            self._port.unplug()

    # --- lifecycle --------------------------------------------------------------------
    def stop(self) -> None:
        """Stop answering and close the port."""
        self.unplug()
