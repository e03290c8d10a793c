"""What each LED board shows, and the bytes that make it show it (pure).

``window_content`` and ``strip_content`` turn the scheduler's retained state into a
board's text and colour; a board codec turns that into its protocol's frames and reads
the board's answers. Nothing here touches a port.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from display_wall.bx5_protocol import (
    Bx5Decoder,
    Bx5Fault,
    Bx5Frame,
    DynamicArea,
    brightness_payload,
    dynamic_text_payload,
    encode_frame,
    reply_status,
    request_data,
)
from display_wall.dot_font import dot_width
from display_wall.line_protocol import AckDecoder, encode_line
from display_wall.profile import Bx5BoardProfile, Colour, LedBoardProfileBase, LineBoardProfile
from hallbus.messages import HallState, TicketState, WindowState, WindowStatus


@dataclass(frozen=True, slots=True)
class BoardContent:
    """One board's picture: text in one colour, standing (page by page) or scrolling.

    Standing text is laid out in pages, each padded to the board's width, so the
    board's own wrapping at its width starts every page on a line of its own.
    """

    text: str
    colour: Colour
    scrolling: bool = False


def _page_split(page: str, width: int, font_px: int) -> list[str]:
    """A page too wide for the board, cut between characters into pages that fit."""
    out, current = [], ""
    for char in page:
        if current and dot_width(current + char, font_px) > width:
            out.append(current)
            current = ""
        current += char
    return [*out, current] if current else out


def lay_out(pages: list[str], colour: Colour, profile: LedBoardProfileBase) -> BoardContent:
    """Pages of a state as the board can show them, nothing cut where it can be helped.

    A board that pages gets pages of its width (a page too wide is split between
    characters); one that scrolls instead runs a state that does not fit its screen as
    one line; one that does neither gets as many lines as it has (the shipped profiles'
    texts are checked to fit, see ``cut_text``).
    """
    width, font_px = profile.width, profile.font_px
    fits = all(dot_width(p, font_px) <= width for p in pages) and len(pages) <= profile.lines
    if profile.pages:
        pages = [part for page in pages for part in _page_split(page, width, font_px)]
    elif not fits and profile.scroll:
        return BoardContent(" ".join(pages), colour, scrolling=True)
    else:
        pages = pages[: profile.lines]
    cell = font_px // 2
    padded = [p + " " * max(0, (width - dot_width(p, font_px)) // cell) for p in pages]
    return BoardContent("".join(padded).rstrip(" ") if len(pages) == 1 else "".join(padded), colour)


def shown_pages(text: str, profile: LedBoardProfileBase) -> list[str]:
    """Standing text as the board wraps it: lines of at most its width, in its font."""
    lines, current = [], ""
    for char in text:
        if dot_width(current + char, profile.font_px) > profile.width:
            lines.append(current)
            current = ""
        current += char
    lines.append(current)
    return [line.rstrip(" ") for line in lines]


def cut_text(content: BoardContent, profile: LedBoardProfileBase) -> str | None:
    """What of ``content`` the board cannot show, or None if it shows it all."""
    if content.scrolling:
        return None if profile.scroll else "a scrolling text on a board that does not scroll"
    lines = shown_pages(content.text, profile)
    if len(lines) > profile.lines and not profile.pages:
        return f"{len(lines)} lines on a board of {profile.lines}: {lines[profile.lines :]}"
    return None


def _fill(pages: list[str], **values: object) -> list[str]:
    return [page.format(**values) for page in pages]


def window_content(
    state: WindowState | None, window: int, profile: LedBoardProfileBase
) -> BoardContent:
    """A window board: the call, the ticket being served, 暂停服务, or the idle line."""
    texts, colours = profile.texts, profile.state_colours
    if state is None or state.status == WindowStatus.CLOSED:
        return lay_out(_fill(texts.closed, window=window), colours.closed, profile)
    if state.status == WindowStatus.PAUSED:
        return lay_out(_fill(texts.paused, window=window), colours.paused, profile)
    current = state.current
    if current is None:
        return lay_out(_fill(texts.idle, window=window), colours.idle, profile)
    if current.state == TicketState.SERVING:
        pages = _fill(texts.serving, label=current.label, window=window)
        return lay_out(pages, colours.serving, profile)
    pages = _fill(texts.call, label=current.label, window=window)
    return lay_out(pages, colours.call, profile)


def strip_content(hall: HallState | None, profile: LedBoardProfileBase) -> BoardContent:
    """A hall strip: the latest calls, newest first, scrolling."""
    texts = profile.texts
    calls = hall.recent_calls[: profile.strip_calls] if hall is not None else []
    if not calls:
        return BoardContent(texts.strip_empty, profile.state_colours.strip, scrolling=True)
    items = [texts.strip_item.format(label=c.label, window=c.window) for c in calls]
    return BoardContent(texts.strip_separator.join(items), profile.state_colours.strip, True)


class Answer(Protocol):
    """Reads one board's answers from the bytes on the line."""

    def feed(self, data: bytes) -> tuple[bool | None, int]:
        """(True: answered ok, False: answered with an error, None: not yet), noise bytes."""


