"""A tapped card all the way: emulated SAM reader on a pty -> reader daemon -> broker ->
kiosk daemon -> scheduler (SQLite) -> printed ticket; and proof that the card's number,
name and address appear nowhere: not in the logs, not on the bus, not in the database."""

from __future__ import annotations

import io
import logging
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest

from hallbus.clock import FakeClock
from hallbus.daemon import DeviceDaemon
from hallbus.hall_file import HallConfig
from hallbus.links import SerialLine, SerialLink
from hallbus.logs import JsonFormatter
from hallbus.messages import PriorityClass
from hallbus.settings import BusSettings
from hallbus.topics import HallTopics
from id_reader.card_text import CardText
from id_reader.daemon import IdReaderDaemon, IdReaderSettings
from id_reader.sam_reader import SamCardSource
from kiosk.daemon import KioskDaemon, KioskSettings
from kiosk.drivers import load_printer_profile
from kiosk.flow import ChooseService, Confirm, KioskView, Screen
from kiosk.printer import PrinterAddress, TicketPrinter, open_link
from scheduler.bridge import SchedulerService
from simulator.devices import VirtualPortal
from simulator.id_cards import ELDERLY_RESIDENT, FOREIGN_PERMANENT, YOUNG_RESIDENT
from simulator.id_reader_emulator import IdReaderEmulator
from simulator.mailbox import Mailbox
from simulator.printer_emulator import PrinterEmulator
from tests.conftest import WAIT, listen, room_today
from tests.id_reader.readers import FAST, HASHER, more_polls

PRINTER = load_printer_profile("xprinter-xp-80c")


@dataclass
class Hall:
    """The running pieces and what was captured of them."""

    kiosk: KioskDaemon
    reader: IdReaderEmulator
    printer: PrinterEmulator
    bus_traffic: Mailbox[bytes]
    log_lines: io.StringIO


@pytest.fixture
def running(
    scheduler: SchedulerService,
    hall: HallConfig,
    bus: BusSettings,
    clock: FakeClock,
    tmp_path: Path,
    devices: Callable[..., DeviceDaemon],
) -> Iterator[Hall]:
    """Scheduler, reader daemon and kiosk, with every log line and bus message captured."""
    log_lines = io.StringIO()
    handler = logging.StreamHandler(log_lines)
    handler.setFormatter(JsonFormatter())  # exactly what production writes
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    observer, traffic = listen(bus, HallTopics(hall.id).everything(), "audit")

    card_reader = IdReaderEmulator()
    port = card_reader.serve_pty(tmp_path / "ttyIDR0")
    source = SamCardSource(SerialLink(port, SerialLine()), FAST)
    settings = IdReaderSettings(timezone=hall.timezone, elderly_age=hall.elderly_age)
    devices(IdReaderDaemon, "idr-1", source, HASHER, settings)

    printer = PrinterEmulator(PRINTER)
    link = open_link(PrinterAddress.parse(f"serial:{printer.serve_pty()}"), PRINTER)
    kiosk = KioskDaemon(
        bus,
        hall.id,
        "kiosk-1",
        TicketPrinter(link, PRINTER),
        KioskSettings(hall_names=hall.names, timezone=hall.timezone, id_reader="idr-1"),
        clock=clock,
    )
    kiosk.start()
    try:
        yield Hall(kiosk, card_reader, printer, traffic, log_lines)
    finally:
        kiosk.stop()
        printer.stop()
        card_reader.stop()
        observer.stop()
        root.removeHandler(handler)
        root.setLevel(old_level)


def menu_ready(view: KioskView) -> bool:
    """The menu is up and has services to choose from."""
    return view.screen is Screen.MENU and bool(view.menu)


def lift(hall: Hall) -> None:
    """Take the card off and let the reader see it gone."""
    hall.reader.remove()
    assert more_polls(hall.reader, 4)


