"""A shared serial line (RS-485 behind a USB adapter): its settings and the byte link.

The counter bus and the LED wall both drive one half-duplex line from one thread through
:class:`LineLink`; tests and the demo put an emulator's pty behind the same link.
"""

from __future__ import annotations

import contextlib
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


class LineGone(OSError):
    """The line's serial adapter is missing or was unplugged."""


class LineLink(Protocol):
    """Moves bytes on one serial line."""

    def open(self) -> None:
        """Open the port; ``LineGone`` if it is not there."""

    def close(self) -> None:
        """Release the port (safe twice)."""

    def write(self, data: bytes) -> None:
        """Send bytes."""

    def read(self, timeout: float) -> bytes:
        """What arrived within ``timeout``."""

    def describe(self) -> str:
        """Which port."""


class SerialLineLink:
    """An RS-485 adapter (CH340, CP210x, FTDI...) through pyserial."""

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
            raise LineGone(f"cannot open {self.port}: {err}") from err

    def close(self) -> None:
        """Close the port."""
        port, self._serial = self._serial, None
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()

    def write(self, data: bytes) -> None:
        """Send a frame."""
        if self._serial is None:
            raise LineGone(f"{self.port} is not open")
        try:
            self._serial.write(data)
        except (serial.SerialException, OSError) as err:
            raise LineGone(f"{self.port} failed: {err}") from err

    def read(self, timeout: float) -> bytes:
        """Bytes within ``timeout``."""
        if self._serial is None:
            raise LineGone(f"{self.port} is not open")
        try:
            self._serial.timeout = timeout
            first: bytes = self._serial.read(1)
            if not first:
                return b""
            rest: bytes = self._serial.read(self._serial.in_waiting)
            return first + rest
        except (serial.SerialException, OSError) as err:
            raise LineGone(f"{self.port} failed: {err}") from err

    def describe(self) -> str:
        """The port path."""
        return self.port
