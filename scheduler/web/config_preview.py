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

KEYS = {"services": "code", "windows": "number", "clerks": "code", "devices": "id"}
NAMES = {"services": "业务", "windows": "窗口", "clerks": "柜员", "devices": "设备"}


class PreviewError(ValueError):
    """The edit cannot be applied; the message says where and why."""


@dataclass(frozen=True)
class Change:
    """One item added, removed or changed (with the fields that changed)."""

    kind: str  # added, removed, changed
    key: str
    fields: tuple[str, ...] = ()

    def sentence(self, section: str) -> str:
        """The change as an administrator reads it."""
        what = f"{NAMES[section]} {self.key}"
        if self.kind == "added":
            return f"新增{what}"
        if self.kind == "removed":
            return f"删除{what}"
        return f"修改{what}：{'、'.join(self.fields)}"


def preview(current: HallConfig, section: str, body: str) -> tuple[dict[str, Any], list[Change]]:
    """The whole new configuration and what it changes; PreviewError if it is refused."""
    try:
        value = yaml.safe_load(body)
    except yaml.YAMLError as err:
        raise PreviewError(f"不是有效的 YAML：{err}") from err
    if not isinstance(value, list):
        raise PreviewError(f"{NAMES[section]}应是一个列表（每项以 - 开头）")
    new = current.model_dump(mode="json") | {section: value}
    try:
        HallConfig.model_validate(new)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PreviewError(f"第 {where} 项不对：{first['msg']}") from err
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
