"""The paidui driver for 'Acme ASCII' boards: profile schema, codec and emulated board."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from acme_led.protocol import (
    PING,
    TEXT,
    AcmeFrame,
    AnswerDecoder,
    FrameDecoder,
    encode_answer,
    encode_frame,
    parse_text,
    text_payload,
)
from display_wall.boards import Answer, BoardContent
from display_wall.drivers import LedBoardDriver
from display_wall.profile import Colour, LedBoardProfileBase

PROFILES = Path(__file__).with_name("profiles")


class AcmeFraming(BaseModel):
    """What differs between Acme models: the text's encoding and how much fits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text_encoding: str = "gbk"
    max_text_bytes: int = Field(default=64, ge=8, le=400)


class AcmeBoardProfile(LedBoardProfileBase):
    """An Acme ASCII board."""

    type: Literal["acme-ascii"]
    framing: AcmeFraming = AcmeFraming()
    colour_letters: dict[Colour, str] = Field(
        default_factory=lambda: {Colour.RED: "R", Colour.GREEN: "G", Colour.YELLOW: "Y"}
    )


def _cut(text: str, encoding: str, limit: int) -> bytes:
    """The text in the board's encoding, cut to fit without splitting a character."""
    out = b""
    for char in text:
        encoded = char.encode(encoding, errors="replace")
        if len(out) + len(encoded) > limit:
            break
        out += encoded
    return out


class _AcmeAnswer:
    def __init__(self, address: int) -> None:
        self.address = address
        self.decoder = AnswerDecoder()

    def feed(self, data: bytes) -> tuple[bool | None, int]:
        answers, noise = self.decoder.feed(data)
        result: bool | None = None
        for address, ok in answers:
            if address == self.address:
                result = ok
            else:
                noise += 3  # another board's answer is not ours
        return result, noise


class AcmeCodec:
    """An Acme board at one address: frames out, answers in."""

    acknowledges = True

    def __init__(self, profile: AcmeBoardProfile, address: int) -> None:
        self.profile = profile
        self.address = address
        encode_frame(AcmeFrame(address, PING))  # refuses an address the line cannot carry

    def greeting(self) -> list[bytes]:
        """Nothing to set up on these boards."""
        return []

    def frames(self, content: BoardContent) -> list[bytes]:
        """One text command."""
        profile = self.profile
        colour = content.colour if content.colour in profile.colours else profile.colours[0]
        text = _cut(content.text, profile.framing.text_encoding, profile.framing.max_text_bytes)
        scrolling = content.scrolling and profile.scroll
        payload = text_payload(profile.colour_letters[colour], scrolling, text)
        return [encode_frame(AcmeFrame(self.address, TEXT, payload))]

    def probe(self) -> bytes:
        """A ping."""
        return encode_frame(AcmeFrame(self.address, PING))

    def answer(self) -> Answer:
        """Reads ``ACK <address>``."""
        return _AcmeAnswer(self.address)


class AcmeEmulatedBoard:
    """An Acme board on the far end of the line, for tests, the demo and the bench."""

    def __init__(self, profile: AcmeBoardProfile, address: int) -> None:
        self.profile = profile
        self.address = address
        self.decoder = FrameDecoder()
        self._colours = {letter: colour for colour, letter in profile.colour_letters.items()}

    def feed(self, data: bytes) -> tuple[list[BoardContent], bytes]:
        """What the board shows and answers after hearing ``data`` on the line."""
        shown: list[BoardContent] = []
        answers = b""
        for frame in self.decoder.feed(data):
            if frame.address != self.address:
                continue
            if frame.command == TEXT:
                text = parse_text(frame.payload)
                colour = self._colours.get(text.colour) if text is not None else None
                if text is None or colour is None:
                    answers += encode_answer(self.address, ok=False)
                    continue
                decoded = text.text.decode(self.profile.framing.text_encoding, errors="replace")
                shown.append(BoardContent(decoded, colour, text.scrolling))
            elif frame.command != PING:
                answers += encode_answer(self.address, ok=False)
                continue
            answers += encode_answer(self.address)
        return shown, answers


DRIVER = LedBoardDriver(
    type="acme-ascii",
    profile_model=AcmeBoardProfile,
    codec=AcmeCodec,
    emulator=AcmeEmulatedBoard,
    profile_dirs=(PROFILES,),
)
