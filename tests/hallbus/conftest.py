"""Fixtures of the shared layer's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from paidui.broker import BROKER_CONFIG_DIR, MosquittoBroker, free_port


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker of the test's own, to stop and start (the session's is shared)."""
    broker = MosquittoBroker(BROKER_CONFIG_DIR / "demo.conf", free_port(), tmp_path / "broker")
    broker.start()
    yield broker
    broker.stop()
