"""A ticket as ESC/POS bytes: a pure function of the ticket, the printer profile and a font.

Chinese text goes out as GB18030 in the printer's Chinese mode when its profile has a
CJK font; otherwise every line that is not plain ASCII is drawn with the given font and
sent as a raster image (``GS v 0``). No printer's own font writes Uyghur or Kazakh, so
right-to-left lines are always raster, shaped by HarfBuzz (Pillow's raqm layout). The
QR code is native (``GS ( k``) or an image, per profile. The bytes come from
python-escpos's command set (its ``Dummy`` printer).
"""

from __future__ import annotations

import copy
import textwrap
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from escpos.capabilities import get_profile
from escpos.printer import Dummy
from PIL import Image, ImageDraw, ImageFont

from hallbus.script_lines import pillow_font
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


def right_to_left(text: str) -> bool:
    """Whether ``text`` has right-to-left letters (Uyghur, Kazakh): a raster line."""
    return any(unicodedata.bidirectional(c) in ("R", "AL") for c in text)


def wrap(text: str, columns: int) -> list[str]:
    """Break ``text`` into lines of at most ``columns`` printer columns."""
    if right_to_left(text):
        # Words of joined letters break only at spaces (a raster letter is about a column).
        return textwrap.wrap(text, columns) or [""]
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


def _lines(ticket: TicketText, profile: PrinterProfile) -> list[_Line]:
    columns = profile.chars_per_line
    rule = "-" * columns
    big = 4 if profile.paper_width_mm == 80 else 3
    lines = [
        *(_Line(t, bold=True) for t in wrap(ticket.hall_name, columns)),
        _Line(rule),
        _Line(ticket.label, scale=big, bold=True),
        *(
            # 【】 belong to Chinese type; an Arabic-script face has none.
            _Line(t if right_to_left(t) else f"【{t}】", scale=2, bold=True)
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
    """TrueType faces drawn at the printer's dot size: Chinese for printers without it,
    and (``right_to_left``) an Arabic-script face for Uyghur and Kazakh lines."""

    def __init__(self, path: Path, right_to_left: Path | None = None) -> None:
        self.path = path
        self.right_to_left = right_to_left
        self._sizes: dict[tuple[int, bool], ImageFont.FreeTypeFont] = {}

    def at(self, dots: int, rtl: bool = False) -> ImageFont.FreeTypeFont:
        """The face at a height of ``dots`` (the right-to-left one, laid out by raqm)."""
        if (dots, rtl) not in self._sizes:
            if rtl and self.right_to_left is not None:
                face = pillow_font(str(self.right_to_left), dots)
            else:
                face = ImageFont.truetype(str(self.path), dots)
            self._sizes[dots, rtl] = face
        return self._sizes[dots, rtl]

    def render(self, lines: list[_Line], width: int) -> Image.Image:
        """Draw lines one under another, black on white, ``width`` dots wide."""
        heights = [_FONT_A_HEIGHT * line.scale + 4 for line in lines]
        image = Image.new("1", (width, sum(heights)), 1)
        draw = ImageDraw.Draw(image)
        y = 0
        for line, height in zip(lines, heights, strict=True):
            rtl = right_to_left(line.text)
            font = self.at(_FONT_A_HEIGHT * line.scale, rtl)
            # Right-to-left text starts at the right: its "left" lines are set right.
            align = (
                {"left": "right", "right": "left"}.get(line.align, line.align)
                if rtl
                else line.align
            )
            direction = "rtl" if rtl else None
            text_width = draw.textlength(line.text, font=font, direction=direction)
            x = {"left": 0, "center": (width - text_width) / 2, "right": width - text_width}
            for dx in (0, 1) if line.bold else (0,):  # bold: a second pass one dot right
                draw.text((x[align] + dx, y), line.text, font=font, fill=0, direction=direction)
            y += height
        return image


def layout_ticket(ticket: TicketText, profile: PrinterProfile, font: RasterFont | None) -> bytes:
    """The bytes that print ``ticket`` on a printer of ``profile``.

    ``font`` is needed when the profile has no Chinese font and some line is not ASCII,
    and (with its right-to-left face) for Uyghur or Kazakh lines; a ValueError says so.
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
        if any(right_to_left(x.text) for x in pending_raster) and (
            font is None or font.right_to_left is None
        ):
            raise ValueError("right-to-left lines need a raster font with a right_to_left face")
        if font is None:
            raise ValueError(f"{profile.id} has no Chinese font and no raster font was given")
        printer.image(font.render(pending_raster, profile.dots_per_line), center=False)
        pending_raster.clear()

    for line in _lines(ticket, profile):
        if _raster(line, profile):
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
        if _raster(line, profile):
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


def _raster(line: _Line, profile: PrinterProfile) -> bool:
    return (profile.cjk is None and not line.text.isascii()) or right_to_left(line.text)


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
