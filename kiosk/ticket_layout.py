"""A ticket as ESC/POS bytes: a pure function of the ticket, the printer profile and a font.

Chinese text goes out as GB18030 in the printer's Chinese mode when its profile has a
CJK font; otherwise every line that is not plain ASCII is drawn with the given font and
sent as a raster image (``GS v 0``). The QR code is native (``GS ( k``) or an image, per
profile. The bytes come from python-escpos's command set (its ``Dummy`` printer).
"""

from __future__ import annotations

import copy
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from escpos.capabilities import get_profile
from escpos.printer import Dummy
from PIL import Image, ImageDraw, ImageFont

from kiosk.profile import PrinterProfile

INIT = b"\x1b\x40"  # ESC @
_FONT_A_HEIGHT = 24  # dots; a Chinese glyph of the printer's font is 24 x 24


@dataclass(frozen=True, slots=True)
class TicketText:
    """Every line of a ticket, already in the citizen's language."""

    hall_name: str
    label: str  # the big number, e.g. A001
    service_name: str
    waiting_lines: tuple[str, ...]  # e.g. 您前面还有 3 人 / 预计等候约 5 分钟
    time_line: str  # e.g. 取号时间 2026-11-22 09:31
    documents_title: str
    documents: tuple[str, ...]
    qr_url: str
    qr_caption: str
    footer: str = ""
    priority_mark: str = ""  # 老年人优先, 绿色通道, 预约: printed in reverse under the number
    rules: tuple[str, ...] = ()  # the 过号 rule, the hall's hotline


@dataclass(frozen=True, slots=True)
class _Line:
    text: str
    align: str = "center"
    scale: int = 1  # character size multiplier, 1-8
    bold: bool = False


def display_width(text: str) -> int:
    """Printer columns ``text`` takes: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def wrap(text: str, columns: int) -> list[str]:
    """Break ``text`` into lines of at most ``columns`` printer columns."""
    lines: list[str] = []
    current = ""
    for char in text:
        if display_width(current + char) > columns:
            lines.append(current.rstrip())
            current = char.lstrip()
        else:
            current += char
    if current or not lines:
        lines.append(current.rstrip())
    return lines


def _mark_lines(ticket: TicketText, columns: int) -> list[str]:
    # Double size, in 【】: the clerk sees at a glance why the ticket went ahead.
    return [t for t in wrap(ticket.priority_mark, columns // 2 - 2) if t]


def _lines(ticket: TicketText, profile: PrinterProfile) -> list[_Line]:
    columns = profile.chars_per_line
    rule = "-" * columns
    big = 4 if profile.paper_width_mm == 80 else 3
    lines = [
        *(_Line(t, bold=True) for t in wrap(ticket.hall_name, columns)),
        _Line(rule),
        _Line(ticket.label, scale=big, bold=True),
        *(
            _Line(f"【{t}】", scale=2, bold=True)
            for t in wrap(ticket.priority_mark, columns // 2 - 2)
            if t
        ),
        *(_Line(t, scale=2) for t in wrap(ticket.service_name, columns // 2)),
        _Line(""),
        *(_Line(t, align="left") for w in ticket.waiting_lines for t in wrap(w, columns)),
        *(_Line(t, align="left") for t in wrap(ticket.time_line, columns)),
    ]
    if ticket.documents:
        lines.append(_Line(ticket.documents_title, align="left", bold=True))
        for doc in ticket.documents:
            lines.extend(_Line(t, align="left") for t in wrap(f"- {doc}", columns))
    lines.extend(_Line(t, align="left") for rule in ticket.rules for t in wrap(rule, columns))
    return lines


def _escpos_profile(profile: PrinterProfile) -> object:
    # python-escpos centres images and chooses cut commands from its own profile data.
    escpos_profile = get_profile("default")
    data = copy.deepcopy(escpos_profile.profile_data)
    data["media"]["width"] = {"mm": profile.paper_width_mm - 10, "pixels": profile.dots_per_line}
    data["media"]["dpi"] = 203
    data["features"]["paperFullCut"] = profile.cut == "full"
    data["features"]["paperPartCut"] = profile.cut == "partial"
    data["fonts"]["0"]["columns"] = profile.chars_per_line
    escpos_profile.profile_data = data
    return escpos_profile


class RasterFont:
    """A TrueType font drawn at the printer's dot size, for printers without Chinese."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sizes: dict[int, ImageFont.FreeTypeFont] = {}

    def at(self, dots: int) -> ImageFont.FreeTypeFont:
        """The font at a height of ``dots``."""
        if dots not in self._sizes:
            self._sizes[dots] = ImageFont.truetype(str(self.path), dots)
        return self._sizes[dots]

    def render(self, lines: list[_Line], width: int) -> Image.Image:
        """Draw lines one under another, black on white, ``width`` dots wide."""
        heights = [_FONT_A_HEIGHT * line.scale + 4 for line in lines]
        image = Image.new("1", (width, sum(heights)), 1)
        draw = ImageDraw.Draw(image)
        y = 0
        for line, height in zip(lines, heights, strict=True):
            font = self.at(_FONT_A_HEIGHT * line.scale)
            text_width = draw.textlength(line.text, font=font)
            x = {"left": 0, "center": (width - text_width) / 2, "right": width - text_width}
            draw.text((x[line.align], y), line.text, font=font, fill=0)
            if line.bold:  # a second pass one dot right, as the printer's emphasis does
                draw.text((x[line.align] + 1, y), line.text, font=font, fill=0)
            y += height
        return image


