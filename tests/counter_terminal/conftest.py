"""Fixtures of the counter tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hallbus.daemon import DeviceDaemon
from simulator.devices import VirtualKiosk

Tickets = Callable[..., list[str]]


@pytest.fixture
def tickets(devices: Callable[..., DeviceDaemon]) -> Tickets:
    """Issue ``count`` tickets of a service at a virtual kiosk; returns their labels."""
    kiosks: list[VirtualKiosk] = []

    def issue(count: int, service: str = "social") -> list[str]:
        if not kiosks:
            kiosks.append(devices(VirtualKiosk, "kiosk-1"))
        labels = []
        for _ in range(count):
            reply = kiosks[0].issue(service)
            assert reply.status == "ok" and reply.data is not None, reply
            labels.append(reply.data["label"])
        return labels

    return issue
