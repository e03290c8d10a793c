"""The touchscreen rating pad in pygame: the clerk's card while serving, then the prompt.

While the clerk serves, the citizen sees who serves them: the window, the clerk's photo,
name, number and star level (星级柜员). When the clerk finishes, the five levels pop up by
themselves; a bad rating asks why; then thanks. Every text is in the hall's first
language with its second under it, smaller (汉维双语, 汉哈双语: Chinese with Uyghur or
Kazakh, right to left); the catalogs are ``counter_terminal/locale/*/LC_MESSAGES/pad.po``.
Touches become the same button presses a five-key pad makes, so the rules in
``counter_terminal.rating`` hold for both. Runs headless with ``SDL_VIDEODRIVER=dummy``
for tests and screenshots.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pygame

from counter_terminal.daemon import PadView
from counter_terminal.profile import TouchPadProfile
from counter_terminal.rating import CONFIRM_BUTTON, ERASE_BUTTON, SKIP_BUTTON, Phase
from hallbus.fonts import FontNotFound, font_for
from hallbus.i18n import Texts, texts_in
from hallbus.messages import BadRatingReason, RatingLevel
from hallbus.script_lines import LineFont, has_cjk, line_font
from hallbus.touch_window import TouchWindow

log = logging.getLogger(__name__)

BACKGROUND = (244, 246, 250)
HEADER = (0, 82, 155)  # 政务蓝
INK = (30, 34, 40)
MUTED = (120, 126, 136)
WHITE = (255, 255, 255)
GOLD = (240, 170, 20)
# Best to worst: green to red, so the levels read at a glance.
LEVEL_COLOURS = [(0, 140, 80), (70, 160, 60), (150, 160, 40), (220, 120, 30), (200, 40, 40)]
LOCALE_DIR = Path(__file__).with_name("locale")
LEVEL_TEXTS = {
    RatingLevel.VERY_SATISFIED: "Very satisfied",
    RatingLevel.SATISFIED: "Satisfied",
    RatingLevel.BASICALLY_SATISFIED: "Basically satisfied",
    RatingLevel.DISSATISFIED: "Dissatisfied",
    RatingLevel.VERY_DISSATISFIED: "Very dissatisfied",
}
REASON_TEXTS = {
    BadRatingReason.ATTITUDE: "Service attitude",
    BadRatingReason.EFFICIENCY: "Efficiency",
    BadRatingReason.PROCESS: "Process",
    BadRatingReason.OTHER: "Other",
}
SECOND_LINE = 0.55  # the second language's size, of the first's
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")


class PadController(Protocol):
    """What the screen needs from the pad device (``counter_terminal.daemon.PadDevice``)."""

    def view(self) -> PadView:
        """What to draw now."""
        ...

    def press(self, button: int) -> None:
        """A touch on button ``button``."""
        ...


@dataclass(frozen=True, slots=True)
class Target:
    """A touchable area and the button it presses."""

    rect: pygame.Rect
    button: int


@functools.cache
def _face(language: str) -> str | None:
    # Chinese faces carry Latin letters too; Uyghur and Kazakh need an Arabic-script face.
    try:
        return str(font_for("zh" if language in ("zh", "en") else language))
    except FontNotFound as err:
        log.warning("no font for %s, using pygame's default: %s", language, err)
        return None


def _font(language: str, size: int, text: str) -> LineFont:
    return line_font(_face("zh" if has_cjk(text) else language), size, language)


def _star(surface: pygame.Surface, centre: tuple[float, float], radius: float, lit: bool) -> None:
    points = []
    for i in range(10):
        r = radius if i % 2 == 0 else radius * 0.45
        angle = math.pi / 2 + i * math.pi / 5
        points.append((centre[0] + r * math.cos(angle), centre[1] - r * math.sin(angle)))
    pygame.draw.polygon(surface, GOLD if lit else (210, 212, 218), points)


class PadScreen:
    """Draws a pad view and maps touches to buttons."""

    def __init__(
        self,
        profile: TouchPadProfile,
        photos: Path | None = None,
        languages: tuple[str, ...] = ("zh",),
    ) -> None:
        self.profile = profile
        self.size = (profile.width, profile.height)
        self.photos = photos
        self.targets: list[Target] = []
        # The hall's first two languages: the first large, the second under it.
        self.texts: list[Texts] = [texts_in(LOCALE_DIR, "pad", x) for x in languages[:2]]

    def draw(self, surface: pygame.Surface, view: PadView) -> None:
        """Draw ``view``; remembers where the buttons are."""
        self.targets = []
        width, height = self.size
        self._surface, self._unit = surface, height / 100
        surface.fill(BACKGROUND)
        header = pygame.Rect(0, 0, width, int(height * 0.12))
        pygame.draw.rect(surface, HEADER, header)
        self._say("Window {window}", 6, WHITE, header, "center", window=view.window)
        body = pygame.Rect(0, header.bottom, width, height - header.bottom)
        match view.phase:
            case Phase.IDLE:
                self._clerk_card(body, view)
            case Phase.RATING:
                self._levels(body, view)
            case Phase.REASON:
                self._reasons(body, view)
            case Phase.CONTACT:
                self._contact(body, view)
            case Phase.THANKS:
                thanks = pygame.Rect(body.x, body.y, body.width, body.height * 0.6)
                self._say("Thank you for your rating!", 9, INK, thanks, "center")

    def button_at(self, position: tuple[int, int]) -> int | None:
        """The button under a touch, if any."""
        return next((t.button for t in self.targets if t.rect.collidepoint(position)), None)

    # --- the screens -------------------------------------------------------------------
    def _clerk_card(self, body: pygame.Rect, view: PadView) -> None:
        clerk = view.clerk
        if clerk is None:
            self._say("No clerk at this window", 7, MUTED, body, "center")
            return
        code, name, stars = clerk.code, clerk.name, clerk.stars
        unit = self._unit
        photo = pygame.Rect(body.x + body.width * 0.08, body.y + unit * 10, unit * 48, unit * 60)
        self._photo(photo, code, name)
        left = photo.right + body.width * 0.06
        text = pygame.Rect(left, photo.y, body.right - left - body.width * 0.05, unit * 16)
        self._text(name, 10, INK, text, "start")
        self._say("Staff no. {code}", 5, MUTED, text.move(0, unit * 16), "start", code=code)
        if stars is not None:
            self._say("Star clerk", 4.5, MUTED, text.move(0, unit * 30), "start")
            for i in range(5):
                centre = (left + unit * (5 + i * 10), text.y + unit * 48)
                _star(self._surface, centre, unit * 4, i < stars)
        welcome = pygame.Rect(text.x, text.y + unit * 58, text.width, unit * 22)
        self._say("Your supervision and rating are welcome", 4.5, MUTED, welcome, "start")

    def _photo(self, rect: pygame.Rect, code: str, name: str) -> None:
        path = self._photo_path(code)
        if path is not None:
            try:
                image = pygame.image.load(str(path))
                self._surface.blit(pygame.transform.smoothscale(image, rect.size), rect)
                return
            except pygame.error as err:
                log.warning("clerk photo unreadable", extra={"path": str(path), "error": str(err)})
        # No photo: the surname on a plain card, as halls print on name plates.
        pygame.draw.rect(self._surface, (214, 224, 238), rect, border_radius=12)
        self._text(name[:1], 22, HEADER, rect, "center")

    def _photo_path(self, code: str) -> Path | None:
        if self.photos is None:
            return None
        return next(
            (p for s in PHOTO_SUFFIXES if (p := self.photos / f"{code}{s}").is_file()), None
        )

    def _levels(self, body: pygame.Rect, view: PadView) -> None:
        unit = self._unit
        title = pygame.Rect(body.x, body.y + unit * 4, body.width, unit * 10)
        # As halls say it: the number first, then the request, full-width punctuation.
        if view.ticket_label:
            asked = "Number {ticket}: please rate this service"
            self._say(asked, 6, INK, title, "center", ticket=view.ticket_label)
        else:
            self._say("Please rate this service", 6, INK, title, "center")
        if view.service:
            # The service's name comes from the hall file, as the scheduler sent it.
            service = title.move(0, unit * 10).inflate(0, -unit * 4)
            self._say("Service: {service}", 4.5, MUTED, service, "center", service=view.service)
        levels = [LEVEL_TEXTS[level] for level in self.profile.rating.levels]
        self._row(body, levels, LEVEL_COLOURS)
        self._countdown(body, view)

    def _reasons(self, body: pygame.Rect, view: PadView) -> None:
        unit = self._unit
        title = pygame.Rect(body.x, body.y + unit * 4, body.width, unit * 10)
        self._say("What was not good?", 6, INK, title, "center")
        reasons = [REASON_TEXTS[reason] for reason in self.profile.rating.reasons]
        self._row(body, reasons, [LEVEL_COLOURS[3]] * len(reasons))
        self._countdown(body, view)

    def _contact(self, body: pygame.Rect, view: PadView) -> None:
        """After a bad rating: an optional mobile number so the hall can call back."""
        unit = self._unit
        left = pygame.Rect(body.x, body.y, body.width * 0.48, body.height)
        title = pygame.Rect(left.x + unit * 4, body.y + unit * 6, left.width - unit * 8, unit * 9)
        self._say("Your rating is received", 5.5, INK, title, "start")
        asked = "Leave a mobile number and we will call you back"
        self._say(asked, 4.5, INK, title.move(0, unit * 10), "start")
        self._say(
            "(Optional, only for this callback)", 3.8, MUTED, title.move(0, unit * 19), "start"
        )
        shown = pygame.Rect(title.x, title.y + unit * 30, title.width, unit * 12)
        pygame.draw.rect(self._surface, WHITE, shown, border_radius=10)
        digits = view.digits
        grouped = " ".join(p for p in (digits[:3], digits[3:7], digits[7:]) if p)
        self._text(grouped or "1__ ____ ____", 6, INK if digits else MUTED, shown, "center")
        skip = pygame.Rect(title.x, shown.bottom + unit * 6, title.width, unit * 12)
        pygame.draw.rect(self._surface, MUTED, skip, border_radius=12)
        self._say("Skip", 5, WHITE, skip, "center")
        self.targets.append(Target(skip, SKIP_BUTTON))
        keys = [*range(1, 10), ERASE_BUTTON, 0, CONFIRM_BUTTON]
        pad = pygame.Rect(left.right, body.y + unit * 4, body.width - left.right, body.height)
        width, height = (pad.width - unit * 8) / 3, unit * 19
        for index, key in enumerate(keys):
            row, col = divmod(index, 3)
            rect = pygame.Rect(
                pad.x + col * (width + unit * 2), pad.y + row * (height + unit * 2), width, height
            )
            if key == CONFIRM_BUTTON:
                colour, label, button = LEVEL_COLOURS[0], "OK", CONFIRM_BUTTON
            elif key == ERASE_BUTTON:
                colour, label, button = (150, 156, 166), "Delete", ERASE_BUTTON
            else:
                colour, label, button = HEADER, "", 100 + key
            pygame.draw.rect(self._surface, colour, rect, border_radius=12)
            if label:
                self._say(label, 5, WHITE, rect.inflate(-unit * 2, -unit * 4), "center")
            else:
                self._text(str(key), 6, WHITE, rect, "center")
            self.targets.append(Target(rect, button))
        countdown = pygame.Rect(left.x, body.bottom - unit * 16, left.width, unit * 10)
        if view.seconds_left is not None:
            self._say(
                "{seconds} s left", 4.5, MUTED, countdown, "center", seconds=view.seconds_left
            )

    def _row(
        self, body: pygame.Rect, messages: list[str], colours: list[tuple[int, int, int]]
    ) -> None:
        count = len(messages)
        margin = body.width * 0.025
        width = (body.width - margin * (count + 1)) / count
        top, height = body.y + self._unit * 24, self._unit * 40
        for index, (message, colour) in enumerate(zip(messages, colours, strict=True)):
            rect = pygame.Rect(margin + index * (width + margin), top, width, height)
            pygame.draw.rect(self._surface, colour, rect, border_radius=16)
            self._say(message, 5.5, WHITE, rect.inflate(-width * 0.08, -height * 0.3), "center")
            self.targets.append(Target(rect, index + 1))

    def _countdown(self, body: pygame.Rect, view: PadView) -> None:
        if view.seconds_left is None:
            return
        rect = pygame.Rect(body.x, body.bottom - self._unit * 16, body.width, self._unit * 10)
        self._say("{seconds} s left", 4.5, MUTED, rect, "center", seconds=view.seconds_left)

    def _say(
        self,
        message: str,
        size: float,
        colour: tuple[int, int, int],
        rect: pygame.Rect,
        align: str,
        **values: object,
    ) -> None:
        """``message`` in the first language and, smaller beneath, in the second."""
        first, *second = self.texts
        # A value from the hall file in Chinese (a service's name) inside an Arabic-script
        # line has no face that draws both: the first language's line says it alone.
        mixed = bool(second) and second[0].rtl and any(has_cjk(str(v)) for v in values.values())
        if not second or mixed:
            self._text(first(message, **values), size, colour, rect, align, first.language)
            return
        top = pygame.Rect(rect.x, rect.y, rect.width, rect.height * 0.62)
        under = pygame.Rect(rect.x, top.bottom, rect.width, rect.height - top.height)
        self._text(first(message, **values), size, colour, top, align, first.language)
        other = second[0]
        text = other(message, **values)
        self._text(text, size * SECOND_LINE, colour, under, align, other.language)

    def _text(
        self,
        text: str,
        size: float,
        colour: tuple[int, int, int],
        rect: pygame.Rect,
        align: str,
        language: str = "zh",
    ) -> None:
        font = _font(language, max(8, int(size * self._unit)), text)
        rendered = font.render(text, True, colour)
        if rendered.get_width() > rect.width:  # shrink to fit rather than cut
            scale = rect.width / rendered.get_width()
            rendered = pygame.transform.smoothscale(
                rendered, (int(rendered.get_width() * scale), int(rendered.get_height() * scale))
            )
        box = rendered.get_rect()
        box.centery = rect.centery
        if align == "center":
            box.centerx = rect.centerx
        else:  # a second line keeps to its first line's edge, whatever its direction
            box.x = rect.x
        self._surface.blit(rendered, box)


class TouchPadApp(TouchWindow):
    """The pad's window: draws the device's view, turns touches into button presses."""

    caption = "paidui rating pad"

    def __init__(
        self,
        pad: PadController,
        profile: TouchPadProfile,
        photos: Path | None = None,
        languages: tuple[str, ...] = ("zh",),
    ) -> None:
        super().__init__((profile.width, profile.height), profile.fullscreen)
        self.pad = pad
        self.screen = PadScreen(profile, photos, languages)

    def draw(self, surface: pygame.Surface) -> None:
        """Draw what the pad shows now."""
        self.screen.draw(surface, self.pad.view())

    def touch(self, position: tuple[int, int]) -> None:
        """A finger at ``position``: the button there is pressed."""
        button = self.screen.button_at(position)
        if button is not None:
            self.pad.press(button)

    def target(self, button: int) -> pygame.Rect | None:
        """Where ``button`` is on the current frame."""
        return next((t.rect for t in self.screen.targets if t.button == button), None)
