"""``paidui profiles check`` and ``paidui drivers``: an integrator's new profile and plug-ins."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, RootModel

from hallbus.profiles import ProfileError, load_raw_profile, profile_folders, validate_profile

# Each profile folder, and how a merged profile of it is validated.
Validator = Callable[[dict[str, Any], str, str], BaseModel]


def _validators() -> dict[str, Validator]:
    from counter_terminal.drivers import validate_counter_profile
    from display_wall.drivers import validate_led_profile
    from display_wall.profile import LcdLayout
    from id_reader.drivers import validate_reader_profile
    from kiosk.drivers import validate_printer_profile

    def rooted(model: type[RootModel[Any]]) -> Validator:
        return lambda data, name, where: validate_profile(model, data, name, where).root

    return {
        "printers": validate_printer_profile,
        "id_readers": validate_reader_profile,
        "counter_devices": validate_counter_profile,
        "led_boards": validate_led_profile,
        "hall_boards": lambda data, name, where: validate_profile(LcdLayout, data, name, where),
    }


def check_profile(path: Path, kind: str | None = None) -> BaseModel:
    """Validate one profile file as the daemons would load it; ProfileError says what is wrong."""
    validators = _validators()
    kind = kind or path.resolve().parent.name
    if kind not in validators:
        raise ProfileError(
            f"{path}: cannot tell the kind of device from its folder; pass --kind "
            f"({', '.join(validators)})"
        )
    if not path.is_file():
        raise ProfileError(f"{path}: no such file")
    # Its own folder first, so `inherits:` finds a sibling; then the shipped family bases.
    folders = [path.resolve().parent, *profile_folders(kind)]
    data = load_raw_profile(folders, path.stem)
    return validators[kind](data, path.stem, str(path))


def cmd_profiles_check(args: argparse.Namespace) -> int:
    """Check each file; print one JSON line per file; exit 1 if any is invalid."""
    failed = False
    for path in args.files:
        if path.stem.startswith("_"):
            # A family base is partial by design; it is checked through the models using it.
            print(json.dumps({"file": str(path), "ok": True, "base": True}))
            continue
        try:
            profile = check_profile(path, args.kind)
        except ProfileError as err:
            failed = True
            print(
                json.dumps({"file": str(path), "ok": False, "error": str(err)}, ensure_ascii=False)
            )
            continue
        summary = profile.model_dump(mode="json", include={"id", "type", "name", "model"})
        print(json.dumps({"file": str(path), "ok": True, **summary}, ensure_ascii=False))
    return 1 if failed else 0


def cmd_drivers(args: argparse.Namespace) -> int:
    """List the device drivers, built-in and plugged in, and any plug-in that failed."""
    from counter_terminal.drivers import KEYPAD_DRIVERS
    from display_wall.drivers import LED_DRIVERS
    from id_reader.drivers import READER_DRIVERS
    from kiosk.drivers import PRINTER_DRIVERS

    registries = (LED_DRIVERS, KEYPAD_DRIVERS, READER_DRIVERS, PRINTER_DRIVERS)
    rows = [{"kind": r.kind, "type": t, "from": r.origin(t)} for r in registries for t in r.types()]
    problems = [
        {"entry_point": p.entry_point, "error": p.error} for r in registries for p in r.problems
    ]
    print(json.dumps({"drivers": rows, "problems": problems}, ensure_ascii=False, indent=2))
    return 1 if problems else 0


def add_profile_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``profiles check`` and ``drivers``."""
    profiles = sub.add_parser("profiles", help="device profiles")
    profiles_sub = profiles.add_subparsers(dest="profiles_command", required=True)
    check = profiles_sub.add_parser("check", help="validate profile files as the daemons would")
    check.add_argument("files", type=Path, nargs="+")
    check.add_argument("--kind", default=None, help="the folder kind if not the file's folder")
    check.set_defaults(func=cmd_profiles_check)

    drivers = sub.add_parser("drivers", help="list installed drivers and broken plug-ins")
    drivers.set_defaults(func=cmd_drivers)
