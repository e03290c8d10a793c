"""A connection whose network work runs on its owner's thread (the scheduler's worker).

With paho's own network thread, the scheduler's worker and that thread took turns at the
interpreter: every request read and every message published handed the lock across, and
the worker's batches stayed small because it ran while the requests were still being
read. Measured with eight kiosk/keypad pairs (paidui bench): the scheduler never used a
whole core and served 482 pairs a second at 0.54 ms of CPU a command; driven from the
worker, it served 814 at 0.35 ms.

Driven, the owner pumps: every packet that has arrived is read (requests land in the
owner's inbox by their inline handlers), then the owner runs them as one batch, its
publishes only queue, and the next pump writes them all. paho still speaks the protocol
through its calls for an external event loop (``loop_read``, ``loop_write``,
``loop_misc``); this module only waits on the socket and reconnects with backoff.
"""

from __future__ import annotations

import contextlib
import logging
import math
import select
import socket
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

log = logging.getLogger(__name__)

# How long stopping waits for the broker to take the last words ("offline").
CLOSE_WAIT_S = 2.0
# How often paho's loop_misc runs (keepalive pings, a silent broker noticed).
MISC_EVERY_S = 0.5
# Readable, or the connection broke (paho must read to notice).
_IN = select.POLLIN | select.POLLERR | select.POLLHUP
# Packets read in one pump at most: under a flood the socket never runs dry, and the
# owner must get back to its batch (the flood's own requests are refused as they are read).
READ_AT_MOST = 512


def _nothing(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    """Registered for writes: paho then queues publishes instead of writing at once."""


class DrivenLoop:
    """The network loop of one paho client, run by whoever calls ``pump``."""

    def __init__(self, min_delay_s: float, max_delay_s: float) -> None:
        # Other threads (stop, a test's poke) cut the owner's wait short through this.
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._min_delay, self._max_delay = min_delay_s, max_delay_s
        self._delay = min_delay_s
        self._retry_at = 0.0
        self._misc_at = 0.0
        self._polled: Any = None  # the connection the poll objects watch
        self._both = select.poll()
        self._reading = select.poll()
        self.client: mqtt.Client | None = None  # set once the client is ready to connect

    @staticmethod
    def prepare(client: mqtt.Client) -> None:
        """Make ``client`` queue what it publishes until the owner's next pump."""
        client.on_socket_register_write = _nothing
        client.on_socket_unregister_write = _nothing

    def wake(self) -> None:
        """End the owner's current wait (from any thread)."""
        with contextlib.suppress(BlockingIOError):  # a byte is waiting: already woken
            self._wake_w.send(b"\0")

    def connected(self) -> None:
        """The broker took the connection: the next loss retries after the shortest delay."""
        self._delay = self._min_delay

    def pump(self, timeout: float) -> None:
        """Connect when due; wait up to ``timeout`` for traffic or a wake; read every
        packet that has arrived, write everything queued, keep the connection alive."""
        client = self.client
        if client is None:
            self._wait(timeout)
        elif client.socket() is None:
            self._connect(client, timeout)
        else:
            self._round(client, timeout)

    def flush(self) -> None:
        """Write what has been published, now (the owner's replies, before its chores)."""
        client = self.client
        if client is not None and client.socket() is not None and client.want_write():
            client.loop_write()

    def close(self, last_words: Callable[[], mqtt.MQTTMessageInfo] | None) -> None:
        """Send ``last_words()`` (waiting up to CLOSE_WAIT_S for the broker to take it),
        then disconnect. Only once the owner has stopped pumping, or by the owner."""
        client, self.client = self.client, None
        if client is None:
            return
        deadline = time.monotonic() + CLOSE_WAIT_S
        if last_words is not None and client.socket() is not None:
            info = last_words()
            while not info.is_published() and client.socket() is not None:
                if time.monotonic() >= deadline:
                    log.warning("could not publish offline before stopping")
                    break
                self._round(client, 0.05)
        client.disconnect()  # queued; paho closes the socket once it is written
        while client.socket() is not None and client.want_write():
            if time.monotonic() >= deadline:
                break
            self._round(client, 0.05)

    # --- the rounds ------------------------------------------------------------------
    def _round(self, client: mqtt.Client, timeout: float) -> None:
        sock: Any = client.socket()  # a socket, a TLS socket or paho's websocket wrapper
        if sock is not self._polled:
            self._watch(sock)
        now = time.monotonic()
        # Keepalive is paho's loop_misc, due every MISC_EVERY_S: no wait runs past it.
        wait = max(min(timeout, self._misc_at - now), 0.0)
        self._both.modify(sock, _IN | select.POLLOUT if client.want_write() else _IN)
        ready = dict(self._both.poll(math.ceil(wait * 1000)))
        if ready.get(self._wake_r.fileno()):
            self._drain()
        if ready.get(sock.fileno(), 0) & _IN:
            self._read_all(client, sock)
        if _still(client, sock) and client.want_write():
            client.loop_write()
        if _still(client, sock) and time.monotonic() >= self._misc_at:
            self._misc_at = time.monotonic() + MISC_EVERY_S
            client.loop_misc()  # keepalive pings, and a dead broker noticed
        if client.socket() is None:
            # paho closed the connection and told on_disconnect: retry after a delay.
            self._retry_at = time.monotonic() + self._delay

    def _watch(self, sock: Any) -> None:
        # poll objects, made once per connection: cheaper per round than select's lists.
        self._polled = sock
        self._both = select.poll()
        self._both.register(self._wake_r, _IN)
        self._both.register(sock, _IN)
        self._reading = select.poll()
        self._reading.register(sock, _IN)

    def _read_all(self, client: mqtt.Client, sock: Any) -> None:
        # paho reads one packet a call; a batch is everything that has arrived.
        for _ in range(READ_AT_MOST):
            if client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS or not _still(client, sock):
                return
            buffered = sock.pending() if hasattr(sock, "pending") else 0  # TLS, unseen by poll
            if not buffered and not self._reading.poll(0):
                return

    def _connect(self, client: mqtt.Client, timeout: float) -> None:
        now = time.monotonic()
        if now < self._retry_at:
            self._wait(min(timeout, self._retry_at - now))
            return
        try:
            client.reconnect()
        except OSError as err:
            log.warning(
                "broker unreachable; retrying",
                extra={"error": str(err), "retry_in_s": round(self._delay, 2)},
            )
            self._retry_at = now + self._delay
            self._delay = min(self._delay * 2, self._max_delay)

    def _wait(self, timeout: float) -> None:
        readable, _, _ = select.select([self._wake_r], [], [], max(timeout, 0.0))
        if readable:
            self._drain()

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_r.recv(4096):
                pass


def _still(client: mqtt.Client, sock: Any) -> bool:
    """Whether ``sock`` is still the client's connection (paho drops it on a loss)."""
    return client.socket() is sock
