"""The production broker configuration against real mosquitto: who may publish what."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from hallbus.topics import Command, DeviceCommandKind, HallTopics
from paidui.broker import BROKER_CONFIG_DIR, MosquittoBroker, free_port
from simulator.mailbox import Mailbox
from tests.conftest import WAIT

pytestmark = pytest.mark.slow

USERS = {
    "scheduler": "s-secret",
    "kiosk-1": "k1-secret",
    "kiosk-2": "k2-secret",
    "pad-1": "p1-secret",
}
TOPICS = HallTopics("acl-hall")


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    folder = tmp_path_factory.mktemp("secured")
    passwd = folder / "passwd"
    passwd.touch()
    for user, password in USERS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True)
    broker = MosquittoBroker(
        BROKER_CONFIG_DIR / "production.conf",
        free_port(),
        folder / "data",
        bind="127.0.0.1",
        overrides={"password_file": str(passwd)},
    )
    broker.start()
    yield broker.port
    broker.stop()


class Raw:
    """A bare MQTT 5 client, to see exactly what the broker allows."""

    def __init__(self, port: int, user: str | None, client_id: str | None = None) -> None:
        self.inbox: Mailbox[tuple[str, bytes]] = Mailbox()
        self.refused: int | None = None
        self.ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or user or "anon",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        if user is not None:
            self.client.username_pw_set(user, USERS[user])
        self.client.on_connect = self._connected
        self.client.on_message = lambda _c, _u, m: self.inbox.put((m.topic, m.payload))
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.connected = threading.Event()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _connected(self, _c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        self.refused = None if not reason.is_failure else reason.value  # type: ignore[attr-defined]
        self.connected.set()

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(WAIT)

    def subscribe(self, topic: str) -> None:
        self.ready.clear()
        self.client.subscribe(topic, qos=1)
        assert self.ready.wait(WAIT)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _delivered(observer: Raw, sender: Raw, topic: str, identity: str) -> bool:
    """Publish ``topic`` then an allowed marker; per-client order tells if ``topic`` got through."""
    sender.publish(topic, b"probe")
    marker = TOPICS.device_event(identity, "marker")
    sender.publish(marker, b"marker")
    assert observer.inbox.wait_for(lambda m: m[0] == marker, WAIT)
    return any(t == topic for t, _ in observer.inbox.items())


def test_anonymous_clients_are_refused(secured: int) -> None:
    anonymous = Raw(secured, None)
    assert anonymous.connected.wait(WAIT)
    assert anonymous.refused is not None
    anonymous.close()


def test_devices_publish_only_their_own_requests(secured: int) -> None:
    scheduler = Raw(secured, "scheduler")
    assert scheduler.connected.wait(WAIT) and scheduler.refused is None
    scheduler.subscribe(f"{TOPICS.base}/#")
    kiosk = Raw(secured, "kiosk-1")
    assert kiosk.connected.wait(WAIT) and kiosk.refused is None
    try:
        assert _delivered(
            scheduler, kiosk, TOPICS.request("kiosk-1", Command.ISSUE_TICKET), "kiosk-1"
        )
        # Not as another kiosk, not a call, not board state, not a reply or a command.
        assert not _delivered(
            scheduler, kiosk, TOPICS.request("kiosk-2", Command.ISSUE_TICKET), "kiosk-1"
        )
        assert not _delivered(scheduler, kiosk, TOPICS.window_state(1), "kiosk-1")
        assert not _delivered(scheduler, kiosk, TOPICS.reply("kiosk-1"), "kiosk-1")
        assert not _delivered(
            scheduler,
            kiosk,
            TOPICS.device_command("pad-1", DeviceCommandKind.RATING_PROMPT),
            "kiosk-1",
        )
    finally:
        kiosk.close()
        scheduler.close()


def test_client_id_cannot_be_spoofed(secured: int) -> None:
    scheduler = Raw(secured, "scheduler")
    assert scheduler.connected.wait(WAIT)
    scheduler.subscribe(f"{TOPICS.base}/#")
    # kiosk-1's credentials with kiosk-2's client id still act as kiosk-1.
    spoof = Raw(secured, "kiosk-1", client_id="kiosk-2")
    assert spoof.connected.wait(WAIT) and spoof.refused is None
    try:
        # The broker treats it as kiosk-1: its own marker passes, kiosk-2's request does not.
        assert not _delivered(
            scheduler, spoof, TOPICS.request("kiosk-2", Command.ISSUE_TICKET), "kiosk-1"
        )
    finally:
        spoof.close()
        scheduler.close()


def test_a_pad_reads_its_own_prompts_only(secured: int, tmp_path: Path) -> None:
    pad = Raw(secured, "pad-1")
    assert pad.connected.wait(WAIT)
    pad.subscribe(f"{TOPICS.base}/device/+/cmd/+")
    scheduler = Raw(secured, "scheduler")
    assert scheduler.connected.wait(WAIT)
    try:
        other = TOPICS.device_command("pad-2", DeviceCommandKind.RATING_PROMPT)
        mine = TOPICS.device_command("pad-1", DeviceCommandKind.RATING_PROMPT)
        scheduler.publish(other, b"not yours")
        scheduler.publish(mine, b"yours")
        assert pad.inbox.wait_for(lambda m: m[0] == mine, WAIT)
        assert not any(t == other for t, _ in pad.inbox.items())
    finally:
        pad.close()
        scheduler.close()
