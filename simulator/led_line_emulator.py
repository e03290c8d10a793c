"""An RS-485 line of LED boards on the far end of a pty: BX-5 controllers and line screens.

Each board has an address and a profile. It decodes the host's frames with the project's
own codecs, answers like the real board (a BX-5 answer frame, or ``<address> ACK``), and
keeps what it shows, so tests and the demo read each board as text and as an image.
Faults: silent boards, dropped answers, corrupt answers, noise, an unplugged adapter.

The host sends one whole frame at a time and waits, so the emulator reads the line frame
by frame: a unit starting with the BX-5 preamble runs to the BX-5 tail, anything else to
the line protocol's CR. (A line screen at address 0xA5 would therefore be mistaken for a
BX-5 frame; do not mix that address with BX-5 boards.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pygame

from display_wall.boards import shown_pages
from display_wall.bx5_protocol import (
    Bx5Decoder,
    Bx5Frame,
    encode_frame,
    parse_dynamic_text,
    parse_request,
    reply_data,
)
from display_wall.dot_font import GLYPH_HEIGHT, DotFontMissing, HexFont, dot_width, unifont
from display_wall.drivers import LED_DRIVERS, BoardEmulator
from display_wall.line_protocol import LineDecoder, TextLine, encode_ack
from display_wall.profile import Bx5BoardProfile, Colour, LedBoardProfileBase, LineBoardProfile
from hallbus.fonts import font_for
from simulator.mailbox import Mailbox
from simulator.pty_port import PtyPort

LED_RGB = {Colour.RED: (255, 40, 30), Colour.GREEN: (40, 230, 60), Colour.YELLOW: (255, 200, 0)}
DOT = 6  # screen pixels per LED in a rendered image


@dataclass(frozen=True, slots=True)
class BoardShows:
    """What one board showed after a host frame."""

    address: int
    text: str
    colour: Colour
    scrolling: bool = False
    pages: tuple[str, ...] = ()  # standing text as the board wraps it, screen line by line


@dataclass
class LedFaults:
    """What goes wrong on the emulated line."""

    silent: set[int] = field(default_factory=set)  # boards that answer nothing
    drop_answers: dict[int, int] = field(default_factory=dict)  # address: answers to lose
    corrupt_answers: dict[int, int] = field(default_factory=dict)  # address: answers to spoil
    noise: bytes = b""  # sent before the next answer


@dataclass
class EmulatedBoard:
    """One board on the line and what it shows."""

    address: int
    profile: LedBoardProfileBase
    text: str = ""
    colour: Colour = Colour.RED
    scrolling: bool = False
    brightness: int | None = None
    frames: int = 0  # host frames it took

    def shows(self) -> BoardShows:
        """Its picture as a record."""
        pages = (self.text,) if self.scrolling else tuple(shown_pages(self.text, self.profile))
        return BoardShows(self.address, self.text, self.colour, self.scrolling, pages)


class LedLineEmulator:
    """LED boards sharing one emulated line."""

    def __init__(self) -> None:
        self.faults = LedFaults()
        self.shown: Mailbox[BoardShows] = Mailbox()
        self.listeners: list[Callable[[BoardShows], None]] = []  # on the port's thread
        self.line_bytes = 0  # bytes the host wrote
        self._bx5: dict[int, EmulatedBoard] = {}
        self._line: dict[int, EmulatedBoard] = {}
        # Plug-in drivers' boards: each hears every byte, as on a real multi-drop line.
        self._plugged: dict[int, tuple[EmulatedBoard, BoardEmulator]] = {}
        self._unit = bytearray()
        self._lock = threading.Lock()
        self._port: PtyPort | None = None

    # --- boards ------------------------------------------------------------------------
    def add(self, address: int, profile: LedBoardProfileBase) -> EmulatedBoard:
        """Put a board of ``profile``'s model at ``address``."""
        board = EmulatedBoard(address, profile, colour=profile.colours[0])
        if not isinstance(profile, Bx5BoardProfile | LineBoardProfile):
            driver = LED_DRIVERS.get(profile.type)
            if driver.emulator is None:
                raise ValueError(f"the {profile.type} driver brings no emulator")
            if address in self._plugged:
                raise ValueError(f"two boards at address {address}")
            self._plugged[address] = (board, driver.emulator(profile, address))
            return board
        table = self._bx5 if isinstance(profile, Bx5BoardProfile) else self._line
        if address in table:
            raise ValueError(f"two boards at address {address}")
        table[address] = board
        return board

    def board(self, address: int, *, bx5: bool = True) -> EmulatedBoard:
        """The board at ``address`` (``bx5=False`` for a line screen)."""
        return (self._bx5 if bx5 else self._line)[address]

    def boards(self) -> list[EmulatedBoard]:
        """Every board."""
        plugged = [board for board, _ in self._plugged.values()]
        return [*self._bx5.values(), *self._line.values(), *plugged]

    # --- the port ----------------------------------------------------------------------
    def serve_pty(self, link: Path, *, delay_s: Callable[[], float] = lambda: 0.0) -> str:
        """Put the line behind a new pty reached through ``link``; returns the path."""
        self._port = PtyPort(link, self.receive, delay_s=delay_s)
        return self._port.plug()

    def plug(self) -> None:
        """Plug the adapter back in under the same path."""
        if self._port is None:
            raise RuntimeError("serve_pty first")
        with self._lock:
            self._unit.clear()
        self._port.plug()

    def unplug(self) -> None:
        """Pull the adapter out."""
        if self._port is not None:
            self._port.unplug()

    def stop(self) -> None:
        """Close the port."""
        self.unplug()

    # --- bytes from the host -----------------------------------------------------------
    def receive(self, data: bytes) -> bytes:
        """Take bytes the host wrote; return the boards' answers."""
        out = bytearray()
        with self._lock:
            self.line_bytes += len(data)
            for board, emulator in self._plugged.values():
                shown, answer = emulator.feed(data)
                for content in shown:
                    self._show(board, content.text, content.colour, scrolling=content.scrolling)
                if answer:
                    board.frames += 1
                    out += self._answer(board, answer)
            if not self._bx5 and not self._line:
                return bytes(out)
            for byte in data:
                self._unit.append(byte)
                if self._unit_complete():
                    out += self._handle(bytes(self._unit))
                    self._unit.clear()
        return bytes(out)

    def _unit_complete(self) -> bool:
        unit = self._unit
        bx5 = self._any_bx5()
        if bx5 is not None and unit[0] == bx5.framing.preamble:
            return len(unit) > bx5.framing.preamble_count and unit[-1] == bx5.framing.tail
        line = self._any_line()
        terminator = line.framing.terminator if line is not None else 0x0D
        return unit[-1] == terminator

    def _any_bx5(self) -> Bx5BoardProfile | None:
        for board in self._bx5.values():
            assert isinstance(board.profile, Bx5BoardProfile)
            return board.profile
        return None

    def _any_line(self) -> LineBoardProfile | None:
        for board in self._line.values():
            assert isinstance(board.profile, LineBoardProfile)
            return board.profile
        return None

    def _handle(self, unit: bytes) -> bytes:
        bx5 = self._any_bx5()
        if bx5 is not None and unit[0] == bx5.framing.preamble:
            for item in Bx5Decoder(bx5.framing).feed(unit):
                if isinstance(item, Bx5Frame):
                    return self._bx5_frame(item)
            return b""  # a broken frame: a real controller says nothing
        line = self._any_line()
        if line is None:
            return b""
        for piece in LineDecoder(line.framing).feed(unit):
            if isinstance(piece, TextLine):
                return self._text_line(piece)
        return b""

    def _bx5_frame(self, frame: Bx5Frame) -> bytes:
        board = self._bx5.get(frame.destination)
        request = parse_request(frame.data)
        if board is None or request is None:
            return b""
        profile = board.profile
        assert isinstance(profile, Bx5BoardProfile)
        board.frames += 1
        command = (request.group, request.command)
        if command == profile.commands.dynamic_text:
            shown = parse_dynamic_text(request.payload)
            if shown is not None:
                self._show(
                    board,
                    *self._bx5_text(profile, shown.text),
                    scrolling=shown.effect == "scroll_left",
                )
        elif command == profile.commands.brightness and len(request.payload) > 1:
            board.brightness = request.payload[1]
        if not request.want_reply:
            return b""
        answer = Bx5Frame(
            frame.source, board.address, reply_data(profile.commands, profile.commands.reply_ok)
        )
        return self._answer(board, encode_frame(answer, profile.framing))

    @staticmethod
    def _bx5_text(profile: Bx5BoardProfile, raw: bytes) -> tuple[str, Colour]:
        text = raw.decode(profile.text_encoding, errors="replace")
        colour = profile.colours[0]
        for name, code in profile.colour_codes.items():
            if code and text.startswith(code):
                return text[len(code) :], name
        return text, colour

    def _text_line(self, line: TextLine) -> bytes:
        board = self._line.get(line.address)
        if board is None:
            return b""
        profile = board.profile
        assert isinstance(profile, LineBoardProfile)
        board.frames += 1
        if line.text:  # an empty line is a host's probe: the screen keeps its text
            self._show(board, line.text, profile.colours[0], scrolling=False)
        if not profile.framing.acknowledges:
            return b""
        return self._answer(board, encode_ack(board.address, profile.framing))

    def _show(self, board: EmulatedBoard, text: str, colour: Colour, *, scrolling: bool) -> None:
        board.text, board.colour, board.scrolling = text, colour, scrolling
        shows = board.shows()
        self.shown.put(shows)
        for listener in self.listeners:
            listener(shows)

    def _answer(self, board: EmulatedBoard, answer: bytes) -> bytes:
        faults = self.faults
        if board.address in faults.silent:
            return b""
        if faults.drop_answers.get(board.address, 0) > 0:
            faults.drop_answers[board.address] -= 1
            return b""
        if faults.corrupt_answers.get(board.address, 0) > 0:
            faults.corrupt_answers[board.address] -= 1
            spoiled = bytearray(answer)
            # A BX-5 CRC byte, or a line ack's address: either way not the answer awaited.
            spoiled[-3 if len(spoiled) > 3 else 0] ^= 0x01
            answer = bytes(spoiled)
        noise, faults.noise = faults.noise, b""
        return noise + answer


