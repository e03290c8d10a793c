"""USB SAM readers: pyusb's real code path against an emulated port (no reader is plugged
into this machine, so libusb is replaced by ``EmulatedUsbReader``, pyusb's backend API)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from hallbus.daemon import DeviceDaemon
from hallbus.hall_file import HallConfig
from hallbus.links import LinkGone
from hallbus.settings import BusSettings
from id_reader.daemon import IdReaderDaemon, IdReaderSettings
from id_reader.drivers import load_reader_profile
from id_reader.links import UsbReaderLink
from id_reader.profile import SamUsbProfile
from id_reader.sam_protocol import Command, Response, SamDecoder, Status, encode_request
from id_reader.sam_reader import SamCardSource
from simulator.id_cards import ELDERLY_RESIDENT
from simulator.id_reader_emulator import IdReaderEmulator
from simulator.usb_reader_backend import EmulatedUsbReader
from tests.conftest import WAIT
from tests.id_reader.readers import FAST, HASHER, healthy, watch


@pytest.fixture
def profile() -> SamUsbProfile:
    """The shipped USB reader profile."""
    loaded = load_reader_profile("sam-v-usb")
    assert isinstance(loaded, SamUsbProfile)
    return loaded


@pytest.fixture
def port(profile: SamUsbProfile) -> Iterator[EmulatedUsbReader]:
    """The emulated reader on an emulated USB port."""
    emulator = IdReaderEmulator()
    yield EmulatedUsbReader(emulator, profile.usb)
    emulator.stop()


def test_frames_travel_split_over_header_and_body_pipes(
    profile: SamUsbProfile, port: EmulatedUsbReader
) -> None:
    link = UsbReaderLink(profile.usb, backend=port)
    link.open()
    link.write(encode_request(Command.SAM_STATUS))
    assert port.transfers == 2  # preamble and length on 0x02, the rest on 0x06
    assert SamDecoder("response").feed(link.read(1.0)) == [Response(0, 0, Status.OK)]
    assert link.read(0.05) == b""  # nothing more: a timeout, not an error
    link.close()


def test_a_missing_reader_is_reported(profile: SamUsbProfile, port: EmulatedUsbReader) -> None:
    port.unplug()
    with pytest.raises(LinkGone, match="no USB device 0400:c35a"):
        UsbReaderLink(profile.usb, backend=port).open()


def test_usb_reader_daemon_taps_and_survives_replugging(
    profile: SamUsbProfile,
    port: EmulatedUsbReader,
    devices: Callable[..., DeviceDaemon],
    bus: BusSettings,
    hall: HallConfig,
) -> None:
    observed = watch(bus, hall.id, "idr-usb")
    source = SamCardSource(UsbReaderLink(profile.usb, backend=port), FAST)
    devices(IdReaderDaemon, "idr-usb", source, HASHER, IdReaderSettings())
    assert observed.status(healthy)
    port.emulator.place(ELDERLY_RESIDENT)
    assert observed.events.wait_count(1, WAIT)
    assert observed.cards()[0].id_hash == HASHER.hash(ELDERLY_RESIDENT.id_number)
    seen = observed.seen()
    port.unplug()
    gone = observed.status(lambda s: "reader_unplugged" in s.faults, after=seen)
    assert gone is not None and gone.detail["reader"] == "usb:0400:c35a"
    port.plug()
    assert observed.recovers("reader_unplugged", after=seen)
    assert len(observed.cards()) == 1
    observed.stop()
