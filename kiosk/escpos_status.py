"""ESC/POS real-time status (``DLE EOT n``): the queries and what their answer bytes mean.

Each query is answered with one byte. Bits 1 and 4 of every answer are fixed at 1 and
bits 0 and 7 at 0, which is how a reply is told apart from noise on the line.
Pure codec: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from hallbus.messages import PrinterFault

DLE_EOT = b"\x10\x04"

_FIXED_MASK = 0b1001_0011
_FIXED_VALUE = 0b0001_0010


class StatusQuery(IntEnum):
    """The ``n`` of ``DLE EOT n``."""

    PRINTER = 1  # bit 3: offline
    OFFLINE_CAUSE = 2  # bit 2: cover open, bit 5: stopped at paper end, bit 6: error
    ERROR_CAUSE = 3  # bit 3: cutter error, bit 5: unrecoverable, bit 6: auto-recoverable
    PAPER = 4  # bits 2-3: near end, bits 5-6: paper end

    @property
    def command(self) -> bytes:
        """The bytes that ask this question."""
        return DLE_EOT + bytes((self.value,))


# The order a status check asks in: the error cause only when the offline cause says so.
ROUTINE_QUERIES = (StatusQuery.PRINTER, StatusQuery.OFFLINE_CAUSE, StatusQuery.PAPER)


class StatusReplyError(ValueError):
    """A byte that cannot be a status answer: noise, or a printer that is not ESC/POS."""


def is_status_byte(value: int) -> bool:
    """Whether ``value`` has the fixed bits of a DLE EOT answer."""
    return value & _FIXED_MASK == _FIXED_VALUE


@dataclass(frozen=True, slots=True)
class StatusAnswers:
    """The answer bytes of one status check, by query; missing ones were not asked."""

    answers: dict[StatusQuery, int]

    def faults(self) -> list[PrinterFault]:
        """The faults these answers show, most serious first, without duplicates."""
        for query, value in self.answers.items():
            if not is_status_byte(value):
                raise StatusReplyError(f"0x{value:02x} is not an answer to DLE EOT {query}")
        found: list[PrinterFault] = []
        offline = self.answers.get(StatusQuery.OFFLINE_CAUSE, 0)
        paper = self.answers.get(StatusQuery.PAPER, 0)
        error = self.answers.get(StatusQuery.ERROR_CAUSE, 0)
        if offline & 0x04:
            found.append(PrinterFault.COVER_OPEN)
        if paper & 0x60 or offline & 0x20:
            found.append(PrinterFault.PAPER_OUT)
        if error & 0x08:
            found.append(PrinterFault.CUTTER_ERROR)
        if error & 0x60:
            found.append(PrinterFault.MECHANICAL_ERROR)
        if self.answers.get(StatusQuery.PRINTER, 0) & 0x08 and not found:
            found.append(PrinterFault.OFFLINE)
        if paper & 0x0C and PrinterFault.PAPER_OUT not in found:
            found.append(PrinterFault.PAPER_NEAR_END)
        return found

    @property
    def needs_error_cause(self) -> bool:
        """Whether the offline cause reports an error worth asking about."""
        return bool(self.answers.get(StatusQuery.OFFLINE_CAUSE, 0) & 0x40)


def encode_answer(
    query: StatusQuery,
    *,
    offline: bool = False,
    cover_open: bool = False,
    paper_near_end: bool = False,
    paper_out: bool = False,
    cutter_error: bool = False,
    mechanical_error: bool = False,
) -> int:
    """The byte a printer in this condition answers to ``query`` (used by the emulator)."""
    value = _FIXED_VALUE
    stopped = offline or cover_open or paper_out or cutter_error or mechanical_error
    if query is StatusQuery.PRINTER and stopped:
        value |= 0x08
    elif query is StatusQuery.OFFLINE_CAUSE:
        value |= (0x04 if cover_open else 0) | (0x20 if paper_out else 0)
        value |= 0x40 if cutter_error or mechanical_error else 0
    elif query is StatusQuery.ERROR_CAUSE:
        value |= (0x08 if cutter_error else 0) | (0x20 if mechanical_error else 0)
    elif query is StatusQuery.PAPER:
        value |= (0x0C if paper_near_end or paper_out else 0) | (0x60 if paper_out else 0)
    return value
