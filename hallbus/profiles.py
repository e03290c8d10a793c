"""Device profiles: one YAML file per model in ``firmware_profiles/``, validated on load.

A profile may say ``inherits: <name>`` to start from another file of the same folder
(a model family); its own keys override, nested mappings merge. Code reads capabilities
from the validated model and never branches on a model name.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

P = TypeVar("P", bound=BaseModel)


def package_folder(package: str) -> Path:
    """The folder of data shipped as a package (profiles, udev rules, broker settings).

    Found through ``importlib.resources``, so it is the same in the repository, an
    editable install, a wheel or a Debian package.
    """
    return Path(str(resources.files(package)))


# The profiles shipped with paidui, one folder per device kind.
PROFILE_ROOT = package_folder("firmware_profiles")
# A site's own profiles (new models, local changes), one folder per kind like the shipped
# ones; a profile here takes precedence over a shipped one of the same name.
SITE_PROFILES_ENV = "PAIDUI_PROFILES"
SITE_PROFILES = Path("/etc/paidui/profiles")


def profile_folders(kind: str) -> list[Path]:
    """Where profiles of ``kind`` (``printers``, ``led_boards``, ...) are looked for, in order."""
    site = Path(os.environ.get(SITE_PROFILES_ENV, SITE_PROFILES))
    return [site / kind, PROFILE_ROOT / kind]


class ProfileError(ValueError):
    """A profile is missing, circular or invalid; the message names the file."""


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _find(folders: Sequence[Path], name: str) -> Path:
    for folder in folders:
        path = folder / f"{name}.yaml"
        if path.is_file():
            return path
    where = ", ".join(str(f) for f in folders)
    raise ProfileError(f"no profile {name!r} in {where}")


def _raw(folders: Sequence[Path], name: str, seen: tuple[str, ...]) -> dict[str, Any]:
    if name in seen:
        raise ProfileError(f"profile inheritance loops: {' -> '.join((*seen, name))}")
    path = _find(folders, name)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ProfileError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a mapping of keys")
    parent = data.pop("inherits", None)
    if parent is None:
        return data
    # A family's base is looked for beside the file first, then in the other folders.
    return _merge(_raw([path.parent, *folders], str(parent), (*seen, name)), data)


def load_raw_profile(folders: Sequence[Path], name: str) -> dict[str, Any]:
    """Profile ``name`` merged with its ancestors, not yet validated."""
    data = _raw(folders, name, ())
    data.setdefault("id", name)
    return data


def validate_profile(model: type[P], data: dict[str, Any], name: str, where: str) -> P:
    """``data`` as ``model``; a ProfileError names the profile, the field and the problem."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "profile"
        raise ProfileError(f"profile {name!r} in {where}: {field}: {first['msg']}") from err


Where = str | Path | Sequence[Path]  # a kind of profiles (its folders), a folder, folders


def folders_of(where: Where) -> list[Path]:
    """The folders ``where`` names, in the order they are searched."""
    if isinstance(where, str):
        return profile_folders(where)
    return [where] if isinstance(where, Path) else list(where)


def load_profile(model: type[P], where: Where, name: str) -> P:
    """Load profile ``name`` with its ancestors, validated as ``model``.

    ``where``: a kind (``"printers"``: the site's folder, then the shipped one), a folder
    or a list of folders.
    """
    folders = folders_of(where)
    data = load_raw_profile(folders, name)
    return validate_profile(model, data, name, ", ".join(str(f) for f in folders))


def profile_names(where: Where) -> list[str]:
    """Every loadable profile there; files starting with ``_`` are bases only."""
    found = {p.stem for f in folders_of(where) for p in f.glob("*.yaml")}
    return sorted(n for n in found if not n.startswith("_"))
