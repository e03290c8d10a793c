"""DLE EOT status bytes: the meaning of each bit, and noise refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hallbus.messages import PrinterFault
from kiosk.escpos_status import (
    StatusAnswers,
    StatusQuery,
    StatusReplyError,
    encode_answer,
    is_status_byte,
)

P, OFF, E, R = (StatusQuery.PRINTER, StatusQuery.OFFLINE_CAUSE, StatusQuery.ERROR_CAUSE,
                StatusQuery.PAPER)  # fmt: skip


@pytest.mark.parametrize(
    ("answers", "faults"),
    [
        ({P: 0x12, OFF: 0x12, R: 0x12}, []),
        ({P: 0x12, OFF: 0x12, R: 0x1E}, [PrinterFault.PAPER_NEAR_END]),
        ({P: 0x1A, OFF: 0x32, R: 0x7E}, [PrinterFault.PAPER_OUT]),
        ({P: 0x1A, OFF: 0x16, R: 0x12}, [PrinterFault.COVER_OPEN]),
        ({P: 0x1A, OFF: 0x12, R: 0x12}, [PrinterFault.OFFLINE]),
        ({P: 0x1A, OFF: 0x52, R: 0x12, E: 0x1A}, [PrinterFault.CUTTER_ERROR]),
        ({P: 0x1A, OFF: 0x52, R: 0x12, E: 0x32}, [PrinterFault.MECHANICAL_ERROR]),
        ({P: 0x1A, OFF: 0x36, R: 0x7E}, [PrinterFault.COVER_OPEN, PrinterFault.PAPER_OUT]),
    ],
)
def test_answer_bits(answers: dict[StatusQuery, int], faults: list[PrinterFault]) -> None:
    assert StatusAnswers(answers).faults() == faults


def test_error_cause_is_asked_only_when_the_offline_cause_says_error() -> None:
    assert StatusAnswers({OFF: 0x52}).needs_error_cause
    assert not StatusAnswers({OFF: 0x32}).needs_error_cause


@pytest.mark.parametrize("noise", [0x00, 0xFF, 0x13, 0x92, 0x10])
def test_noise_is_not_a_status(noise: int) -> None:
    with pytest.raises(StatusReplyError):
        StatusAnswers({P: noise}).faults()


def test_commands() -> None:
    assert StatusQuery.PAPER.command == b"\x10\x04\x04"


@given(
    offline=st.booleans(),
    cover_open=st.booleans(),
    near_end=st.booleans(),
    paper_out=st.booleans(),
    cutter=st.booleans(),
)
def test_emulator_answers_round_trip(
    offline: bool, cover_open: bool, near_end: bool, paper_out: bool, cutter: bool
) -> None:
    condition = dict(
        offline=offline,
        cover_open=cover_open,
        paper_near_end=near_end,
        paper_out=paper_out,
        cutter_error=cutter,
    )
    answers = {q: encode_answer(q, **condition) for q in StatusQuery}
    assert all(is_status_byte(v) for v in answers.values())
    faults = StatusAnswers(answers).faults()
    assert (PrinterFault.PAPER_OUT in faults) is paper_out
    assert (PrinterFault.COVER_OPEN in faults) is cover_open
    assert (PrinterFault.CUTTER_ERROR in faults) is cutter
    assert (PrinterFault.PAPER_NEAR_END in faults) is (near_end and not paper_out)
    stopped = paper_out or cover_open or cutter
    assert (PrinterFault.OFFLINE in faults) is (offline and not stopped)
    assert any(f.blocks_printing for f in faults) is (offline or stopped)
