"""The Acme ASCII codec, byte for byte."""

from acme_led.protocol import (
    AcmeFrame,
    AnswerDecoder,
    FrameDecoder,
    encode_answer,
    encode_frame,
    parse_text,
    text_payload,
)


def test_a_ping_frame_byte_for_byte() -> None:
    # BCC: '0' ^ '7' ^ 'P' ^ ETX = 0x30 ^ 0x37 ^ 0x50 ^ 0x03 = 0x54
    assert encode_frame(AcmeFrame(7, "P")) == b"\x0207P\x0354"


def test_a_text_frame_reads_back() -> None:
    payload = text_payload("G", False, "A001 请".encode("gbk"))
    assert payload == b"GS4130303120C7EB"
    frames = FrameDecoder().feed(b"noise" + encode_frame(AcmeFrame(3, "T", payload)))
    assert frames == [AcmeFrame(3, "T", payload)]
    text = parse_text(frames[0].payload)
    assert text is not None and text.text.decode("gbk") == "A001 请"


def test_a_wrong_bcc_is_dropped_and_counted() -> None:
    frame = bytearray(encode_frame(AcmeFrame(1, "P")))
    frame[-1] ^= 0x01
    decoder = FrameDecoder()
    assert decoder.feed(bytes(frame)) == [] and decoder.faults == 1


def test_answers_are_read_with_their_address() -> None:
    answers, noise = AnswerDecoder().feed(b"\xff" + encode_answer(7) + encode_answer(9, ok=False))
    assert answers == [(7, True), (9, False)] and noise == 1
