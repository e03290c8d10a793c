"""The daemon base: one MQTT connection with availability, reconnect and request/reply."""

from __future__ import annotations

import functools
import logging
import math
import queue
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hallbus.driven import DrivenLoop
from hallbus.messages import (
    OFFLINE,
    ONLINE,
    ErrorCode,
    Message,
    PayloadError,
    Reply,
    Request,
    decode,
)
from hallbus.settings import BusSettings
from hallbus.topics import RECORDS, Command, HallTopics

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], None]


def expiry_interval(patience_s: float) -> int:
    """MQTT's message expiry, in whole seconds, for a request its sender waits
    ``patience_s`` for: gone from the broker by the time the sender gives up.

    Brokers count whole seconds: mosquitto sets a message's end at the second it arrived
    plus the interval and drops it once a later second has begun, so a message lives up
    to a second longer than its interval. Below two seconds of patience, the shortest
    interval (1 s) may outlive the sender by less than a second.
    """
    return max(1, math.floor(patience_s) - 1)


@functools.lru_cache(maxsize=64)
def _expiring(expiry_s: int) -> Properties:
    # Made once per interval: paho's Properties costs 15 µs to build, more than the rest
    # of a request's publish. paho only reads (packs) a message's properties.
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.MessageExpiryInterval = expiry_s
    return properties


class BusError(RuntimeError):
    """The broker could not be reached or refused us."""


@dataclass
class _Subscription:
    topic_filter: str
    handler: Handler
    inline: bool


