"""The shipped serial SAM reader passes the reader conformance kit a plug-in runs."""

from __future__ import annotations

from id_reader.drivers import READER_DRIVERS, ReaderEmulator
from id_reader.profile import ReaderProfileBase
from paidui.testing.id_readers import ReaderConformance
from simulator.id_reader_emulator import IdReaderEmulator


class TestSamSerialReader(ReaderConformance):
    driver = READER_DRIVERS.get("serial")
    profile_name = "sam-v-serial"

    def emulator(self, profile: ReaderProfileBase) -> ReaderEmulator:
        return IdReaderEmulator()
