"""``paidui broker init|acl`` and ``paidui devices provision``: a hall's broker identities."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path

log = logging.getLogger("paidui.broker")

# Where a device's bundle goes on the machine that runs its daemon.
DEVICE_CREDENTIALS_DIR = Path("/etc/paidui/credentials")


def cmd_broker_init(args: argparse.Namespace) -> int:
    """Make the hall CA, the broker certificate, the scheduler's and portal's logins, the ACL."""
    from hallbus.hall_file import HallConfig, load_hall
    from hallbus.topics import HallTopics
    from paidui.acl import render_acl
    from paidui.credentials import BrokerFolder

    halls: list[HallConfig] = [load_hall(path) for path in args.hall]
    folder = BrokerFolder(args.dir)
    now = dt.datetime.now(dt.UTC)
    name = "+".join(hall.id for hall in halls)
    if folder.init(name, args.host, now=now):
        print(f"made the hall CA and the broker certificate for {', '.join(args.host)}")
    else:
        print(f"kept the existing CA in {folder.folder}")
    known = set(folder.identities())
    for hall in halls:
        topics = HallTopics(hall.id)
        # The scheduler and the dashboard run beside the broker: loopback, passwords.
        for identity in (topics.scheduler_identity(), topics.identity(args.portal)):
            if identity in known:
                continue
            folder.provision(identity, hall.id, args.out, now=now, certificate=False)
            print(f"{identity}: password in {args.out / (identity + '.password')}")
    folder.acl.write_text(render_acl(halls), encoding="utf-8")
    print(f"wrote {folder.acl}; reload the broker (systemctl reload paidui-broker)")
    return 0


def cmd_broker_acl(args: argparse.Namespace) -> int:
    """Print (or write) the ACL for the given halls."""
    from hallbus.hall_file import load_hall
    from paidui.acl import AclError, render_acl

    try:
        text = render_acl([load_hall(path) for path in args.hall])
    except AclError as err:
        log.error("%s", err)
        return 2
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0


def daemon_config(
    identity: str, *, host: str, tls: bool, credentials_dir: Path = DEVICE_CREDENTIALS_DIR
) -> str:
    """The environment file a device's daemon reads (``/etc/paidui/bus.env``)."""
    lines = [
        f"# {identity}: copy the bundle's files to {credentials_dir}/ (owner paidui, 0600)",
        f"PAIDUI_MQTT_HOST={host}",
        f"PAIDUI_MQTT_PORT={8883 if tls else 1883}",
        f"PAIDUI_MQTT_CREDENTIALS={credentials_dir}",
    ]
    if tls:
        lines.append(f"PAIDUI_MQTT_CA={credentials_dir}/ca.crt")
    return "\n".join(lines) + "\n"


def cmd_devices_provision(args: argparse.Namespace) -> int:
    """Credentials for one device of a hall, and its daemon's configuration."""
    from hallbus.hall_file import load_hall
    from hallbus.topics import HallTopics
    from paidui.credentials import BrokerFolder, CredentialsError

    hall = load_hall(args.hall)
    device = hall.device(args.device)
    if device is None:
        log.error("device %s is not in %s: add it to the hall file first", args.device, args.hall)
        return 2
    identity = HallTopics(hall.id).identity(device.id)
    folder = BrokerFolder(args.dir)
    try:
        made = folder.provision(
            identity,
            hall.id,
            args.out,
            now=dt.datetime.now(dt.UTC),
            certificate=not args.no_certificate,
        )
    except CredentialsError as err:
        log.error("%s", err)
        return 2
    print(f"# {device.kind.value} {device.id} of hall {hall.id}: broker identity {identity}")
    print(f"# bundle: {args.out} (ca.crt, {identity}.password", end="")
    print(f", {identity}.crt, {identity}.key)" if made.cert_file else ")")
    print("# the password file changed: systemctl reload paidui-broker")
    config = daemon_config(
        identity,
        host=args.broker_host,
        tls=made.cert_file is not None,
        credentials_dir=args.credentials_dir,
    )
    print(config, end="")
    return 0


def add_broker_commands(
    broker_sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    root_sub: argparse._SubParsersAction,  # type: ignore[type-arg]
) -> None:
    """``broker init``, ``broker acl`` and ``devices provision``."""
    init = broker_sub.add_parser("init", help="the hall CA, broker certificate, logins and ACL")
    init.add_argument("--hall", type=Path, action="append", required=True, help="repeatable")
    init.add_argument("--dir", type=Path, default=Path("/etc/paidui/broker"))
    init.add_argument(
        "--host", action="append", required=True, help="the broker's host names and addresses"
    )
    init.add_argument("--portal", default="portal", help="the dashboard's device id")
    init.add_argument("--out", type=Path, default=Path("/etc/paidui/credentials"))
    init.set_defaults(func=cmd_broker_init)

    acl = broker_sub.add_parser("acl", help="the ACL of one or several halls")
    acl.add_argument("--hall", type=Path, action="append", required=True, help="repeatable")
    acl.add_argument("--out", type=Path, default=None)
    acl.set_defaults(func=cmd_broker_acl)

    devices = root_sub.add_parser("devices", help="device identities on the broker")
    devices_sub = devices.add_subparsers(dest="devices_command", required=True)
    provision = devices_sub.add_parser(
        "provision", help="a device's password and certificate; prints its daemon's config"
    )
    provision.add_argument("device", help="the device id in the hall file")
    provision.add_argument("--hall", type=Path, required=True)
    provision.add_argument("--dir", type=Path, default=Path("/etc/paidui/broker"))
    provision.add_argument("--out", type=Path, required=True, help="the device's bundle")
    provision.add_argument("--broker-host", required=True, help="how the device reaches it")
    provision.add_argument(
        "--credentials-dir",
        type=Path,
        default=DEVICE_CREDENTIALS_DIR,
        help="where the bundle will live on the device's machine",
    )
    provision.add_argument(
        "--no-certificate", action="store_true", help="password only (loopback daemons)"
    )
    provision.set_defaults(func=cmd_devices_provision)
