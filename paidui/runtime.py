"""What every daemon command shares: bus options from the command line and the
environment, and waiting for SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

from hallbus.settings import BusSettings


def bus_settings(args: argparse.Namespace) -> BusSettings:
    """The broker connection the bus options and PAIDUI_MQTT_PASSWORD describe."""
    password = os.environ.get("PAIDUI_MQTT_PASSWORD")  # never on the command line
    return BusSettings(
        host=args.mqtt_host,
        port=args.mqtt_port,
        username=args.mqtt_user,
        password=password,
        protocol=args.mqtt_protocol,
        ca_file=args.mqtt_ca,
        credentials_dir=args.mqtt_credentials,
    )


def add_bus_options(parser: argparse.ArgumentParser) -> None:
    """The broker's address and credentials, defaulting to the PAIDUI_MQTT_* variables."""
    # In a hall these come from /etc/paidui/bus.env (printed by paidui devices provision).
    env = os.environ.get
    parser.add_argument("--mqtt-host", default=env("PAIDUI_MQTT_HOST", "127.0.0.1"))
    # argparse passes a string default through ``type`` too: a bad PAIDUI_MQTT_PORT is a
    # usage error naming the value, not a traceback while the parser is built.
    parser.add_argument("--mqtt-port", type=tcp_port, default=env("PAIDUI_MQTT_PORT", "1883"))
    parser.add_argument("--mqtt-user", default=None, help="password from PAIDUI_MQTT_PASSWORD")
    parser.add_argument("--mqtt-protocol", choices=["5", "3.1.1"], default="5")
    parser.add_argument(
        "--mqtt-ca",
        type=Path,
        default=env("PAIDUI_MQTT_CA"),
        help="the hall CA's certificate: connect with TLS",
    )
    parser.add_argument(
        "--mqtt-credentials",
        type=Path,
        default=env("PAIDUI_MQTT_CREDENTIALS"),
        help="folder of per-identity credentials (paidui devices provision)",
    )


def stop_on_signal() -> threading.Event:
    """An event set by SIGINT or SIGTERM (systemd's stop)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop_on_signal().wait()


def tcp_port(text: str) -> int:
    """A TCP port from the command line or the environment."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-65535)")
    return port
