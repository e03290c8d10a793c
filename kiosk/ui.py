"""The kiosk's touch screen in pygame: draws a ``KioskView`` and turns touches into actions.

Works with a touchscreen (finger events) and a mouse; runs headless with
``SDL_VIDEODRIVER=dummy`` for tests and screenshots. Layout is proportional to the
screen, mirrored for right-to-left languages, and doubled in size in large print.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Protocol

import pygame

from hallbus.fonts import FontNotFound, font_for
from hallbus.messages import ErrorCode, PrintState, ServiceState
from hallbus.script_lines import has_cjk, line_font
from hallbus.touch_window import TouchWindow
from kiosk.flow import (
    CODE_DIGITS,
    Action,
    AskCard,
    AskCode,
    Back,
    ChooseService,
    Confirm,
    Digit,
    Erase,
    KioskView,
    NoticeKind,
    Screen,
    SetLanguage,
    ToggleLargePrint,
    opens_at_text,
)
from kiosk.i18n import LANGUAGE_NAMES, texts_for

log = logging.getLogger(__name__)

BACKGROUND = (244, 246, 250)
HEADER = (0, 82, 155)  # 政务蓝
INK = (30, 34, 40)
MUTED = (120, 126, 136)
TILE = (255, 255, 255)
TILE_OFF = (220, 223, 228)
ACCENT = (0, 120, 80)
ALERT = (190, 30, 30)
WHITE = (255, 255, 255)
PAUSED_SCREEN = (52, 73, 102)  # tickets unavailable: a quiet slate blue
NO_LINE_START = frozenset("。，、；：！？）」』】》,.;:!?)")


class KioskController(Protocol):
    """What the screen needs from the daemon."""

    @property
    def hall_names(self) -> dict[str, str]:
        """The hall's name per language."""
        ...

    @property
    def zone(self) -> tzinfo:
        """The hall's time zone: every time on screen is on its wall clock."""
        ...

    def view(self) -> KioskView:
        """What to draw now."""
        ...

    def touch(self, action: Action) -> None:
        """A touch became this action."""
        ...

    def tick(self) -> None:
        """Time passes (idle screens go back to the menu)."""
        ...


@dataclass(frozen=True, slots=True)
class Button:
    """A touchable area and what touching it does."""

    rect: pygame.Rect
    action: Action


@functools.cache
def _font_path(language: str) -> str | None:
    # Chinese faces carry Latin letters too, so Chinese and English share one font.
    try:
        return str(font_for("zh" if language in ("zh", "en") else language))
    except FontNotFound as err:
        log.warning("no font for %s, using pygame's default: %s", language, err)
        return None


