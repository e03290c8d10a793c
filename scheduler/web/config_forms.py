"""Configuration sections as forms (pure): the fields a hall manager edits, one row an item,
read back into the section's items. Fields a form does not show (documents, hours, a
clerk's ID hash) are kept as they were; the result goes through the same preview and
check as a YAML edit, so a form can never save what YAML could not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hallbus.i18n import Texts
from scheduler.web.config_preview import PreviewError
from scheduler.web.words import N_

Kind = Literal["text", "int", "float", "bool", "tiers"]


@dataclass(frozen=True)
class FormField:
    """One column of a section's form."""

    key: str  # the item's field; "names.zh" for one language of a dict
    label: str  # a catalog id
    kind: Kind = "text"
    optional: bool = False  # an empty box leaves the field out (its default applies)


LANGUAGE_LABELS = {
    "zh": N_("Name in Chinese"),
    "en": N_("Name in English"),
    "ug": N_("Name in Uyghur"),
    "kk": N_("Name in Kazakh"),
}
FORM_SECTIONS = ("services", "windows", "clerks")


def fields(section: str, languages: list[str]) -> list[FormField]:
    """The columns of ``section``'s form (devices stay YAML: pairings are an integrator's)."""
    if section == "services":
        names = [
            FormField(f"names.{lang}", LANGUAGE_LABELS.get(lang, lang), optional=lang != "zh")
            for lang in languages
        ]
        return [
            FormField("code", N_("Code")),
            FormField("prefix", N_("Letter")),
            *names,
            FormField("green_channel", N_("Green channel"), "bool"),
            FormField("quota", N_("Daily quota"), "int", optional=True),
            FormField(
                "last_ticket_min", N_("Last ticket (min before closing)"), "int", optional=True
            ),
            FormField("expected_service_s", N_("Expected service (s)"), "float", optional=True),
            FormField("promised_minutes", N_("Promised time (min)"), "int", optional=True),
            FormField("department", N_("Department"), optional=True),
            FormField("alert_wait_min", N_("Wait alert (min)"), "int", optional=True),
        ]
    if section == "windows":
        return [
            FormField("number", N_("Window number"), "int"),
            FormField("services", N_("Services and tiers"), "tiers"),
        ]
    if section == "clerks":
        return [
            FormField("code", N_("Clerk number")),
            FormField("name", N_("Name")),
            FormField("stars", N_("Stars"), "int", optional=True),
        ]
    raise PreviewError(f"no form for section {section!r}")  # the routes allow only those


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


def _parsed(field: FormField, text: str, where: str, texts: Texts) -> Any:
    text = text.strip()
    match field.kind:
        case "int" | "float":
            try:
                return int(text) if field.kind == "int" else float(text)
            except ValueError:
                problem = texts("“{text}” is not a number", text=text)
        case "bool":
            return text == "on"
        case "tiers":
            try:
                tiers = _tiers(text)
            except ValueError:
                problem = texts("a tier is a whole number (social:1, tax:2)")
            else:
                if tiers is not None:
                    return tiers
                problem = texts("name at least one service, or all")
        case _:
            return text
    raise PreviewError(_problem(texts, where, field, problem))


def _problem(texts: Texts, where: str, field: FormField, problem: str) -> str:
    return texts(
        "{where}, {field}: {problem}", where=where, field=texts(field.label), problem=problem
    )


def _tiers(text: str) -> dict[str, int] | str | None:
    """``all`` (一窗通办), or ``social:1, tax:2`` (a service without a tier is tier 1);
    None when it names nothing, ValueError for a tier that is not a number."""
    if text.lower() == "all":
        return "all"
    tiers: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.replace("，", ",").split(","))):
        code, _, tier = part.partition(":")
        tiers[code.strip()] = int(tier) if tier.strip() else 1
    return tiers or None


def _apply(item: dict[str, Any], field: FormField, text: str, where: str, texts: Texts) -> None:
    head, _, leaf = field.key.partition(".")
    if not text.strip() and field.kind != "bool":
        if not field.optional:
            raise PreviewError(_problem(texts, where, field, texts("must not be empty")))
        if leaf:
            item.get(head, {}).pop(leaf, None)
        else:
            item.pop(head, None)
        return
    value = _parsed(field, text, where, texts)
    if leaf:
        item.setdefault(head, {})[leaf] = value
    else:
        item[head] = value


def items_from_form(
    section: str,
    current: list[dict[str, Any]],
    form: Mapping[str, str],
    languages: list[str],
    texts: Texts,
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
            text = form.get(f"r{index}.{field.key}", "")
            _apply(item, field, text, texts("Row {number}", number=index + 1), texts)
        items.append(item)
    if form.get(f"new.{columns[0].key}", "").strip():
        added: dict[str, Any] = {}
        for field in columns:
            _apply(added, field, form.get(f"new.{field.key}", ""), texts("New row"), texts)
        items.append(added)
    return items
