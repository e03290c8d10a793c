"""The dashboard speaks the manager's language: every word through its catalog, complete
in each language it offers, and a switch that changes every page (live updates included)."""

from __future__ import annotations

import ast
import json
import re
import string
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from hallbus.hall_file import HallConfig
from hallbus.messages import BadRatingReason, RatingLevel
from scheduler.web.words import LANGUAGE_COOKIE, LANGUAGES, LOCALE, choose_language
from tests.web import dashboard_ids
from tests.web.conftest import Served, browser_login

CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")  # with CJK punctuation
IDEOGRAPH = re.compile(r"[\u3400-\u9fff]")  # code may accept a full-width comma as input
# The OpenAPI document's summary names 好差评 for integrators; it is not a dashboard page.
NOT_PAGES = {"app.py"}


def _catalog(language: str) -> dict[str, str]:
    with (LOCALE / language / "LC_MESSAGES" / "dashboard.po").open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle) if m.id}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_each_catalog_has_every_id_the_sources_use_with_the_same_placeholders(
    language: str,
) -> None:
    used = dashboard_ids.all_ids()
    assert len(used) > 250  # the extraction finds the templates', script's and modules' words
    catalog = _catalog(language)
    missing = {message: where for message, where in used.items() if not catalog.get(message)}
    assert not missing, f"{language}: untranslated {missing}"
    assert set(catalog) <= set(used), f"{language}: stale {set(catalog) - set(used)}"
    for message, translated in catalog.items():
        assert _fields(translated) == _fields(message), (language, message, translated)


def test_the_live_page_hands_its_script_the_words_it_asks_for_in_the_reader_s_language(
    app_client: TestClient,
) -> None:
    browser_login(app_client, "viewer")
    for language, live, waiting in (("zh", "实时", "{count} 人"), ("en", "Live", None)):
        app_client.post("/language", data={"lang": language, "next": "/"})
        page = app_client.get("/").text
        found = re.search(r'<script type="application/json" id="words">(.*?)</script>', page)
        assert found is not None
        words = json.loads(found.group(1))
        assert set(words) == set(dashboard_ids.script_ids())  # every t("...") of live.js
        assert words["Live"] == live
        # Placeholders stay for the script to fill.
        assert words["{count} waiting"] == (waiting or "{count} waiting")


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """The module's string constants, docstrings left out (they are for developers)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_no_word_of_the_dashboard_is_written_outside_its_catalog() -> None:
    """A Chinese literal in a template, the script or a module would stay Chinese in every
    language: only the catalogs (and hall data) may carry the hall's language."""
    found = []
    for path in dashboard_ids.dashboard_templates():
        text = path.read_text(encoding="utf-8")
        found += [f"{path.name}: {m.group()}" for m in CJK.finditer(text)]
    script = (dashboard_ids.WEB / "static" / "live.js").read_text(encoding="utf-8")
    code = "\n".join(line.split("//")[0] for line in script.splitlines())
    found += [f"live.js: {m.group()}" for m in CJK.finditer(code)]
    for path in dashboard_ids.dashboard_modules():
        if path.name in NOT_PAGES:
            continue
        found += [
            f"{path.name}:{line}: {value}"
            for line, value in _code_strings(path)
            if IDEOGRAPH.search(value)
        ]
    assert found == []


def test_the_hall_s_first_language_the_dashboard_speaks_is_the_default() -> None:
    assert choose_language(None, ["zh", "kk"]) == "zh"
    assert choose_language(None, ["kk", "en", "zh"]) == "en"  # no Kazakh dashboard yet
    assert choose_language(None, []) == "zh"
    assert choose_language("en", ["zh"]) == "en"  # the manager's own choice wins
    assert choose_language("xx", ["zh"]) == "zh"  # and a made-up one is ignored


def test_the_switch_changes_every_page_and_keeps_to_this_site(
    app_client: TestClient, serve: Callable[..., Served], hall: HallConfig
) -> None:
    serve(1, RatingLevel.DISSATISFIED, BadRatingReason.ATTITUDE)
    browser_login(app_client, "admin")
    assert "好差评" in app_client.get("/ratings").text
    switched = app_client.post(
        "/language", data={"lang": "en", "next": "/ratings?bad_only=true"}, follow_redirects=False
    )
    assert switched.status_code == 303 and switched.headers["location"] == "/ratings?bad_only=true"
    assert app_client.cookies.get(LANGUAGE_COOKIE) == "en"
    for path in ("/", "/tickets", "/devices", "/ratings", "/cases", "/reports", "/config"):
        page = app_client.get(path)
        assert page.status_code == 200 and '<html lang="en"' in page.text, path
        shown = _without_hall_data(page.text, hall)
        assert not CJK.search(shown), (path, CJK.findall(shown)[:5])
    ratings = app_client.get("/ratings").text
    assert "Rating records" in ratings and "Dissatisfied" in ratings and "Attitude" in ratings
    # Elsewhere is refused as a destination; an unknown language changes nothing.
    away = app_client.post("/language", data={"lang": "zh", "next": "//evil.example/"})
    assert away.url.path == "/" and app_client.cookies.get(LANGUAGE_COOKIE) == "zh"
    app_client.post("/language", data={"lang": "xx", "next": "/"})
    assert app_client.cookies.get(LANGUAGE_COOKIE) == "zh"


def _without_hall_data(html: str, hall: HallConfig) -> str:
    """The page without what the hall's own records say in its own words: its Chinese
    names (the hall has no English name for a clerk), the YAML, the page's data, and the
    switch (each language named in itself)."""
    patterns = (
        r"<script[^>]*>.*?</script>",
        r"<textarea[^>]*>.*?</textarea>",
        r'<form[^>]*class="[^"]*language-switch.*?</form>',
    )
    for pattern in patterns:
        html = re.sub(pattern, "", html, flags=re.S)
    names = [hall.names.get("zh", "")] + [c.name for c in hall.clerks]
    names += [s.names.get("zh", "") for s in hall.services]
    for name in filter(None, names):
        html = html.replace(name, "")
    return html


def test_an_error_page_still_speaks_when_the_database_does_not(
    app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("database unreachable")

    # Mocked: a database that fails mid-request cannot be made to fail on cue here.
    monkeypatch.setattr(app_client.app.state.context.store, "newest_config", broken)  # type: ignore[attr-defined]
    refused = app_client.post(
        "/login", data={"username": "x", "password": "y", "csrf_token": "forged", "next": "/"}
    )
    assert refused.status_code == 403 and "登录页已过期" in refused.text
