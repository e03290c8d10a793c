"""The kiosk's texts: its catalogs in ``locale/<lang>/LC_MESSAGES/kiosk.po``."""

from __future__ import annotations

from pathlib import Path

from hallbus.i18n import LANGUAGE_NAMES, Texts, texts_in

LOCALE_DIR = Path(__file__).parent / "locale"

__all__ = ["LANGUAGE_NAMES", "LOCALE_DIR", "Texts", "texts_for"]


def texts_for(language: str) -> Texts:
    """The kiosk's texts in one language."""
    return texts_in(LOCALE_DIR, "kiosk", language)
