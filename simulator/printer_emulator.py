"""A thermal ticket printer on the far end of a serial line (pty) or of TCP port 9100.

It answers ``DLE EOT`` status queries the way the real mechanism does (paper near end,
paper out, cover open, offline), can be told to answer garbage or nothing, or to vanish
mid-ticket, and decodes everything it printed into tickets that tests and the demo can
read as text and save as PNG images.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import qrcode
from PIL import Image, ImageDraw, ImageFont

from kiosk.escpos_status import StatusQuery, encode_answer
from kiosk.profile import PrinterProfile
from simulator.escpos_decoder import (
    Cut,
    Element,
    EscPosDecoder,
    Feed,
    Init,
    QrCode,
    RasterImage,
    StatusRequest,
    TextLine,
)
from simulator.mailbox import Mailbox

log = logging.getLogger(__name__)

ReplyMode = Literal["normal", "silent", "garbage", "partial"]


@dataclass
class PrintedTicket:
    """What came out of the printer between a reset and a cut (or the status check after)."""

    elements: list[Element] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        """The printed text lines, empty ones left out."""
        return [e.text for e in self.elements if isinstance(e, TextLine) and e.text]

    @property
    def qr_codes(self) -> list[str]:
        """Contents of the native QR codes."""
        return [e.content for e in self.elements if isinstance(e, QrCode)]

    @property
    def images(self) -> list[RasterImage]:
        """Raster images (Chinese lines on printers without a Chinese font, image QR codes)."""
        return [e for e in self.elements if isinstance(e, RasterImage)]

    @property
    def cut(self) -> bool:
        """Whether the ticket was cut off."""
        return any(isinstance(e, Cut) for e in self.elements)

    def render(self, width: int, font_path: Path | None) -> Image.Image:
        """The ticket as it would look on paper (black on white, one pixel per dot)."""
        parts: list[tuple[Image.Image, str]] = []
        for element in self.elements:
            if isinstance(element, TextLine):
                parts.append((_text_image(element, width, font_path), element.style.align))
            elif isinstance(element, RasterImage):
                parts.append((raster_to_image(element), element.align))
            elif isinstance(element, QrCode):
                code = qrcode.QRCode(box_size=element.module_dots, border=1)
                code.add_data(element.content)
                parts.append((code.make_image().get_image().convert("1"), element.align))
            elif isinstance(element, Feed):
                parts.append((Image.new("1", (width, 24 * max(element.lines, 1)), 1), "left"))
            elif isinstance(element, Cut):
                cut = Image.new("1", (width, 12), 1)
                ImageDraw.Draw(cut).line([(0, 6), (width, 6)], fill=0, width=1)
                parts.append((cut, "left"))
        height = sum(p.height for p, _ in parts) or 1
        page = Image.new("1", (width, height), 1)
        y = 0
        for part, align in parts:
            x = {"center": (width - part.width) // 2, "right": width - part.width}.get(align, 0)
            page.paste(part, (max(x, 0), y))
            y += part.height
        return page


def raster_to_image(raster: RasterImage) -> Image.Image:
    """A ``GS v 0`` bitmap as an image (ESC/POS 1 bits are black dots)."""
    inverted = bytes(b ^ 0xFF for b in raster.data)
    return Image.frombytes("1", (raster.width, raster.height), inverted)


def _text_image(line: TextLine, width: int, font_path: Path | None) -> Image.Image:
    size = 24 * line.style.height
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont
    font = ImageFont.truetype(str(font_path), size) if font_path else ImageFont.load_default()
    image = Image.new("1", (width, size + 4), 1)
    draw = ImageDraw.Draw(image)
    text_width = draw.textlength(line.text, font=font)
    x = {"center": (width - text_width) / 2, "right": width - text_width}.get(line.style.align, 0)
    draw.text((x, 0), line.text, font=font, fill=0)
    return image


class PrinterEmulator:
    """One printer: status it answers, tickets it printed, and the ports it listens on."""

    def __init__(self, profile: PrinterProfile) -> None:
        self.profile = profile
        self.tickets: Mailbox[PrintedTicket] = Mailbox()
        self.status_queries: Mailbox[int] = Mailbox()
        self.paper_near_end = False
        self.paper_out = False
        self.cover_open = False
        self.offline = False
        self.reply_mode: ReplyMode = "normal"
        self.vanish_after_bytes: int | None = None  # TCP: drop the connection mid-ticket
        self.paper_out_after_bytes: int | None = None  # the roll ends mid-ticket
        self.bytes_received = 0
        self._decoder = EscPosDecoder(encoding=profile.cjk.encoding if profile.cjk else "ascii")
        self._current: PrintedTicket | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pty: tuple[int, int] | None = None
        self._server: socket.socket | None = None
        self._connections: list[socket.socket] = []

    # --- the printer's behaviour ---------------------------------------------------
    def receive(self, data: bytes) -> bytes:
        """Take bytes from the host; return what the printer answers (status bytes)."""
        answers = bytearray()
        with self._lock:
            self.bytes_received += len(data)
            ends = self.paper_out_after_bytes
            if ends is not None and self.bytes_received >= ends:
                self.paper_out, self.paper_out_after_bytes = True, None
            for element in self._decoder.feed(data):
                if isinstance(element, StatusRequest):
                    self.status_queries.put(element.query)
                    self._end_ticket()
                    answers += self._answer(StatusQuery(element.query))
                elif isinstance(element, Init):
                    self._end_ticket()
                    self._current = PrintedTicket([element])
                elif self._current is not None and not self._stopped_printing():
                    self._current.elements.append(element)
                    if isinstance(element, Cut):
                        self._end_ticket()
        return bytes(answers)

    def _stopped_printing(self) -> bool:
        return self.paper_out or self.cover_open or self.offline

    def _end_ticket(self) -> None:
        ticket, self._current = self._current, None
        if ticket is not None and len(ticket.elements) > 1:
            self.tickets.put(ticket)

    def _answer(self, query: StatusQuery) -> bytes:
        if self.reply_mode == "silent":
            return b""
        if self.reply_mode == "garbage":
            return b"\xff\x00"
        value = encode_answer(
            query,
            offline=self.offline,
            cover_open=self.cover_open,
            paper_near_end=self.paper_near_end,
            paper_out=self.paper_out,
        )
        if self.reply_mode == "partial" and query is not StatusQuery.PRINTER:
            return b""
        return bytes((value,))

    # --- serial, through a pty --------------------------------------------------------
    def serve_pty(self) -> str:
        """Listen on a new pseudo-terminal; returns the device path the host opens."""
        master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        self._pty = (master, slave)  # the slave stays open here so reads never hit EIO
        self._spawn(self._pty_loop, master)
        return os.ttyname(slave)

    def _pty_loop(self, master: int) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:
                continue
            answer = self.receive(data)
            if answer:
                os.write(master, answer)

    # --- network, port 9100 --------------------------------------------------------
    def serve_tcp(self, port: int = 0, host: str = "127.0.0.1") -> int:
        """Listen for raw print jobs (as on port 9100); returns the port."""
        server = socket.create_server((host, port))
        server.settimeout(0.1)
        self._server = server
        self._spawn(self._accept_loop, server)
        return int(server.getsockname()[1])

    def _accept_loop(self, server: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._connections.append(conn)
            self._spawn(self._connection_loop, conn)

    def _connection_loop(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                limit = self.vanish_after_bytes
                if limit is not None and self.bytes_received + len(data) >= limit:
                    self.receive(data[: max(limit - self.bytes_received, 0)])
                    self.vanish()
                    return
                answer = self.receive(data)
                if answer:
                    conn.sendall(answer)

    def vanish(self) -> None:
        """The printer is switched off: connections drop and nobody answers."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    # --- lifecycle --------------------------------------------------------------------
    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Stop listening and close the ports."""
        self._stop.set()
        self.vanish()
        for thread in self._threads:
            thread.join(timeout=2)
        if self._pty is not None:
            for fd in self._pty:
                os.close(fd)
            self._pty = None
