"""The RS-485 caller/rater bus codec with byte strings: frames, echoes, noise, splits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from counter_terminal.bus_devices import KeypadFrames, rater_button
from counter_terminal.bus_protocol import (
    BusDecoder,
    BusEncodeError,
    BusFault,
    BusFrame,
    BusFraming,
    FaultKind,
    checksum,
    encode_frame,
)
from counter_terminal.drivers import load_counter_profile
from counter_terminal.keys import ClerkAction, ClerkKey, KeyNoise, PadButton
from counter_terminal.profile import BusKeypadProfile, BusRaterProfile

SUM8 = BusFraming()
XOR8 = BusFraming(wake=None, checksum="xor8", checksum_covers="length_to_end_of_data", max_data=64)
KEYPAD = load_counter_profile("rs485-keypad-lcd")
RATER = load_counter_profile("rs485-rater-5key")
assert isinstance(KEYPAD, BusKeypadProfile) and isinstance(RATER, BusRaterProfile)

frames = st.builds(
    BusFrame,
    address=st.integers(0, 255),
    function=st.integers(0, 255),
    data=st.binary(max_size=64),
)


def clerk_action(frame: BusFrame, profile: BusKeypadProfile) -> ClerkAction | KeyNoise:
    """One frame read by a fresh decoder (our keypads' frames stand alone)."""
    return KeypadFrames(profile).action(frame, 0.0)


def test_a_key_frame_byte_for_byte() -> None:
    # Keypad 3, key function, sequence 7, "call next" (0x01): L = 4 (address..data),
    # checksum = 03 + 01 + 07 + 01 = 0C.
    frame = BusFrame(address=3, function=0x01, data=bytes((0x07, 0x01)))
    assert encode_frame(frame, SUM8) == bytes.fromhex("FF 68 04 04 68 03 01 07 01 0C 16")


def test_the_xor_variant_covers_the_length_bytes() -> None:
    frame = BusFrame(address=3, function=0x01, data=bytes((0x21,)))
    expected_check = checksum(bytes((3, 3, 0x68, 3, 1, 0x21)), "xor8")
    wire = encode_frame(frame, XOR8)
    assert wire == bytes((0x68, 3, 3, 0x68, 3, 1, 0x21, expected_check, 0x16))
    assert BusDecoder(XOR8).feed(wire) == [frame]


def test_an_echo_is_the_frame_itself() -> None:
    frame = BusFrame(address=12, function=0x03, data=b"\x01")
    wire = encode_frame(frame, SUM8)
    # The device answers with the very same bytes; decoding either gives the same frame.
    assert BusDecoder(SUM8).feed(wire + wire) == [frame, frame]


def test_encode_refuses_what_does_not_fit() -> None:
    with pytest.raises(BusEncodeError):
        encode_frame(BusFrame(address=300, function=1), SUM8)
    with pytest.raises(BusEncodeError):
        encode_frame(BusFrame(address=1, function=1, data=bytes(65)), SUM8)


def test_garbage_bad_checksum_bad_length_and_truncation_are_reported() -> None:
    good = BusFrame(address=1, function=1, data=b"\x01\x02")
    wire = encode_frame(good, SUM8)
    corrupt = bytearray(wire)
    corrupt[-2] ^= 0xFF
    decoder = BusDecoder(SUM8)
    out = decoder.feed(b"\x00\x13noise" + bytes(corrupt) + wire)
    kinds = [o.kind for o in out if isinstance(o, BusFault)]
    assert FaultKind.GARBAGE in kinds and FaultKind.BAD_CHECKSUM in kinds
    assert out[-1] == good
    # Lengths that disagree, then a frame cut off when the line goes quiet.
    out = decoder.feed(bytes.fromhex("68 05 04 68") + wire[:6])
    assert any(isinstance(o, BusFault) and o.kind is FaultKind.BAD_LENGTH for o in out)
    expired = decoder.expire()
    assert [f.kind for f in expired] == [FaultKind.TRUNCATED]
    assert decoder.feed(wire) == [good]


def test_several_addresses_interleaved_on_one_line() -> None:
    sent = [
        BusFrame(address=1, function=1, data=b"\x01\x01"),  # keypad 1: next
        BusFrame(address=11, function=1, data=b"\x01\x11"),  # rater 11: button 1
        BusFrame(address=2, function=1, data=b"\x05\x09" + b"12"),  # keypad 2: call 12
        BusFrame(address=1, function=2, data="A001 已呼叫".encode("gbk")),  # host: screen
    ]
    wire = b"".join(encode_frame(f, SUM8) for f in sent)
    assert BusDecoder(SUM8).feed(wire) == sent


@given(frames=st.lists(frames, min_size=1, max_size=5), cuts=st.lists(st.integers(0, 400)))
def test_any_split_of_the_byte_stream_gives_the_same_frames(
    frames: list[BusFrame], cuts: list[int]
) -> None:
    wire = b"".join(encode_frame(f, SUM8) for f in frames)
    points = sorted({c % (len(wire) + 1) for c in cuts})
    decoder = BusDecoder(SUM8)
    out: list[BusFrame | BusFault] = []
    start = 0
    for point in [*points, len(wire)]:
        out += decoder.feed(wire[start:point])
        start = point
    assert out == frames


@given(data=st.binary(max_size=300), framing=st.sampled_from([SUM8, XOR8]))
def test_fuzz_every_byte_is_a_frame_a_fault_or_a_wake_byte(
    data: bytes, framing: BusFraming
) -> None:
    decoder = BusDecoder(framing)
    out = decoder.feed(data) + decoder.expire()
    accounted = decoder.wake_bytes
    for item in out:
        accounted += len(item.raw) if isinstance(item, BusFault) else 0
        if isinstance(item, BusFrame):
            accounted += len(encode_frame(item, framing)) - (framing.wake is not None)
    assert accounted == len(data)


@given(frame=frames, noise=st.binary(max_size=40))
def test_a_frame_after_noise_is_still_found(frame: BusFrame, noise: bytes) -> None:
    decoder = BusDecoder(SUM8)
    out = decoder.feed(noise) + decoder.expire() + decoder.feed(encode_frame(frame, SUM8))
    assert out[-1] == frame


def test_key_frames_to_actions_and_buttons_by_the_profile() -> None:
    assert clerk_action(BusFrame(1, 1, b"\x07\x01"), KEYPAD) == ClerkAction(ClerkKey.CALL_NEXT)
    assert clerk_action(BusFrame(1, 1, b"\x08\x0a1001"), KEYPAD) == ClerkAction(
        ClerkKey.LOGIN, "1001"
    )
    # Digits before a key that takes none are dropped; junk after a code is noise.
    assert clerk_action(BusFrame(1, 1, b"\x09\x0212"), KEYPAD) == ClerkAction(ClerkKey.RECALL)
    assert isinstance(clerk_action(BusFrame(1, 1, b"\x09\x09\xff"), KEYPAD), KeyNoise)
    assert isinstance(clerk_action(BusFrame(1, 1, b"\x09\x7f"), KEYPAD), KeyNoise)
    assert isinstance(clerk_action(BusFrame(1, 1, b"\x09"), KEYPAD), KeyNoise)
    assert rater_button(BusFrame(11, 1, b"\x01\x13"), RATER) == PadButton(3)
    assert isinstance(rater_button(BusFrame(11, 1, b"\x01\x01"), RATER), KeyNoise)


@given(frame=frames)
def test_fuzz_any_frame_is_an_action_a_button_or_noise(frame: BusFrame) -> None:
    action = clerk_action(frame, KEYPAD)
    assert isinstance(action, ClerkAction | KeyNoise)
    if isinstance(action, ClerkAction) and action.number is not None:
        assert action.number.isdigit()
    assert isinstance(rater_button(frame, RATER), PadButton | KeyNoise)


FIELD_KEYPAD = load_counter_profile("field-keypad-confirm")
FIELD_LCD = load_counter_profile("field-keypad-lcd")
FIELD_RATER = load_counter_profile("field-rater-5key")
assert isinstance(FIELD_KEYPAD, BusKeypadProfile) and isinstance(FIELD_LCD, BusKeypadProfile)
assert isinstance(FIELD_RATER, BusRaterProfile)


def _field(wire: str) -> BusFrame:
    (frame,) = BusDecoder(FIELD_KEYPAD.framing).feed(bytes.fromhex(wire))
    assert isinstance(frame, BusFrame)
    return frame


def test_field_keypads_send_bare_codes_and_the_number_before_its_confirm() -> None:
    keypad = KeypadFrames(FIELD_KEYPAD)
    # Keypad 1, key function 01, bare 0C (call): L = 3, checksum 01 + 01 + 0C = 0E.
    assert keypad.action(_field("FF 68 03 03 68 01 01 0C 0E 16"), 0) == ClerkAction(
        ClerkKey.CALL_NEXT
    )
    assert keypad.action(_field("FF 68 03 03 68 01 01 0B 0D 16"), 1) == ClerkAction(ClerkKey.FINISH)
    # 转移 alone: passed on without a number (the clerk is asked for one), then 6 and 确认.
    assert keypad.action(_field("FF 68 03 03 68 01 01 13 15 16"), 2) == ClerkAction(
        ClerkKey.TRANSFER_WINDOW
    )
    assert keypad.action(_field("FF 68 04 04 68 01 01 06 0F 17 16"), 3) == ClerkAction(
        ClerkKey.TRANSFER_WINDOW, "6"
    )
    # A confirm with nothing pressed before it, or long after, is noise, not a transfer.
    assert isinstance(keypad.action(_field("FF 68 04 04 68 01 01 03 0F 14 16"), 4), KeyNoise)
    keypad.action(BusFrame(1, 1, b"\x13"), 10)
    assert isinstance(keypad.action(BusFrame(1, 1, b"\x03\x0f"), 26), KeyNoise)
    # 00 is a number too (window 0 is then refused by the clerk's rules, not here).
    keypad.action(BusFrame(1, 1, b"\x13"), 30)
    assert keypad.action(BusFrame(1, 1, b"\x00\x0f"), 31) == ClerkAction(
        ClerkKey.TRANSFER_WINDOW, "0"
    )


def test_the_field_screen_keypad_sends_a_two_byte_number_before_its_key() -> None:
    keypad = KeypadFrames(FIELD_LCD)
    assert keypad.action(BusFrame(2, 1, bytes.fromhex("03E90A")), 0) == ClerkAction(
        ClerkKey.LOGIN, "1001"
    )
    assert keypad.action(BusFrame(2, 1, bytes.fromhex("000709")), 0) == ClerkAction(
        ClerkKey.CALL_TICKET, "7"
    )
    assert keypad.action(BusFrame(2, 1, b"\x0c"), 0) == ClerkAction(ClerkKey.CALL_NEXT)
    # One number byte where the profile says two: noise, never a wrong number.
    assert isinstance(keypad.action(BusFrame(2, 1, bytes.fromhex("0709")), 0), KeyNoise)


def test_a_field_rater_sends_its_button_on_its_own_function() -> None:
    assert FIELD_RATER.key_frames.function == 0x05
    assert rater_button(BusFrame(11, 0x05, b"\x03"), FIELD_RATER) == PadButton(3)
    assert isinstance(rater_button(BusFrame(11, 0x05, b"\x09"), FIELD_RATER), KeyNoise)


@given(frames=st.lists(frames, max_size=6))
def test_fuzz_field_keypads_give_an_action_or_noise(frames: list[BusFrame]) -> None:
    for profile in (FIELD_KEYPAD, FIELD_LCD):
        keypad = KeypadFrames(profile)
        for at, frame in enumerate(frames):
            action = keypad.action(frame, float(at))
            assert isinstance(action, ClerkAction | KeyNoise)
            if isinstance(action, ClerkAction) and action.number is not None:
                assert action.number.isdigit()
