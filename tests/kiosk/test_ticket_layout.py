"""Ticket bytes per printer profile: exact snapshots, and the emulator reading them back."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import pytest
import qrcode
from PIL import Image, ImageOps

from hallbus.fonts import font_for
from kiosk.daemon import printable
from kiosk.drivers import load_printer_profile, printer_profile_names
from kiosk.i18n import texts_for
from kiosk.ticket_layout import (
    RasterFont,
    TicketText,
    _Line,
    display_width,
    layout_ticket,
    right_to_left,
    wrap,
)
from simulator.escpos_decoder import Cut, EscPosDecoder, QrCode, RasterImage, TextLine
from simulator.printer_emulator import PrintedTicket, raster_to_image
from tests.kiosk.tickets import SAMPLE, SAMPLE_LINES, artifacts_dir

SNAPSHOTS = Path(__file__).parent / "snapshots"
PROFILES = printer_profile_names()


@pytest.fixture(scope="module")
def raster_font() -> RasterFont:
    return RasterFont(font_for("zh"))


def decode(data: bytes) -> PrintedTicket:
    decoder = EscPosDecoder()
    return PrintedTicket(decoder.feed(data) + decoder.flush())


def test_at_least_three_models_of_both_widths_one_without_chinese() -> None:
    profiles = [load_printer_profile(n) for n in PROFILES]
    assert len(profiles) >= 3
    assert {p.paper_width_mm for p in profiles} == {58, 80}
    assert any(p.cjk is None for p in profiles)
    assert any(p.cjk is not None for p in profiles)


@pytest.mark.parametrize("name", PROFILES)
def test_ticket_bytes_match_snapshot(name: str, raster_font: RasterFont) -> None:
    profile = load_printer_profile(name)
    data = layout_ticket(SAMPLE, profile, raster_font)
    snapshot = SNAPSHOTS / f"{name}.bin"
    if os.environ.get("PAIDUI_UPDATE_SNAPSHOTS") == "1":
        snapshot.write_bytes(data)
    expected = snapshot.read_bytes()
    if profile.cjk is None and data != expected:
        # Raster tickets depend on the font's outlines; name the font when they differ.
        digest = hashlib.sha256(raster_font.path.read_bytes()).hexdigest()[:12]
        pytest.fail(f"raster ticket differs; font {raster_font.path} sha256 {digest}")
    assert data == expected


@pytest.mark.parametrize("name", [n for n in PROFILES if load_printer_profile(n).cjk])
def test_chinese_printers_get_gb18030_text_and_read_back(name: str) -> None:
    profile = load_printer_profile(name)
    data = layout_ticket(SAMPLE, profile, None)
    assert data.startswith(b"\x1b@\x1c&")  # reset, then Chinese mode
    assert "社保业务".encode("gb18030") in data
    ticket = decode(data)
    assert [line for line in ticket.lines if not line.startswith("---")] == SAMPLE_LINES
    assert ticket.images == []
    assert ticket.qr_codes == [SAMPLE.qr_url]
    assert ticket.cut is profile.has_cutter
    big = next(e for e in ticket.elements if isinstance(e, TextLine) and e.text == "A001")
    assert big.style.height >= 3 and big.style.align == "center"


@pytest.mark.parametrize("name", [n for n in PROFILES if not load_printer_profile(n).cjk])
def test_printers_without_chinese_get_raster_lines(name: str, raster_font: RasterFont) -> None:
    profile = load_printer_profile(name)
    data = layout_ticket(SAMPLE, profile, raster_font)
    assert "社".encode("gb18030") not in data
    ticket = decode(data)
    # ASCII lines stay text; every Chinese line became part of an image as wide as the paper.
    assert "A001" in ticket.lines
    assert all(line.isascii() for line in ticket.lines)
    paper_wide = [i for i in ticket.images if i.width == profile.dots_per_line]
    assert len(paper_wide) >= 3  # hall name, service name, the block of Chinese lines
    if profile.native_qr:
        assert ticket.qr_codes == [SAMPLE.qr_url]
    else:
        assert ticket.qr_codes == []
        assert _contains_qr_of(ticket.images, SAMPLE.qr_url, profile.qr_module_dots)


def _contains_qr_of(images: list[RasterImage], url: str, module: int) -> bool:
    # python-escpos draws image QR codes at error correction level L.
    code = qrcode.QRCode(box_size=module, border=1, error_correction=qrcode.ERROR_CORRECT_L)
    code.add_data(url)
    expected = code.make_image().get_image().convert("1")
    for raster in images:
        image = raster_to_image(raster)
        cropped = image.crop((0, 0, expected.width, image.height))
        if image.height == expected.height and cropped.tobytes() == expected.tobytes():
            return True
    return False


def test_raster_ticket_is_many_times_larger_than_text(raster_font: RasterFont) -> None:
    text = layout_ticket(SAMPLE, load_printer_profile("xprinter-xp-80c"), None)
    raster = layout_ticket(SAMPLE, load_printer_profile("epson-tm-t20iii"), raster_font)
    assert len(text) * 10 < len(raster)


def test_no_font_for_a_raster_printer_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no Chinese font"):
        layout_ticket(SAMPLE, load_printer_profile("epson-tm-t20iii"), None)


def test_decoded_ticket_saved_as_png(raster_font: RasterFont) -> None:
    for name in ("xprinter-xp-80c", "epson-tm-t20iii"):
        profile = load_printer_profile(name)
        ticket = decode(layout_ticket(SAMPLE, profile, raster_font))
        path = artifacts_dir() / f"ticket-{name}.png"
        ticket.render(profile.dots_per_line, raster_font.path).save(path)
        image = Image.open(path)
        assert image.width == profile.dots_per_line
        # A printed ticket is mostly white paper with a good share of black dots.
        black = image.convert("L").histogram()[0]
        assert 0.03 < black / (image.width * image.height) < 0.5


@pytest.mark.parametrize(
    ("text", "columns", "lines"),
    [
        ("您前面还有 3 人", 8, ["您前面还", "有 3 人"]),
        ("abc", 2, ["ab", "c"]),
        ("", 5, [""]),
        ("社保业务", 8, ["社保业务"]),
    ],
)
def test_wrap_counts_chinese_as_two_columns(text: str, columns: int, lines: list[str]) -> None:
    assert wrap(text, columns) == lines
    assert all(display_width(line) <= columns for line in lines)


def test_element_kinds_cover_a_cut_ticket() -> None:
    ticket = decode(layout_ticket(SAMPLE, load_printer_profile("xprinter-xp-80c"), None))
    kinds = {type(e) for e in ticket.elements}
    assert {TextLine, QrCode, Cut} <= kinds


def _kazakh_ticket() -> TicketText:
    """The sample ticket as the kiosk words it in Kazakh (the hall's name stays Chinese)."""
    kk = texts_for("kk")
    return replace(
        SAMPLE,
        service_name="الەۋمەتتىك ساقتاندىرۋ",
        waiting_lines=(
            kk("{count} people ahead of you", count=12),
            kk("Estimated wait {duration}", duration=kk.duration(1500)),
        ),
        time_line=kk("Taken at {time}", time=kk.left_to_right("2026-11-22 09:31")),
        documents_title=kk("Please bring"),
        documents=("جەكە كۋالىك",),
        priority_mark=kk("Priority: elderly and disabled"),
        rules=(
            kk("Not there after {calls} calls: the number is passed; take a new one", calls=3),
            kk("Hotline {number}", number="12345"),
        ),
        qr_caption=kk("Scan to follow your turn and rate the service"),
    )


@pytest.mark.parametrize("name", ["xprinter-xp-80c", "epson-tm-t20iii"])
def test_a_kazakh_ticket_prints_its_lines_as_shaped_raster(name: str) -> None:
    """No printer's font writes the Arabic-based script: those lines go as images, drawn
    right to left with joined letters; Chinese and ASCII stay what the printer can do."""
    profile = load_printer_profile(name)
    font = RasterFont(font_for("zh"), right_to_left=font_for("kk"))
    ticket = decode(layout_ticket(_kazakh_ticket(), profile, font))
    assert "A001" in ticket.lines
    assert not any(right_to_left(line) for line in ticket.lines)  # never as text bytes
    if profile.cjk is not None:
        assert "示范政务服务中心" in ticket.lines
    assert ticket.images and all(i.width == profile.dots_per_line for i in ticket.images)
    path = artifacts_dir() / f"ticket-{name}-kk.png"
    ticket.render(profile.dots_per_line, font.path).save(path)
    assert Image.open(path).width == profile.dots_per_line


def test_right_to_left_lines_are_set_from_the_right() -> None:
    font = RasterFont(font_for("zh"), right_to_left=font_for("kk"))
    image = font.render([_Line("الدىڭىزدا 12 ادام بار", align="left")], 576)
    left, _, right, _ = ImageOps.invert(image.convert("L")).getbbox() or (0, 0, 0, 0)
    assert right > 576 - 8 and left > 576 / 3, (left, right)


def test_right_to_left_lines_without_their_face_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="right_to_left"):
        layout_ticket(_kazakh_ticket(), load_printer_profile("xprinter-xp-80c"), None)
    with pytest.raises(ValueError, match="right_to_left"):
        layout_ticket(
            _kazakh_ticket(),
            load_printer_profile("xprinter-xp-80c"),
            RasterFont(font_for("zh")),
        )


def test_a_kiosk_prints_kazakh_only_with_a_right_to_left_face() -> None:
    assert printable("zh", None) and printable("en", None)
    assert not printable("kk", None)
    assert not printable("ug", RasterFont(font_for("zh")))
    assert printable("kk", RasterFont(font_for("zh"), right_to_left=font_for("kk")))
