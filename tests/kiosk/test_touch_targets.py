"""Every button a citizen touches is at least 9 mm across, on the smallest kiosk screens
sold (15.6 inch, 1080 x 1920 portrait), in every screen, language and print size."""

from __future__ import annotations

import math
from datetime import UTC

import pygame
import pytest

from kiosk.ui import KioskScreen
from simulator.gallery import HALL_NAMES, LANGUAGES, kiosk_views

SIZE = (1080, 1920)
DIAGONAL_IN = 15.6
MIN_MM = 9.0
MM_PER_PX = DIAGONAL_IN * 25.4 / math.hypot(*SIZE)


@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_touch_target_is_at_least_9_mm(language: str, large: bool) -> None:
    pygame.display.init()
    pygame.font.init()
    screen = KioskScreen(SIZE, LANGUAGES)
    surface = pygame.Surface(SIZE)
    touchable = 0
    for name, view in kiosk_views(language, large).items():
        screen.draw(surface, view, HALL_NAMES, UTC)
        touchable += len(screen.buttons)
        for button in screen.buttons:
            width_mm, height_mm = button.rect.width * MM_PER_PX, button.rect.height * MM_PER_PX
            assert min(width_mm, height_mm) >= MIN_MM, (
                f"{name} {language} large={large}: {button.action} is "
                f"{width_mm:.1f} x {height_mm:.1f} mm"
            )
    assert touchable > 10  # the menu's cards, the header's controls, the screens' buttons
