"""Incremental ESC/POS decoder: the bytes a printer receives, back into text, images and QR codes.

The printer emulator feeds every received chunk in; whatever a command needs beyond the
chunk waits for the next one. Unknown or malformed commands become ``Unknown`` elements
(one byte skipped) so garbage never stops decoding. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10
MAX_IMAGE_BYTES = 2 * 1024 * 1024  # larger raster headers are noise, not a ticket


@dataclass(frozen=True, slots=True)
class Style:
    """Print settings in force when a line was printed."""

    align: str = "left"
    bold: bool = False
    width: int = 1
    height: int = 1


@dataclass(frozen=True, slots=True)
class TextLine:
    """One printed line of text."""

    text: str
    style: Style


@dataclass(frozen=True, slots=True)
class RasterImage:
    """A ``GS v 0`` image: ``width`` dots wide, 1 bit per dot, rows of ``width / 8`` bytes."""

    width: int
    height: int
    data: bytes
    align: str


@dataclass(frozen=True, slots=True)
class QrCode:
    """A native QR code (``GS ( k``) printed with this content."""

    content: str
    module_dots: int
    align: str


@dataclass(frozen=True, slots=True)
class Cut:
    """The paper was cut (``GS V``)."""

    partial: bool


@dataclass(frozen=True, slots=True)
class Feed:
    """Blank lines fed (``ESC d n``)."""

    lines: int


@dataclass(frozen=True, slots=True)
class Init:
    """``ESC @``: the printer was reset; a ticket starts."""


@dataclass(frozen=True, slots=True)
class StatusRequest:
    """``DLE EOT n``: the host asks for status ``n``; a real printer answers at once."""

    query: int


@dataclass(frozen=True, slots=True)
class Unknown:
    """A byte that starts no command this decoder knows."""

    byte: int


Element = TextLine | RasterImage | QrCode | Cut | Feed | Init | StatusRequest | Unknown


class _NeedMore(Exception):
    """The buffer ends inside a command."""


@dataclass
class EscPosDecoder:
    """Decodes a printer's input stream chunk by chunk."""

    encoding: str = "gb18030"  # used in Chinese mode (FS &); ASCII otherwise
    _buffer: bytearray = field(default_factory=bytearray)
    _text: bytearray = field(default_factory=bytearray)
    _style: Style = field(default_factory=Style)
    _cjk: bool = False
    _qr_size: int = 3
    _qr_data: bytes = b""

    def feed(self, data: bytes) -> list[Element]:
        """Decode what ``data`` completes; the rest waits in the buffer."""
        self._buffer += data
        out: list[Element] = []
        while self._buffer:
            try:
                used = self._one(out)
            except _NeedMore:
                break
            del self._buffer[:used]
        return out

    def flush(self) -> list[Element]:
        """Text still waiting for its line feed, as a line (the stream ended)."""
        out: list[Element] = []
        self._end_line(out)
        return out

    # --- one command ------------------------------------------------------------
    def _need(self, count: int) -> None:
        if len(self._buffer) < count:
            raise _NeedMore

    def _one(self, out: list[Element]) -> int:
        b = self._buffer
        first = b[0]
        if first == 0x0A:
            self._end_line(out, force=True)
            return 1
        if first == 0x0D:
            return 1
        if first == DLE:
            self._need(3)
            if b[1] == 0x04 and 1 <= b[2] <= 4:
                out.append(StatusRequest(b[2]))
                return 3
            out.append(Unknown(first))
            return 1
        if first == ESC:
            return self._esc(out)
        if first == GS:
            return self._gs(out)
        if first == FS:
            self._need(2)
            if b[1] in (0x26, 0x2E):  # FS & / FS . : Chinese mode on / off
                self._cjk = b[1] == 0x26
                return 2
            out.append(Unknown(first))
            return 1
        if first < 0x20 and first != 0x09:
            out.append(Unknown(first))
            return 1
        self._text.append(first)
        return 1

    def _esc(self, out: list[Element]) -> int:
        b = self._buffer
        self._need(2)
        op = b[1]
        if op == 0x40:  # ESC @
            self._end_line(out)
            self._style = Style()
            self._cjk = False
            out.append(Init())
            return 2
        if op in (0x32,):  # ESC 2: default line spacing
            return 2
        self._need(3)
        n = b[2]
        if op == 0x61:  # ESC a n
            self._style = replace(
                self._style, align={0: "left", 1: "center", 2: "right"}.get(n % 48, "left")
            )
            return 3
        if op == 0x45:  # ESC E n
            self._style = replace(self._style, bold=bool(n & 1))
            return 3
        if op == 0x21:  # ESC ! n: bit 4 double height, bit 5 double width, bit 3 bold
            self._style = replace(
                self._style,
                bold=bool(n & 0x08),
                height=2 if n & 0x10 else 1,
                width=2 if n & 0x20 else 1,
            )
            return 3
        if op == 0x64:  # ESC d n
            self._end_line(out)
            out.append(Feed(n))
            return 3
        if op in (0x2D, 0x4D, 0x74, 0x33, 0x4A, 0x7B, 0x56, 0x47, 0x52, 0x20):
            return 3  # underline, font, code table, spacing, feed dots, flips: no text effect
        out.append(Unknown(ESC))
        return 1

    def _gs(self, out: list[Element]) -> int:
        b = self._buffer
        self._need(2)
        op = b[1]
        if op == 0x21:  # GS ! n: width in the high nibble, height in the low
            self._need(3)
            n = b[2]
            self._style = replace(self._style, width=(n >> 4) % 8 + 1, height=(n & 0x0F) % 8 + 1)
            return 3
        if op == 0x42:  # GS B n: reverse
            self._need(3)
            return 3
        if op == 0x56:  # GS V m [n]
            self._need(3)
            m = b[2]
            self._end_line(out)
            if m in (0x41, 0x42, 65, 66):
                self._need(4)
                out.append(Cut(partial=m in (0x42, 66)))
                return 4
            out.append(Cut(partial=m in (1, 0x31)))
            return 3
        if op == 0x76:  # GS v 0 m xL xH yL yH d...
            self._need(8)
            if b[2] != 0x30:
                out.append(Unknown(GS))
                return 1
            width_bytes = b[4] | b[5] << 8
            height = b[6] | b[7] << 8
            size = width_bytes * height
            if size > MAX_IMAGE_BYTES or size == 0:
                out.append(Unknown(GS))
                return 1
            self._need(8 + size)
            self._end_line(out)
            out.append(
                RasterImage(width_bytes * 8, height, bytes(b[8 : 8 + size]), self._style.align)
            )
            return 8 + size
        if op == 0x28 and len(b) >= 3 and b[2] in (0x6B, 0x4C):  # GS ( k / GS ( L
            self._need(5)
            length = b[3] | b[4] << 8
            self._need(5 + length)
            body = bytes(b[5 : 5 + length])
            if b[2] == 0x6B:
                self._qr_function(body, out)
            return 5 + length
        self._need(3)
        out.append(Unknown(GS))
        return 1

    def _qr_function(self, body: bytes, out: list[Element]) -> None:
        if len(body) < 2 or body[0] != 0x31:  # cn 49: QR code
            return
        fn = body[1]
        if fn == 0x43 and len(body) >= 3:  # module size
            self._qr_size = body[2]
        elif fn == 0x50 and len(body) >= 3:  # store data (after m = 48)
            self._qr_data = body[3:]
        elif fn == 0x51:  # print stored symbol
            self._end_line(out)
            content = self._qr_data.decode("utf-8", errors="replace")
            out.append(QrCode(content, self._qr_size, self._style.align))

    def _end_line(self, out: list[Element], *, force: bool = False) -> None:
        if not self._text and not force:
            return
        encoding = self.encoding if self._cjk else "ascii"
        out.append(TextLine(bytes(self._text).decode(encoding, errors="replace"), self._style))
        self._text.clear()
