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
from display_wall.line_protocol import AckDecoder, encode_line
from display_wall.profile import Bx5BoardProfile, Colour, LedBoardProfileBase, LineBoardProfile
from hallbus.messages import HallState, TicketState, WindowState, WindowStatus


@dataclass(frozen=True, slots=True)
class BoardContent:
    """One board's picture: a line of text in one colour, standing or scrolling."""

    text: str
    colour: Colour
    scrolling: bool = False


def window_content(
    state: WindowState | None, window: int, profile: LedBoardProfileBase
) -> BoardContent:
    """A window board: the call, the ticket being served, 暂停服务, or the idle line."""
    texts, colours = profile.texts, profile.state_colours
    if state is None or state.status == WindowStatus.CLOSED:
        return BoardContent(texts.closed.format(window=window), colours.closed)
    if state.status == WindowStatus.PAUSED:
        return BoardContent(texts.paused.format(window=window), colours.paused)
    current = state.current
    if current is None:
        return BoardContent(texts.idle.format(window=window), colours.idle)
    if current.state == TicketState.SERVING:
        text = texts.serving.format(label=current.label, window=window)
        return BoardContent(text, colours.serving, scrolling=True)
    text = texts.call.format(label=current.label, window=window)
    return BoardContent(text, colours.call, scrolling=True)


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
