"""Every button a citizen touches is at least 9 mm across, on the smallest kiosk screens
sold (15.6 inch, 1080 x 1920 portrait), in every screen, language and print size."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pygame
import pytest

from hallbus.messages import ServiceState, TicketIssued, TicketState
from kiosk.flow import Issued, KioskView, Notice, NoticeKind, Screen
from kiosk.ui import KioskScreen

SIZE = (1080, 1920)
DIAGONAL_IN = 15.6
MIN_MM = 9.0
MM_PER_PX = DIAGONAL_IN * 25.4 / math.hypot(*SIZE)

MENU = tuple(
    ServiceState(
        service_code=code,
        names={"zh": name, "en": english},
        prefix=prefix,
        green_channel=code == "residence",
        waiting=12,
        estimated_wait_s=900,
        open_windows=2,
    )
    for code, name, english, prefix in (
        ("social", "社保业务", "Social insurance", "A"),
        ("tax", "税务业务", "Tax", "B"),
        ("residence", "户籍业务", "Household registration", "C"),
        ("medical", "医保业务", "Medical insurance", "D"),
        ("pension", "养老金业务", "Pensions", "E"),
    )
)
TICKET = TicketIssued(
    ticket_id="t1",
    label="A013",
    service_code="social",
    service_date=date(2026, 12, 1),
    state=TicketState.WAITING,
    issued_at=datetime(2026, 12, 1, 1, 30, tzinfo=UTC),
    people_ahead=12,
    estimated_wait_s=900,
)


def _views(language: str, large: bool) -> list[KioskView]:
    base = dict(
        language=language,
        large_print=large,
        menu=MENU,
        selected=MENU[0],
        card=None,
        issued=None,
        notice=None,
        card_reader=True,
    )
    return [
        KioskView(screen=Screen.MENU, **base),  # type: ignore[arg-type]
        KioskView(screen=Screen.DOCUMENTS, **base),  # type: ignore[arg-type]
        KioskView(screen=Screen.CARD, **base),  # type: ignore[arg-type]
        KioskView(screen=Screen.TICKET, **{**base, "issued": Issued(TICKET)}),  # type: ignore[arg-type]
        KioskView(
            screen=Screen.NOTICE,
            **{**base, "notice": Notice(NoticeKind.NO_ANSWER)},  # type: ignore[arg-type]
        ),
    ]


@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize("language", ["zh", "en", "ug"])
def test_every_touch_target_is_at_least_9_mm(language: str, large: bool) -> None:
    pygame.init()
    screen = KioskScreen(SIZE, ("zh", "en", "ug"))
    surface = pygame.Surface(SIZE)
    for view in _views(language, large):
        screen.draw(surface, view, {"zh": "示范政务服务中心", "en": "Demo hall"}, UTC)
        assert screen.buttons, view.screen
        for button in screen.buttons:
            width_mm, height_mm = button.rect.width * MM_PER_PX, button.rect.height * MM_PER_PX
            assert min(width_mm, height_mm) >= MIN_MM, (
                f"{view.screen} {language} large={large}: {button.action} is "
                f"{width_mm:.1f} x {height_mm:.1f} mm"
            )
