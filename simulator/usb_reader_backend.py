"""An emulated USB port for pyusb: the ID reader emulator behind bulk endpoints.

pyusb lets a program choose its backend; the daemon's ``UsbReaderLink`` runs its real
code path (find, set configuration, claim, bulk transfers with timeouts) against this
one instead of libusb, because no reader is plugged into this machine. It presents one
device with the profile's ids and endpoints and moves frames to and from the emulator,
splitting them over header and body pipes as SAM_V modules do.
"""

from __future__ import annotations

import errno
import threading
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import usb.core
from usb.backend import IBackend

from id_reader.profile import UsbPipes
from id_reader.sam_protocol import HEADER_SIZE, declared_length
from simulator.id_reader_emulator import IdReaderEmulator

_BULK = 0x02


class EmulatedUsbReader(IBackend):  # type: ignore[misc]
    """A pyusb backend with one SAM reader on it, which can be unplugged and plugged back."""

    def __init__(self, emulator: IdReaderEmulator, pipes: UsbPipes) -> None:
        self.emulator = emulator
        self.pipes = pipes
        self.plugged = True
        self.transfers = 0
        self._header_written = b""
        self._inbox: dict[int, bytearray] = defaultdict(bytearray)
        self._cond = threading.Condition()
        self._device = object()

    # --- plugging -------------------------------------------------------------------
    def unplug(self) -> None:
        """Pull the cable: the device disappears and transfers fail."""
        with self._cond:
            self.plugged = False
            self._inbox.clear()
            self._cond.notify_all()

    def plug(self) -> None:
        """Plug it back in."""
        with self._cond:
            self.plugged = True

    def _check(self) -> None:
        if not self.plugged:
            raise usb.core.USBError(
                "No such device (it may have been disconnected)", -4, errno.ENODEV
            )

    # --- descriptors ------------------------------------------------------------------
    def enumerate_devices(self) -> Any:
        """The reader, while plugged in."""
        return [self._device] if self.plugged else []

    def get_device_descriptor(self, dev: Any) -> Any:
        """A full-speed vendor-specific device."""
        return SimpleNamespace(
            bLength=18, bDescriptorType=1, bcdUSB=0x0200, bDeviceClass=0, bDeviceSubClass=0,
            bDeviceProtocol=0, bMaxPacketSize0=64, idVendor=self.pipes.vendor_id,
            idProduct=self.pipes.product_id, bcdDevice=0x0100, iManufacturer=0, iProduct=0,
            iSerialNumber=0, bNumConfigurations=1, address=7, bus=1, port_number=1,
            port_numbers=(1,), speed=2,
        )  # fmt: skip

    def _endpoints(self) -> list[int]:
        pipes = self.pipes
        return sorted({pipes.header_out, pipes.body_out, pipes.header_in, pipes.body_in})

    def get_configuration_descriptor(self, dev: Any, config: int) -> Any:
        """One configuration."""
        if config != 0:
            raise IndexError(config)
        return SimpleNamespace(
            bLength=9, bDescriptorType=2, wTotalLength=18 + 7 * len(self._endpoints()),
            bNumInterfaces=1, bConfigurationValue=1, iConfiguration=0, bmAttributes=0xC0,
            bMaxPower=50, extra_descriptors=[],
        )  # fmt: skip

    def get_interface_descriptor(self, dev: Any, intf: int, alt: int, config: int) -> Any:
        """One vendor-specific interface with the bulk endpoints."""
        if intf != self.pipes.interface or alt != 0:
            raise IndexError((intf, alt))
        return SimpleNamespace(
            bLength=9, bDescriptorType=4, bInterfaceNumber=intf, bAlternateSetting=0,
            bNumEndpoints=len(self._endpoints()), bInterfaceClass=0xFF, bInterfaceSubClass=0,
            bInterfaceProtocol=0, iInterface=0, extra_descriptors=[],
        )  # fmt: skip

    def get_endpoint_descriptor(self, dev: Any, ep: int, intf: int, alt: int, config: int) -> Any:
        """A bulk endpoint."""
        return SimpleNamespace(
            bLength=7, bDescriptorType=5, bEndpointAddress=self._endpoints()[ep],
            bmAttributes=_BULK, wMaxPacketSize=self.pipes.packet_size, bInterval=0, bRefresh=0,
            bSynchAddress=0, extra_descriptors=[],
        )  # fmt: skip

    # --- the session ------------------------------------------------------------------
    def open_device(self, dev: Any) -> Any:
        """A handle."""
        self._check()
        return dev

    def close_device(self, dev_handle: Any) -> None:
        """Nothing to free."""

    def set_configuration(self, dev_handle: Any, config_value: int) -> None:
        """Accept the only configuration."""
        self._check()

    def get_configuration(self, dev_handle: Any) -> int:
        """The only configuration."""
        self._check()
        return 1

    def claim_interface(self, dev_handle: Any, intf: int) -> None:
        """Accept."""
        self._check()

    def release_interface(self, dev_handle: Any, intf: int) -> None:
        """Accept."""

    # --- transfers ----------------------------------------------------------------------
    def bulk_write(self, dev_handle: Any, ep: int, intf: int, data: Any, timeout: int) -> int:
        """Bytes from the host: a header pipe waits for its body pipe, then the reader answers."""
        self._check()
        raw = bytes(data)
        self.transfers += 1
        split = self.pipes.header_out != self.pipes.body_out
        if split and ep == self.pipes.header_out:
            self._header_written = raw
            return len(raw)
        frame, self._header_written = self._header_written + raw, b""
        answer = self.emulator.receive(frame)
        if answer:
            with self._cond:
                self._queue_answer(answer)
                self._cond.notify_all()
        return len(raw)

    def _queue_answer(self, answer: bytes) -> None:
        pipes = self.pipes
        if pipes.header_in == pipes.body_in or declared_length(answer) is None:
            self._inbox[pipes.body_in] += answer
            return
        self._inbox[pipes.header_in] += answer[:HEADER_SIZE]
        self._inbox[pipes.body_in] += answer[HEADER_SIZE:]

    def bulk_read(self, dev_handle: Any, ep: int, intf: int, buff: Any, timeout: int) -> int:
        """Bytes for the host, or a timeout error as libusb gives it."""
        with self._cond:
            ready = self._cond.wait_for(
                lambda: not self.plugged or bool(self._inbox[ep]), timeout / 1000
            )
            self._check()
            if not ready:
                raise usb.core.USBTimeoutError("Operation timed out", -7, errno.ETIMEDOUT)
            pending = self._inbox[ep]
            size = min(len(buff), len(pending))
            buff[:size] = type(buff)(buff.typecode, pending[:size])
            del pending[:size]
            return size

    def clear_halt(self, dev_handle: Any, ep: int) -> None:
        """Nothing stalls here."""
