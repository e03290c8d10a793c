"""A driven client (the scheduler's): its network work runs on its owner's thread.

Against real mosquitto: handlers run on the owner's thread, what the owner publishes
goes out when it pumps, a wake cuts a long wait short, the client comes back by itself
after the broker restarts, and stopping leaves "offline" retained.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from hallbus.client import BusClient
from hallbus.messages import OFFLINE, ONLINE
from hallbus.settings import BusSettings
from paidui.broker import MosquittoBroker
from simulator.mailbox import Mailbox
from tests.conftest import WAIT, listen


class Owner:
    """A thread that pumps a driven client until told to stop, as the scheduler does."""

    def __init__(self, client: BusClient) -> None:
        self.client = client
        self.running = True
        self.handled_on: Mailbox[str] = Mailbox()
        self.thread = threading.Thread(target=self._run, name="owner", daemon=True)

    def _run(self) -> None:
        while self.running:
            self.client.pump(60.0)  # only traffic or a wake ends the wait

    def start(self) -> None:
        self.thread.start()
        self.client.start(timeout=WAIT)

    def stop(self) -> None:
        self.running = False
        self.client.wake()
        self.thread.join(WAIT)
        assert not self.thread.is_alive()
        self.client.stop()


@pytest.fixture
def owned(own_broker: MosquittoBroker) -> Iterator[Callable[[str], Owner]]:
    started: list[Owner] = []

    def start(name: str) -> Owner:
        settings = BusSettings(port=own_broker.port, reconnect_min_s=0.05, reconnect_max_s=0.2)
        owner = Owner(BusClient(settings, name, f"test/{name}/availability", driven=True))
        started.append(owner)
        return owner

    yield start
    for owner in started:
        if owner.thread.is_alive():
            owner.stop()


def test_requests_are_handled_and_answered_on_the_owners_thread(
    own_broker: MosquittoBroker, owned: Callable[[str], Owner]
) -> None:
    owner = owned("echo")

    def echo(topic: str, payload: bytes) -> None:
        owner.handled_on.put(threading.current_thread().name)
        owner.client.publish(topic.replace("/ask", "/answer"), payload, qos=0)

    owner.client.subscribe("test/echo/ask", echo, inline=True)
    owner.start()
    peer_bus = BusSettings(port=own_broker.port)
    peer, answers = listen(peer_bus, "test/echo/answer", "peer")
    try:
        for n in range(200):
            peer.publish("test/echo/ask", str(n).encode())
        assert answers.wait_count(200, WAIT)
        assert sorted(int(p) for p in answers.items()) == list(range(200))
        assert set(owner.handled_on.items()) == {"owner"}
    finally:
        peer.stop()


def test_a_wake_ends_a_long_wait(owned: Callable[[str], Owner]) -> None:
    owner = owned("sleeper")
    owner.start()
    owner.running = False
    owner.client.wake()
    owner.thread.join(WAIT)  # its pump waits 60 s unless woken
    assert not owner.thread.is_alive()
    owner.client.stop()


def test_it_comes_back_after_the_broker_restarts_and_says_offline_when_stopped(
    own_broker: MosquittoBroker, owned: Callable[[str], Owner]
) -> None:
    owner = owned("survivor")
    seen: Mailbox[bytes] = Mailbox()
    owner.client.subscribe("test/survivor/in", lambda _t, p: seen.put(p), inline=True)
    reconnected = threading.Event()
    connects: list[int] = []

    def connected() -> None:
        connects.append(1)
        if len(connects) > 1:
            reconnected.set()

    owner.client.on_connected(connected)
    owner.start()
    own_broker.stop()
    own_broker.start()
    assert reconnected.wait(WAIT)  # by itself, with backoff, while the owner pumps
    peer_bus = BusSettings(port=own_broker.port)
    peer, availability = listen(peer_bus, "test/survivor/availability", "watch")
    try:
        assert availability.wait_for(lambda p: p == ONLINE.encode(), WAIT)
        peer.publish("test/survivor/in", b"after the restart")
        assert seen.wait_for(lambda p: p == b"after the restart", WAIT)
        owner.stop()
        assert availability.wait_for(lambda p: p == OFFLINE.encode(), WAIT)
    finally:
        peer.stop()


def test_pump_is_refused_on_a_client_with_its_own_thread(bus: BusSettings) -> None:
    client = BusClient(bus, "threaded", "test/threaded/availability")
    with pytest.raises(RuntimeError, match="driven"):
        client.pump(0.0)
