"""Lines of text in any hall language, drawn for pygame screens.

Uyghur and Kazakh (Arabic-based script, right to left) need real shaping: the letter
before ە (ae) takes its joining form, and ى is dotless in every position. Presentation
forms cannot express that (ە has no final form in Unicode), so lines in those languages
are laid out by HarfBuzz and FriBiDi through Pillow's raqm engine and handed to pygame as
a surface. Chinese and English go straight through pygame's own font.
"""

from __future__ import annotations

import functools
import unicodedata

import pygame
from PIL import Image, ImageDraw, ImageFont, features

# Languages whose lines need bidi and shaping.
SHAPED_LANGUAGES = frozenset({"ug", "kk"})


class ShapingUnavailable(RuntimeError):
    """Pillow has no raqm layout (libraqm and FriBiDi): right-to-left text cannot be drawn."""


def check_shaping() -> None:
    """Raise, saying what to install, if right-to-left lines cannot be shaped here."""
    if not features.check("raqm"):
        raise ShapingUnavailable(
            "Uyghur and Kazakh need Pillow's raqm layout: apt-get install libfribidi0 libraqm0"
        )


@functools.cache
def pillow_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """The face at ``path`` at ``size`` pixels, laid out by raqm (HarfBuzz, FriBiDi)."""
    check_shaping()
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.RAQM)


class LineFont:
    """One face at one size that draws a line of its language: pygame's ``Font`` calls
    (``render``, ``size``, ``get_linesize``), shaped right to left where the language is."""

    def __init__(self, path: str | None, size: int, language: str) -> None:
        if not pygame.font.get_init():
            pygame.font.init()
        self._pygame = pygame.font.Font(path, size)
        self._shaped = language in SHAPED_LANGUAGES and path is not None
        self._language = language
        self._pillow = pillow_font(path, size) if self._shaped and path is not None else None

    def render(self, text: str, antialias: bool, colour: tuple[int, int, int]) -> pygame.Surface:
        """The line as a surface; right-to-left text in visual order, letters joined."""
        if self._pillow is None:
            return self._pygame.render(text, antialias, colour)
        width, height = self.size(text)
        image = Image.new("RGBA", (max(width, 1), height), (*colour, 0))
        ImageDraw.Draw(image).text(
            (0, 0),
            text,
            font=self._pillow,
            fill=(*colour, 255),
            direction="rtl",
            language=self._language,
        )
        return pygame.image.frombytes(image.tobytes(), image.size, "RGBA")

    def size(self, text: str) -> tuple[int, int]:
        """Width and height of ``text`` drawn by :meth:`render`."""
        if self._pillow is None:
            return self._pygame.size(text)
        width = self._pillow.getlength(text, direction="rtl", language=self._language)
        return int(width + 0.999), self.get_linesize()

    def get_linesize(self) -> int:
        """The line height (the same face's, whichever engine draws the line)."""
        if self._pillow is None:
            return self._pygame.get_linesize()
        ascent, descent = self._pillow.getmetrics()
        return int(ascent + descent)


@functools.cache
def line_font(path: str | None, size: int, language: str) -> LineFont:
    """A shared :class:`LineFont` (faces are cached: a frame draws many lines)."""
    return LineFont(path, size, language)


def has_cjk(text: str) -> bool:
    """Whether ``text`` has Chinese characters (a hall name kept in Chinese, say), which
    the Arabic-script and Latin faces do not carry."""
    return any(unicodedata.east_asian_width(c) in "WF" for c in text)
