"""Every shipped RS-485 keypad profile passes the keypad conformance kit a plug-in runs."""

from __future__ import annotations

from counter_terminal.drivers import BUS_KEYPAD_DRIVER
from paidui.testing.keypads import KeypadConformance


class TestKeypadWithScreen(KeypadConformance):
    driver = BUS_KEYPAD_DRIVER
    profile_name = "rs485-keypad-lcd"


class TestKeypadXorVariant(KeypadConformance):
    driver = BUS_KEYPAD_DRIVER
    profile_name = "rs485-keypad-basic"


class TestFieldKeypadNumberThenConfirm(KeypadConformance):
    driver = BUS_KEYPAD_DRIVER
    profile_name = "field-keypad-confirm"


class TestFieldKeypadNumberThenKey(KeypadConformance):
    driver = BUS_KEYPAD_DRIVER
    profile_name = "field-keypad-lcd"
