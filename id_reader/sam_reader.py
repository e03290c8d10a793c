"""The SAM reader driver: the find / select / read cycle over a byte link.

Each command waits for its reply with a timeout; replies left over from an earlier
command that timed out are dropped before the next one is sent, since SAM replies do
not name the command they answer. The photo is read with the text (readers send both
in one reply) and dropped here: it never leaves this module.
"""

from __future__ import annotations

import logging
import time

from hallbus.links import ByteLink
from id_reader.card_text import CardDataError, parse_card_text
from id_reader.profile import SamTiming
from id_reader.sam_protocol import (
    Command,
    Frame,
    FrameFault,
    Outcome,
    ReadReplyError,
    Response,
    SamDecoder,
    Status,
    encode_request,
    split_read_data,
)
from id_reader.sources import (
    LineHealth,
    NoCard,
    NoReply,
    PollResult,
    SamFault,
    Tapped,
    Unreadable,
)

log = logging.getLogger(__name__)


class SamCardSource:
    """A SAM reader (serial or USB) as a source of taps."""

    repeat_guard_s = 0.0  # the reader itself says when the card is gone

    def __init__(self, link: ByteLink, timing: SamTiming) -> None:
        self.link = link
        self.timing = timing
        self.poll_interval_s = timing.poll_interval_s
        self.reconnect_s = timing.reconnect_s
        self.absent_polls = timing.absent_polls
        self.line = LineHealth()
        self._decoder = SamDecoder("response")
        self._replies: list[Response] = []

    def describe(self) -> str:
        """Where the reader is."""
        return self.link.describe()

    def open(self) -> None:
        """Open the link and ask the SAM whether it is well."""
        self._decoder = SamDecoder("response")
        self._replies = []
        self.link.open()
        try:
            self.check_sam()
        except Exception:
            self.link.close()
            raise

    def close(self) -> None:
        """Close the link."""
        self.link.close()

    def check_sam(self) -> None:
        """Raise ``SamFault`` unless the security module answers that it is well."""
        reply = self.transact(Command.SAM_STATUS, self.timing.reply_timeout_s)
        if reply.status is not Status.OK:
            raise SamFault(f"SAM status: {reply.describe()}")

    def transact(self, command: Command, timeout: float) -> Response:
        """Send one command and return its reply; ``NoReply`` if none comes in time."""
        self._drop_stale()
        self.link.write(encode_request(command))
        deadline = time.monotonic() + timeout
        while not self._replies:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._note(self._decoder.expire())
                if self._replies:
                    break
                raise NoReply(f"no reply to {command.name} within {timeout:.2f} s")
            self._note(self._decoder.feed(self.link.read(remaining)))
        return self._replies.pop(0)

    def _drop_stale(self) -> None:
        self._note(self._decoder.feed(self.link.read(0)))
        if self._replies:
            self.line.add(f"{len(self._replies)} late replies dropped")
            self._replies.clear()

    def _note(self, items: list[Frame | FrameFault]) -> None:
        for item in items:
            if isinstance(item, Response):
                self._replies.append(item)
            elif isinstance(item, FrameFault):
                self.line.add(f"{item.kind.value}: {item.detail}")

    def poll(self) -> PollResult:
        """Find, select and read a card if one is there."""
        found = self.transact(Command.FIND_CARD, self.timing.reply_timeout_s)
        if found.status is not Status.CARD_FOUND:
            return self._not_found(found)
        selected = self.transact(Command.SELECT_CARD, self.timing.reply_timeout_s)
        if selected.status is not Status.OK:
            return self._refused("select", selected)
        read = self.transact(Command.READ_TEXT_PHOTO, self.timing.read_timeout_s)
        if read.status is not Status.OK:
            return self._refused("read", read)
        try:
            blocks = split_read_data(read.data)
            card = parse_card_text(blocks.text)
        except (ReadReplyError, CardDataError) as err:
            return Unreadable(f"card data: {err}")
        return Tapped(card.holder)

    def _not_found(self, reply: Response) -> PollResult:
        status = reply.status
        if status is None or status.outcome is Outcome.NO_CARD:
            if status is None:
                self.line.add(f"find card: {reply.describe()}")
            return NoCard()
        if status.outcome is Outcome.SAM_FAULT:
            raise SamFault(f"find card: {reply.describe()}")
        if status.outcome is Outcome.HOST_ERROR:
            self.line.add(f"find card: {reply.describe()}")
            return NoCard()
        return Unreadable(f"find card: {reply.describe()}")

    def _refused(self, step: str, reply: Response) -> PollResult:
        status = reply.status
        if status is not None and status.outcome is Outcome.SAM_FAULT:
            raise SamFault(f"{step}: {reply.describe()}")
        if status is not None and status.outcome is Outcome.NO_CARD:
            return NoCard()  # taken away between find and read
        return Unreadable(f"{step}: {reply.describe()}")