class KioskScreen:
    """Draws frames and maps touches to actions."""

    def __init__(self, size: tuple[int, int], languages: tuple[str, ...]) -> None:
        self.size = size
        self.languages = languages
        self.buttons: list[Button] = []
        self._zone: tzinfo = UTC  # the hall's, given with every frame

    # --- drawing --------------------------------------------------------------------
    def draw(
        self,
        surface: pygame.Surface,
        view: KioskView,
        hall_names: dict[str, str],
        zone: tzinfo,
    ) -> None:
        """Draw ``view``; remembers where the buttons are."""
        self.buttons = []
        self._zone = zone
        texts = texts_for(view.language)
        self._texts, self._surface = texts, surface
        width, height = self.size
        self._unit = height / 100 * (1.4 if view.large_print else 1.0)
        surface.fill(BACKGROUND)
        # Large print enlarges everything, the header and its buttons too.
        header = pygame.Rect(0, 0, width, int(height * (0.12 if view.large_print else 0.09)))
        pygame.draw.rect(surface, HEADER, header)
        # The hall's name takes what the controls leave (more languages, more buttons).
        name_width = width * 0.94 - self._header_buttons(header, view)
        name_x = width * 0.02 if not texts.rtl else width - name_width - width * 0.02
        name_rect = pygame.Rect(name_x, header.y, name_width, header.height)
        self._text(texts.pick(hall_names, ""), 3.2, WHITE, name_rect, "start")
        body = pygame.Rect(0, header.bottom, width, height - header.bottom)
        match view.screen:
            case Screen.MENU:
                self._menu(body, view)
            case Screen.DOCUMENTS:
                self._documents(body, view)
            case Screen.CARD:
                self._message(body, texts("Please place your ID card on the reader"), INK)
                self._button(texts("Back"), Back(), self._bottom(body, 0.5, "start"), MUTED)
            case Screen.CODE:
                self._code_pad(body, view)
            case Screen.ISSUING:
                self._message(body, texts("Issuing your ticket…"), INK)
            case Screen.TICKET:
                self._ticket(body, view)
            case Screen.NOTICE:
                self._notice(body, view)
            case Screen.OUT_OF_SERVICE:
                self._out_of_service(body, view)

    def _header_buttons(self, header: pygame.Rect, view: KioskView) -> float:
        """The large-print and language buttons; returns the width they take."""
        if view.screen in (Screen.ISSUING, Screen.OUT_OF_SERVICE):
            return 0.0
        texts = self._texts
        width = header.width * 0.14
        step = width + header.width * 0.015
        # The controls sit at the line's end: the right, or the left in right-to-left text.
        x = header.right - width - header.width * 0.02 if not texts.rtl else header.width * 0.02
        step = -step if not texts.rtl else step
        large = texts("Normal print") if view.large_print else texts("Large print")
        rect = pygame.Rect(x, header.top + header.height * 0.2, width, header.height * 0.6)
        self._button(large, ToggleLargePrint(), rect, ACCENT, size=2.0)
        for language in reversed(self.languages):
            if language == view.language:
                continue
            rect = rect.move(step, 0)
            self._button(
                LANGUAGE_NAMES.get(language, language),
                SetLanguage(language),
                rect,
                ACCENT,
                size=2.0,
                language=language,
            )
        return abs(step) * len(self.languages)

    def _menu(self, body: pygame.Rect, view: KioskView) -> None:
        texts = self._texts
        title = pygame.Rect(body.x, body.y + body.height * 0.01, body.width, body.height * 0.08)
        self._text(texts("Please choose a service"), 3.4, INK, title, "center")
        if view.notice is not None and view.notice.code is ErrorCode.NO_APPOINTMENT:
            banner = title.move(0, title.height * 0.75)
            self._text(
                texts("No appointment today: please choose a service"), 2.2, ALERT, banner, "center"
            )
        # One card a row across the screen, as tall as the services leave room for: an
        # elderly citizen reads the letter, the name and the wait without leaning in.
        margin = body.width * 0.04
        top = title.bottom + body.height * 0.03
        bottom = body.bottom - body.height * (0.16 if view.card_reader else 0.04)
        count = max(len(view.menu), 1)
        gap = margin / 2
        tile_h = min((bottom - top - gap * (count - 1)) / count, body.height * 0.2)
        for index, state in enumerate(view.menu):
            rect = pygame.Rect(
                margin, top + index * (tile_h + gap), body.width - 2 * margin, tile_h
            )
            self._tile(rect, state)
        # Check-in for a booking: the ID card, or the booking code typed on a number pad
        # (a citizen who booked for someone else, or whose card will not read).
        code = texts("Type booking code")
        if view.card_reader:
            self._button(texts("Use ID card"), AskCard(), self._bottom(body, 0.54, "start"), HEADER)
            self._button(code, AskCode(), self._bottom(body, 0.32, "end"), HEADER)
        else:
            self._button(code, AskCode(), self._bottom(body, 0.9, "center"), HEADER)

    def _tile(self, rect: pygame.Rect, state: ServiceState) -> None:
        texts = self._texts
        open_now = state.unavailable is None
        pygame.draw.rect(self._surface, TILE if open_now else TILE_OFF, rect, border_radius=18)
        # The ticket's letter, large, at the reading side's start: the same letter the
        # boards call (A001), so a citizen finds their line again.
        side = rect.height * 0.7
        pad = (rect.height - side) / 2
        badge_x = rect.x + pad if not texts.rtl else rect.right - pad - side
        letter = pygame.Rect(badge_x, rect.y + pad, side, side)
        pygame.draw.ellipse(self._surface, HEADER if open_now else MUTED, letter)
        self._text(state.prefix or "·", side / self._unit * 0.55, WHITE, letter, "center")
        text_x = letter.right + pad if not texts.rtl else rect.x + pad
        inner = pygame.Rect(text_x, rect.y, rect.width - side - pad * 3, rect.height)
        badge = open_now and state.green_channel
        # Two lines (name, wait), or three with the 绿色通道 badge under them.
        rows = (0.04, 0.40, 0.68) if badge else (0.08, 0.52, 0.0)
        name_rect = pygame.Rect(
            inner.x, rect.y + rect.height * rows[0], inner.width, rect.height * 0.36
        )
        self._text(
            texts.pick(state.names, state.service_code),
            4.0,
            INK if open_now else MUTED,
            name_rect,
            "start",
        )
        detail_rect = pygame.Rect(
            inner.x, rect.y + rect.height * rows[1], inner.width, rect.height * 0.26
        )
        if open_now:
            detail = "  ·  ".join(
                [
                    texts("{count} waiting", count=state.waiting),
                    texts("about {duration}", duration=texts.duration(state.estimated_wait_s)),
                ]
            )
            self._text(detail, 2.8, INK, detail_rect, "start")
            if badge:
                pill = pygame.Rect(0, rect.y + rect.height * rows[2], inner.width * 0.55, 0)
                pill.height = int(rect.height * 0.24)
                pill.x = inner.x if not texts.rtl else inner.right - pill.width
                self._priority_badge(pill)
            self.buttons.append(Button(rect, ChooseService(state.service_code)))
        else:
            self._text(self._reason(state), 2.6, ALERT, detail_rect, "start")

    def _priority_badge(self, pill: pygame.Rect) -> None:
        """绿色通道 in words on a green pill (a coloured border alone reads as "selected")."""
        pygame.draw.rect(self._surface, ACCENT, pill, border_radius=pill.height // 2)
        self._text(self._texts("Green channel · priority"), 2.4, WHITE, pill, "center")

    def _reason(self, state: ServiceState) -> str:
        texts = self._texts
        unavailable = state.unavailable
        assert unavailable is not None
        opens = opens_at_text(unavailable.opens_at)
        if unavailable.code is ErrorCode.QUOTA_REACHED:
            return texts("Today's tickets are all taken")
        if unavailable.code is ErrorCode.NO_WINDOW_OPEN:
            return texts("No window is open for it")
        if opens:
            return texts("Tickets from {time}", time=opens)
        return texts("Outside opening hours")

    def _documents(self, body: pygame.Rect, view: KioskView) -> None:
        texts = self._texts
        state = view.selected
        if state is None:
            return
        y = body.y + body.height * 0.04
        if view.card is not None:
            greeting = pygame.Rect(body.x, y, body.width, body.height * 0.05)
            self._text(
                texts("Hello, {name}", name=view.card.masked_name), 2.4, ACCENT, greeting, "center"
            )
            y = greeting.bottom
        name = pygame.Rect(body.x, y, body.width, body.height * 0.09)
        self._text(texts.pick(state.names, state.service_code), 4.0, INK, name, "center")
        below = name.bottom
        if state.hours_today:  # the hours in force today, this season's
            hours = pygame.Rect(body.x, below, body.width, body.height * 0.045)
            today = texts("Open today {hours}", hours="  ".join(state.hours_today))
            self._text(today, 2.2, MUTED, hours, "center")
            below = hours.bottom
        title = pygame.Rect(
            body.width * 0.08,
            below + body.height * 0.03,
            body.width * 0.84,
            body.height * 0.06,
        )
        self._text(texts("Documents to bring"), 2.6, HEADER, title, "start")
        documents = texts.pick(state.documents, [])
        line = title
        for document in documents:
            line = line.move(0, line.height)
            self._text(f"•  {document}", 2.6, INK, line, "start")
        self._button(texts("Back"), Back(), self._bottom(body, 0.28, "start"), MUTED)
        self._button(texts("Take ticket"), Confirm(), self._bottom(body, 0.5, "end"), ACCENT)

    def _ticket(self, body: pygame.Rect, view: KioskView) -> None:
        texts = self._texts
        issued = view.issued
        if issued is None:
            return
        ticket = issued.ticket
        rows = [
            (texts("Your number"), 3.0, MUTED),
            (ticket.label, 14.0, HEADER),
            (
                texts.pick(
                    next((s.names for s in view.menu if s.service_code == ticket.service_code), {}),
                    ticket.service_code,
                ),
                3.4,
                INK,
            ),
            (texts("{count} people ahead of you", count=ticket.people_ahead), 2.6, INK),
            (
                texts(
                    "Estimated wait {duration}", duration=texts.duration(ticket.estimated_wait_s)
                ),
                2.6,
                INK,
            ),
        ]
        if ticket.appointment_slot is not None:
            slot = texts.clock(ticket.appointment_slot, self._zone)
            rows.append((texts("Checked in for your {time} appointment", time=slot), 2.4, ACCENT))
        if issued.print_state is PrintState.PRINTED:
            rows.append((texts("Please take your ticket"), 3.0, ACCENT))
        elif issued.print_state is PrintState.FAILED:
            rows.append(
                (texts("The ticket could not be printed. Please remember your number."), 2.6, ALERT)
            )
        y = body.y + body.height * 0.05
        for text, size, color in rows:
            rect = pygame.Rect(body.x, y, body.width, self._unit * size * 1.5)
            self._text(text, size, color, rect, "center")
            y = rect.bottom
        self._button(texts("OK"), Confirm(), self._bottom(body, 0.4, "center"), ACCENT)

    def _notice(self, body: pygame.Rect, view: KioskView) -> None:
        texts = self._texts
        notice = view.notice
        title = pygame.Rect(body.x, body.y + body.height * 0.15, body.width, body.height * 0.1)
        self._text(texts("Sorry"), 4.0, ALERT, title, "center")
        if notice is not None:
            message = self._notice_text(notice.kind) or notice.message
            self._wrapped(message, 2.8, INK, title.move(0, title.height * 1.2))
        self._button(texts("OK"), Confirm(), self._bottom(body, 0.4, "center"), ACCENT)

    def _notice_text(self, kind: NoticeKind) -> str | None:
        texts = self._texts
        return {
            NoticeKind.SCHEDULER_DOWN: texts(
                "The queue system cannot be reached. No ticket can be issued now."
            ),
            NoticeKind.PAPER_OUT: texts(
                "The ticket printer is out of paper. Please ask the staff."
            ),
            NoticeKind.PRINTER_FAULT: texts(
                "The ticket printer is not ready. Please ask the staff."
            ),
            NoticeKind.NO_ANSWER: texts("No answer from the queue system. No ticket was issued."),
        }.get(kind)

    def _out_of_service(self, body: pygame.Rect, view: KioskView) -> None:
        # Calm, not alarming: nothing is wrong with the citizen, the screen says what to do.
        pygame.draw.rect(self._surface, PAUSED_SCREEN, body)
        title = pygame.Rect(body.x, body.y + body.height * 0.25, body.width, body.height * 0.12)
        self._text(self._texts("Tickets are not available"), 6.0, WHITE, title, "center")
        if view.notice is not None:
            message = self._notice_text(view.notice.kind) or view.notice.message
            self._wrapped(message, 3.0, WHITE, title.move(0, title.height * 1.3))

    def _code_pad(self, body: pygame.Rect, view: KioskView) -> None:
        """The booking code: what is typed so far, a large number pad, check in, back."""
        texts = self._texts
        title = pygame.Rect(body.x, body.y + body.height * 0.02, body.width, body.height * 0.07)
        self._text(texts("Please type your booking code"), 3.4, INK, title, "center")
        shown = pygame.Rect(body.width * 0.1, title.bottom, body.width * 0.8, body.height * 0.09)
        pygame.draw.rect(self._surface, WHITE, shown, border_radius=12)
        typed = " ".join(view.code.ljust(CODE_DIGITS, "_"))  # 8 places, filled as typed
        self._text(typed, 4.4, INK, shown, "center", language="en")
        keys: list[tuple[str, Action, tuple[int, int, int]]] = [
            *((str(n), Digit(n), HEADER) for n in range(1, 10)),
            (texts("Delete"), Erase(), MUTED),
            ("0", Digit(0), HEADER),
            (texts("Check in"), Confirm(), ACCENT),
        ]
        top, gap = shown.bottom + body.height * 0.03, body.width * 0.03
        width = (body.width * 0.8 - 2 * gap) / 3
        height = body.height * 0.11
        for index, (label, action, colour) in enumerate(keys):
            row, col = divmod(index, 3)
            x = body.width * 0.1 + col * (width + gap)
            rect = pygame.Rect(x, top + row * (height + gap), width, height)
            self._button(label, action, rect, colour, size=3.6 if len(label) == 1 else 2.6)
        self._button(texts("Back"), Back(), self._bottom(body, 0.5, "start"), MUTED)

    def _message(self, body: pygame.Rect, text: str, color: tuple[int, int, int]) -> None:
        rect = pygame.Rect(body.x, body.y + body.height * 0.3, body.width, body.height * 0.1)
        self._wrapped(text, 4.0, color, rect)

    # --- primitives -------------------------------------------------------------------
    def _bottom(self, body: pygame.Rect, width_share: float, side: str) -> pygame.Rect:
        width = body.width * width_share
        height = body.height * 0.08
        margin = body.width * 0.06
        x = {
            "start": margin,
            "end": body.width - margin - width,
            "center": (body.width - width) / 2,
        }[self._side(side)]
        return pygame.Rect(x, body.bottom - height - body.height * 0.05, width, height)

    def _side(self, side: str) -> str:
        if self._texts.rtl and side in ("start", "end"):
            return "end" if side == "start" else "start"
        return side

    def _button(
        self,
        label: str,
        action: Action,
        rect: pygame.Rect,
        color: tuple[int, int, int],
        *,
        size: float = 3.0,
        language: str | None = None,
    ) -> None:
        pygame.draw.rect(self._surface, color, rect, border_radius=16)
        self._text(label, size, WHITE, rect, "center", language=language)
        self.buttons.append(Button(rect, action))

    def _text(
        self,
        text: str,
        size: float,
        color: tuple[int, int, int],
        rect: pygame.Rect,
        align: str,
        *,
        language: str | None = None,
    ) -> None:
        texts = texts_for(language) if language else self._texts
        # A hall's names may stay in Chinese under another language (Uyghur, Kazakh): draw
        # them with a font that has the characters, never boxes.
        script = "zh" if has_cjk(text) else texts.language
        font = line_font(_font_path(script), max(int(self._unit * size), 8), texts.language)
        image = font.render(text, True, color)
        if image.get_width() > rect.width > 0:  # shrink to fit rather than overflow
            scale = rect.width / image.get_width()
            image = pygame.transform.smoothscale(
                image, (int(image.get_width() * scale), int(image.get_height() * scale))
            )
        side = self._side(align) if language is None else align
        x = {"start": rect.x, "end": rect.right - image.get_width()}.get(
            side, rect.centerx - image.get_width() // 2
        )
        self._surface.blit(image, (x, rect.centery - image.get_height() // 2))

    def _wrapped(
        self, text: str, size: float, color: tuple[int, int, int], rect: pygame.Rect
    ) -> None:
        language = self._texts.language
        font = line_font(_font_path(language), max(int(self._unit * size), 8), language)
        lines: list[str] = []
        current = ""
        for char in text:
            # A closing mark never starts a line (。，、 ...): it stays with its sentence.
            too_wide = font.size(current + char)[0] > rect.width * 0.9
            if too_wide and current and char not in NO_LINE_START:
                lines.append(current)
                current = char
            else:
                current += char
        lines.append(current)
        line = pygame.Rect(rect.x, rect.y, rect.width, font.get_linesize() * 1.2)
        for part in lines:
            self._text(part.strip(), size, color, line, "center")
            line = line.move(0, line.height)

    # --- touches ----------------------------------------------------------------------
    def action_at(self, position: tuple[int, int]) -> Action | None:
        """The action of the button under ``position``, if any."""
        for button in reversed(self.buttons):
            if button.rect.collidepoint(position):
                return button.action
        return None


class KioskApp(TouchWindow):
    """The kiosk's window: the daemon's view drawn, touches turned into actions."""

    caption = "paidui kiosk"

    def __init__(
        self,
        controller: KioskController,
        *,
        size: tuple[int, int] = (1080, 1920),
        fullscreen: bool = False,
        languages: tuple[str, ...] = ("zh", "en"),
    ) -> None:
        super().__init__(size, fullscreen)
        self.controller = controller
        self.screen = KioskScreen(size, languages)

    def draw(self, surface: pygame.Surface) -> None:
        """Let time pass (idle screens go back to the menu), then draw the view."""
        self.controller.tick()
        controller = self.controller
        self.screen.draw(surface, controller.view(), controller.hall_names, controller.zone)

    def touch(self, position: tuple[int, int]) -> None:
        """The action under the finger, if any, goes to the daemon."""
        action = self.screen.action_at(position)
        if action is not None:
            self.controller.touch(action)

    def button(self, action: Action) -> pygame.Rect | None:
        """Where the button for ``action`` is on the current frame."""
        return next((b.rect for b in self.screen.buttons if b.action == action), None)
