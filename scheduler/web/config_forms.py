"""Configuration sections as forms (pure): the fields a hall manager edits, one row an item,
read back into the section's items. Fields a form does not show (documents, hours, a
clerk's ID hash) are kept as they were; the result goes through the same preview and
check as a YAML edit, so a form can never save what YAML could not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from scheduler.web.config_preview import PreviewError

Kind = Literal["text", "int", "float", "bool", "tiers"]


@dataclass(frozen=True)
class FormField:
    """One column of a section's form."""

    key: str  # the item's field; "names.zh" for one language of a dict
    label: str
    kind: Kind = "text"
    optional: bool = False  # an empty box leaves the field out (its default applies)


LANGUAGE_LABELS = {"zh": "中文名称", "en": "英文名称", "ug": "维吾尔文名称", "kk": "哈萨克文名称"}
FORM_SECTIONS = ("services", "windows", "clerks")


def fields(section: str, languages: list[str]) -> list[FormField]:
    """The columns of ``section``'s form (devices stay YAML: pairings are an integrator's)."""
    if section == "services":
        names = [
            FormField(f"names.{lang}", LANGUAGE_LABELS.get(lang, lang), optional=lang != "zh")
            for lang in languages
        ]
        return [
            FormField("code", "代码"),
            FormField("prefix", "字母"),
            *names,
            FormField("green_channel", "绿色通道", "bool"),
            FormField("quota", "每日号源", "int", optional=True),
            FormField("last_ticket_min", "停止取号(分钟)", "int", optional=True),
            FormField("expected_service_s", "预计办理(秒)", "float", optional=True),
            FormField("promised_minutes", "承诺时限(分钟)", "int", optional=True),
            FormField("department", "部门", optional=True),
            FormField("alert_wait_min", "等候提醒(分钟)", "int", optional=True),
        ]
    if section == "windows":
        return [FormField("number", "窗口号", "int"), FormField("services", "业务与层级", "tiers")]
    if section == "clerks":
        return [
            FormField("code", "工号"),
            FormField("name", "姓名"),
            FormField("stars", "星级", "int", optional=True),
        ]
    raise PreviewError(f"没有这一部分的表单：{section}")


def cell(item: Mapping[str, Any], field: FormField) -> str:
    """What a field's box shows for an item."""
    value: Any = item
    for part in field.key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if value is None:
        return ""
    if field.kind == "tiers":
        if value == "all":
            return "all"
        return ", ".join(f"{code}:{tier}" for code, tier in value.items())
    if field.kind == "bool":
        return "on" if value else ""
    return str(value)


def _parsed(field: FormField, text: str, row: str) -> Any:
    text = text.strip()
    try:
        match field.kind:
            case "int":
                return int(text)
            case "float":
                return float(text)
            case "bool":
                return text == "on"
            case "tiers":
                return _tiers(text)
            case _:
                return text
    except ValueError as err:
        raise PreviewError(f"{row}「{field.label}」：{err}") from err


def _tiers(text: str) -> dict[str, int] | str:
    """``all`` (一窗通办), or ``social:1, tax:2`` (a service without a tier is tier 1)."""
    if text.lower() == "all":
        return "all"
    tiers: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.replace("，", ",").split(","))):
        code, _, tier = part.partition(":")
        tiers[code.strip()] = int(tier) if tier.strip() else 1
    if not tiers:
        raise ValueError("至少填一项业务，或填 all")
    return tiers


def _apply(item: dict[str, Any], field: FormField, text: str, row: str) -> None:
    head, _, leaf = field.key.partition(".")
    if not text.strip() and field.kind != "bool":
        if not field.optional:
            raise PreviewError(f"{row}「{field.label}」不能为空")
        if leaf:
            item.get(head, {}).pop(leaf, None)
        else:
            item.pop(head, None)
        return
    value = _parsed(field, text, row)
    if leaf:
        item.setdefault(head, {})[leaf] = value
    else:
        item[head] = value


def items_from_form(
    section: str, current: list[dict[str, Any]], form: Mapping[str, str], languages: list[str]
) -> list[dict[str, Any]]:
    """The section's items as the form left them: rows edited (``r3.prefix``), rows marked
    for deletion (``r3.delete``), and a new row (``new.*``) when its first box is filled."""
    columns = fields(section, languages)
    items = []
    for index, original in enumerate(current):
        if form.get(f"r{index}.delete") == "on":
            continue
        item = {k: (dict(v) if isinstance(v, dict) else v) for k, v in original.items()}
        for field in columns:
            _apply(item, field, form.get(f"r{index}.{field.key}", ""), f"第 {index + 1} 行")
        items.append(item)
    if form.get(f"new.{columns[0].key}", "").strip():
        added: dict[str, Any] = {}
        for field in columns:
            _apply(added, field, form.get(f"new.{field.key}", ""), "新增的一行")
        items.append(added)
    return items
