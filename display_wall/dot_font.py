"""The dot grid of LED boards: how wide text is in a board's own font, and a real 16×16
dot font to draw it with.

LED window boards and strips render text with a font built into their controller: a
16×16 dot matrix for Chinese (GB2312) and 8×16 for letters and digits. What fits a board
is therefore a count of dots, not of characters: ``dot_width``. For pictures and the
fit checks, GNU Unifont (Debian's ``unifont`` package, ``unifont.hex``) supplies glyphs
of exactly that grid, so a picture shows what the board shows, stroke for stroke.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

UNIFONT_HEX = Path("/usr/share/unifont/unifont.hex")
GLYPH_HEIGHT = 16


def cells(char: str) -> int:
    """Half-width cells a character takes: 2 for Chinese and full-width forms, else 1."""
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def dot_width(text: str, font_px: int = 16) -> int:
    """Dots ``text`` takes across in a board font ``font_px`` high."""
    return sum(cells(c) for c in text) * font_px // 2


class DotFontMissing(RuntimeError):
    """The bitmap font is not installed (``apt-get install unifont``)."""


@dataclass(frozen=True, slots=True)
class Glyph:
    """One character: its width in dots and its rows, the leftmost dot the highest bit."""

    width: int
    rows: tuple[int, ...]

    def lit(self, x: int, y: int) -> bool:
        """Whether the dot at column ``x``, row ``y`` is on."""
        return bool(self.rows[y] >> (self.width - 1 - x) & 1)


class HexFont:
    """A bitmap font in the ``.hex`` format: ``CODEPOINT:ROWS`` a line, 16 rows of 8 or 16."""

    def __init__(self, glyphs: dict[int, Glyph]) -> None:
        self._glyphs = glyphs

    @classmethod
    def parse(cls, text: str) -> HexFont:
        """Read a ``.hex`` font; lines that are not glyphs are skipped."""
        glyphs: dict[int, Glyph] = {}
        for line in text.splitlines():
            code, _, bits = line.strip().partition(":")
            if len(bits) not in (32, 64):
                continue
            try:
                codepoint, value = int(code, 16), int(bits, 16)
            except ValueError:
                continue
            width = len(bits) // 4
            mask = (1 << width) - 1
            rows = tuple(
                value >> (width * (GLYPH_HEIGHT - 1 - r)) & mask for r in range(GLYPH_HEIGHT)
            )
            glyphs[codepoint] = Glyph(width, rows)
        return cls(glyphs)

    def glyph(self, char: str) -> Glyph | None:
        """The glyph of ``char``; None if the font has none (the board would show a box)."""
        return self._glyphs.get(ord(char))

    def missing(self, text: str) -> list[str]:
        """Characters of ``text`` the font cannot draw."""
        return [c for c in text if self.glyph(c) is None]

    def width(self, text: str) -> int:
        """Dots ``text`` takes across, by the glyphs themselves."""
        return sum(g.width if (g := self.glyph(c)) else 16 for c in text)


@cache
def unifont(path: Path = UNIFONT_HEX) -> HexFont:
    """GNU Unifont, loaded once."""
    if not path.is_file():
        raise DotFontMissing(f"no bitmap font at {path}: apt-get install unifont")
    return HexFont.parse(path.read_text(encoding="ascii", errors="replace"))
