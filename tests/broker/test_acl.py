"""The production broker against real mosquitto: TLS, no anonymous access, the per-device ACL.

The broker runs broker_config/production.conf with a folder made by the project's own
tooling (hall CA, broker certificate, password file, ACL written from two hall files
sharing the broker). The real scheduler and virtual devices then work through it, and
bare clients probe what each identity may and may not do.
"""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from hallbus.client import BusClient
from hallbus.clock import FakeClock
from hallbus.hall_file import DEMO_HALL_FILE, DeviceConfig, HallConfig, load_hall
from hallbus.messages import DeviceKind, ErrorCode, IssueTicket, RatingLevel, Reply, decode
from hallbus.settings import BusSettings
from hallbus.topics import Command, DeviceCommandKind, DeviceEventKind, HallEventKind, HallTopics
from paidui.acl import render_acl
from paidui.broker import BROKER_CONFIG_DIR, BrokerStartError, MosquittoBroker, free_port
from paidui.credentials import BrokerFolder
from scheduler.bridge import SchedulerService
from scheduler.store import Store
from simulator.devices import VirtualCounter, VirtualKiosk, VirtualRatingPad
from simulator.mailbox import Mailbox
from tests.conftest import WAIT

pytestmark = pytest.mark.slow

NOW = dt.datetime.now(dt.UTC)
DEVICES = ["kiosk-1", "kiosk-2", "idr-1", "counter-1", "counter-2", "pad-1", "pad-2", "portal"]


def _hall(hall_id: str) -> HallConfig:
    base = load_hall(DEMO_HALL_FILE)
    devices = [d for d in base.devices if d.kind in (DeviceKind.KIOSK, DeviceKind.COUNTER)]
    devices += [d for d in base.devices if d.id in {"idr-1", "pad-1", "pad-2", "portal"}]
    devices.append(DeviceConfig(id="idr-2", kind=DeviceKind.ID_READER))
    return base.model_copy(update={"id": hall_id, "devices": devices, "require_open_window": False})


@dataclass
class SecuredBroker:
    """The running production broker and the credentials made for it."""

    folder: BrokerFolder
    bundle: Path
    tls_port: int
    local_port: int
    passwords: dict[str, str]

    def settings(self, *, tls: bool) -> BusSettings:
        """How a daemon reaches it: devices over TLS with certificates, services on loopback."""
        if tls:
            return BusSettings(
                port=self.tls_port, ca_file=self.bundle / "ca.crt", credentials_dir=self.bundle
            )
        return BusSettings(port=self.local_port, credentials_dir=self.bundle)


def _production_broker(data: Path, broker_dir: Path) -> tuple[MosquittoBroker, int, int]:
    """production.conf on free ports: TLS for devices, loopback passwords for services."""
    tls_port, local_port = free_port(), free_port()
    broker = MosquittoBroker(
        BROKER_CONFIG_DIR / "production.conf",
        tls_port,
        data,
        bind="127.0.0.1",
        listener_ports={1883: local_port},
        broker_dir=broker_dir,
    )
    return broker, tls_port, local_port


HALL_A, HALL_B = _hall("acl-a"), _hall("acl-b")
A, B = HallTopics(HALL_A.id), HallTopics(HALL_B.id)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    root = tmp_path_factory.mktemp("secured")
    folder = BrokerFolder(root / "broker")
    assert folder.init("acl", ["127.0.0.1", "localhost"], now=NOW)
    bundle = root / "bundle"
    passwords = {}
    for topics in (A, B):
        made = folder.provision(topics.scheduler_identity(), "acl", bundle, now=NOW)
        passwords[made.identity] = made.password
        for device in [*DEVICES, "idr-2"]:
            made = folder.provision(topics.identity(device), "acl", bundle, now=NOW)
            passwords[made.identity] = made.password
    folder.acl.write_text(render_acl([HALL_A, HALL_B]))
    broker, tls_port, local_port = _production_broker(root / "data", folder.folder)
    broker.start()
    yield SecuredBroker(folder, bundle, tls_port, local_port, passwords)
    broker.stop()


