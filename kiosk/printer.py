"""Ticket printer I/O: the links (serial, network 9100, USB, ``/dev/usb/lp*``) and status checks.

Links only move bytes; they wrap python-escpos's backends where those fit. Every read and
write has a timeout, so a jammed or vanished printer becomes a fault, never a hang.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from escpos.printer import Network, Serial, Usb

from hallbus.links import ByteLink, LinkGone
from hallbus.messages import PrinterFault, PrintState
from kiosk.escpos_status import ROUTINE_QUERIES, StatusAnswers, StatusQuery, StatusReplyError
from kiosk.profile import PrinterProfile

log = logging.getLogger(__name__)

CHUNK = 4096  # bytes per write, so a slow serial line reports progress and timeouts


@dataclass(frozen=True)
class PrinterAddress:
    """Where a printer is: ``serial:/dev/ttyUSB0?baudrate=9600``, ``tcp:host:9100``,
    ``usb:0416:5011`` or ``lp:/dev/usb/lp0``."""

    scheme: str
    target: str
    port: int | None = None
    baudrate: int | None = None

    @classmethod
    def parse(cls, text: str) -> PrinterAddress:
        """Parse an address; ValueError with the accepted forms otherwise."""
        scheme, _, rest = text.partition(":")
        if scheme in ("serial", "lp") and rest.startswith("/"):
            parts = urlsplit(f"{scheme}://{rest}" if not rest.startswith("//") else text)
            path = parts.path
            baud = parse_qs(parts.query).get("baudrate", [None])[0]
            return cls(scheme, path, baudrate=int(baud) if baud else None)
        if scheme == "tcp" and rest:
            host, _, port = rest.lstrip("/").partition(":")
            return cls("tcp", host, port=int(port) if port else 9100)
        if scheme == "usb" and re.fullmatch(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{4}", rest):
            return cls("usb", rest)
        raise ValueError(
            f"printer address {text!r}: use serial:/dev/ttyUSB0[?baudrate=N], tcp:HOST[:PORT],"
            " usb:VVVV:PPPP or lp:/dev/usb/lp0"
        )


class _BackendLink:
    """Opening and closing one python-escpos backend; subclasses move the bytes."""

    name = "printer"

    def __init__(self) -> None:
        self._printer: Any = None

    def _backend(self) -> Any:
        raise NotImplementedError

    def describe(self) -> str:
        """Which printer, for status and logs."""
        return self.name

    def open(self) -> None:
        """Open the backend's port, socket or device."""
        printer = self._backend()
        try:
            printer.open()
        except Exception as err:  # python-escpos raises its own DeviceNotFoundError
            raise LinkGone(f"cannot open {self.name}: {err}") from err
        self._printer = printer
        self._opened(printer)

    def _opened(self, printer: Any) -> None:
        """Settings the backend leaves out."""

    def close(self) -> None:
        """Close it (safe to call twice)."""
        printer, self._printer = self._printer, None
        if printer is not None:
            with contextlib.suppress(Exception):
                printer.close()

    def _open_printer(self) -> Any:
        if self._printer is None:
            raise LinkGone(f"{self.name} is not open")
        return self._printer


class SerialLink(_BackendLink):
    """A serial printer through python-escpos's Serial backend (pyserial)."""

    def __init__(self, path: str, baudrate: int, write_timeout: float) -> None:
        super().__init__()
        self.name = self.path = path
        self.baudrate = baudrate
        self.write_timeout = write_timeout

    def _backend(self) -> Any:
        return Serial(devfile=self.path, baudrate=self.baudrate, timeout=0.2)

    def _opened(self, printer: Any) -> None:
        printer.device.write_timeout = self.write_timeout

    def write(self, data: bytes) -> None:
        """Send bytes."""
        device = self._open_printer().device
        try:
            device.write(data)
        except Exception as err:  # pyserial's SerialTimeoutException / SerialException
            raise LinkGone(f"write to {self.path} failed: {err}") from err

    def read(self, timeout: float) -> bytes:
        """Wait up to ``timeout`` for the first byte, then take what else is there."""
        device = self._open_printer().device
        try:
            device.timeout = timeout
            first: bytes = device.read(1)
            return first + (device.read(device.in_waiting) if first else b"")
        except Exception as err:
            raise LinkGone(f"read from {self.path} failed: {err}") from err


