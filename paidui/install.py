"""``paidui install``: lay out a hall machine's systemd units, udev rules and system user.

Input: the hall file and a site file naming the daemons this machine runs, each with
its ``paidui`` command, arguments and (for hardware) the stable device node the udev
rules give it::

    daemons:
      - {name: kiosk-1, command: kiosk, device: /dev/paidui/printer,
         args: [--device-id, kiosk-1, --printer, "usb:0416:5011"]}
      - name: counters
        command: counter
        device: /dev/paidui/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0
        args: [--window, "1", --window, "2", --profile, rs485-keypad-lcd,
               --profile, rs485-rater-5key,
               --port, /dev/paidui/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0]

A daemon with a device is bound to it (``BindsTo=`` its .device unit, wanted by it): it
starts when the device appears and stops when it is unplugged. Everything runs as the
unprivileged user ``paidui`` with systemd's sandboxing (``units/_hardening.conf``).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from hallbus.hall_file import HallConfig
from hallbus.profiles import package_folder
from paidui.broker import BROKER_CONFIG_DIR

UNITS = Path(__file__).with_name("units")
UDEV_RULES = package_folder("udev_rules")
COMMANDS = ("kiosk", "id-reader", "counter", "board led", "board lcd", "board voice")


class SiteDaemon(BaseModel):
    """One daemon this machine runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    command: str
    args: list[str] = Field(default_factory=list)
    device: str | None = Field(default=None, pattern=r"^/dev/")


class Site(BaseModel):
    """What one hall machine runs besides the broker, scheduler and dashboard."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    daemons: list[SiteDaemon] = Field(default_factory=list)


def device_unit(path: str) -> str:
    """The .device unit systemd makes for a device node (``systemd-escape --path``)."""
    trimmed = path.strip("/")
    out = []
    for index, char in enumerate(trimmed):
        if char == "/":
            out.append("-")
        elif char.isascii() and (char.isalnum() or char in ":_" or (char == "." and index)):
            out.append(char)
        else:
            out.append("".join(f"\\x{b:02x}" for b in char.encode()))
    return "".join(out) + ".device"


def _device_lines(path: str) -> tuple[str, str]:
    unit = device_unit(path)
    binding = f"BindsTo={unit}\nAfter={unit}"
    # The real node behind a udev symlink is what the sandbox must allow.
    allow = f"DeviceAllow={path} rw\nDeviceAllow=char-usb_device rw\nDeviceAllow=char-ttyUSB rw"
    return binding, allow + "\nDeviceAllow=char-input r"


def render_units(hall: HallConfig, site: Site, *, paidui: str, mosquitto: str) -> dict[str, str]:
    """Every unit file's name and text."""
    hardening = (UNITS / "_hardening.conf").read_text(encoding="utf-8").strip()
    values = {
        "hall": hall.id,
        "paidui": exec_words([paidui]),
        "mosquitto": exec_words([mosquitto]),
        "hardening": hardening,
    }
    units = {
        name: (UNITS / name).read_text(encoding="utf-8").format(**values)
        for name in ("paidui-broker.service", "paidui-scheduler.service", "paidui-web.service")
    }
    template = (UNITS / "paidui-device.service").read_text(encoding="utf-8")
    for daemon in site.daemons:
        if daemon.command not in COMMANDS:
            raise ValueError(f"{daemon.name}: command {daemon.command!r} is not one of {COMMANDS}")
        if daemon.device is not None:
            binding, allow = _device_lines(daemon.device)
            wanted_by = device_unit(daemon.device)
        else:
            binding, allow, wanted_by = "", "DeviceAllow=char-input r", "multi-user.target"
        screen = daemon.command in ("kiosk", "board lcd")
        units[f"paidui-{daemon.name}.service"] = template.format(
            **values,
            name=daemon.name,
            command=daemon.command,
            args=exec_words(daemon.args),
            device_binding=binding,
            device_allow=allow,
            wanted_by=wanted_by,
            # Full screen straight on the console (KMS/DRM), no desktop session.
            video="kmsdrm" if screen else "dummy",
            audio="alsa" if daemon.command == "board voice" else "dummy",
        )
    return units