class Raw:
    """A bare MQTT 5 client, to see exactly what the broker allows."""

    def __init__(
        self,
        secured: SecuredBroker,
        identity: str | None,
        *,
        tls: bool = True,
        client_id: str | None = None,
        password: str | None = None,
        certificate: tuple[Path, Path] | None = None,
    ) -> None:
        self.inbox: Mailbox[tuple[str, bytes]] = Mailbox()
        self.refused: str | None = None
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or identity or "anonymous",
            protocol=MQTTProtocolVersion.MQTTv5,
            reconnect_on_failure=False,
        )
        if tls:
            bundle = secured.bundle
            cert, key = certificate or (
                (bundle / f"{identity}.crt", bundle / f"{identity}.key")
                if identity
                else (None, None)
            )
            self.client.tls_set(
                ca_certs=str(bundle / "ca.crt"),
                certfile=str(cert) if cert else None,
                keyfile=str(key) if key else None,
            )
        elif identity is not None:
            self.client.username_pw_set(identity, password or secured.passwords[identity])
        self.client.on_connect = self._connected
        self.client.on_disconnect = self._dropped
        self.client.on_message = lambda _c, _u, m: self.inbox.put((m.topic, m.payload))
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        port = secured.tls_port if tls else secured.local_port
        try:
            self.client.connect("127.0.0.1", port)
        except (ssl.SSLError, OSError) as err:
            self.refused = f"TLS: {err}"
            self.connected.set()
            return
        self.client.loop_start()

    def _connected(self, _c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        self.refused = str(reason) if reason.is_failure else None  # type: ignore[attr-defined]
        self.connected.set()

    def _dropped(self, _c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        # A TLS 1.3 server refuses a missing certificate after the client's handshake ends,
        # so the refusal arrives as a dropped connection before any CONNACK.
        if not self.connected.is_set():
            self.refused = f"dropped: {reason}"
            self.connected.set()

    def accepted(self) -> bool:
        """Whether the broker let this client in."""
        assert self.connected.wait(WAIT)
        return self.refused is None

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(WAIT)

    def subscribe(self, topic: str) -> None:
        self.subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.wait(WAIT)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def clients(secured: SecuredBroker) -> Iterator[list[Raw]]:
    opened: list[Raw] = []
    yield opened
    for client in opened:
        client.close()


def _open(clients: list[Raw], secured: SecuredBroker, identity: str, **options: object) -> Raw:
    client = Raw(secured, identity, **options)  # type: ignore[arg-type]
    clients.append(client)
    assert client.accepted(), client.refused
    return client


def _watcher(clients: list[Raw], secured: SecuredBroker, topics: HallTopics) -> Raw:
    """The hall's scheduler identity, on loopback, reading every request of the hall."""
    watcher = _open(clients, secured, topics.scheduler_identity(), tls=False)
    watcher.subscribe(topics.all_requests())
    return watcher


def _gets_through(watcher: Raw, sender: Raw, topic: str, own_device: str) -> bool:
    """Publish ``topic``, then an allowed marker; per-client order says if ``topic`` passed."""
    sender.publish(topic, b"probe")
    marker = A.request(own_device, "marker")
    sender.publish(marker, b"marker")
    assert watcher.inbox.wait_for(lambda m: m[0] == marker, WAIT)
    return any(t == topic for t, _ in watcher.inbox.items())


def test_anonymous_clients_get_nothing(secured: SecuredBroker) -> None:
    # No user on loopback, no certificate over TLS, a wrong password, a foreign CA.
    assert not Raw(secured, None, tls=False).accepted()
    assert not Raw(secured, None, tls=True).accepted()
    assert not Raw(secured, A.scheduler_identity(), tls=False, password="guess").accepted()
    stranger = BrokerFolder(secured.bundle.parent / "stranger")
    stranger.init("stranger", ["127.0.0.1"], now=NOW)
    stranger.provision(A.identity("kiosk-1"), "stranger", secured.bundle.parent / "s", now=NOW)
    forged = secured.bundle.parent / "s"
    assert not Raw(
        secured,
        A.identity("kiosk-1"),
        certificate=(forged / "acl-a.kiosk-1.crt", forged / "acl-a.kiosk-1.key"),
    ).accepted()


def test_a_wildcard_subscription_reads_only_granted_topics(secured: SecuredBroker) -> None:
    # Even an identity of the hall reads nothing it was not granted: no wildcard over all.
    client = Raw(secured, A.identity("idr-1"))
    try:
        assert client.accepted()
        client.subscribe("#")
        scheduler = Raw(secured, A.scheduler_identity(), tls=False)
        assert scheduler.accepted()
        scheduler.publish(A.window_state(1), b"state")
        scheduler.publish(A.reply("idr-1"), b"yours")
        assert client.inbox.wait_for(lambda m: m[0] == A.reply("idr-1"), WAIT)
        assert [t for t, _ in client.inbox.items()] == [A.reply("idr-1")]
        scheduler.close()
    finally:
        client.close()


def test_a_kiosk_publishes_only_as_itself(secured: SecuredBroker, clients: list[Raw]) -> None:
    watcher = _watcher(clients, secured, A)
    watcher.subscribe(A.everything())
    kiosk = _open(clients, secured, A.identity("kiosk-1"))
    assert _gets_through(watcher, kiosk, A.request("kiosk-1", Command.ISSUE_TICKET), "kiosk-1")
    # Not as another kiosk, not in another hall, not a reply or a command.
    assert not _gets_through(watcher, kiosk, A.request("kiosk-2", Command.ISSUE_TICKET), "kiosk-1")
    assert not _gets_through(watcher, kiosk, A.reply("kiosk-1"), "kiosk-1")
    assert not _gets_through(
        watcher, kiosk, A.device_command("pad-1", DeviceCommandKind.RATING_PROMPT), "kiosk-1"
    )
    assert not _gets_through(watcher, kiosk, A.availability("kiosk-2"), "kiosk-1")
    other_hall = _watcher(clients, secured, B)
    kiosk.publish(B.request("kiosk-1", Command.ISSUE_TICKET), b"probe")
    kiosk.publish(A.request("kiosk-1", "marker2"), b"marker")
    assert watcher.inbox.wait_for(lambda m: m[0].endswith("marker2"), WAIT)
    assert other_hall.inbox.items() == []


def test_no_device_publishes_a_call_or_board_state(
    secured: SecuredBroker, clients: list[Raw]
) -> None:
    watcher = _watcher(clients, secured, A)
    watcher.subscribe(A.all_state())
    watcher.subscribe(A.hall_events())
    for device in ("kiosk-1", "counter-1", "pad-1", "portal"):
        sender = _open(clients, secured, A.identity(device))
        assert not _gets_through(watcher, sender, A.hall_event(HallEventKind.CALL), device)
        assert not _gets_through(watcher, sender, A.window_state(1), device)
        assert not _gets_through(watcher, sender, A.hall_state(), device)
        assert not _gets_through(watcher, sender, A.scheduler_availability(), device)


def test_a_pad_cannot_rate_for_another_window(secured: SecuredBroker, clients: list[Raw]) -> None:
    watcher = _watcher(clients, secured, A)
    pad = _open(clients, secured, A.identity("pad-1"))
    assert _gets_through(watcher, pad, A.request("pad-1", Command.RATE), "pad-1")
    assert not _gets_through(watcher, pad, A.request("pad-2", Command.RATE), "pad-1")


def test_devices_read_only_what_is_meant_for_them(
    secured: SecuredBroker, clients: list[Raw]
) -> None:
    scheduler = _open(clients, secured, A.scheduler_identity(), tls=False)
    kiosk = _open(clients, secured, A.identity("kiosk-1"))
    lone_kiosk = _open(clients, secured, A.identity("kiosk-2"))
    pad = _open(clients, secured, A.identity("pad-1"))
    for client in (kiosk, lone_kiosk, pad):
        client.subscribe(A.everything())
    # Two ID readers raise card events: kiosk-1 hears only its own reader (idr-1).
    for reader in ("idr-1", "idr-2"):
        _open(clients, secured, A.identity(reader)).publish(
            A.device_event(reader, DeviceEventKind.CARD_READ), reader.encode()
        )
    scheduler.publish(A.device_command("pad-2", DeviceCommandKind.RATING_PROMPT), b"not yours")
    scheduler.publish(A.window_state(2), b"window 2")
    scheduler.publish(A.device_command("pad-1", DeviceCommandKind.RATING_PROMPT), b"yours")
    scheduler.publish(A.window_state(1), b"window 1")
    scheduler.publish(A.service_state("social"), b"service")
    scheduler.publish(A.reply("kiosk-1"), b"kiosk-1 reply")
    assert pad.inbox.wait_for(lambda m: m[1] == b"window 1", WAIT)
    assert {p for _, p in pad.inbox.items()} == {b"yours", b"window 1"}
    assert kiosk.inbox.wait_for(lambda m: m[1] == b"kiosk-1 reply", WAIT)
    assert {p for _, p in kiosk.inbox.items()} == {b"idr-1", b"service", b"kiosk-1 reply"}
    assert lone_kiosk.inbox.wait_for(lambda m: m[1] == b"service", WAIT)
    assert {p for _, p in lone_kiosk.inbox.items()} == {b"service"}


def test_a_certificate_cannot_take_another_identity(
    secured: SecuredBroker, clients: list[Raw]
) -> None:
    watcher = _watcher(clients, secured, A)
    # kiosk-1's certificate with kiosk-2's client id still acts as kiosk-1.
    spoof = _open(clients, secured, A.identity("kiosk-1"), client_id=A.identity("kiosk-2"))
    assert not _gets_through(watcher, spoof, A.request("kiosk-2", Command.ISSUE_TICKET), "kiosk-1")


def test_the_hall_works_through_the_secured_broker(secured: SecuredBroker, tmp_path: Path) -> None:
    """The real scheduler on loopback and devices over TLS: a ticket from kiosk to rating."""
    clock = FakeClock(NOW)
    scheduler = SchedulerService(
        HALL_A,
        Store(Store.sqlite_url(tmp_path / "a.db"), HALL_A.id),
        secured.settings(tls=False),
        clock=clock,
    )
    scheduler.start()
    tls = secured.settings(tls=True)
    kiosk = VirtualKiosk(tls, HALL_A.id, "kiosk-1")
    counters = [VirtualCounter(tls, HALL_A.id, f"counter-{n}", n) for n in (1, 2)]
    pads = [VirtualRatingPad(tls, HALL_A.id, f"pad-{n}", n) for n in (1, 2)]
    daemons = [kiosk, *counters, *pads]
    try:
        for daemon in daemons:
            daemon.start()
        for number, counter in enumerate(counters, start=1):
            assert counter.login(str(1000 + number)).status == "ok"
        for _ in range(2):
            assert kiosk.issue("social").status == "ok"
        transactions = []
        for counter in counters:
            assert counter.call_next().status == "ok"
            assert counter.start_service().status == "ok"
            finished = counter.finish()
            assert finished.status == "ok", finished
            assert finished.data is not None
            transactions.append(str(finished.data["transaction_id"]))
        first, second = transactions
        assert pads[0].prompts.wait_for(lambda p: p.transaction_id == first, WAIT)
        # pad-1 cannot rate window 2's transaction: the broker lets it ask only as itself,
        # and the scheduler knows pad-1 belongs to window 1.
        refused = pads[0].rate(second, RatingLevel.VERY_SATISFIED)
        assert refused.status == "error" and refused.error is not None
        assert refused.error.code == ErrorCode.RATING_CLOSED
        assert pads[0].rate(first, RatingLevel.SATISFIED).status == "ok"
        assert pads[1].rate(second, RatingLevel.VERY_SATISFIED).status == "ok"
        assert scheduler.store.rating_counts() == {"satisfied": 1, "very_satisfied": 1}
    finally:
        for daemon in daemons:
            daemon.stop()
        scheduler.stop()


def test_a_driven_client_works_over_tls(secured: SecuredBroker, tmp_path: Path) -> None:
    """A client whose owner pumps it (as the scheduler's worker does; a standby scheduler
    on another machine connects over TLS) reads and writes through the TLS layer."""
    scheduler = SchedulerService(
        HALL_A,
        Store(Store.sqlite_url(tmp_path / "a.db"), HALL_A.id),
        secured.settings(tls=False),
        clock=FakeClock(NOW),
    )
    scheduler.start()
    identity = A.identity("kiosk-1")
    kiosk = BusClient(secured.settings(tls=True), identity, A.availability("kiosk-1"), driven=True)
    replies: Mailbox[bytes] = Mailbox()
    kiosk.subscribe(A.reply("kiosk-1"), lambda _t, p: replies.put(p), inline=True)
    running = threading.Event()
    running.set()

    def own() -> None:
        while running.is_set():
            kiosk.pump(1.0)

    owner = threading.Thread(target=own, daemon=True)
    owner.start()
    try:
        kiosk.start(timeout=WAIT)
        for n in range(20):  # more than one TLS record's worth, read in one pump or several
            request = IssueTicket(request_id=f"tls-{n}", service_code="social")
            kiosk.publish(A.request("kiosk-1", Command.ISSUE_TICKET), request)
        kiosk.wake()
        assert replies.wait_count(20, WAIT)
        answers = [decode(Reply, p) for p in replies.items()]
        assert {a.request_id for a in answers if a.status == "ok"} == {
            f"tls-{n}" for n in range(20)
        }
    finally:
        running.clear()
        kiosk.wake()
        owner.join(WAIT)
        kiosk.stop()
        scheduler.stop()


def test_a_broker_without_its_files_does_not_start(tmp_path: Path) -> None:
    broker, _, _ = _production_broker(tmp_path / "data", tmp_path / "empty")
    with pytest.raises(BrokerStartError):
        broker.start()


def test_provisioned_device_runs_on_the_printed_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`paidui broker init` and `paidui devices provision`, then a daemon on what they print."""
    from paidui.cli import main

    hall_file = tmp_path / "hall.yaml"
    hall_file.write_text(DEMO_HALL_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    broker_dir, local, bundle = tmp_path / "broker", tmp_path / "local", tmp_path / "kiosk-1"
    init = ["broker", "init", "--hall", str(hall_file), "--dir", str(broker_dir)]
    assert main([*init, "--host", "127.0.0.1", "--out", str(local)]) == 0
    capsys.readouterr()
    provision = ["devices", "provision", "kiosk-1", "--hall", str(hall_file)]
    where = ["--dir", str(broker_dir), "--out", str(bundle), "--broker-host", "127.0.0.1"]
    assert main([*provision, *where, "--credentials-dir", str(bundle)]) == 0
    printed = capsys.readouterr().out
    env = dict(
        line.split("=", 1) for line in printed.splitlines() if line and not line.startswith("#")
    )
    assert env["PAIDUI_MQTT_PORT"] == "8883"
    secret = (bundle / "demo.kiosk-1.password").read_text().strip()
    assert secret not in printed  # the password stays in its 0600 file
    broker, tls_port, local_port = _production_broker(tmp_path / "data", broker_dir)
    broker.start()
    hall = load_hall(hall_file)
    scheduler = SchedulerService(
        hall,
        Store(Store.sqlite_url(tmp_path / "demo.db"), hall.id),
        BusSettings(port=local_port, credentials_dir=local),
    )
    kiosk = VirtualKiosk(
        BusSettings(
            host=env["PAIDUI_MQTT_HOST"],
            port=tls_port,
            ca_file=Path(env["PAIDUI_MQTT_CA"]),
            credentials_dir=Path(env["PAIDUI_MQTT_CREDENTIALS"]),
        ),
        hall.id,
        "kiosk-1",
    )
    try:
        scheduler.start()
        kiosk.start()
        # The scheduler heard the kiosk and answered it: no clerk is logged in yet.
        answer = kiosk.issue("social")
        assert answer.error is not None and answer.error.code == ErrorCode.NO_WINDOW_OPEN
    finally:
        kiosk.stop()
        scheduler.stop()
        broker.stop()


def test_the_shipped_example_acl_is_what_the_tool_writes() -> None:
    shipped = (BROKER_CONFIG_DIR / "acl.conf").read_text(encoding="utf-8")
    assert shipped == render_acl([load_hall(DEMO_HALL_FILE)])