PAGE_GAP = 3  # dark LEDs drawn between the screens of a paged board


def render_board(board: EmulatedBoard) -> pygame.Surface:
    """The board's LEDs as an image, one dot per LED, in the board's own 16×16 dot font.

    Scrolling text is drawn whole, as the tape the board runs through (the part beyond
    the board dimmed); standing text as the board wraps it, its screens side by side.
    Without the bitmap font (``apt-get install unifont``) a TrueType font stands in.
    """
    profile = board.profile
    text = board.text or " "
    try:
        font: HexFont | None = unifont()
    except DotFontMissing:
        font = None
    if board.scrolling:
        screens = [[text]]
    else:
        lines = shown_pages(text, profile)
        screens = [lines[i : i + profile.lines] for i in range(0, len(lines), profile.lines)]
    tape = board.scrolling and dot_width(text, profile.font_px) > profile.width
    screen_w = max(profile.width, dot_width(text, profile.font_px)) if tape else profile.width
    width = len(screens) * (screen_w + PAGE_GAP) - PAGE_GAP
    mask = [[False] * width for _ in range(profile.height)]
    for index, screen in enumerate(screens):
        for row, line in enumerate(screen):
            x0, y0 = index * (screen_w + PAGE_GAP), row * profile.font_px
            _draw_line(mask, line, x0, y0, font, profile.font_px // GLYPH_HEIGHT or 1)
    image = pygame.Surface((width * DOT, profile.height * DOT))
    image.fill((12, 12, 12))
    lit = LED_RGB[board.colour]
    for py in range(profile.height):
        for px in range(width):
            in_gap = px % (screen_w + PAGE_GAP) >= screen_w
            if in_gap:
                continue
            r, g, b = lit if mask[py][px] else (40, 30, 30)
            if px >= profile.width and tape:
                r, g, b = r // 2, g // 2, b // 2  # the part of the tape off the board
            pygame.draw.circle(
                image, (r, g, b), (px * DOT + DOT // 2, py * DOT + DOT // 2), DOT // 2 - 1
            )
    return image


def _draw_line(
    mask: list[list[bool]], line: str, x0: int, y0: int, font: HexFont | None, scale: int
) -> None:
    """One line of glyphs, each dot ``scale`` LEDs square (a 32-dot font is 16 doubled)."""
    if font is None:
        _draw_line_truetype(mask, line, x0, y0)
        return
    x = x0
    for char in line:
        glyph = font.glyph(char)
        width = glyph.width if glyph else 16
        for y in range(GLYPH_HEIGHT * scale):
            for dx in range(width * scale):
                gx, gy = dx // scale, y // scale
                lit = glyph.lit(gx, gy) if glyph else gx in (0, width - 1) or gy in (0, 15)
                if lit and 0 <= y0 + y < len(mask) and 0 <= x + dx < len(mask[0]):
                    mask[y0 + y][x + dx] = True
        x += width * scale


def _draw_line_truetype(mask: list[list[bool]], line: str, x0: int, y0: int) -> None:
    pygame.font.init()
    glyphs = pygame.font.Font(str(font_for("zh")), GLYPH_HEIGHT).render(line, False, (255,) * 3)
    for y in range(min(glyphs.get_height(), GLYPH_HEIGHT)):
        for x in range(glyphs.get_width()):
            if glyphs.get_at((x, y)).r > 100 and 0 <= x0 + x < len(mask[0]) and y0 + y < len(mask):
                mask[y0 + y][x0 + x] = True
