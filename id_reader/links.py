"""The USB bulk-pipe link to SAM readers (pyusb); serial readers use ``hallbus.links``.

Links only move bytes, each read and write bounded by a timeout. A vanished device
raises ``LinkGone``; the daemon reports it and reopens the link later.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import usb.core
import usb.util

from hallbus.links import LinkGone
from id_reader.profile import UsbPipes
from id_reader.sam_protocol import HEADER_SIZE, declared_length


class UsbReaderLink:
    """A reader on USB bulk pipes, found by vendor and product id."""

    def __init__(self, pipes: UsbPipes, *, backend: Any = None) -> None:
        self.pipes = pipes
        self.backend = backend  # None: libusb; tests pass an emulated backend
        self._device: Any = None

    def open(self) -> None:
        """Find the device, set its configuration and claim the interface."""
        pipes = self.pipes
        try:
            device = usb.core.find(
                idVendor=pipes.vendor_id, idProduct=pipes.product_id, backend=self.backend
            )
        except (usb.core.USBError, usb.core.NoBackendError, ValueError) as err:
            raise LinkGone(f"USB is not usable here: {err}") from err
        if device is None:
            raise LinkGone(f"no USB device {pipes.vendor_id:04x}:{pipes.product_id:04x}")
        try:
            with contextlib.suppress(NotImplementedError, usb.core.USBError):
                if device.is_kernel_driver_active(pipes.interface):
                    device.detach_kernel_driver(pipes.interface)
            device.set_configuration()
            usb.util.claim_interface(device, pipes.interface)
        except usb.core.USBError as err:
            raise LinkGone(f"cannot claim the reader's USB interface: {err}") from err
        self._device = device

    def close(self) -> None:
        """Release the interface and the device."""
        device, self._device = self._device, None
        if device is not None:
            with contextlib.suppress(usb.core.USBError):
                usb.util.release_interface(device, self.pipes.interface)
                usb.util.dispose_resources(device)

    def _dev(self) -> Any:
        if self._device is None:
            raise LinkGone("the USB reader is not open")
        return self._device

    def write(self, frame: bytes) -> None:
        """Send a frame: its header and its body on their own pipes if the reader splits them."""
        pipes, device = self.pipes, self._dev()
        parts = [(pipes.body_out, frame)]
        if pipes.header_out != pipes.body_out:
            parts = [(pipes.header_out, frame[:HEADER_SIZE]), (pipes.body_out, frame[HEADER_SIZE:])]
        try:
            for endpoint, data in parts:
                device.write(endpoint, data, timeout=pipes.timeout_ms)
        except usb.core.USBError as err:
            raise LinkGone(f"USB write failed: {err}") from err

    def read(self, timeout: float) -> bytes:
        """A reply: the header pipe, then as many body bytes as the header announces."""
        pipes, device = self.pipes, self._dev()
        deadline = time.monotonic() + timeout
        header = self._read(device, pipes.header_in, pipes.packet_size, deadline)
        if pipes.header_in == pipes.body_in or not header:
            return header
        length = declared_length(header)
        if length is None:
            return header  # noise: the decoder will say so
        body = b""
        while len(body) < length - (len(header) - HEADER_SIZE):
            chunk = self._read(device, pipes.body_in, pipes.packet_size * 64, deadline)
            if not chunk:
                break
            body += chunk
        return header + body

    def _read(self, device: Any, endpoint: int, size: int, deadline: float) -> bytes:
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            return b""
        try:
            return bytes(device.read(endpoint, size, timeout=remaining_ms))
        except usb.core.USBTimeoutError:
            return b""
        except usb.core.USBError as err:
            raise LinkGone(f"USB read failed: {err}") from err

    def describe(self) -> str:
        """The device's ids."""
        return f"usb:{self.pipes.vendor_id:04x}:{self.pipes.product_id:04x}"
