"""Conformance kits for device drivers: what a plug-in must pass, run from its own tests.

Test code only (it starts a broker, a scheduler and emulators); nothing at run time
imports it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hallbus.settings import BusSettings
from paidui.broker import BROKER_CONFIG_DIR, MosquittoBroker, free_port, mosquitto_available


def running_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusSettings]:
    """mosquitto with the project's demo configuration while the caller's fixture lasts."""
    if not mosquitto_available():
        pytest.fail("the conformance kit needs mosquitto: apt-get install mosquitto")
    broker = MosquittoBroker(
        BROKER_CONFIG_DIR / "demo.conf", free_port(), tmp_path_factory.mktemp("broker")
    )
    broker.start()
    try:
        yield BusSettings(port=broker.port)
    finally:
        broker.stop()
