"""Finding fonts through fontconfig, for screens (kiosk, rating pad) and raster tickets."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

# fontconfig language tags of the languages the kiosk speaks. Kazakh in China is written
# in the Arabic-based script, which fontconfig's ``kk`` (Cyrillic) does not cover; the
# Uyghur tag asks for the same Arabic letters (tests check every catalog's glyphs).
_FC_LANG = {"zh": "zh-cn", "en": "en", "ug": "ug", "kk": "ug"}
# Faces a screen or a ticket should not get by default.
_STYLE_WORDS = ("Bold", "Oblique", "Italic", "Condensed", "Mono", "Serif", "Light", "Math")
# Fonts made for something else: a dot-matrix font (drawn LED boards use its .hex) and
# maths faces cover a language but read badly on a screen or a ticket.
_UNSUITED = ("unifont", "math")


class FontNotFound(LookupError):
    """No installed font covers a language; the message says what to install."""


def _score(path: str) -> tuple[int, int, str]:
    name = Path(path).name
    unsuited = any(word in name.lower() for word in _UNSUITED)
    return (int(unsuited), sum(word in name for word in _STYLE_WORDS), name)


@functools.cache
def font_for(language: str) -> Path:
    """The best installed regular font that covers ``language`` (``zh``, ``en``, ``ug``...)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        raise FontNotFound("fontconfig (fc-list) is not installed: apt-get install fontconfig")
    lang = _FC_LANG.get(language, language)
    listed = subprocess.run(
        [fc_list, "-f", "%{file}\n", f":lang={lang}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    ).stdout.split()
    candidates = sorted({p for p in listed if p.endswith((".ttf", ".ttc", ".otf"))}, key=_score)
    if not candidates:
        hint = " (apt-get install fonts-wqy-microhei)" if language == "zh" else ""
        raise FontNotFound(f"no font covers language {language!r}{hint}")
    return Path(candidates[0])
