"""The dashboard's words in the manager's language, and the words for clerks' keys.

Every text the dashboard shows goes through its catalog
``scheduler/web/locale/<lang>/LC_MESSAGES/dashboard.po``; as everywhere in paidui, the
message ids are the English texts. The templates call ``t("...")``, the live page's
script calls ``t("...")`` on the words the page hands it, and Python code that makes
words for a page takes the page's ``Texts`` (or marks a text with ``N_`` where it is
defined and translates it where it is shown). A test extracts every id from all three
and checks that each catalog has all of them.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from babel.messages.extract import extract

from hallbus.i18n import LANGUAGE_NAMES, Texts, texts_in

LOCALE = Path(__file__).with_name("locale")
LIVE_SCRIPT = Path(__file__).with_name("static") / "live.js"
# The languages a manager may switch the dashboard to: those with a complete catalog
# (English needs none). A hall's first language among them is the default.
LANGUAGES = ("zh", "en")
LANGUAGE_COOKIE = "paidui_lang"


def N_(message: str) -> str:  # gettext's conventional name for "mark only"
    """Mark ``message`` for the catalog where it is defined; it is translated where shown."""
    return message


@functools.cache
def dashboard_words(language: str) -> Texts:
    """The dashboard's texts in ``language`` (Chinese for a language it does not speak)."""
    return texts_in(LOCALE, "dashboard", language if language in LANGUAGES else "zh")


def choose_language(asked: str | None, hall_languages: list[str]) -> str:
    """The manager's own choice (the switch's cookie), else the hall's first language the
    dashboard speaks, else Chinese."""
    if asked in LANGUAGES:
        return str(asked)
    return next((lang for lang in hall_languages if lang in LANGUAGES), "zh")


def switch_targets() -> dict[str, str]:
    """Each language of the switch, named in itself."""
    return {code: LANGUAGE_NAMES[code] for code in LANGUAGES}


@functools.cache
def script_ids() -> tuple[str, ...]:
    """The ids the live page's script asks ``t`` for (the page is given exactly these)."""
    with LIVE_SCRIPT.open("rb") as handle:
        found = extract("javascript", handle, keywords={"t": None})
        return tuple(dict.fromkeys(str(message) for _, message, _, _ in found))


def script_words(texts: Texts) -> dict[str, str]:
    """The live page script's words in ``texts``' language (its placeholders for it to fill)."""
    return {message: texts.unfilled(message) for message in script_ids()}


def minutes_seconds(texts: Texts, seconds: float | None) -> str:
    """A duration as a hall reads it: 3分05秒 / 3 min 05 s, 1小时12分 / 1 h 12 min; — for none."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    sign = "-" if whole < 0 else ""  # a bias may run either way
    hours, rest = divmod(abs(whole), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return sign + texts("{hours} h {minutes} min", hours=hours, minutes=str(minutes).zfill(2))
    return sign + texts("{minutes} min {seconds} s", minutes=minutes, seconds=str(secs).zfill(2))


def window_name(texts: Texts, number: object) -> str:
    """A window as the hall says it: 2号窗口, Window 2."""
    return texts("Window {number}", number=number)


KEY_VERBS = {
    "call_next": N_("Call next"),
    "call_ticket": N_("Call a ticket"),
    "recall": N_("Recall"),
    "start": N_("Start serving"),
    "finish": N_("Finish"),
    "no_show": N_("No-show"),
    "postpone": N_("Postpone"),
    "pause": N_("Pause"),
    "resume": N_("Resume"),
    "pause_toggle": N_("Pause/resume"),
    "transfer_window": N_("Transfer to a window"),
    "transfer_service": N_("Transfer to a service"),
    "login": N_("Log in"),
    "logout": N_("Log out"),
    "desk_contact": N_("Note a talk at the desk"),
    "noise": N_("Stray key"),
    "card": N_("Log in by card"),
}
OUTCOME_WORDS = {
    "ok": "",
    "nothing_waiting": N_("nobody waiting"),
    "window_paused": N_("window paused"),
    "window_closed": N_("nobody logged in"),
    "no_current_ticket": N_("no current ticket"),
    "unknown_clerk": N_("unknown clerk number"),
    "unknown_ticket": N_("no such ticket"),
    "pin_required": N_("PIN needed"),
    "wrong_pin": N_("wrong PIN"),
    "clerk_locked": N_("clerk locked"),
    "invalid_state": N_("not possible now"),
    "timeout": N_("no answer from the system"),
    "ignored": N_("ignored"),
    "repeated": N_("repeated key"),
}
_PAD_BUTTON = re.compile(r"button_(\d+)")


def key_words(texts: Texts, key: str, outcome: str) -> str:
    """A key and its outcome as words: 叫号：无人等候, or 办结 when it went through."""
    if button := _PAD_BUTTON.fullmatch(key):
        verb = texts("Rating pad key {number}", number=button.group(1))  # the five buttons
    else:
        verb = texts(KEY_VERBS[key]) if key in KEY_VERBS else key
    said = OUTCOME_WORDS.get(outcome, outcome)
    return texts("{verb}: {outcome}", verb=verb, outcome=texts(said)) if said else verb