def _disable_nagle(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    # Measured: a loopback request/reply costs ~0.3 ms with TCP_NODELAY on both ends
    # and 44-88 ms without, because Nagle holds back the small MQTT packets.
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class BusClient:
    """One daemon's connection: retained last will, reconnect with backoff, dispatch."""

    def __init__(
        self,
        settings: BusSettings,
        client_id: str,
        availability_topic: str,
        *,
        persistent: bool = True,
        driven: bool = False,
    ) -> None:
        # ``driven``: no network thread; the owner calls ``pump`` from its own (see
        # hallbus/driven.py), and must be pumping before ``start`` waits to connect.
        self._driven = (
            DrivenLoop(settings.reconnect_min_s, settings.reconnect_max_s) if driven else None
        )
        self.settings = settings
        self.client_id = client_id
        self.availability_topic = availability_topic
        self.persistent = persistent
        self.connected = threading.Event()
        self._subscriptions: list[_Subscription] = []
        self._inbox: queue.Queue[tuple[Handler, str, bytes] | None] = queue.Queue()
        self._client: mqtt.Client | None = None
        self._dispatcher: threading.Thread | None = None
        self._connect_listeners: list[Callable[[], None]] = []
        self._disconnect_listeners: list[Callable[[], None]] = []

    # --- wiring, before or after start -----------------------------------------
    def subscribe(self, topic_filter: str, handler: Handler, *, inline: bool = False) -> None:
        """Call ``handler(topic, payload)`` for every message matching ``topic_filter``.

        Inline handlers run on the network thread (a driven client's owner's) and must
        not block; the others run one at a time on this client's dispatcher thread.
        """
        sub = _Subscription(topic_filter, handler, inline)
        self._subscriptions.append(sub)
        if self._client is not None:
            self._install(sub)
            if self.connected.is_set():
                self._client.subscribe(topic_filter, qos=1)

    def on_connected(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (on the network thread) after every successful connect."""
        self._connect_listeners.append(listener)

    def on_disconnected(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (on the network thread) whenever the connection is lost."""
        self._disconnect_listeners.append(listener)

    # --- lifecycle -------------------------------------------------------------
    def start(self, timeout: float | None = 10.0) -> None:
        """Connect in the background; wait up to ``timeout`` for the first connection."""
        protocol = (
            MQTTProtocolVersion.MQTTv5
            if self.settings.protocol == "5"
            else MQTTProtocolVersion.MQTTv311
        )
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=protocol,
            clean_session=None if protocol == MQTTProtocolVersion.MQTTv5 else not self.persistent,
        )
        settings = self.settings.for_identity(self.client_id)
        if settings.username:
            password = settings.password.get_secret_value() if settings.password else None
            client.username_pw_set(settings.username, password)
        if settings.ca_file is not None:
            # The hall's own CA; a client certificate where the listener asks for one.
            client.tls_set(
                ca_certs=str(settings.ca_file),
                certfile=str(settings.cert_file) if settings.cert_file else None,
                keyfile=str(settings.key_file) if settings.key_file else None,
            )
        client.will_set(self.availability_topic, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(self.settings.reconnect_min_s, self.settings.reconnect_max_s)  # type: ignore[arg-type]
        client.max_inflight_messages_set(200)
        client.max_queued_messages_set(0)  # never drop outgoing messages while disconnected
        client.on_socket_open = _disable_nagle
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        # No on_publish: paho would call it, with a reason code and a properties object
        # made for it, for every QoS 0 message written. Whoever needs to know that a QoS 1
        # message was acknowledged asks the MQTTMessageInfo that publish returned.
        if self._driven is not None:
            self._driven.prepare(client)
        self._client = client
        for sub in self._subscriptions:
            self._install(sub)
        self._dispatcher = threading.Thread(
            target=self._dispatch, name=f"dispatch-{self.client_id}", daemon=True
        )
        self._dispatcher.start()

        connect_properties = None
        clean_start: bool | Literal[3] = mqtt.MQTT_CLEAN_START_FIRST_ONLY
        if protocol == MQTTProtocolVersion.MQTTv5:
            connect_properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            if self.persistent:
                connect_properties.SessionExpiryInterval = self.settings.session_expiry_s
                clean_start = False
            else:
                clean_start = True
        client.connect_async(
            self.settings.host,
            self.settings.port,
            keepalive=self.settings.keepalive_s,
            clean_start=clean_start,
            properties=connect_properties,
        )
        if self._driven is not None:
            self._driven.client = client
            self._driven.wake()
        else:
            client.loop_start()
        if timeout is not None and not self.connected.wait(timeout):
            self.stop()
            raise BusError(
                f"no connection to MQTT broker {self.settings.host}:{self.settings.port} "
                f"within {timeout:.0f} s"
            )

    def stop(self, *, announce: bool = True) -> None:
        """Say ``offline`` (unless told not to), disconnect and stop the threads."""
        client = self._client
        if client is None:
            return
        if self._driven is not None:
            last_words = self._last_words if announce and self.connected.is_set() else None
            self._driven.close(last_words)
            self._finish_stop()
            return
        if announce and self.connected.is_set():
            info = self._last_words()
            try:
                info.wait_for_publish(timeout=2.0)
            except (RuntimeError, ValueError):
                log.warning("could not publish offline before stopping", extra=self._ctx())
        client.disconnect()
        client.loop_stop()
        self._finish_stop()

    def _finish_stop(self) -> None:
        self.connected.clear()
        self._inbox.put(None)
        if self._dispatcher is not None:
            self._dispatcher.join(timeout=5.0)
        self._client = None

    def _last_words(self) -> mqtt.MQTTMessageInfo:
        assert self._client is not None
        return self._client.publish(self.availability_topic, OFFLINE, qos=1, retain=True)

    # --- a driven client's loop, on its owner's thread ----------------------------
    def pump(self, timeout: float) -> None:
        """Do the connection's network work for up to ``timeout`` seconds: (re)connect,
        read what has arrived (inline handlers run here), write what was published."""
        if self._driven is None:
            raise BusError("pump is for a driven client; this one has its own thread")
        self._driven.pump(timeout)

    def flush(self) -> None:
        """Write what a driven client has published so far (on the owner's thread)."""
        if self._driven is not None:
            self._driven.flush()

    def wake(self) -> None:
        """Cut a driven client's pump short (from another thread)."""
        if self._driven is not None:
            self._driven.wake()

    # --- publishing ------------------------------------------------------------
    def publish(
        self,
        topic: str,
        payload: Message | bytes | str,
        *,
        qos: int = 1,
        retain: bool = False,
        expiry_s: int | None = None,
    ) -> mqtt.MQTTMessageInfo:
        """Publish; queued by the client while disconnected, sent on reconnect. With
        ``expiry_s`` (MQTT 5; a 3.1.1 connection cannot say it), the broker drops the
        message if it has not passed it on within that many seconds."""
        if self._client is None:
            raise BusError("publish before start()")
        data = payload.to_bytes() if isinstance(payload, Message) else payload
        properties = None
        if expiry_s is not None and self.settings.protocol == "5":
            properties = _expiring(expiry_s)
        return self._client.publish(topic, data, qos=qos, retain=retain, properties=properties)

    # --- paho callbacks (network thread) --------------------------------------
    def _ctx(self) -> dict[str, Any]:
        return {"client_id": self.client_id}

    def _install(self, sub: _Subscription) -> None:
        assert self._client is not None

        def deliver(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
            payload = bytes(message.payload)
            if sub.inline:
                self._run(sub.handler, message.topic, payload)
            else:
                self._inbox.put((sub.handler, message.topic, payload))

        self._client.message_callback_add(sub.topic_filter, deliver)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error(
                "broker refused connection", extra={**self._ctx(), "reason": str(reason_code)}
            )
            return
        log.info(
            "connected",
            extra={**self._ctx(), "session_present": flags.session_present},
        )
        if self._driven is not None:
            self._driven.connected()
        # Subscribe every time: a broker without persistence forgets sessions on restart.
        if self._subscriptions:
            client.subscribe([(s.topic_filter, 1) for s in self._subscriptions])
        client.publish(self.availability_topic, ONLINE, qos=1, retain=True)
        self.connected.set()
        for listener in self._connect_listeners:
            listener()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connected.clear()
        level = logging.INFO if reason_code == 0 else logging.WARNING
        log.log(level, "disconnected", extra={**self._ctx(), "reason": str(reason_code)})
        for listener in self._disconnect_listeners:
            listener()

    # --- dispatch ----------------------------------------------------------------
    def _run(self, handler: Handler, topic: str, payload: bytes) -> None:
        try:
            handler(topic, payload)
        except Exception:
            # Input must never kill a daemon: log with the topic and keep going.
            log.exception("handler failed", extra={**self._ctx(), "topic": topic})

    def _dispatch(self) -> None:
        while (item := self._inbox.get()) is not None:
            self._run(*item)


@dataclass
class PendingReply:
    """A request on its way; ``wait`` returns its reply or None on timeout."""

    request_id: str
    _done: threading.Event = field(default_factory=threading.Event)
    reply: Reply | None = None

    def wait(self, timeout: float) -> Reply | None:
        """Block until the reply arrives or ``timeout`` passes."""
        self._done.wait(timeout)
        return self.reply


class Requester:
    """Sends a device's requests and matches the scheduler's replies by request id."""

    def __init__(self, bus: BusClient, topics: HallTopics, device_id: str) -> None:
        self.bus = bus
        self.topics = topics
        self.device_id = device_id
        self._pending: dict[str, PendingReply] = {}
        self._lock = threading.Lock()
        self.on_reply: Callable[[Reply], None] | None = None

    def attach(self) -> None:
        """Listen for this device's replies; call before ``bus.start()``."""
        self.bus.subscribe(self.topics.reply(self.device_id), self._on_reply, inline=True)

    @staticmethod
    def new_request_id() -> str:
        """A fresh idempotency key."""
        return uuid.uuid4().hex

    def send(
        self, command: Command, request: Request, *, patience_s: float | None = None
    ) -> PendingReply:
        """Publish ``request`` without waiting. Given the sender's ``patience_s``, a
        request that is not a record (topics.RECORDS) expires at the broker by then."""
        with self._lock:
            pending = self._pending.get(request.request_id)
            if pending is None:
                pending = self._pending[request.request_id] = PendingReply(request.request_id)
        expiry = None
        if patience_s is not None and command not in RECORDS:
            expiry = expiry_interval(patience_s)
            if not self.bus.connected.is_set():
                # paho would send it on reconnect, however much later, and the broker
                # would start its expiry afresh: the sender waits in vain, as it should.
                return pending
        self.bus.publish(self.topics.request(self.device_id, command), request, expiry_s=expiry)
        return pending

    def request(
        self, command: Command, request: Request, *, timeout: float = 2.0, attempts: int = 3
    ) -> Reply:
        """Send and wait; on timeout resend the same request (same id, so it acts once)."""
        try:
            for _ in range(attempts):
                reply = self.send(command, request, patience_s=timeout).wait(timeout)
                if reply is not None:
                    return reply
            return Reply.fail(
                request.request_id,
                ErrorCode.TIMEOUT,
                f"no answer from the scheduler after {attempts} tries",
            )
        finally:
            with self._lock:
                self._pending.pop(request.request_id, None)

    def forget(self, request_id: str) -> None:
        """Stop tracking a request sent with ``send``."""
        with self._lock:
            self._pending.pop(request_id, None)

    def _on_reply(self, topic: str, payload: bytes) -> None:
        try:
            reply = decode(Reply, payload)
        except PayloadError as err:
            log.warning("malformed reply dropped", extra={"topic": topic, "error": str(err)})
            return
        if self.on_reply is not None:
            self.on_reply(reply)
        with self._lock:
            pending = self._pending.get(reply.request_id or "")
        if pending is not None and pending.reply is None:
            pending.reply = reply
            pending._done.set()
