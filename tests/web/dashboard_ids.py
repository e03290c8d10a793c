"""Every message id the dashboard uses, extracted from its sources as a translator's tool
would: ``t("...")`` in the templates and the live page's script, ``texts(...)`` and
``N_(...)`` in its Python modules."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract
from jinja2 import Environment

WEB = Path(__file__).resolve().parents[2] / "scheduler" / "web"
# The public pages have their own catalogs (rate) or none yet (book): not the dashboard's.
PUBLIC_TEMPLATES = {"rate.html", "book.html"}
PUBLIC_MODULES = {"public.py", "booking_page.py", "booking_api.py", "booking_ops.py", "api.py"}
PYTHON_KEYWORDS = {"texts": None, "N_": None}


def dashboard_templates() -> list[Path]:
    return sorted(p for p in (WEB / "templates").glob("*.html") if p.name not in PUBLIC_TEMPLATES)


def dashboard_modules() -> list[Path]:
    return sorted(p for p in WEB.glob("*.py") if p.name not in PUBLIC_MODULES)


def template_ids() -> dict[str, str]:
    """id -> where it was found."""
    environment = Environment(extensions=["jinja2.ext.i18n"])
    found: dict[str, str] = {}
    for path in dashboard_templates():
        source = path.read_text(encoding="utf-8")
        for line, _, message in environment.extract_translations(source, ("t",)):
            first = message[0] if isinstance(message, tuple) else message
            if isinstance(first, str):
                found.setdefault(first, f"{path.name}:{line}")
    return found


def _extracted(path: Path, method: str, keywords: dict[str, None]) -> dict[str, str]:
    found: dict[str, str] = {}
    with path.open("rb") as handle:
        for line, message, _, _ in extract(method, handle, keywords=keywords):
            first = message[0] if isinstance(message, tuple) else message
            if first:
                found.setdefault(str(first), f"{path.name}:{line}")
    return found


def python_ids() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in dashboard_modules():
        for message, where in _extracted(path, "python", PYTHON_KEYWORDS).items():
            found.setdefault(message, where)
    return found


def script_ids() -> dict[str, str]:
    return _extracted(WEB / "static" / "live.js", "javascript", {"t": None})


def all_ids() -> dict[str, str]:
    return {**script_ids(), **python_ids(), **template_ids()}