def layout_ticket(ticket: TicketText, profile: PrinterProfile, font: RasterFont | None) -> bytes:
    """The bytes that print ``ticket`` on a printer of ``profile``.

    ``font`` is needed only when the profile has no Chinese font and some line is not
    ASCII; a ValueError says so otherwise.
    """
    printer = Dummy()
    printer.profile = _escpos_profile(profile)
    printer._raw(INIT)
    if profile.cjk is not None:
        printer._raw(profile.cjk.enter_bytes)
    pending_raster: list[_Line] = []

    def flush_raster() -> None:
        if not pending_raster:
            return
        if font is None:
            raise ValueError(f"{profile.id} has no Chinese font and no raster font was given")
        printer.image(font.render(pending_raster, profile.dots_per_line), center=False)
        pending_raster.clear()

    for line in _lines(ticket, profile):
        if profile.cjk is None and not line.text.isascii():
            pending_raster.append(line)
            continue
        flush_raster()
        _text_line(printer, profile, line)
    flush_raster()

    printer.set(align="center", normal_textsize=True, bold=False)
    printer.qr(ticket.qr_url, size=profile.qr_module_dots, native=profile.native_qr)
    if profile.native_qr:
        printer.ln()
    tail = [_Line(t) for t in wrap(ticket.qr_caption, profile.chars_per_line)]
    tail += [_Line(t) for t in wrap(ticket.footer, profile.chars_per_line) if ticket.footer]
    for line in tail:
        if profile.cjk is None and not line.text.isascii():
            pending_raster.append(line)
        else:
            flush_raster()
            _text_line(printer, profile, line)
    flush_raster()
    if profile.has_cutter:
        printer.cut(mode="FULL" if profile.cut == "full" else "PART")
    else:
        printer.print_and_feed(profile.feed_before_cut)
    if profile.cjk is not None:
        printer._raw(profile.cjk.leave_bytes)
    output: bytes = printer.output
    return output


def _text_line(printer: Dummy, profile: PrinterProfile, line: _Line) -> None:
    if line.scale == 1:
        printer.set(align=line.align, bold=line.bold, normal_textsize=True)
    else:
        printer.set(
            align=line.align, bold=line.bold, custom_size=True, width=line.scale, height=line.scale
        )
    encoding = profile.cjk.encoding if profile.cjk is not None else "ascii"
    printer._raw(line.text.encode(encoding, errors="replace") + b"\n")


def ticket_time(moment: datetime) -> str:
    """How the issue time is printed: local date and minutes."""
    return moment.strftime("%Y-%m-%d %H:%M")