def exec_words(words: list[str]) -> str:
    """Arguments for an ``ExecStart=`` line, each reaching the daemon exactly as written.

    Quoted as a shell would quote them (systemd splits quoted words alike), then escaped
    for what systemd does before splitting: ``%`` starts a specifier and ``$`` an
    environment variable, so both are doubled, and a backslash starts a C escape.
    """
    quoted = shlex.join(words).replace("\\", "\\\\")
    return quoted.replace("%", "%%").replace("$", "$$")


SYSUSERS = (
    "# paidui's daemons run as this user; udev gives its group the devices.\n"
    'u paidui - "paidui hall daemons" /var/lib/paidui\n'
)
TMPFILES = (
    "d /etc/paidui 0750 root paidui -\n"
    "d /etc/paidui/broker 0750 root paidui -\n"
    "d /var/lib/paidui 0750 paidui paidui -\n"
)


def install(
    hall: HallConfig, site_file: Path | None, root: Path, *, paidui: str, mosquitto: str
) -> list[Path]:
    """Write units, udev rules, the system user and the broker configuration under ``root``."""
    site = Site()
    if site_file is not None:
        site = Site.model_validate(yaml.safe_load(site_file.read_text(encoding="utf-8")) or {})
    written: list[Path] = []

    def write(relative: str, text: str) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)

    for name, text in render_units(hall, site, paidui=paidui, mosquitto=mosquitto).items():
        write(f"etc/systemd/system/{name}", text)
    for rules in sorted(UDEV_RULES.glob("*.rules")):
        write(f"etc/udev/rules.d/{rules.name}", rules.read_text(encoding="utf-8"))
    write("usr/lib/sysusers.d/paidui.conf", SYSUSERS)
    write("usr/lib/tmpfiles.d/paidui.conf", TMPFILES)
    broker = root / "etc/paidui/broker/mosquitto.conf"
    if not broker.exists():  # never overwrite a hall's tuned broker file
        write(
            "etc/paidui/broker/mosquitto.conf", (BROKER_CONFIG_DIR / "production.conf").read_text()
        )
    for env in ("bus.env", "scheduler.env", "web.env"):
        if not (root / "etc/paidui" / env).exists():
            write(f"etc/paidui/{env}", _ENV_DEFAULTS[env])
    return written


_ENV_DEFAULTS = {
    "bus.env": (
        "# paidui devices provision prints this machine's lines.\n"
        "PAIDUI_MQTT_HOST=127.0.0.1\n"
        "PAIDUI_MQTT_PORT=1883\n"
        "PAIDUI_MQTT_CREDENTIALS=/etc/paidui/credentials\n"
    ),
    "scheduler.env": (
        "PAIDUI_DB=sqlite:////var/lib/paidui/paidui.db\n"
        "PAIDUI_MQTT_CREDENTIALS=/etc/paidui/credentials\n"
    ),
    "web.env": (
        "PAIDUI_WEB_HOST=127.0.0.1\nPAIDUI_WEB_PORT=8000\nPAIDUI_PUBLIC_URL=https://hall.example/\n"
    ),
}


def find_mosquitto() -> str:
    """mosquitto's path, or Debian's default place for it."""
    return shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def cmd_install(args: argparse.Namespace) -> int:
    """Lay out the units and rules; print what was written."""
    from hallbus.hall_file import load_hall

    written = install(
        load_hall(args.hall),
        args.site,
        args.root,
        paidui=args.paidui
        or shutil.which("paidui")
        or str(Path(sys.executable).with_name("paidui")),
        mosquitto=find_mosquitto(),
    )
    for path in written:
        print(path)
    print("then: systemd-sysusers; systemd-tmpfiles --create; udevadm control --reload;")
    print("      systemctl daemon-reload; systemctl enable --now paidui-broker paidui-scheduler")
    return 0


def add_install_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``paidui install``."""
    parser = sub.add_parser("install", help="systemd units, udev rules and the paidui user")
    parser.add_argument("--hall", type=Path, required=True)
    parser.add_argument("--site", type=Path, default=None, help="this machine's daemons (YAML)")
    parser.add_argument("--root", type=Path, default=Path("/"), help="write under this root")
    parser.add_argument("--paidui", default=None, help="the paidui command's absolute path")
    parser.set_defaults(func=cmd_install)
