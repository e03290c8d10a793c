"""The Acme driver against paidui's conformance kit for LED board drivers."""

from acme_led.driver import DRIVER

from paidui.testing.led_boards import LedBoardConformance


class TestAcmeWindowBoard(LedBoardConformance):
    driver = DRIVER
    profile_name = "acme-window-96x16"
    address = 7
