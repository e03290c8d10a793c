"""Display wall profiles: LED board models and LCD hall board layouts, one YAML file each.

LED boards (``firmware_profiles/led_boards/``) pick their protocol with ``type``:
``bx5`` (Onbon BX-5 family) or ``line`` (address, GBK text, CR). Both say how big the
board is, which colours it has, what it shows in each state and how patient the line is
with it. LCD layouts live in ``firmware_profiles/hall_boards/``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from display_wall.bx5_protocol import Bx5Commands, Bx5Framing, Effect
from display_wall.line_protocol import LineFraming
from hallbus.links import SerialLine
from hallbus.profiles import (
    load_profile,
    profile_folders,
    profile_names,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Colour(StrEnum):
    """LED colours of single-, dual- and three-colour boards."""

    RED = "red"
    GREEN = "green"
    YELLOW = "yellow"


def _as_pages(value: object) -> object:
    return [value] if isinstance(value, str) else value


Pages = Annotated[list[str], BeforeValidator(_as_pages), Field(min_length=1)]


class BoardTexts(_Strict):
    """What a board says in each state; ``{label}`` and ``{window}`` are filled in.

    Each state is a list of pages: a board that pages shows them in turn, one of more
    lines shows them together, a scrolling one runs them as one line. The defaults fit a
    64×16 window board (four Chinese characters or eight letters a page); a strip's item
    is one scrolling phrase.
    """

    call: Pages = ["请{label}号", "{window}号窗口"]
    serving: Pages = ["{label}", "正在办理"]
    paused: Pages = ["暂停服务"]
    closed: Pages = ["{window}号窗口", "暂停服务"]
    idle: Pages = ["{window}号窗口", "欢迎您"]
    strip_item: str = "请{label}号到{window}号窗口办理"
    strip_separator: str = "  "
    strip_empty: str = "欢迎光临"


class BoardColours(_Strict):
    """The colour of each state, on boards that have colours."""

    call: Colour = Colour.RED
    serving: Colour = Colour.GREEN
    paused: Colour = Colour.YELLOW
    closed: Colour = Colour.YELLOW
    idle: Colour = Colour.GREEN
    strip: Colour = Colour.RED


class LineTiming(_Strict):
    """How long the host waits for a board and how often it tries again."""

    reply_timeout_s: float = Field(default=0.3, gt=0, le=5)
    retries: int = Field(default=2, ge=0, le=10)  # resends before a send counts as missed
    missed_before_silent: int = Field(default=1, ge=1, le=10)  # missed sends, then reported
    probe_interval_s: float = Field(default=5.0, gt=0)  # a silent board is tried this often
    reconnect_s: float = Field(default=1.0, gt=0)  # an unplugged adapter is reopened


class LedBoardProfileBase(_Strict):
    """What every LED board model says; a driver's profile model adds its protocol's keys."""

    type: str  # the driver serving the model (display_wall/drivers.py)
    id: str
    name: str
    role: Literal["window", "strip"]  # above a window, or the hall's scrolling strip
    width: int = Field(ge=8, le=4096)  # pixels
    height: int = Field(ge=8, le=1024)
    colours: list[Colour] = Field(default_factory=lambda: [Colour.RED])  # the first is default
    scroll: bool = False  # whether the board scrolls text too long for it
    # Whether it shows text longer than its screen a screen at a time (static mode).
    pages: bool = False
    # Dot height of the controller's own font: Chinese font_px square, letters half as wide.
    font_px: int = Field(default=16, ge=8, le=64)
    line: SerialLine = SerialLine()
    timing: LineTiming = LineTiming()
    texts: BoardTexts = BoardTexts()
    state_colours: BoardColours = BoardColours()
    strip_calls: int = Field(default=4, ge=1, le=20)  # latest calls a strip shows

    @property
    def lines(self) -> int:
        """Lines of text the board shows at once."""
        return max(1, self.height // self.font_px)


class Bx5Area(_Strict):
    """The one dynamic area the wall writes into."""

    area_id: int = Field(default=0, ge=0, le=255)
    speed: int = Field(default=8, ge=0, le=255)
    stay_s: int = Field(default=0, ge=0, le=255)


class Bx5BoardProfile(LedBoardProfileBase):
    """An Onbon BX-5 family controller."""

    type: Literal["bx5"]
    framing: Bx5Framing = Bx5Framing()
    commands: Bx5Commands = Bx5Commands()
    area: Bx5Area = Bx5Area()
    colour_codes: dict[Colour, str] = Field(
        default_factory=lambda: {Colour.RED: "\\C1", Colour.GREEN: "\\C2", Colour.YELLOW: "\\C3"}
    )
    text_encoding: str = "gb2312"
    brightness: int | None = Field(default=None, ge=1, le=16)  # set when the board is found

    def effect(self, scrolling: bool) -> Effect:
        """How text runs: scrolling strips scroll, window boards stand still."""
        return Effect.SCROLL_LEFT if scrolling and self.scroll else Effect.STATIC


class LineBoardProfile(LedBoardProfileBase):
    """A cheap window screen on the line protocol (one colour, fixed text)."""

    type: Literal["line"]
    framing: LineFraming = LineFraming()


class LcdColours(_Strict):
    """The hall board's palette, as hex colours."""

    background: str = "#0b1a2e"
    panel: str = "#132a47"
    text: str = "#f2f5f9"
    muted: str = "#8da2bd"
    call: str = "#ffd23f"
    highlight: str = "#e63946"
    open: str = "#3ddc84"
    paused: str = "#ffb020"
    closed: str = "#6c7a89"
    alert: str = "#d62828"
    reconnecting: str = "#24507a"  # the quiet notice while the board reconnects


class LcdLayout(_Strict):
    """One LCD hall board layout: screen size, what it shows, how it moves."""

    id: str
    name: str
    size: tuple[int, int] = (1920, 1080)
    recent_calls: int = Field(default=6, ge=1, le=20)
    blink_s: float = Field(default=6.0, ge=0)  # the newest call blinks this long
    blink_period_s: float = Field(default=0.5, gt=0)
    language_s: float = Field(default=10.0, gt=0)  # each hall language shows this long
    notice_speed_px_s: float = Field(default=120.0, gt=0)
    colours: LcdColours = LcdColours()


def load_lcd_layout(name: str) -> LcdLayout:
    """A shipped LCD layout, validated."""
    return load_profile(LcdLayout, profile_folders("hall_boards"), name)


def lcd_layout_names() -> list[str]:
    """Every shipped LCD layout."""
    return profile_names(profile_folders("hall_boards"))
