"""What the loudspeaker says, clip by clip, and in which order (pure).

A call becomes an :class:`Announcement`: a chime, then the call in each hall language,
the whole said ``repeats`` times. The words come from the voice scripts in ``voices/``
(one YAML file per language), so a hall changes the wording without code.

:class:`AnnouncementQueue` keeps calls in order. A recall of a ticket whose call is still
waiting merges into it; a recall of one already said is said again. When calls pile up
(a rush), announcements taken while ``rush_backlog`` or more wait are said once instead
of ``repeats`` times, so the hall hears every call, minutes earlier, and none is dropped.
"""

from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from hallbus.messages import CallAnnouncement

VOICES_DIR = Path(__file__).parent / "voices"
CHIME = "chime"


class VoiceScript(BaseModel):
    """How one language calls a ticket."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str
    espeak_voice: str  # espeak-ng's voice for clips nobody recorded
    call: list[str] = Field(min_length=1)  # phrase names, "{ticket}" and "{window}"
    phrases: dict[str, str]
    digits: dict[str, str]
    letters: dict[str, str] = Field(default_factory=dict)  # missing: the letter itself
    numbers: dict[str, str] = Field(default_factory=dict)  # words for 10.. (tens, teens)
    cardinal: Literal["chinese", "english", "digits"] = "digits"
    said: str  # the whole call as text, for the log and the dashboard


@functools.cache
def load_script(language: str, folder: Path = VOICES_DIR) -> VoiceScript:
    """The voice script of ``language``."""
    path = folder / f"{language}.yaml"
    if not path.is_file():
        raise LookupError(f"no voice script for {language!r} in {folder}")
    return VoiceScript.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def voice_languages(folder: Path = VOICES_DIR) -> list[str]:
    """Languages with a voice script."""
    return sorted(p.stem for p in folder.glob("*.yaml"))


@dataclass(frozen=True, slots=True)
class Clip:
    """One recorded or generated sound: ``<language>/<word>``, and the text it says."""

    language: str
    word: str
    text: str
    espeak_voice: str = ""

    @property
    def key(self) -> str:
        """Where it lives under a clip folder, without the ``.wav``."""
        return f"{self.language}/{self.word}" if self.language else self.word


CHIME_CLIP = Clip("", CHIME, "♪")


@dataclass(frozen=True, slots=True)
class Announcement:
    """One call as the loudspeaker says it."""

    ticket_id: str
    label: str
    window: int
    recalls: int
    clips: tuple[Clip, ...]
    said: str  # what is said, in every language, once


def _clip(script: VoiceScript, word: str, text: str) -> Clip:
    return Clip(script.language, word, text, script.espeak_voice)


def _ticket(script: VoiceScript, label: str) -> list[Clip]:
    clips = []
    for ch in label:
        if ch in script.digits:
            clips.append(_clip(script, f"digit_{ch}", script.digits[ch]))
        else:
            clips.append(_clip(script, f"letter_{ch}", script.letters.get(ch, ch)))
    return clips


def _window(script: VoiceScript, number: int) -> list[Clip]:
    def word(value: int, text: str) -> Clip:
        return _clip(script, f"number_{value}", text)

    def digit(value: int) -> Clip:
        return _clip(script, f"digit_{value}", script.digits[str(value)])

    if script.cardinal == "digits" or number >= 100:
        return [digit(int(d)) for d in str(number)]
    if number < 10:
        return [digit(number)]
    tens, units = divmod(number, 10)
    if script.cardinal == "chinese":
        ten = word(10, script.numbers["10"])
        return [*([digit(tens)] if tens > 1 else []), ten, *([digit(units)] if units else [])]
    if str(number) in script.numbers:
        return [word(number, script.numbers[str(number)])]
    return [word(tens * 10, script.numbers[str(tens * 10)]), digit(units)]


def call_clips(script: VoiceScript, label: str, window: int) -> list[Clip]:
    """One language's call: its phrases with the ticket and the window filled in."""
    clips: list[Clip] = []
    for part in script.call:
        if part == "{ticket}":
            clips += _ticket(script, label)
        elif part == "{window}":
            clips += _window(script, window)
        else:
            clips.append(_clip(script, part, script.phrases[part]))
    return clips


def plan_call(call: CallAnnouncement, scripts: list[VoiceScript], repeats: int) -> Announcement:
    """A chime, then the call in each language, all said ``repeats`` times."""
    once: list[Clip] = []
    for script in scripts:
        once += call_clips(script, call.label, call.window)
    said = " / ".join(s.said.format(ticket=call.label, window=call.window) for s in scripts)
    return Announcement(
        call.ticket_id, call.label, call.window, call.recalls, (CHIME_CLIP, *once * repeats), said
    )


class AnnouncementQueue:
    """Calls waiting to be said, in order; not thread-safe (the voice worker locks it)."""

    def __init__(self, *, repeats: int = 2, rush_backlog: int = 3) -> None:
        self.repeats = repeats
        self.rush_backlog = rush_backlog
        self._waiting: deque[CallAnnouncement] = deque()

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, call: CallAnnouncement) -> None:
        """Queue a call; a recall of a ticket still waiting replaces it where it stands."""
        for index, waiting in enumerate(self._waiting):
            if waiting.ticket_id == call.ticket_id:
                self._waiting[index] = call
                return
        self._waiting.append(call)

    def take(self, scripts: list[VoiceScript]) -> Announcement | None:
        """The next announcement, said once if a rush is waiting behind it."""
        if not self._waiting:
            return None
        call = self._waiting.popleft()
        repeats = 1 if len(self._waiting) >= self.rush_backlog else self.repeats
        return plan_call(call, scripts, repeats)
