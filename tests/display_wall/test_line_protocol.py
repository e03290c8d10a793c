"""The line protocol of cheap window screens: exact lines, GBK, acknowledgements, fuzz."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from display_wall.line_protocol import (
    AckDecoder,
    LineDecoder,
    LineEncodeError,
    LineFault,
    LineFaultKind,
    LineFraming,
    TextLine,
    clean_text,
    encode_ack,
    encode_line,
)

FRAMING = LineFraming(max_bytes=32)


def test_a_call_is_address_gbk_text_cr() -> None:
    assert encode_line(3, "A001 请到3号窗口", FRAMING) == (
        b"\x03" + "A001 请到3号窗口".encode("gbk") + b"\r"
    )
    assert encode_line(3, "A001", FRAMING) == bytes.fromhex("03 41303031 0D")


def test_controls_go_unknown_characters_become_question_marks_and_cuts_keep_characters() -> None:
    assert clean_text("暂停\r\n服务", FRAMING) == "暂停服务".encode("gbk")
    assert clean_text("A😀", FRAMING) == b"A?"
    cut = clean_text("请" * 40, FRAMING)
    assert len(cut) == 32 and cut.decode("gbk") == "请" * 16
    assert len(clean_text("A" + "请" * 40, FRAMING)) == 31  # the 17th character would split


def test_address_13_cannot_be_sent() -> None:
    for bad in (13, 256, -1):
        try:
            encode_line(bad, "x", FRAMING)
        except LineEncodeError:
            continue
        raise AssertionError(f"address {bad} accepted")


def test_decoder_reads_lines_and_names_faults() -> None:
    decoder = LineDecoder(FRAMING)
    wire = encode_line(1, "暂停服务", FRAMING) + b"\r" + b"\x02\xff\xff\r" + b"\x05" + b"x" * 40
    assert decoder.feed(wire) == [
        TextLine(1, "暂停服务"),
        LineFault(LineFaultKind.EMPTY, 1),
        LineFault(LineFaultKind.BAD_TEXT, 4),
        LineFault(LineFaultKind.TOO_LONG, 34),
    ]
    assert decoder.expire() == 7


def test_acknowledgements_even_at_address_6() -> None:
    decoder = AckDecoder(FRAMING)
    assert decoder.feed(encode_ack(6, FRAMING)) == ([6], 0)
    assert decoder.feed(b"\x09" + encode_ack(4, FRAMING)[:1]) == ([], 1)
    assert decoder.feed(b"\x06") == ([4], 0)


@given(st.integers(0, 255).filter(lambda a: a != 13), st.text(max_size=20))
def test_round_trip(address: int, text: str) -> None:
    [line] = LineDecoder(FRAMING).feed(encode_line(address, text, FRAMING))
    assert line == TextLine(address, clean_text(text, FRAMING).decode("gbk"))


@given(st.binary(max_size=300))
def test_fuzz_never_raises(noise: bytes) -> None:
    decoder = LineDecoder(FRAMING)
    for item in decoder.feed(noise):
        assert isinstance(item, TextLine | LineFault)
    AckDecoder(FRAMING).feed(noise)
