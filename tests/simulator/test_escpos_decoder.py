"""The emulator's ESC/POS decoder: any bytes, in any chunks, decode without an exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.drivers import load_printer_profile
from kiosk.ticket_layout import layout_ticket
from simulator.escpos_decoder import EscPosDecoder, Init, StatusRequest, TextLine, Unknown
from tests.kiosk.tickets import SAMPLE

TICKET = layout_ticket(SAMPLE, load_printer_profile("xprinter-xp-58iih"), None)


def decode_in_chunks(data: bytes, cuts: list[int]) -> list[object]:
    decoder = EscPosDecoder()
    out: list[object] = []
    last = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        out += decoder.feed(data[last:cut])
        last = cut
    return out + decoder.feed(data[last:]) + decoder.flush()


@settings(max_examples=300)
@given(st.binary(max_size=600), st.lists(st.integers(min_value=0), max_size=8))
def test_garbage_never_raises_and_chunking_does_not_matter(data: bytes, cuts: list[int]) -> None:
    whole = decode_in_chunks(data, [])
    assert decode_in_chunks(data, cuts) == whole


@settings(max_examples=100)
@given(st.lists(st.integers(min_value=0), max_size=10))
def test_a_ticket_split_anywhere_decodes_the_same(cuts: list[int]) -> None:
    assert decode_in_chunks(TICKET, cuts) == decode_in_chunks(TICKET, [])


@given(st.binary(max_size=64).filter(lambda b: b"\x1b@" not in b))
def test_garbage_before_a_ticket_does_not_hide_it(noise: bytes) -> None:
    elements = decode_in_chunks(noise + b"\n" + TICKET, [])
    start = elements.index(Init())
    lines = [e.text for e in elements[start:] if isinstance(e, TextLine) and e.text]
    assert lines[0] == "示范政务服务中心"


def test_status_requests_and_unknown_bytes() -> None:
    elements = EscPosDecoder().feed(b"\x10\x04\x01\x10\x04\x04\x07\x10\x04\x09")
    assert elements[:3] == [StatusRequest(1), StatusRequest(4), Unknown(0x07)]
    assert elements[3] == Unknown(0x10)


def test_huge_raster_header_is_noise_not_a_wait() -> None:
    elements = EscPosDecoder().feed(b"\x1dv0\x00\xff\xff\xff\xff" + b"ABC\n")
    assert elements[0] == Unknown(0x1D)
    assert TextLine in {type(e) for e in elements}
