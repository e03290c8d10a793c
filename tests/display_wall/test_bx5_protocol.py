"""The BX-5 codec: exact frames, CRC, stuffing, dynamic-area text, and a fuzzed decoder."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from display_wall.bx5_protocol import (
    Bx5Decoder,
    Bx5EncodeError,
    Bx5Fault,
    Bx5FaultKind,
    Bx5Frame,
    Bx5Framing,
    DynamicArea,
    Effect,
    brightness_payload,
    crc16_arc,
    dynamic_text_payload,
    encode_frame,
    parse_dynamic_text,
    parse_request,
    request_data,
    stuff,
    unstuff,
)

FRAMING = Bx5Framing()
HOST = 0x8000


def test_crc16_arc_check_value() -> None:
    # The catalogued check value of CRC-16/ARC over "123456789".
    assert crc16_arc(b"123456789") == 0xBB3D


def test_ping_to_board_1_is_the_published_frame() -> None:
    frame = Bx5Frame(1, HOST, request_data(0xA2, 0x00))
    assert encode_frame(frame, FRAMING) == bytes.fromhex(
        "A5A5A5A5A5A5A5A5 0100 0080 000000000000 FE02 0500 A200010000 68F8 5A"
    )


def test_clear_screen_frame_matches_its_published_crc() -> None:
    frame = Bx5Frame(1, HOST, request_data(0xA3, 0x10))
    assert encode_frame(frame, FRAMING).endswith(bytes.fromhex("51F85A"))


def test_every_special_byte_is_stuffed_and_comes_back() -> None:
    data = bytes([0xA5, 0xA6, 0x5A, 0x5B, 0x00])
    assert stuff(data, FRAMING) == bytes.fromhex("A602 A601 5B02 5B01 00")
    wire = encode_frame(Bx5Frame(0x5AA5, HOST, data), FRAMING)
    inner = wire[8:-1]
    assert 0xA5 not in inner and 0x5A not in inner
    assert Bx5Decoder(FRAMING).feed(wire) == [Bx5Frame(0x5AA5, HOST, data)]


def test_broken_escape_is_refused() -> None:
    assert unstuff(bytes.fromhex("A603"), FRAMING) is None
    assert unstuff(bytes.fromhex("5B"), FRAMING) is None


def test_dynamic_text_in_gb2312_with_colour_reads_back() -> None:
    area = DynamicArea(width=64, height=16, area_id=0, speed=8, stay_s=3)
    text = ("\\C1" + "A001 请到3号窗口").encode("gb2312")
    payload = dynamic_text_payload(area, text, Effect.SCROLL_LEFT)
    # one area, kept in place; its length field counts exactly the area bytes
    assert payload[:4] == bytes([0, 0, 0, 1])
    assert struct.unpack_from("<H", payload, 4)[0] == len(payload) - 6
    # coordinates and size in pixels (high bit set)
    assert payload[7:15] == struct.pack("<HHHH", 0x8000, 0x8000, 0x8040, 0x8010)
    assert payload.endswith(struct.pack("<I", len(text)) + text)
    parsed = parse_dynamic_text(payload)
    assert parsed is not None
    assert parsed.area == area and parsed.effect == Effect.SCROLL_LEFT and parsed.text == text


def test_a_text_frame_survives_the_wire() -> None:
    text = "\\C3暂停服务".encode("gb2312")
    data = request_data(0xA3, 0x06, dynamic_text_payload(DynamicArea(64, 16), text, Effect.STATIC))
    [frame] = Bx5Decoder(FRAMING).feed(encode_frame(Bx5Frame(7, HOST, data), FRAMING))
    assert isinstance(frame, Bx5Frame)
    request = parse_request(frame.data)
    assert request is not None and request.want_reply
    assert (request.group, request.command) == (0xA3, 0x06)
    shown = parse_dynamic_text(request.payload)
    assert shown is not None and shown.text.decode("gb2312") == "\\C3暂停服务"


def test_brightness_payload() -> None:
    assert brightness_payload(12) == bytes([0]) + bytes([12]) * 48
    for bad in (0, 17):
        try:
            brightness_payload(bad)
        except Bx5EncodeError:
            continue
        raise AssertionError(f"brightness {bad} accepted")


def test_encode_refuses_oversized_data() -> None:
    small = Bx5Framing(max_data=16)
    try:
        encode_frame(Bx5Frame(1, HOST, bytes(17)), small)
    except Bx5EncodeError as err:
        assert "17" in str(err)
    else:
        raise AssertionError("oversized frame encoded")


def _kinds(items: list[Bx5Frame | Bx5Fault]) -> list[object]:
    return [i.kind if isinstance(i, Bx5Fault) else "frame" for i in items]


def test_faults_are_named() -> None:
    good = encode_frame(Bx5Frame(1, HOST, b"\xa0\x00"), FRAMING)
    bad_crc = bytearray(good)
    bad_crc[-3] ^= 0xFF  # a CRC byte (never a special byte here)
    decoder = Bx5Decoder(FRAMING)
    assert _kinds(decoder.feed(bytes(bad_crc))) == [Bx5FaultKind.BAD_CRC]
    assert _kinds(decoder.feed(b"\x01\x02" + good)) == [Bx5FaultKind.GARBAGE, "frame"]
    assert _kinds(decoder.feed(good[:12] + good)) == [Bx5FaultKind.TRUNCATED, "frame"]
    assert _kinds(decoder.feed(b"\xa5\x01\x02\x5a")) == [Bx5FaultKind.BAD_LENGTH]
    assert _kinds(decoder.feed(b"\xa5\xa6\x07\x5a")) == [Bx5FaultKind.BAD_ESCAPE]
    decoder.feed(good[:15])
    assert _kinds(list(decoder.expire())) == [Bx5FaultKind.TRUNCATED]


frames = st.builds(
    Bx5Frame,
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.binary(min_size=0, max_size=64),
)


@given(st.lists(frames, min_size=1, max_size=5), st.data())
def test_any_split_gives_the_same_frames(sent: list[Bx5Frame], data: st.DataObject) -> None:
    wire = b"".join(encode_frame(f, FRAMING) for f in sent)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    decoder = Bx5Decoder(FRAMING)
    got: list[Bx5Frame | Bx5Fault] = []
    for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        got += decoder.feed(wire[start:end])
    assert got == sent


@given(st.binary(max_size=200), frames)
def test_a_frame_after_any_noise_is_found(noise: bytes, frame: Bx5Frame) -> None:
    got = Bx5Decoder(FRAMING).feed(noise + encode_frame(frame, FRAMING))
    assert got[-1] == frame


@given(st.binary(max_size=600))
def test_fuzz_never_raises_and_never_invents_a_frame(noise: bytes) -> None:
    decoder = Bx5Decoder(FRAMING)
    items = decoder.feed(noise) + list(decoder.expire())
    for item in items:
        if isinstance(item, Bx5Frame):
            # Only a frame whose CRC checks out is ever returned.
            wire = encode_frame(item, FRAMING)
            assert Bx5Decoder(FRAMING).feed(wire) == [item]
