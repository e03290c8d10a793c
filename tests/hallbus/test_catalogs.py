"""Every screen's catalogs: complete in every language, the same placeholders as the
English ids, and drawable: each glyph a shaped text needs is in the font that draws it."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fontTools.ttLib import TTFont

from hallbus.fonts import font_for
from hallbus.i18n import LANGUAGE_NAMES, texts_in
from hallbus.script_lines import line_font

ROOT = Path(__file__).resolve().parents[2]
# (locale folder, domain): the kiosk, the LCD hall board, the phone page, the touch pad.
SCREENS = [
    (ROOT / "counter_terminal" / "locale", "pad"),
    (ROOT / "kiosk" / "locale", "kiosk"),
    (ROOT / "display_wall" / "locale", "display"),
    (ROOT / "scheduler" / "web" / "locale", "rate"),
]
# Languages a hall in China prints and shows besides Chinese; English ids need no catalog.
TRANSLATED = ("zh", "ug", "kk")


def _entries(folder: Path, domain: str, language: str) -> dict[str, str]:
    path = folder / language / "LC_MESSAGES" / f"{domain}.po"
    with path.open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle) if m.id}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.parametrize(("folder", "domain"), SCREENS, ids=[d for _, d in SCREENS])
def test_every_catalog_is_complete_with_the_same_placeholders(
    folder: Path, domain: str, language: str
) -> None:
    ids = set(_entries(folder, domain, "zh"))
    entries = _entries(folder, domain, language)
    assert set(entries) == ids, f"{language}: missing {ids - set(entries)}"
    for message, translated in entries.items():
        assert translated, f"{language}: {message!r} is untranslated"
        assert _fields(translated) == _fields(message), (language, message, translated)


@pytest.mark.parametrize("language", ["ug", "kk"])
def test_uyghur_and_kazakh_are_arabic_script_right_to_left(language: str) -> None:
    texts = texts_in(SCREENS[0][0], "kiosk", language)
    assert texts.rtl
    # Kazakh in China is written in the Arabic-based script, not Kazakhstan's Cyrillic.
    assert re.fullmatch(r"[\u0600-\u06ff]+", LANGUAGE_NAMES[language])
    for folder, domain in SCREENS:
        for translated in _entries(folder, domain, language).values():
            assert not re.search(r"[\u0400-\u04ff]", translated), translated
            assert re.search(r"[\u0600-\u06ff]", translated), translated


@pytest.mark.parametrize("language", ["zh", "ug", "kk"])
def test_the_font_that_draws_a_language_has_every_glyph_its_shaped_texts_need(
    language: str,
) -> None:
    """A character the font lacks is drawn as a box: every letter of every text must be
    in the face that screens and raster tickets use for the language."""
    cmap = TTFont(str(font_for(language)), fontNumber=0).getBestCmap()
    missing: dict[str, str] = {}
    for folder, domain in SCREENS:
        for translated in _entries(folder, domain, language).values():
            shown = translated.format_map(_Blank())
            lost = {c for c in shown if not c.isspace() and ord(c) not in cmap}
            if lost:
                missing[translated] = "".join(sorted(lost))
    assert not missing, missing


class _Blank(dict[str, str]):
    """Placeholders left empty: the check is about the catalog's own letters."""

    def __missing__(self, key: str) -> str:
        return ""


@pytest.mark.parametrize("language", ["ug", "kk"])
def test_letters_join_before_ae_as_the_script_writes_them(language: str) -> None:
    """ە (ae) has no final presentation form in Unicode, so glyph-by-glyph drawing left
    the letter before it isolated (a gap in every other word). Shaped, م takes its
    initial form and joins: the pair is narrower than the two letters apart."""
    font = line_font(str(font_for(language)), 60, language)
    joined = font.size("مە")[0]
    apart = font.size("م")[0] + font.size("ە")[0]
    assert joined < apart - 2, (joined, apart)
