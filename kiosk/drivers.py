"""Ticket printer drivers: the built-in ESC/POS one, and third-party ones as plug-ins.

A printer driver is data plus callables: its profile schema (a ``PrinterProfile``
subclass), the layout (a ticket's text to the bytes that print it) and the printer (a
link and a profile to an object that checks status and prints: ``TicketPrinter`` for
ESC/POS). The kit also needs the far end: a decoder (printed bytes back to the lines a
citizen reads) and an emulator on a pty. A package adds one by naming a
``PrinterDriver`` in the ``paidui.drivers`` entry-point group; ``paidui.testing.printers``
is the test suite it must pass.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hallbus.drivers import DriverRegistry
from hallbus.links import ByteLink
from hallbus.messages import PrinterFault
from hallbus.profiles import (
    Where,
    folders_of,
    load_raw_profile,
    profile_names,
)
from kiosk.printer import PrintOutcome, TicketPrinter
from kiosk.profile import PrinterProfile
from kiosk.ticket_layout import RasterFont, TicketText, layout_ticket


class Printer(Protocol):
    """What the kiosk asks of a printer."""

    profile: PrinterProfile

    def status(self) -> list[PrinterFault]:
        """The printer's faults; empty when it is ready."""

    def print_ticket(self, data: bytes, *, attempts: int = 2) -> PrintOutcome:
        """Print ``data`` if the printer is ready."""

    def close(self) -> None:
        """Close the link."""


@dataclass(frozen=True, slots=True)
class PrinterDriver:
    """One printer command language."""

    type: str
    profile_model: builtins.type[PrinterProfile]
    layout: Callable[[TicketText, Any, RasterFont | None], bytes]
    printer: Callable[[ByteLink, Any], Printer]
    profile_dirs: tuple[Path, ...] = ()  # a plug-in's own profiles
    kind: str = "printer"


ESCPOS_DRIVER = PrinterDriver("escpos", PrinterProfile, layout_ticket, TicketPrinter)

PRINTER_DRIVERS: DriverRegistry[PrinterDriver] = DriverRegistry(
    "printer", [ESCPOS_DRIVER], plugin_class=PrinterDriver
)


def printer_driver(profile: PrinterProfile) -> PrinterDriver:
    """The driver that prints for ``profile``."""
    return PRINTER_DRIVERS.get(profile.type)


# --- profiles: each validated by the schema of the driver its ``type`` names ----------


def printer_profile_folders() -> list[Path]:
    """Where printer profiles are found: the site's, the shipped, each plug-in's."""
    return PRINTER_DRIVERS.profile_folders("printers")


def validate_printer_profile(data: dict[str, Any], name: str, where: str) -> PrinterProfile:
    """A merged profile validated by its driver's schema (ESC/POS when it names none)."""
    profile = PRINTER_DRIVERS.validate({"type": ESCPOS_DRIVER.type, **data}, name, where)
    assert isinstance(profile, PrinterProfile)
    return profile


def load_printer_profile(name: str, folder: Where | None = None) -> PrinterProfile:
    """Load and validate one printer profile by file name (without ``.yaml``)."""
    folders = folders_of(folder) if folder is not None else printer_profile_folders()
    data = load_raw_profile(folders, name)
    return validate_printer_profile(data, name, ", ".join(str(f) for f in folders))


def printer_profile_names(folder: Where | None = None) -> list[str]:
    """Every printer profile, shipped, the site's or plugged in."""
    return profile_names(folder if folder is not None else printer_profile_folders())
