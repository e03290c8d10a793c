"""Every state of every LED board model fits the board, in the board's own dot font.

Each state is laid out for the model (pages, lines or a scrolling line), drawn with GNU
Unifont's 16×16 glyphs (what the controllers' built-in fonts are) and saved as a picture;
the test fails if a page is wider than the board, a glyph is missing, a page was split
where the layout did not mean it, or a board that neither scrolls nor pages would cut.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pygame
import pytest

from display_wall.boards import (
    BoardContent,
    cut_text,
    lay_out,
    shown_pages,
    strip_content,
    window_content,
)
from display_wall.dot_font import HexFont, dot_width, unifont
from display_wall.drivers import led_profile_names, load_led_profile
from display_wall.profile import Colour, LedBoardProfileBase
from hallbus.messages import (
    CurrentCall,
    HallState,
    RecentCall,
    TicketState,
    WindowState,
    WindowStatus,
)
from simulator.led_line_emulator import EmulatedBoard, render_board
from tests.kiosk.tickets import artifacts_dir

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
# The longest a hall shows in practice: three-digit numbers, windows up to 99.
LABELS = ("A001", "B999")
WINDOWS = (1, 99)


def _window(
    window: int, status: WindowStatus, label: str | None = None, state: TicketState | None = None
) -> WindowState:
    current = (
        CurrentCall(ticket_id="t", label=label, service_code="s", state=state, called_at=AT)
        if label and state
        else None
    )
    return WindowState(window=window, status=status, current=current, waiting=0)


def _states(profile: LedBoardProfileBase) -> dict[str, tuple[BoardContent, list[str]]]:
    """Every state's content, with the pages the profile meant for it."""
    texts, out = profile.texts, {}
    if profile.role == "strip":
        for count in (0, 1, profile.strip_calls):
            calls = [RecentCall(label="A001", window=99, called_at=AT)] * count
            hall = HallState(recent_calls=calls, waiting={})
            out[f"strip-{count}"] = (strip_content(hall, profile), [])
        return out
    for window in WINDOWS:
        fill = {"window": window}
        out[f"closed-{window}"] = (
            window_content(_window(window, WindowStatus.CLOSED), window, profile),
            [p.format(**fill) for p in texts.closed],
        )
        out[f"idle-{window}"] = (
            window_content(_window(window, WindowStatus.OPEN), window, profile),
            [p.format(**fill) for p in texts.idle],
        )
        out[f"paused-{window}"] = (
            window_content(_window(window, WindowStatus.PAUSED), window, profile),
            [p.format(**fill) for p in texts.paused],
        )
        for label in LABELS:
            fill = {"window": window, "label": label}
            for name, state, pages in (
                ("call", TicketState.CALLED, texts.call),
                ("serving", TicketState.SERVING, texts.serving),
            ):
                status = _window(window, WindowStatus.OPEN, label, state)
                out[f"{name}-{label}-{window}"] = (
                    window_content(status, window, profile),
                    [p.format(**fill) for p in pages],
                )
    return out


def _check(
    content: BoardContent, meant: list[str], profile: LedBoardProfileBase, font: HexFont
) -> None:
    text = content.text
    assert not font.missing(text), f"no glyph for {font.missing(text)}"
    assert cut_text(content, profile) is None, cut_text(content, profile)
    scale = profile.font_px // 16
    if content.scrolling:
        return
    pages = shown_pages(text, profile)
    for page in pages:
        assert font.width(page) * scale <= profile.width, f"{page!r} is wider than the board"
        assert font.width(page) * scale == dot_width(page, profile.font_px)
    if meant:
        # Every page the layout meant is shown whole, on a screen of its own.
        assert pages == meant, f"{meant} shown as {pages}"


@pytest.mark.parametrize("name", led_profile_names())
def test_every_state_fits_the_board_in_its_own_font(name: str) -> None:
    profile = load_led_profile(name)
    font = unifont()
    for state, (content, meant) in _states(profile).items():
        _check(content, meant, profile, font)
        board = EmulatedBoard(1, profile, content.text, content.colour, content.scrolling)
        picture = artifacts_dir() / "led-fit" / f"{name}-{state}.png"
        picture.parent.mkdir(exist_ok=True)
        pygame.image.save(render_board(board), str(picture))


def test_a_page_too_wide_for_a_paging_board_is_split_and_nothing_is_lost() -> None:
    profile = load_led_profile("bx5-window-64x16")
    assert profile.pages
    # A two-letter prefix and four digits: 请AB1234号 is 88 dots on a 64-dot board.
    content = lay_out(["请AB1234号", "12号窗口"], Colour.RED, profile)
    pages = shown_pages(content.text, profile)
    assert "".join(pages) == "请AB1234号12号窗口"
    assert all(dot_width(p) <= 64 for p in pages) and cut_text(content, profile) is None


def test_a_board_that_neither_scrolls_nor_pages_reports_what_it_would_cut() -> None:
    profile = load_led_profile("line-window-gbk")
    assert not profile.scroll and not profile.pages
    content = BoardContent("请A001号到1号窗口", Colour.RED)
    assert cut_text(content, profile) is not None
