"""What a configuration edit changes, said before it is applied (pure).

An administrator edits one section (services, windows, clerks, devices) as YAML; before
anything is sent to the scheduler the whole new configuration is validated and the
difference is listed item by item, keyed the way the hall knows them (a service by its
code, a window by its number, a clerk by 工号, a device by its id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from hallbus.hall_file import HallConfig
from hallbus.i18n import Texts
from scheduler.web.words import N_

KEYS = {"services": "code", "windows": "number", "clerks": "code", "devices": "id"}
SECTIONS = {  # the page's headings too
    "services": N_("Services"),
    "windows": N_("Windows"),
    "clerks": N_("Clerks"),
    "devices": N_("Devices and pairings"),
}
ITEMS = {"services": N_("service"), "windows": N_("window"), "clerks": N_("clerk")}
ITEMS["devices"] = N_("device")


class PreviewError(ValueError):
    """The edit cannot be applied; the message says where and why."""


@dataclass(frozen=True)
class Change:
    """One item added, removed or changed (with the fields that changed)."""

    kind: str  # added, removed, changed
    key: str
    fields: tuple[str, ...] = ()

    def sentence(self, section: str, texts: Texts) -> str:
        """The change as an administrator reads it."""
        what = texts(ITEMS[section])
        if self.kind == "added":
            return texts("Add {what} {key}", what=what, key=self.key)
        if self.kind == "removed":
            return texts("Delete {what} {key}", what=what, key=self.key)
        fields = texts(", ").join(self.fields)
        return texts("Change {what} {key}: {fields}", what=what, key=self.key, fields=fields)


def preview(
    current: HallConfig, section: str, body: str, texts: Texts
) -> tuple[dict[str, Any], list[Change]]:
    """The whole new configuration and what it changes; PreviewError (in ``texts``'
    language) if it is refused."""
    try:
        value = yaml.safe_load(body)
    except yaml.YAMLError as err:
        raise PreviewError(texts("Not valid YAML: {error}", error=err)) from err
    if not isinstance(value, list):
        raise PreviewError(
            texts(
                "{section} must be a list (each item starts with -)",
                section=texts(SECTIONS[section]),
            )
        )
    new = current.model_dump(mode="json") | {section: value}
    try:
        HallConfig.model_validate(new)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PreviewError(
            texts("Item {where} is wrong: {problem}", where=where, problem=first["msg"])
        ) from err
    return new, changes(current.model_dump(mode="json")[section], value, KEYS[section])


def changes(before: list[dict[str, Any]], after: list[dict[str, Any]], key: str) -> list[Change]:
    """Items added, removed and changed between two lists of one section."""
    old = {str(item.get(key)): item for item in before}
    new = {str(item.get(key)): item for item in after if isinstance(item, dict)}
    found = [Change("added", k) for k in new if k not in old]
    found += [Change("removed", k) for k in old if k not in new]
    for k in new.keys() & old.keys():
        fields = sorted(f for f in old[k].keys() | new[k].keys() if old[k].get(f) != new[k].get(f))
        if fields:
            found.append(Change("changed", k, tuple(fields)))
    return sorted(found, key=lambda c: (c.kind, c.key))