def test_tapped_cards_check_in_and_give_elderly_priority(
    running: Hall, devices: Callable[..., DeviceDaemon], clock: FakeClock, hall: HallConfig
) -> None:
    kiosk = running.kiosk
    portal: VirtualPortal = devices(VirtualPortal, "portal")
    room_today(clock, hall, 15)
    slot = clock.now() + timedelta(minutes=10)
    booking = portal.book("tax", slot, HASHER.hash(YOUNG_RESIDENT.id_number), "138****0000")
    assert booking.status == "ok"
    assert kiosk.wait_for(menu_ready, WAIT)

    # A booked citizen taps on the menu: checked in, straight to the ticket.
    running.reader.place(YOUNG_RESIDENT)
    view = kiosk.wait_for(lambda v: v.issued is not None, WAIT)
    assert view is not None and view.issued is not None
    assert view.issued.ticket.appointment_slot is not None
    assert view.issued.ticket.service_code == "tax"
    assert view.card is not None and view.card.masked_name == "阿******提"
    kiosk.touch(Confirm())
    lift(running)

    # An elderly citizen picks a service, taps on the documents screen, takes the ticket.
    assert kiosk.wait_for(menu_ready, WAIT)
    kiosk.touch(ChooseService("social"))
    running.reader.place(ELDERLY_RESIDENT)
    view = kiosk.wait_for(lambda v: v.card is not None, WAIT)
    assert view is not None and view.screen is Screen.DOCUMENTS
    assert view.card is not None and view.card.elderly
    kiosk.touch(Confirm())
    view = kiosk.wait_for(lambda v: v.issued is not None, WAIT)
    assert view is not None and view.issued is not None
    assert view.issued.ticket.priority is PriorityClass.ELDERLY
    assert running.printer.tickets.wait_count(2, WAIT)
    # The printed ticket says why it goes ahead, and the hall's 过号 rule.
    printed = running.printer.tickets.items()[-1].lines
    assert "【老年人优先】" in printed and any("过号" in line for line in printed), printed


def test_nothing_personal_in_logs_bus_or_database(
    running: Hall, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kiosk = running.kiosk
    assert kiosk.wait_for(menu_ready, WAIT)
    tapped: list[CardText] = [ELDERLY_RESIDENT, FOREIGN_PERMANENT, YOUNG_RESIDENT]
    for number, card in enumerate(tapped, start=1):
        kiosk.touch(ChooseService("social"))
        running.reader.place(card)
        assert kiosk.wait_for(lambda v: v.card is not None, WAIT)
        kiosk.touch(Confirm())
        assert kiosk.wait_for(lambda v: v.issued is not None, WAIT)
        assert running.printer.tickets.wait_count(number, WAIT)
        kiosk.touch(Confirm())
        lift(running)
        assert kiosk.wait_for(menu_ready, WAIT)
    # A card that fails its check digit is refused: its number must not leak either.
    broken = replace(YOUNG_RESIDENT, id_number=YOUNG_RESIDENT.id_number[:17] + "0")
    running.reader.place(broken)
    assert more_polls(running.reader, 6)

    secrets = []
    for card in [*tapped, broken]:
        for value in (card.id_number, card.name, card.address, card.name_en, card.pass_number):
            if value:
                secrets += [value.encode("utf-8"), value.encode("utf-16-le")]
    # The 17 digits before the check digit, and the birth date part, are as telling.
    secrets += [c.id_number[:17].encode() for c in tapped if c.id_number[:1].isdigit()]

    bus_bytes = b"\n".join(running.bus_traffic.items())
    logs = running.log_lines.getvalue().encode("utf-8") + caplog.text.encode("utf-8")
    database = b""
    db_file = Path(db_url.removeprefix("sqlite:///"))
    for path in db_file.parent.glob(db_file.name + "*"):  # the file, its WAL and shm
        database += path.read_bytes()
    with sqlite3.connect(db_file) as connection:
        database += "\n".join(connection.iterdump()).encode("utf-8")

    assert len(running.bus_traffic.items()) > 20 and len(logs) > 1000 and len(database) > 10_000
    for where, haystack in (("bus", bus_bytes), ("logs", logs), ("database", database)):
        for secret in secrets:
            assert secret not in haystack, f"personal data found in the {where}"
    # What does travel is the keyed hash; the tickets took the holders' ages into account.
    assert HASHER.hash(ELDERLY_RESIDENT.id_number).encode() in bus_bytes
    assert PriorityClass.ELDERLY.value.encode() in database
