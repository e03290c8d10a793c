"""A gallery of every screen a hall shows, as PNGs in one folder: ``paidui gallery``.

Drawn with the real drawing code from sample state, without a broker or devices: the
kiosk's screens (each language, normal and large print), every LED board model in every
state (the boards' own 16x16 dots), the LCD hall board in each language, the ticket each
printer model prints, and the touch rating pad in each phase. The dashboard's pages are
photographed by the browser tests (``build/artifacts/dashboard-*.png``): they need a
running hall and Chromium.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import pygame

from counter_terminal.daemon import PadView
from counter_terminal.drivers import load_counter_profile
from counter_terminal.profile import TouchPadProfile
from counter_terminal.rating import Phase
from counter_terminal.touch_pad import PadScreen
from display_wall.boards import strip_content, window_content
from display_wall.drivers import led_profile_names, load_led_profile
from display_wall.hall_board import paint_view
from display_wall.hall_picture import HallPicture
from display_wall.profile import lcd_layout_names, load_lcd_layout
from hallbus.fonts import font_for
from hallbus.messages import (
    ClerkView,
    CurrentCall,
    HallState,
    PriorityClass,
    RatingLevel,
    RecentCall,
    ServiceState,
    TicketIssued,
    TicketState,
    WindowState,
    WindowStatus,
)
from kiosk.drivers import (
    load_printer_profile,
    printer_driver,
    printer_profile_names,
)
from kiosk.flow import Issued, KioskView, Notice, NoticeKind, Screen
from kiosk.ticket_layout import RasterFont
from kiosk.ui import KioskScreen
from simulator.bench_kiosk import SAMPLE_TICKET
from simulator.escpos_decoder import EscPosDecoder
from simulator.led_line_emulator import EmulatedBoard, render_board
from simulator.printer_emulator import PrintedTicket

AT = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)  # 09:30 in the hall
KIOSK_SIZE = (1080, 1920)
LANGUAGES = ("zh", "en", "ug", "kk")
# A hall file names things per language; these sample names (drafts, as the catalogs)
# show Uyghur and Kazakh screens with the hall's own words, not the fallback's.
HALL_NAMES = {
    "zh": "示范政务服务中心",
    "en": "Demo Government Service Centre",
    "ug": "ھۆكۈمەت مۇلازىمەت مەركىزى",
    "kk": "ۇكىمەت قىزمەت كورسەتۋ ورتالىعى",
}

SERVICES = tuple(
    ServiceState(
        service_code=code,
        names={"zh": name, "en": english, "ug": uyghur, "kk": kazakh},
        prefix=prefix,
        green_channel=green,
        waiting=waiting,
        estimated_wait_s=waiting * 75,
        open_windows=2,
    )
    for code, name, english, uyghur, kazakh, prefix, green, waiting in (
        (
            "social",
            "社保业务",
            "Social insurance",
            "ئىجتىمائىي سۇغۇرتا",
            "الەۋمەتتىك ساقتاندىرۋ",
            "A",
            False,
            12,
        ),
        ("tax", "税务业务", "Tax", "باج ئىشلىرى", "سالىق ىستەرى", "B", False, 4),
        (
            "residence",
            "户籍业务",
            "Household registration",
            "نوپۇس ئىشلىرى",
            "تۇرعىلىقتى تىركەۋ",
            "C",
            True,
            1,
        ),
    )
)


def _window(number: int, status: WindowStatus, label: str | None = None) -> WindowState:
    current = (
        CurrentCall(
            ticket_id=f"t-{label}",
            label=label,
            service_code="social",
            state=TicketState.CALLED,
            called_at=AT,
            # One booked ticket, so the picture shows how a tile marks it.
            priority=PriorityClass.APPOINTMENT if number == 3 else None,
        )
        if label
        else None
    )
    clerk = ClerkView(code=f"100{number}", name=("王芳", "李强", "张敏", "刘洋")[number - 1])
    return WindowState(window=number, status=status, clerk=clerk, current=current, waiting=3)


def kiosk_views(language: str, large: bool) -> dict[str, KioskView]:
    """Every kiosk screen with sample state, by name (the gallery and the touch-target
    test draw the same ones)."""
    ticket = TicketIssued(
        ticket_id="t1",
        label="A013",
        service_code="social",
        service_date=date(2026, 12, 1),
        state=TicketState.WAITING,
        issued_at=AT,
        people_ahead=12,
        estimated_wait_s=900,
    )
    screens: dict[str, tuple[Screen, Issued | None, Notice | None]] = {
        "menu": (Screen.MENU, None, None),
        "documents": (Screen.DOCUMENTS, None, None),
        "card": (Screen.CARD, None, None),
        "code": (Screen.CODE, None, None),
        "ticket": (Screen.TICKET, Issued(ticket), None),
        "no-answer": (Screen.NOTICE, None, Notice(NoticeKind.NO_ANSWER)),
        "paper-out": (Screen.OUT_OF_SERVICE, None, Notice(NoticeKind.PAPER_OUT)),
    }
    return {
        name: KioskView(
            screen=screen,
            language=language,
            large_print=large,
            menu=SERVICES,
            selected=SERVICES[0],
            card=None,
            issued=issued,
            notice=notice,
            card_reader=True,
            code="202612" if screen is Screen.CODE else "",
        )
        for name, (screen, issued, notice) in screens.items()
    }


def kiosk_screens(folder: Path) -> list[Path]:
    """Each kiosk screen in each language, normal and large print."""
    drawer = KioskScreen(KIOSK_SIZE, LANGUAGES)
    surface = pygame.Surface(KIOSK_SIZE)
    written = []
    for language in LANGUAGES:
        for large in (False, True):
            for name, view in kiosk_views(language, large).items():
                drawer.draw(surface, view, HALL_NAMES, UTC)
                path = folder / f"kiosk-{name}-{language}{'-large' if large else ''}.png"
                pygame.image.save(surface, str(path))
                written.append(path)
    return written


def led_boards(folder: Path) -> list[Path]:
    """Every LED board model in each of its states."""
    written = []
    hall = HallState(
        recent_calls=[RecentCall(label=f"A00{n}", window=n, called_at=AT) for n in (3, 2, 1)],
        waiting={},
    )
    for name in led_profile_names():
        profile = load_led_profile(name)
        if profile.role == "strip":
            contents = {"calls": strip_content(hall, profile)}
        else:
            contents = {
                "closed": window_content(None, 1, profile),
                "idle": window_content(_window(1, WindowStatus.OPEN), 1, profile),
                "call": window_content(_window(1, WindowStatus.OPEN, "A001"), 1, profile),
                "paused": window_content(_window(1, WindowStatus.PAUSED), 1, profile),
            }
        for state, content in contents.items():
            board = EmulatedBoard(1, profile, content.text, content.colour, content.scrolling)
            path = folder / f"led-{name}-{state}.png"
            pygame.image.save(render_board(board), str(path))
            written.append(path)
    return written


def lcd_boards(folder: Path) -> list[Path]:
    """The LCD hall board in each language, with calls, queues and windows."""
    pygame.font.init()
    calls = [RecentCall(label=f"A00{n}", window=n, called_at=AT) for n in (3, 2, 1)]
    picture = HallPicture(
        file_names=HALL_NAMES,
        hall=HallState(recent_calls=calls, waiting={}, names=HALL_NAMES, languages=list(LANGUAGES)),
        services={s.service_code: s for s in SERVICES},
        windows={
            1: _window(1, WindowStatus.OPEN, "A001"),
            2: _window(2, WindowStatus.PAUSED),
            3: _window(3, WindowStatus.OPEN, "A003"),
            4: _window(4, WindowStatus.CLOSED),
        },
        connected=True,
    )
    written = []
    for name in lcd_layout_names():
        layout = load_lcd_layout(name)
        surface = pygame.Surface(layout.size)
        for language in LANGUAGES:
            view = picture.view(AT + timedelta(seconds=30), language, layout)
            paint_view(surface, layout, view, 30.0)
            path = folder / f"lcd-{name}-{language}.png"
            pygame.image.save(surface, str(path))
            written.append(path)
    return written


def tickets(folder: Path) -> list[Path]:
    """The sample ticket as each printer model prints it."""
    font = RasterFont(font_for("zh"))
    written = []
    for name in printer_profile_names():
        profile = load_printer_profile(name)
        data = printer_driver(profile).layout(SAMPLE_TICKET, profile, font)
        decoder = EscPosDecoder(encoding=profile.cjk.encoding if profile.cjk else "ascii")
        ticket = PrintedTicket(decoder.feed(data) + decoder.flush())
        path = folder / f"ticket-{name}.png"
        ticket.render(profile.dots_per_line, font.path).save(path)
        written.append(path)
    return written


def rating_pads(folder: Path) -> list[Path]:
    """The touch pad in each phase: the clerk's card, the five levels, the reasons, the
    callback number, thanks; in Chinese, and bilingual with Uyghur and with Kazakh."""
    profile = load_counter_profile("touch-pad-10in")
    assert isinstance(profile, TouchPadProfile)
    surface = pygame.Surface((profile.width, profile.height))
    clerk = ClerkView(code="1001", name="王芳", stars=5)
    written = []
    for languages in PAD_LANGUAGES:
        drawer = PadScreen(profile, languages=languages)
        suffix = "".join(f"-{x}" for x in languages[1:])
        written += _pad_phases(drawer, surface, clerk, folder, suffix)
    return written


# The pad's languages as halls set them: Chinese alone, 汉维双语 and 汉哈双语.
PAD_LANGUAGES = (("zh",), ("zh", "ug"), ("zh", "kk"))


def _pad_phases(
    drawer: PadScreen, surface: pygame.Surface, clerk: ClerkView, folder: Path, suffix: str
) -> list[Path]:
    written = []
    for phase in Phase:
        view = PadView(
            phase=phase,
            window=1,
            clerk=clerk,
            ticket_label="A013" if phase is not Phase.IDLE else None,
            level=RatingLevel.DISSATISFIED if phase in (Phase.REASON, Phase.CONTACT) else None,
            seconds_left=25,
            digits="1380013" if phase is Phase.CONTACT else "",
            service="社保业务",
        )
        drawer.draw(surface, view)
        path = folder / f"pad-{phase.value}{suffix}.png"
        pygame.image.save(surface, str(path))
        written.append(path)
    return written


def write_gallery(folder: Path) -> dict[str, int]:
    """Every picture into ``folder``; how many of each group."""
    folder.mkdir(parents=True, exist_ok=True)
    pygame.display.init()
    pygame.font.init()
    return {
        "kiosk": len(kiosk_screens(folder)),
        "led": len(led_boards(folder)),
        "lcd": len(lcd_boards(folder)),
        "tickets": len(tickets(folder)),
        "pads": len(rating_pads(folder)),
    }