class NetworkLink(_BackendLink):
    """A network printer (raw port 9100) through python-escpos's Network backend."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        super().__init__()
        self.host = host
        self.port = port
        self.timeout = timeout
        self.name = f"{host}:{port}"

    def _backend(self) -> Any:
        return Network(host=self.host, port=self.port, timeout=self.timeout)

    def write(self, data: bytes) -> None:
        """Send bytes."""
        try:
            self._open_printer().device.sendall(data)
        except OSError as err:
            raise LinkGone(f"write to {self.name} failed: {err}") from err

    def read(self, timeout: float) -> bytes:
        """What the printer sent within ``timeout``; LinkGone if it hung up."""
        sock = self._open_printer().device
        try:
            sock.settimeout(timeout)
            data: bytes = sock.recv(64)
        except (TimeoutError, BlockingIOError):  # a zero timeout makes the socket non-blocking
            return b""
        except OSError as err:
            raise LinkGone(f"read from {self.name} failed: {err}") from err
        finally:
            with contextlib.suppress(OSError):
                sock.settimeout(self.timeout)
        if not data:
            raise LinkGone(f"{self.name} closed the connection")
        return data


class UsbLink(_BackendLink):
    """A USB printer through python-escpos's Usb backend (pyusb), with a timeout."""

    def __init__(self, vendor_id: int, product_id: int, timeout_ms: int) -> None:
        super().__init__()
        self.vendor_id = vendor_id
        self.product_id = product_id
        self.timeout_ms = timeout_ms
        self.name = f"USB printer {vendor_id:04x}:{product_id:04x}"

    def _backend(self) -> Any:
        # python-escpos's default timeout is 0 (wait forever): a jammed printer would hang us.
        return Usb(self.vendor_id, self.product_id, timeout=self.timeout_ms)

    def write(self, data: bytes) -> None:
        """Send bytes on the bulk OUT endpoint."""
        printer = self._open_printer()
        try:
            printer.device.write(printer.out_ep, data, self.timeout_ms)
        except Exception as err:  # usb.core.USBError, USBTimeoutError
            raise LinkGone(f"USB write failed: {err}") from err

    def read(self, timeout: float) -> bytes:
        """Read the bulk IN endpoint."""
        printer = self._open_printer()
        try:
            return bytes(printer.device.read(printer.in_ep, 64, int(timeout * 1000)))
        except Exception as err:
            if "timed out" in str(err).lower():
                return b""
            raise LinkGone(f"USB read failed: {err}") from err


class LpLink:
    """A ``/dev/usb/lp*`` device of the kernel's usblp driver, opened once for both ways.

    python-escpos's File backend opens for writing only; usblp allows a single open, and
    status answers come back on the same file, so this link opens it read-write itself.
    """

    def describe(self) -> str:
        """The device file."""
        return self.path

    def __init__(self, path: str, write_timeout: float) -> None:
        self.path = path
        self.write_timeout = write_timeout
        self._fd: int | None = None

    def open(self) -> None:
        """Open the device file."""
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as err:
            raise LinkGone(f"cannot open {self.path}: {err}") from err

    def close(self) -> None:
        """Close the device file."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def write(self, data: bytes) -> None:
        """Send bytes, waiting for the device to take them."""
        fd = self._open_fd()
        view = memoryview(data)
        deadline = time.monotonic() + self.write_timeout
        while view:
            _, ready, _ = select.select([], [fd], [], max(deadline - time.monotonic(), 0))
            if not ready:
                raise LinkGone(f"{self.path} took no data for {self.write_timeout:.0f} s")
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                continue
            except OSError as err:
                raise LinkGone(f"write to {self.path} failed: {err}") from err

    def read(self, timeout: float) -> bytes:
        """What the printer sent within ``timeout``."""
        fd = self._open_fd()
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(fd, 64)
        except BlockingIOError:
            return b""
        except OSError as err:
            raise LinkGone(f"read from {self.path} failed: {err}") from err

    def _open_fd(self) -> int:
        if self._fd is None:
            raise LinkGone(f"{self.path} is not open")
        return self._fd


def open_link(address: PrinterAddress, profile: PrinterProfile) -> ByteLink:
    """The link for ``address`` (not yet opened), with the profile's settings."""
    write_timeout = 10.0
    if address.scheme == "serial":
        return SerialLink(address.target, address.baudrate or profile.baudrate, write_timeout)
    if address.scheme == "tcp":
        return NetworkLink(address.target, address.port or 9100, write_timeout)
    if address.scheme == "usb":
        vendor, product = (int(x, 16) for x in address.target.split(":"))
        return UsbLink(vendor, product, profile.usb_timeout_ms)
    return LpLink(address.target, write_timeout)


