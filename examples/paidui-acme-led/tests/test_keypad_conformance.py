"""The Acme BCD keypad driver against paidui's conformance kit for keypad drivers."""

from acme_led.keypad import DRIVER, bcd, unbcd

from paidui.testing.keypads import KeypadConformance


class TestAcmeBcdKeypad(KeypadConformance):
    driver = DRIVER
    profile_name = "acme-bcd-keypad"
    address = 3


def test_numbers_pack_two_digits_a_byte() -> None:
    assert bcd("1001") == b"\x10\x01" and bcd("2") == b"\xf2"
    assert unbcd(b"\x10\x01") == "1001" and unbcd(b"\xf2") == "2" and unbcd(b"\x1a") is None
