"""Running a broker: mosquitto with the project's configuration, or an embedded one for the demo."""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import shutil
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

from hallbus.profiles import package_folder

log = logging.getLogger(__name__)

BROKER_CONFIG_DIR = package_folder("broker_config")


class BrokerStartError(RuntimeError):
    """The broker did not come up."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(port: int) -> bool:
    """Whether a TCP port on loopback can be bound now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def mosquitto_available() -> bool:
    """Whether the mosquitto binary is installed."""
    return shutil.which("mosquitto") is not None


# Where production.conf expects the broker's files in a hall (see credentials.py).
HALL_BROKER_DIR = Path("/etc/paidui/broker")
_FILE_KEYS = ("acl_file", "password_file", "cafile", "certfile", "keyfile")


def render_config(
    source: Path,
    port: int,
    data_dir: Path,
    *,
    bind: str | None = None,
    overrides: dict[str, str] | None = None,
    listener_ports: dict[int, int] | None = None,
    broker_dir: Path | None = None,
) -> str:
    """The project's mosquitto file with this run's ports, data folder and file paths.

    The file's first listener moves to ``port``, others as ``listener_ports`` maps them;
    files under /etc/paidui/broker are read from ``broker_dir`` when one is given.
    """
    overrides = overrides or {}
    listener_ports = listener_ports or {}
    lines = []
    first_listener = True
    for raw in source.read_text(encoding="utf-8").splitlines():
        words = raw.split()
        key = words[0] if words and not raw.lstrip().startswith("#") else ""
        if key in overrides:
            lines.append(f"{key} {overrides[key]}")
        elif key == "listener":
            configured = int(words[1])
            run_port = port if first_listener else listener_ports.get(configured, configured)
            first_listener = False
            address = f" {bind or words[2]}" if bind or len(words) > 2 else ""
            lines.append(f"listener {run_port}{address}")
        elif key == "persistence_location":
            lines.append(f"persistence_location {data_dir}/")
        elif key in _FILE_KEYS:
            path = Path(words[1])
            if broker_dir is not None and path.parent == HALL_BROKER_DIR:
                path = broker_dir / path.name
            elif not path.is_absolute():
                path = source.parent / path
            lines.append(f"{key} {path.resolve()}")
        elif key in ("log_dest", "pid_file", "user"):
            continue
        else:
            lines.append(raw)
    # Readiness is read from the log, so it must reach us.
    lines.append("log_dest stderr")
    lines.append("log_type information")
    if os.geteuid() == 0:
        # mosquitto started as root switches to user "mosquitto", which cannot write
        # a data folder we created; stay as we are (systemd runs it unprivileged in a hall).
        lines.append("user root")
    return "\n".join(lines) + "\n"


class MosquittoBroker:
    """A mosquitto process on a chosen port, stopped and restarted at will."""

    def __init__(
        self,
        config: Path,
        port: int,
        data_dir: Path,
        *,
        bind: str | None = None,
        overrides: dict[str, str] | None = None,
        listener_ports: dict[int, int] | None = None,
        broker_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.bind = bind
        self.overrides = overrides
        self.listener_ports = listener_ports
        self.broker_dir = broker_dir
        self.port = port
        self.data_dir = data_dir
        self._process: subprocess.Popen[str] | None = None
        self._log: list[str] = []

    def start(self, timeout: float = 10.0) -> None:
        """Run mosquitto and wait until it says it is running."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        rendered = self.data_dir / "mosquitto.conf"
        rendered.write_text(
            render_config(
                self.config,
                self.port,
                self.data_dir,
                bind=self.bind,
                overrides=self.overrides,
                listener_ports=self.listener_ports,
                broker_dir=self.broker_dir,
            ),
            encoding="utf-8",
        )
        process = subprocess.Popen(
            ["mosquitto", "-c", str(rendered)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._process = process
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                self._log.append(line.rstrip())
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, name="mosquitto-log", daemon=True).start()
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                self.stop()
                raise BrokerStartError(f"mosquitto not running after {timeout} s") from None
            if line is None:
                raise BrokerStartError("mosquitto exited:\n" + "\n".join(self._log[-20:]))
            if " running" in line:
                return

    def kill(self) -> None:
        """SIGKILL: no saving of its persistence on the way out, as in a crash."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def stop(self) -> None:
        """Terminate mosquitto (it saves its persistence file on the way out)."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


class EmbeddedBroker:
    """amqtt in a background thread: MQTT 3.1.1 only, loopback only, for the demo."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Any = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and wait until it listens."""
        from amqtt.broker import Broker

        ready = threading.Event()
        failure: list[BaseException] = []
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._broker = Broker(config, loop=loop)
                loop.run_until_complete(self._broker.start())
            except BaseException as err:
                failure.append(err)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="embedded-broker", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or failure:
            raise BrokerStartError(f"embedded broker failed: {failure[:1]}")

    def stop(self) -> None:
        """Shut the broker down."""
        loop = self._loop
        if loop is None or self._broker is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), loop)
        try:
            future.result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=10)