@dataclass(frozen=True, slots=True)
class PrintOutcome:
    """What became of one ticket at the printer."""

    state: PrintState
    faults: tuple[PrinterFault, ...]
    attempts: int
    written_at: float | None = None  # time.monotonic() when the last byte was handed over


class TicketPrinter:
    """One printer: its status, and printing a ticket with a status check before and after."""

    def __init__(
        self, link: ByteLink, profile: PrinterProfile, *, status_timeout: float = 0.5
    ) -> None:
        self.link = link
        self.profile = profile
        self.status_timeout = status_timeout
        self._open = False

    def close(self) -> None:
        """Close the link."""
        self.link.close()
        self._open = False

    def status(self) -> list[PrinterFault]:
        """Ask the printer how it is (DLE EOT); faults, empty when it is ready."""
        if not self._ensure_open():
            return [PrinterFault.DISCONNECTED]
        if not self.profile.realtime_status:
            return []
        try:
            self.link.read(0)  # drop stale bytes: a late answer must not be read as this one
            answers: dict[StatusQuery, int] = {}
            for query in ROUTINE_QUERIES:
                answers[query] = self._ask(query)
            if StatusAnswers(answers).needs_error_cause:
                answers[StatusQuery.ERROR_CAUSE] = self._ask(StatusQuery.ERROR_CAUSE)
            return StatusAnswers(answers).faults()
        except LinkGone as err:
            log.warning("printer link failed", extra={"error": str(err)})
            self.close()
            return [PrinterFault.DISCONNECTED]
        except StatusReplyError as err:
            log.warning("printer answered garbage", extra={"error": str(err)})
            return [PrinterFault.NO_RESPONSE]

    def _ask(self, query: StatusQuery) -> int:
        self.link.write(query.command)
        answer = self.link.read(self.status_timeout)
        if len(answer) != 1:
            raise StatusReplyError(f"DLE EOT {query.value}: {len(answer)} bytes instead of one")
        return answer[0]

    def print_ticket(self, data: bytes, *, attempts: int = 2) -> PrintOutcome:
        """Print ``data`` if the printer is ready; after a lost link, try once more."""
        faults: list[PrinterFault] = []
        for attempt in range(1, attempts + 1):
            faults = self.status()
            if any(f.blocks_printing for f in faults):
                return PrintOutcome(PrintState.FAILED, tuple(faults), attempt)
            try:
                for start in range(0, len(data), CHUNK):
                    self.link.write(data[start : start + CHUNK])
            except LinkGone as err:
                log.warning("ticket write failed", extra={"error": str(err), "attempt": attempt})
                self.close()
                faults = [PrinterFault.DISCONNECTED]
                continue
            written_at = time.monotonic()
            # Paper can run out or the cover open while the ticket prints.
            faults = self.status()
            state = PrintState.FAILED if any(f.blocks_printing for f in faults) else None
            return PrintOutcome(state or PrintState.PRINTED, tuple(faults), attempt, written_at)
        return PrintOutcome(PrintState.FAILED, tuple(faults), attempts)

    def _ensure_open(self) -> bool:
        if self._open:
            return True
        try:
            self.link.open()
        except LinkGone as err:
            log.warning("printer not reachable", extra={"error": str(err)})
            return False
        self._open = True
        return True
