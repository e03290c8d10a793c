"""Byte links to devices: one interface, one "gone" error, one serial link, one runner.

Every device daemon moves bytes through a ``ByteLink`` (a serial port, a pty, USB bulk
pipes, a ``/dev/usb/lp*`` file, a TCP socket); a missing, unplugged or failed device is
always ``LinkGone``. ``LinkRunner`` owns a link's thread: it opens the link, runs the
owner's step while it is open, and when it goes, tells the owner, closes it and opens it
again with backoff. Tests and the demo put an emulator's pty behind the same links.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Literal, Protocol

import serial
from pydantic import BaseModel, ConfigDict


class SerialLine(BaseModel):
    """A line's serial settings (RS-485 device buses mostly run 9600 8N1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    baudrate: int = 9600
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1

    def seconds_for(self, size: int) -> float:
        """How long ``size`` bytes take on the wire (start bit, data bits, parity, stop bits)."""
        bits = 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits
        return size * bits / self.baudrate


log = logging.getLogger(__name__)


class LinkGone(OSError):
    """The device's port, file, socket or USB device is missing, was unplugged, or failed."""


class ByteLink(Protocol):
    """Moves bytes to and from a device (or a line of devices)."""

    def open(self) -> None:
        """Open the port; ``LinkGone`` if it is not there."""

    def close(self) -> None:
        """Release the port (safe twice)."""

    def write(self, data: bytes) -> None:
        """Send bytes; ``LinkGone`` on failure."""

    def read(self, timeout: float) -> bytes:
        """What arrived within ``timeout``; empty if nothing did."""

    def describe(self) -> str:
        """Where the device is, for status and logs."""


class SerialLink:
    """A serial port or a USB-serial bridge (CH340, CP210x, FTDI...) through pyserial."""

    def __init__(self, port: str, line: SerialLine) -> None:
        self.port = port
        self.line = line
        self._serial: serial.Serial | None = None

    def open(self) -> None:
        """Open with the line's settings."""
        line = self.line
        try:
            self._serial = serial.Serial(
                self.port,
                baudrate=line.baudrate,
                bytesize=line.bytesize,
                parity=line.parity,
                stopbits=line.stopbits,
                timeout=0,
                write_timeout=1.0,
            )
        except (serial.SerialException, OSError) as err:
            raise LinkGone(f"cannot open {self.port}: {err}") from err

    def close(self) -> None:
        """Close the port."""
        port, self._serial = self._serial, None
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()

    def write(self, data: bytes) -> None:
        """Send a frame."""
        if self._serial is None:
            raise LinkGone(f"{self.port} is not open")
        try:
            self._serial.write(data)
        except (serial.SerialException, OSError) as err:
            raise LinkGone(f"{self.port} failed: {err}") from err

    def read(self, timeout: float) -> bytes:
        """Bytes within ``timeout``."""
        if self._serial is None:
            raise LinkGone(f"{self.port} is not open")
        try:
            self._serial.timeout = timeout
            first: bytes = self._serial.read(1)
            if not first:
                return b""
            self._serial.timeout = 0
            rest: bytes = self._serial.read(self._serial.in_waiting or 0)
            return first + rest
        except (serial.SerialException, OSError) as err:
            # pyserial reports an unplugged USB-serial bridge as "readiness to read but
            # returned no data": the device node is gone.
            raise LinkGone(f"{self.port} failed: {err}") from err

    def describe(self) -> str:
        """The port path."""
        return self.port


class LinkRunner:
    """The thread that owns one link: open it, run ``step`` while it is open, reopen it.

    ``step`` does one slice of the owner's work (read what arrived, answer, send what is
    due) and returns; it may raise ``LinkGone``. ``on_open`` runs each time the link
    opens (the owner resends what its devices show: they may have lost power with the
    adapter), ``on_gone`` each time it goes or cannot be opened (the owner marks its
    devices unplugged). Between attempts the runner waits ``reconnect_s``, doubling up to
    ``max_backoff`` times that, so a pulled adapter costs nothing while it is away and is
    found again within seconds. Any other error in a step is logged and the loop goes on:
    one device's bad answer never stops the line for the others.
    """

    def __init__(
        self,
        link: ByteLink,
        name: str,
        *,
        step: Callable[[], None],
        on_open: Callable[[], None],
        on_gone: Callable[[LinkGone], None],
        reconnect_s: float,
        max_backoff: int = 4,
    ) -> None:
        self.link = link
        self.name = name
        self.step = step
        self.on_open = on_open
        self.on_gone = on_gone
        self.reconnect_s = reconnect_s
        self.max_backoff = max_backoff
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run in a thread of its own."""
        self.stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close the link."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.link.close()

    def _run(self) -> None:
        wait = self.reconnect_s
        while not self.stopping.is_set():
            try:
                self.link.open()
            except LinkGone as err:
                log.debug("link not there", extra={"link": self.link.describe(), "error": str(err)})
                self.on_gone(err)
                self.stopping.wait(wait)
                wait = min(wait * 2, self.reconnect_s * self.max_backoff)
                continue
            wait = self.reconnect_s
            log.info("link open", extra={"link": self.link.describe()})
            self.on_open()
            self._while_open()

    def _while_open(self) -> None:
        while not self.stopping.is_set():
            try:
                self.step()
            except LinkGone as err:
                log.warning("link lost", extra={"link": self.link.describe(), "error": str(err)})
                self.link.close()
                self.on_gone(err)
                self.stopping.wait(self.reconnect_s)
                return
            except Exception:
                log.exception("link step failed", extra={"link": self.link.describe()})
