"""From a profile and a port to the reader driver the daemon polls."""

from __future__ import annotations

from typing import Any

from hallbus.input_keys import EvdevKeySource
from hallbus.links import SerialLink
from id_reader.links import UsbReaderLink
from id_reader.profile import ReaderProfile, SamSerialProfile, SamUsbProfile
from id_reader.sam_reader import SamCardSource
from id_reader.sources import CardSource
from id_reader.wedge_source import WedgeCardSource


def card_source_for(
    profile: ReaderProfile, port: str | None, *, usb_backend: Any = None
) -> CardSource:
    """The driver for ``profile``: ``port`` is the serial device, or the input device of a
    keyboard wedge (found by the profile's device name when omitted); USB readers are
    found by their ids."""
    if isinstance(profile, SamSerialProfile):
        if not port:
            raise ValueError(f"profile {profile.id} is a serial reader: give its --port")
        return SamCardSource(SerialLink(port, profile.serial), profile.timing)
    if isinstance(profile, SamUsbProfile):
        return SamCardSource(UsbReaderLink(profile.usb, backend=usb_backend), profile.timing)
    return WedgeCardSource(profile, EvdevKeySource(profile.wedge.device_name, path=port))