class BoardCodec(Protocol):
    """One board's protocol at its address: frames out, answers in."""

    acknowledges: bool

    def greeting(self) -> list[bytes]:
        """Frames sent once the board is found (brightness); may be none."""

    def frames(self, content: BoardContent) -> list[bytes]:
        """The frames that put ``content`` on the board."""

    def probe(self) -> bytes:
        """A frame the board answers, to find out whether it is back."""

    def answer(self) -> Answer:
        """A fresh reader for the answer to one frame."""


class _Bx5Answer:
    def __init__(self, codec: Bx5Codec) -> None:
        self.codec = codec
        self.decoder = Bx5Decoder(codec.profile.framing)

    def feed(self, data: bytes) -> tuple[bool | None, int]:
        noise = 0
        result: bool | None = None
        for item in self.decoder.feed(data):
            if isinstance(item, Bx5Fault):
                noise += item.size
                continue
            status = reply_status(item, self.codec.profile.commands)
            if item.source != self.codec.address or status is None:
                noise += 1
                continue
            result = status == self.codec.profile.commands.reply_ok
        return result, noise


class Bx5Codec:
    """An Onbon BX-5 controller at one address."""

    acknowledges = True

    def __init__(self, profile: Bx5BoardProfile, address: int) -> None:
        self.profile = profile
        self.address = address

    def _frame(self, command: tuple[int, int], payload: bytes = b"") -> bytes:
        frame = Bx5Frame(
            self.address,
            self.profile.framing.host_address,
            request_data(command[0], command[1], payload),
        )
        return encode_frame(frame, self.profile.framing)

    def greeting(self) -> list[bytes]:
        """Brightness from the profile, if it sets one."""
        if self.profile.brightness is None:
            return []
        return [
            self._frame(
                self.profile.commands.brightness, brightness_payload(self.profile.brightness)
            )
        ]

    def text_bytes(self, content: BoardContent) -> bytes:
        """The area's text: the colour code, then the text in the board's encoding."""
        profile = self.profile
        colour = content.colour if content.colour in profile.colours else profile.colours[0]
        code = profile.colour_codes.get(colour, "") if len(profile.colours) > 1 else ""
        return (code + content.text).encode(profile.text_encoding, errors="replace")

    def frames(self, content: BoardContent) -> list[bytes]:
        """One dynamic-area text command."""
        profile = self.profile
        area = DynamicArea(
            width=profile.width,
            height=profile.height,
            area_id=profile.area.area_id,
            speed=profile.area.speed,
            stay_s=profile.area.stay_s,
        )
        payload = dynamic_text_payload(
            area, self.text_bytes(content), profile.effect(content.scrolling)
        )
        return [self._frame(profile.commands.dynamic_text, payload)]

    def probe(self) -> bytes:
        """A ping."""
        return self._frame(self.profile.commands.ping)

    def answer(self) -> Answer:
        """Reads the controller's answer frame."""
        return _Bx5Answer(self)


class _LineAnswer:
    def __init__(self, address: int, decoder: AckDecoder) -> None:
        self.address = address
        self.decoder = decoder

    def feed(self, data: bytes) -> tuple[bool | None, int]:
        acked, noise = self.decoder.feed(data)
        others = [a for a in acked if a != self.address]
        return (True if len(others) < len(acked) else None), noise + 2 * len(others)


class LineCodec:
    """A line-protocol screen at one address."""

    def __init__(self, profile: LineBoardProfile, address: int) -> None:
        self.profile = profile
        self.address = address
        self.acknowledges = profile.framing.acknowledges
        encode_line(address, "", profile.framing)  # refuses an address the line cannot carry

    def greeting(self) -> list[bytes]:
        """Nothing: these screens have no settings."""
        return []

    def frames(self, content: BoardContent) -> list[bytes]:
        """The text as one line (these screens have one colour and do not scroll)."""
        return [encode_line(self.address, content.text, self.profile.framing)]

    def probe(self) -> bytes:
        """An empty line: the screen answers it like any other."""
        return encode_line(self.address, "", self.profile.framing)

    def answer(self) -> Answer:
        """Reads ``<address> ACK``."""
        return _LineAnswer(self.address, AckDecoder(self.profile.framing))
