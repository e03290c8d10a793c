"""Device profiles: one YAML file per model in ``firmware_profiles/``, validated on load.

A profile may say ``inherits: <name>`` to start from another file of the same folder
(a model family); its own keys override, nested mappings merge. Code reads capabilities
from the validated model and never branches on a model name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

P = TypeVar("P", bound=BaseModel)

# The repository's profiles; an installation may point elsewhere.
PROFILE_ROOT = Path(__file__).resolve().parent.parent / "firmware_profiles"


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


def load_profile(model: type[P], folder: Path | Sequence[Path], name: str) -> P:
    """Load profile ``name`` from ``folder`` with its ancestors, validated as ``model``."""
    folders = [folder] if isinstance(folder, Path) else list(folder)
    data = load_raw_profile(folders, name)
    return validate_profile(model, data, name, ", ".join(str(f) for f in folders))


def profile_names(folder: Path) -> list[str]:
    """Every loadable profile in ``folder``; files starting with ``_`` are bases only."""
    return sorted(p.stem for p in folder.glob("*.yaml") if not p.stem.startswith("_"))
