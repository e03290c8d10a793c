"""Every shipped printer profile passes the printer conformance kit a plug-in runs."""

from __future__ import annotations

from kiosk.drivers import ESCPOS_DRIVER, printer_profile_names
from paidui.testing.printers import PrinterConformance

# One test class per shipped profile, so a new profile is checked the day it is added.
for _name in printer_profile_names():
    _class = f"TestPrinter_{_name.replace('-', '_')}"
    globals()[_class] = type(
        _class, (PrinterConformance,), {"driver": ESCPOS_DRIVER, "profile_name": _name}
    )
