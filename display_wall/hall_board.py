"""The LCD hall board: a pygame full screen fed by the scheduler's retained state.

Latest calls on one side (the newest highlighted and blinking for a few seconds), each
service's waiting count and estimated wait on the other, the windows along the bottom,
the clock, and the hall's notices scrolling underneath. The hall's languages take turns;
right-to-left languages mirror the layout. Because everything it shows is retained on the
broker, a restarted board has its whole picture back at once; while the broker is gone
it keeps the last picture under a "connection lost" banner.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

import pygame

from display_wall.hall_picture import HallPicture, HallView
from display_wall.profile import LcdLayout
from hallbus.clock import Clock, SystemClock
from hallbus.daemon import DeviceDaemon
from hallbus.fonts import font_for
from hallbus.messages import (
    OFFLINE,
    DeviceKind,
    HallState,
    PayloadError,
    ServiceState,
    WindowState,
    WindowStatus,
    decode,
)
from hallbus.script_lines import LineFont, has_cjk, line_font
from hallbus.settings import BusSettings
from hallbus.touch_window import TouchWindow

log = logging.getLogger(__name__)

Colour = tuple[int, int, int]
M = TypeVar("M", HallState, ServiceState, WindowState)


def _rgb(hex_colour: str) -> Colour:
    value = hex_colour.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def _font(language: str, size: int, text: str) -> LineFont:
    # A hall's names may stay in Chinese under Uyghur or Kazakh: draw them with a font
    # that has the characters, never boxes.
    face = "zh" if has_cjk(text) else language
    return line_font(str(font_for(face)), size, language)


class HallBoardDevice(DeviceDaemon):
    """The board on the bus: keeps the retained state it is sent."""

    kind = DeviceKind.HALL_BOARD

    def __init__(
        self, settings: BusSettings, hall: str, device_id: str, picture: HallPicture
    ) -> None:
        super().__init__(settings, hall, device_id)
        self.picture = picture
        self.lock = threading.Condition()
        self.bus.on_connected(self._changed)
        self.bus.on_disconnected(self._changed)

    def setup(self) -> None:
        """Everything the board shows is retained, so subscribing brings it all back."""
        self.bus.subscribe(self.topics.hall_state(), self._on_hall, inline=True)
        self.bus.subscribe(self.topics.service_states(), self._on_service, inline=True)
        self.bus.subscribe(self.topics.window_states(), self._on_window, inline=True)
        self.bus.subscribe(self.topics.scheduler_availability(), self._on_scheduler, inline=True)

    def _on_hall(self, topic: str, payload: bytes) -> None:
        state = self._decode(HallState, payload)
        if state is not None:
            with self.lock:
                self.picture.hall = state
                self.lock.notify_all()

    def _on_service(self, topic: str, payload: bytes) -> None:
        state = self._decode(ServiceState, payload)
        if state is not None:
            with self.lock:
                self.picture.services[state.service_code] = state
                self.lock.notify_all()

    def _on_window(self, topic: str, payload: bytes) -> None:
        state = self._decode(WindowState, payload)
        if state is not None:
            with self.lock:
                self.picture.windows[state.window] = state
                self.lock.notify_all()

    def _on_scheduler(self, topic: str, payload: bytes) -> None:
        with self.lock:
            self.picture.scheduler_online = payload != OFFLINE.encode()
            self.lock.notify_all()

    def _decode(self, model: type[M], payload: bytes) -> M | None:
        try:
            return decode(model, payload)
        except PayloadError as err:
            log.warning("bad retained state", extra={"board": self.device_id, "error": str(err)})
            return None

    def _changed(self) -> None:
        with self.lock:
            self.lock.notify_all()

    def wait_for(self, predicate: Callable[[HallPicture], bool], timeout: float) -> bool:
        """Whether the picture came to satisfy ``predicate`` within ``timeout``."""
        with self.lock:
            return self.lock.wait_for(lambda: predicate(self.snapshot()), timeout)

    def snapshot(self) -> HallPicture:
        """A copy of the picture, with whether the bus is there now."""
        with self.lock:
            return replace(
                self.picture,
                services=dict(self.picture.services),
                windows=dict(self.picture.windows),
                connected=self.bus.connected.is_set(),
            )


class HallBoardScreen(TouchWindow):
    """Draws :class:`HallView` frames; touches are ignored (nobody touches a wall screen)."""

    caption = "paidui hall board"

    def __init__(
        self,
        device: HallBoardDevice,
        layout: LcdLayout,
        *,
        clock: Clock | None = None,
        language: str | None = None,
        fullscreen: bool = True,
    ) -> None:
        super().__init__(layout.size, fullscreen)
        self.device = device
        self.layout = layout
        self.clock = clock or SystemClock()
        self.language = language  # None: the hall's languages take turns
        self.last_view: HallView | None = None

    def touch(self, position: tuple[int, int]) -> None:
        """Nothing happens."""

    def view(self) -> HallView:
        """The frame for now."""
        picture = self.device.snapshot()
        now = self.clock.now()
        language = self.language or picture.language_at(now, self.layout)
        return picture.view(now, language, self.layout)

    def draw(self, surface: pygame.Surface) -> None:
        """One frame."""
        view = self.view()
        self.last_view = view
        _Painter(surface, self.layout, view, self.clock.now().timestamp()).paint()


def paint_view(surface: pygame.Surface, layout: LcdLayout, view: HallView, t: float) -> None:
    """Draw ``view`` on ``surface`` as the board shows it at second ``t`` (the gallery,
    tests and the board's own loop)."""
    _Painter(surface, layout, view, t).paint()


class _Painter:
    """Lays one view out on the surface, mirrored for right-to-left languages."""

    def __init__(
        self, surface: pygame.Surface, layout: LcdLayout, view: HallView, t: float
    ) -> None:
        self.surface = surface
        self.layout = layout
        self.view = view
        self.t = t
        self.width, self.height = surface.get_size()
        self.unit = self.height / 1080  # sizes below are for 1080 lines
        self.c = layout.colours

    def size(self, points: float) -> int:
        return max(8, int(points * self.unit))

    def text(
        self,
        text: str,
        points: float,
        colour: str,
        x: float,
        y: float,
        *,
        align: str = "start",
        width: float | None = None,
        fit: float | None = None,
    ) -> pygame.Rect:
        """Draw ``text`` at logical ``x`` (from the reading side) and ``y``, shrunk to ``fit``."""
        font = _font(self.view.language, self.size(points), text)
        image = font.render(text, True, _rgb(colour))
        if fit is not None and image.get_width() > fit:
            scale = fit / image.get_width()
            image = pygame.transform.smoothscale(
                image, (int(fit), max(1, int(image.get_height() * scale)))
            )
        box = width if width is not None else image.get_width()
        left = x if align == "start" else x + box - image.get_width()
        if align == "centre":
            left = x + (box - image.get_width()) / 2
        if self.view.rtl:
            left = self.width - left - image.get_width()
        return self.surface.blit(image, (int(left), int(y)))

    def box(self, colour: str, x: float, y: float, w: float, h: float) -> None:
        left = self.width - x - w if self.view.rtl else x
        pygame.draw.rect(
            self.surface,
            _rgb(colour),
            pygame.Rect(int(left), int(y), int(w), int(h)),
            border_radius=int(8 * self.unit),
        )

    def paint(self) -> None:
        c, view, u = self.c, self.view, self.unit
        self.surface.fill(_rgb(c.background))
        # header: the hall's name and the clock
        self.box(c.panel, 0, 0, self.width, 110 * u)
        self.text(view.title, 56, c.text, 40 * u, 22 * u)
        clock = self.text(view.clock, 64, c.call, 0, 16 * u, align="end", width=self.width - 40 * u)
        beside = self.width - 80 * u - clock.width
        self.text(view.date, 36, c.muted, 0, 38 * u, align="end", width=beside)
        self.paint_calls(40 * u, 140 * u, self.width * 0.55, 660 * u)
        self.paint_services(self.width * 0.55 + 80 * u, 140 * u, self.width * 0.45 - 120 * u)
        self.paint_windows(40 * u, 830 * u)
        if view.banner:
            # A calm line where the notice runs: citizens keep reading the last calls
            # above it, and nothing on the screen looks like an alarm.
            self.box(c.reconnecting, 0, 970 * u, self.width, 110 * u)
            self.text(view.banner, 44, c.text, 0, 995 * u, align="centre", width=self.width)
        else:
            self.paint_notice(970 * u)

    def paint_calls(self, x: float, y: float, w: float, h: float) -> None:
        c, view, u = self.c, self.view, self.unit
        self.box(c.panel, x, y, w, h)
        self.text(view.headings["Now calling"], 44, c.muted, x + 30 * u, y + 20 * u)
        if not view.calls:
            self.text(view.headings["No calls yet"], 56, c.muted, x + 30 * u, y + 140 * u)
            return
        row = (h - 100 * u) / self.layout.recent_calls
        for index, call in enumerate(view.calls):
            top = y + 90 * u + index * row
            size = 76 if call.newest else 60
            colour = c.call
            if call.newest:
                self.box(
                    c.highlight if call.lit else c.panel, x + 10 * u, top, w - 20 * u, row - 8 * u
                )
                colour = c.text if call.lit else c.call
            self.text(call.label, size, colour, x + 30 * u, top + 4 * u)
            self.text(call.window, size, colour, x, top + 4 * u, align="end", width=w - 30 * u)

    def paint_services(self, x: float, y: float, w: float) -> None:
        c, view, u = self.c, self.view, self.unit
        self.box(c.panel, x - 20 * u, y, w + 40 * u, 660 * u)
        columns = (x, x + w * 0.52, x + w * 0.72)
        widths = (w * 0.5, w * 0.18, w * 0.28)
        headings = ("Service", "Waiting", "Est. wait")
        for heading, left, room in zip(headings, columns, widths, strict=True):
            self.text(view.headings[heading], 34, c.muted, left, y + 24 * u, fit=room)
        for index, service in enumerate(view.services[:8]):
            top = y + 100 * u + index * 70 * u
            # The letter first, in the call colour: A001 is 社保业务 at a glance.
            self.text(service.letter, 44, c.call, columns[0], top)
            name_x = columns[0] + 56 * u
            self.text(service.name, 44, c.text, name_x, top, fit=widths[0] - 56 * u)
            self.text(service.waiting, 48, c.call, columns[1], top, fit=widths[1])
            self.text(service.wait, 44, c.text, columns[2], top, fit=widths[2])

    def paint_windows(self, x: float, y: float) -> None:
        c, view, u = self.c, self.view, self.unit
        self.text(view.headings["Windows"], 36, c.muted, x, y)
        colours = {
            WindowStatus.OPEN: c.open,
            WindowStatus.PAUSED: c.paused,
            WindowStatus.CLOSED: c.closed,
        }
        slot = 220 * u
        for index, window in enumerate(view.windows):
            left = x + index * (slot + 16 * u)
            self.box(colours[window.status], left, y + 50 * u, slot, 80 * u)
            self.text(f"{window.number}", 44, c.background, left + 16 * u, y + 60 * u)
            # The ticket at the window when there is one: the board says who is where.
            self.text(
                window.ticket or window.text,
                34,
                c.background,
                left,
                y + 66 * u,
                align="end",
                width=slot - 16 * u,
                fit=slot - 70 * u,
            )

    def paint_notice(self, y: float) -> None:
        c, view, u = self.c, self.view, self.unit
        self.box(c.panel, 0, y, self.width, 110 * u)
        if not view.notice:
            return
        font = _font(view.language, self.size(44), view.notice)
        image = font.render(view.notice, True, _rgb(c.text))
        run = image.get_width() + self.width
        offset = (self.t * self.layout.notice_speed_px_s * u) % run
        # The notice enters from the reading side's far edge and leaves on the near one.
        left = self.width - offset if not view.rtl else offset - image.get_width()
        self.surface.blit(image, (int(left), int(y + 28 * u)))


class HallBoard:
    """The LCD hall board: its device on the bus and its screen."""

    def __init__(
        self,
        settings: BusSettings,
        hall: str,
        device_id: str,
        layout: LcdLayout,
        *,
        timezone: str = "Asia/Shanghai",
        names: dict[str, str] | None = None,
        clock: Clock | None = None,
        language: str | None = None,
        fullscreen: bool = True,
    ) -> None:
        picture = HallPicture(timezone=timezone, file_names=dict(names or {}))
        self.device = HallBoardDevice(settings, hall, device_id, picture)
        self.screen = HallBoardScreen(
            self.device, layout, clock=clock, language=language, fullscreen=fullscreen
        )

    def start(self, timeout: float | None = 10.0) -> None:
        """Connect (the retained state arrives at once) and open the screen."""
        self.device.start(timeout=timeout)
        self.screen.start()

    def stop(self) -> None:
        """Close the screen and disconnect."""
        self.screen.stop()
        self.device.stop()
