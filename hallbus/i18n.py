"""Screen texts in every hall language: gettext catalogs read with Babel, durations and
times per locale. Texts stay in logical order; screens shape and order right-to-left
lines where they draw them (``hallbus.script_lines``), browsers by the page's direction.

Message ids are the English texts; each screen (the kiosk, the hall board) has its own
catalog ``<package>/locale/<lang>/LC_MESSAGES/<domain>.po``.
"""

from __future__ import annotations

import functools
import math
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TypeVar

from babel import Locale
from babel.dates import format_skeleton, format_time, format_timedelta
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

T = TypeVar("T")

# Babel locale per hall language code (the hall YAML uses the short codes).
_BABEL = {"zh": "zh_Hans_CN", "en": "en_GB", "ug": "ug_CN", "kk": "kk_Arab_CN"}
LANGUAGE_NAMES = {"zh": "中文", "en": "English", "ug": "ئۇيغۇرچە", "kk": "قازاقشا"}


@functools.cache
def _catalog(path: Path, language: str) -> Catalog | None:
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        return read_po(handle, locale=_BABEL.get(language, language))


@functools.cache
def texts_in(locale_dir: Path, domain: str, language: str) -> Texts:
    """The (shared, immutable) texts of one screen in one language."""
    return Texts(language, locale_dir / language / "LC_MESSAGES" / f"{domain}.po")


class Texts:
    """Everything one screen says, in one language."""

    def __init__(self, language: str, catalog: Path) -> None:
        self.language = language
        self.locale = Locale.parse(_BABEL.get(language, language))
        self._catalog = _catalog(catalog, language)

    @property
    def rtl(self) -> bool:
        """Whether the language is written right to left (Uyghur, Arabic-script Kazakh)."""
        return bool(self.locale.character_order == "right-to-left")

    def __call__(self, message: str, **values: object) -> str:
        """``message`` translated (the English id when untranslated), with ``values`` filled in."""
        return self.unfilled(message).format(**values)

    def unfilled(self, message: str) -> str:
        """``message`` translated with its placeholders left as they are (for a page's
        script, which fills them in itself)."""
        if self._catalog is not None:
            entry = self._catalog.get(message)
            if entry is not None and entry.string:
                return str(entry.string)
        return message

    def duration(self, seconds: int) -> str:
        """A wait as people say it: 5 分钟, 5 minutes."""
        minutes = max(1, math.ceil(seconds / 60))  # nobody is told to wait "30 seconds"
        return format_timedelta(
            timedelta(minutes=minutes), granularity="minute", threshold=1.5, locale=self.locale
        )

    def clock(self, moment: datetime, zone: tzinfo) -> str:
        """Hours and minutes on the hall's wall clock (``zone``), in the locale's way.

        The zone is never implied: times travel in UTC, and people read the hall's time.
        """
        return format_time(moment.astimezone(zone), "HH:mm", locale=self.locale)

    def day(self, moment: datetime, zone: tzinfo) -> str:
        """The hall's date and weekday in the locale's way (12月1日星期二, Tuesday, December 1)."""
        return format_skeleton("MMMMdEEEE", moment.astimezone(zone), locale=self.locale)

    def left_to_right(self, text: str) -> str:
        """``text`` (a date, a time) kept in its own order inside a right-to-left line.

        Beside Arabic letters, digits count as Arabic numbers, so 2026-11-22 would read
        22-11-2026; a left-to-right isolate (LRI ... PDI) keeps it as written.
        """
        return f"\u2066{text}\u2069" if self.rtl else text

    def pick(self, per_language: dict[str, T], fallback: T) -> T:
        """This language's entry, else Chinese (a hall's names are official in Chinese, and
        Uyghur or Kazakh readers read it before English), else English, else ``fallback``."""
        for language in (self.language, "zh", "en"):
            if per_language.get(language):
                return per_language[language]
        return fallback
