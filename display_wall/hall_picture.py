"""What the LCD hall board shows, from the scheduler's retained state (pure).

The daemon keeps the latest retained messages in a :class:`HallPicture`; ``view`` turns
it into the lines of one frame, in one language, at one moment, every text already in
display order (Arabic script shaped and right-to-left runs reversed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from display_wall.profile import LcdLayout
from hallbus.i18n import Texts, texts_in
from hallbus.messages import (
    CurrentCall,
    HallState,
    PriorityClass,
    ServiceState,
    WindowState,
    WindowStatus,
)

LOCALE_DIR = Path(__file__).parent / "locale"


def texts_for(language: str) -> Texts:
    """The hall board's texts in one language."""
    return texts_in(LOCALE_DIR, "display", language)


@dataclass(frozen=True, slots=True)
class CallLine:
    """One recent call: the newest is highlighted, and blinks while ``lit`` alternates."""

    label: str
    window: str
    newest: bool
    lit: bool = True


@dataclass(frozen=True, slots=True)
class ServiceLine:
    """A service with how many wait and how long."""

    name: str
    waiting: str
    wait: str
    letter: str = ""  # the ticket letter (A001): the key from number to service


@dataclass(frozen=True, slots=True)
class WindowLine:
    """A window and whether it serves."""

    number: int
    status: WindowStatus
    text: str
    ticket: str = ""  # the number being called or served there


@dataclass(frozen=True, slots=True)
class HallView:
    """Everything on one frame of the hall board."""

    language: str
    rtl: bool
    title: str
    clock: str
    date: str  # the hall's date and weekday, beside the clock
    headings: dict[str, str]
    calls: list[CallLine]
    services: list[ServiceLine]
    windows: list[WindowLine]
    notice: str
    banner: str | None  # connection lost, scheduler offline


@dataclass
class HallPicture:
    """The retained state the board has seen, and whether it can still hear the bus."""

    timezone: str = "Asia/Shanghai"
    # The hall file's names: the title before the scheduler's state arrives (or while it
    # cannot), so the board never shows an empty header.
    file_names: dict[str, str] = field(default_factory=dict)
    hall: HallState | None = None
    services: dict[str, ServiceState] = field(default_factory=dict)
    windows: dict[int, WindowState] = field(default_factory=dict)
    scheduler_online: bool = True
    connected: bool = False

    def languages(self) -> list[str]:
        """The hall's languages, Chinese until the hall state says otherwise."""
        return self.hall.languages if self.hall is not None and self.hall.languages else ["zh"]

    def language_at(self, now: datetime, layout: LcdLayout) -> str:
        """The language shown at ``now``: each hall language for ``language_s`` in turn."""
        languages = self.languages()
        return languages[int(now.timestamp() // layout.language_s) % len(languages)]

    def view(self, now: datetime, language: str, layout: LcdLayout) -> HallView:
        """The frame at ``now`` in ``language``."""
        t = texts_for(language)
        local = now.astimezone(ZoneInfo(self.timezone))
        names = self.hall.names if self.hall is not None and self.hall.names else self.file_names
        calls = []
        for index, call in enumerate(
            self.hall.recent_calls[: layout.recent_calls] if self.hall else []
        ):
            newest = index == 0
            age = (now - call.called_at).total_seconds()
            blinking = newest and 0 <= age < layout.blink_s
            lit = not blinking or int(age / layout.blink_period_s) % 2 == 0
            window = t("Window {window}", window=call.window)
            calls.append(CallLine(call.label, window, newest, lit))
        services = [
            ServiceLine(
                t.pick(state.names, code),
                str(state.waiting),
                t.duration(state.estimated_wait_s) if state.waiting else "-",
                state.prefix,
            )
            for code, state in self.services.items()
        ]
        status_text = {
            WindowStatus.OPEN: t("Open"),
            WindowStatus.PAUSED: t("Paused"),
            WindowStatus.CLOSED: t("Closed"),
        }
        windows = [
            WindowLine(
                number,
                state.status,
                status_text[state.status],
                _ticket_shown(t, state.current),
            )
            for number, state in sorted(self.windows.items())
        ]
        notices = self.hall.notices if self.hall is not None else {}
        no_notices: list[str] = []
        notice_lines = t.pick(notices, no_notices)
        banner = None
        if not self.connected:
            banner = t("Connection lost: showing the last known state")
        elif not self.scheduler_online:
            banner = t("Queue system offline: calls resume shortly")
        headings = {
            key: t(key)
            for key in ("Now calling", "Ticket", "Window", "Service", "Waiting", "Est. wait")
        }
        headings["Windows"] = t("Windows")
        headings["No calls yet"] = t("No calls yet")
        return HallView(
            language=language,
            rtl=t.rtl,
            title=t.pick(names, ""),
            clock=t.clock(local, local.tzinfo or UTC),
            date=t.day(local, local.tzinfo or UTC),
            headings=headings,
            calls=calls,
            services=services,
            windows=windows,
            notice="    ".join(notice_lines),
            banner=banner if banner else None,
        )


def _ticket_shown(t: Texts, current: CurrentCall | None) -> str:
    """The ticket on a window's tile, marked when it is a booked appointment (预约)."""
    if current is None:
        return ""
    if current.priority is PriorityClass.APPOINTMENT:
        return f"{current.label} {t('Appointment')}"
    return current.label
