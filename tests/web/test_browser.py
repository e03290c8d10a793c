"""The dashboard in a real headless Chromium (Debian's, driven by Playwright).

One test watches the demo hall's own traffic live; one follows a bad rating through to
closed with the two-manager review, all by clicking. Screenshots go to build/artifacts.
"""

from __future__ import annotations

import csv
import io
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from hallbus.messages import BadRatingReason, RatingLevel
from paidui.broker import free_port
from scheduler.bridge import SchedulerService
from scheduler.web.context import WebSettings
from scheduler.web.server import WebServer
from simulator.demo import DemoOptions, run_demo
from simulator.devices import VirtualCounter, VirtualKiosk
from tests.kiosk.tickets import artifacts_dir
from tests.web.conftest import PASSWORD, Served

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is required for the browser tests: run scripts/test")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def log_in(page: Page, url: str, name: str, password: str) -> None:
    """Fill the login form like a person."""
    page.goto(f"{url}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def test_the_live_hall_follows_the_demo_traffic_without_reloading(
    browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAIDUI_DEMO_PASSWORD", PASSWORD)
    demo_done = threading.Event()
    serving: list[str] = []
    dashboard_up = threading.Event()
    summary: dict[str, int] = {}

    def dashboard_ready(url: str) -> None:
        serving.append(url)
        dashboard_up.set()

    def run() -> None:
        options = DemoOptions(
            seconds=25, data_dir=tmp_path, web_port=free_port(), on_dashboard=dashboard_ready
        )
        summary.update(run_demo(options))
        demo_done.set()

    threading.Thread(target=run, name="demo", daemon=True).start()
    assert dashboard_up.wait(60), "the demo's dashboard did not start"
    (url,) = serving
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    log_in(page, url, "manager", PASSWORD)
    page.evaluate("window.loadedOnce = true")  # gone if the page ever reloads

    # A ticket appears: some service's waiting count goes up from what the page first drew.
    page.wait_for_function(
        """() => [...document.querySelectorAll('#queues .waiting')]
                 .some(span => parseInt(span.textContent) > 0)""",
        timeout=WAIT_MS,
    )
    # ... and is called: a window shows a ticket, then a different one as clerks move on.
    first = page.wait_for_function(
        """() => { const t = document.querySelector('#windows td.ticket:not(:empty)');
                   return t && t.textContent.split(' ')[0]; }""",
        timeout=WAIT_MS,
    ).json_value()
    page.wait_for_function(
        """(first) => [...document.querySelectorAll('#windows td.ticket')]
                      .some(td => td.textContent && td.textContent.split(' ')[0] !== first)""",
        arg=first,
        timeout=WAIT_MS,
    )
    assert page.evaluate("window.loadedOnce") is True
    assert page.text_content("#connection") == "实时"
    # At a glance: today's figures on top, events as sentences with the window, never codes.
    figures = page.text_content("#figures") or ""
    assert "正在等候" in figures and "今日取号" in figures and "今日满意度" in figures
    events = page.text_content("#events") or ""
    assert "号窗口" in events and "call_next" not in events and "counter-" not in events
    page.screenshot(path=str(artifacts_dir() / "dashboard-live.png"), full_page=True)

    # The language switch: the same page, and its live updates, in English; no doubled labels.
    page.click("nav button[name=lang][value=en]")
    page.wait_for_function("document.documentElement.lang === 'en'", timeout=WAIT_MS)
    page.evaluate("window.loadedOnce = true")
    page.wait_for_function(
        "document.querySelector('#events').textContent.includes('Window ')", timeout=WAIT_MS
    )
    english = page.text_content("body") or ""
    assert "Waiting now" in english and "Live hall" in english and "正在等候" not in english
    assert page.text_content("#connection") == "Live"
    page.screenshot(path=str(artifacts_dir() / "dashboard-live-en.png"), full_page=True)
    page.click("nav button[name=lang][value=zh]")
    page.wait_for_function("document.documentElement.lang === 'zh'", timeout=WAIT_MS)

    page.goto(f"{url}/devices")
    online = page.locator("#devices tr[data-device=counter-1] td.availability")
    assert online.get_attribute("data-state") == "online" and online.text_content() == "在线"
    page.screenshot(path=str(artifacts_dir() / "dashboard-devices.png"), full_page=True)

    page.goto(f"{url}/reports")
    with page.expect_download() as download:
        page.click("#export-csv")
    saved = download.value.path()
    rows = list(csv.reader(io.StringIO(Path(saved).read_text(encoding="utf-8-sig"))))
    assert rows[0][:2] == ["日期", "对象"] and len(rows) > 1
    page.screenshot(path=str(artifacts_dir() / "dashboard-reports.png"), full_page=True)
    page.close()
    assert demo_done.wait(60) and summary["lost"] == 0


@pytest.fixture
def dashboard(
    scheduler: SchedulerService, people: None, web_settings: WebSettings
) -> Iterator[WebServer]:
    """The test hall's dashboard on a real socket."""
    server = WebServer(web_settings, "127.0.0.1", free_port())
    server.start()
    yield server
    server.stop()


def test_a_bad_rating_is_followed_to_closed_by_clicking(
    browser: Browser,
    dashboard: WebServer,
    serve: Callable[..., Served],
    scheduler: SchedulerService,
) -> None:
    served = serve(1, RatingLevel.VERY_DISSATISFIED, BadRatingReason.ATTITUDE)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    log_in(page, dashboard.url, "manager", PASSWORD)
    page.click("nav >> text=差评整改")
    row = page.locator(f"tr[data-transaction='{served.transaction_id}']")
    assert row.locator("td.state").get_attribute("data-state") == "open"
    assert row.locator("td.state").text_content() == "待联系"  # staff read Chinese, not codes
    page.screenshot(path=str(artifacts_dir() / "dashboard-case-open.png"), full_page=True)
    for note, button, state in [
        ("电话联系群众,已致歉", "已联系", "contacted"),
        ("窗口人员已整改", "已整改", "rectified"),
        ("回访群众表示满意", "已回访", "called_back"),
        ("办结", "办结", "closed"),
    ]:
        row.locator("form.advance input[name=note]").fill(note)
        row.locator(f"button:has-text('{button}')").click()
        page.wait_for_url(f"{dashboard.url}/cases")
        assert row.locator("td.state").get_attribute("data-state") == state
    page.screenshot(path=str(artifacts_dir() / "dashboard-case-closed.png"), full_page=True)

    # The same rating proposed "not adopted" by one manager, approved by another.
    page.goto(f"{dashboard.url}/ratings")
    entry = page.locator(f"#ledger tr[data-transaction='{served.transaction_id}']")
    entry.locator("input[name=reason]").fill("监控显示为误触")
    entry.locator("button").click()
    page.wait_for_url(f"{dashboard.url}/cases")
    assert page.locator("#proposals button").count() == 0  # not for the one who proposed
    page.click("text=退出")
    log_in(page, dashboard.url, "manager2", PASSWORD)
    page.goto(f"{dashboard.url}/cases")
    page.click("#proposals button:has-text('批准')")
    page.wait_for_url(f"{dashboard.url}/cases")
    assert "已批准 (manager2)" in (page.text_content("#proposals") or "")
    page.goto(f"{dashboard.url}/ratings")
    assert "不予采纳: 监控显示为误触 (manager / manager2)" in (entry.text_content() or "")
    assert [e.kind.value for e in scheduler.store.ledger_entries(served.transaction_id)] == [
        "rating",
        "not_adopted",
    ]
    page.screenshot(path=str(artifacts_dir() / "dashboard-ratings.png"), full_page=True)
    page.close()


def test_the_public_page_on_a_phone(
    browser: Browser, dashboard: WebServer, serve: Callable[..., Served]
) -> None:
    served = serve(2)
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    # A ticket taken in Kazakh opens in Kazakh, right to left, in the Arabic-based script.
    phone.goto(f"{dashboard.url}/t/{served.ticket_id}?k={served.token}&lang=kk")
    assert phone.get_attribute("html", "dir") == "rtl"
    assert "وتە نارازى" in (phone.text_content("main") or "")  # 非常不满意
    phone.screenshot(path=str(artifacts_dir() / "rating-page-kk.png"), full_page=True)
    # The citizen switches to Chinese on the page itself.
    phone.click("nav.languages a[lang=zh]")
    phone.wait_for_selector("html[dir=ltr]")
    phone.click("button:has-text('不满意') >> nth=0")
    phone.wait_for_selector("text=哪里做得不好")
    phone.check("input[value=efficiency]")
    phone.screenshot(path=str(artifacts_dir() / "rating-page-reason.png"), full_page=True)
    phone.click("button.send")
    phone.wait_for_selector("#thanks")
    assert "已评价: 不满意" in (phone.text_content("main") or "")
    phone.screenshot(path=str(artifacts_dir() / "rating-page-thanks.png"), full_page=True)
    phone.close()


def test_the_tickets_phone_page_follows_it_live_then_offers_the_rating(
    browser: Browser,
    dashboard: WebServer,
    devices: Callable[..., Any],
    staff: Callable[[int], VirtualCounter],
) -> None:
    kiosk: VirtualKiosk = devices(VirtualKiosk, "kiosk-1")
    first = kiosk.issue("social").data or {}
    mine = kiosk.issue("social").data or {}
    counter = staff(1)
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.goto(f"{dashboard.url}/t/{mine['ticket_id']}?k={mine['rating_token']}&lang=zh")
    assert "前面还有 1 人" in (phone.text_content("#progress") or "")
    phone.screenshot(path=str(artifacts_dir() / "ticket-page-waiting.png"), full_page=True)
    assert counter.call_next().data["ticket_id"] == first["ticket_id"]  # type: ignore[index]
    phone.wait_for_selector("#progress:has-text('前面还有 0 人')", timeout=WAIT_MS)
    assert counter.finish().status == "ok"
    assert counter.call_next().data["ticket_id"] == mine["ticket_id"]  # type: ignore[index]
    # No reload: the line changes as the hall does.
    phone.wait_for_selector("#progress:has-text('请到 1 号窗口办理')", timeout=WAIT_MS)
    phone.screenshot(path=str(artifacts_dir() / "ticket-page-called.png"), full_page=True)
    assert counter.start_service().status == "ok"
    phone.wait_for_selector("#progress:has-text('正在 1 号窗口办理')", timeout=WAIT_MS)
    assert counter.finish().status == "ok"
    # Done: the page reloads itself and offers the five levels.
    phone.wait_for_selector("#progress:has-text('已办结')", timeout=WAIT_MS)
    phone.wait_for_selector("button:has-text('非常满意')", timeout=WAIT_MS)
    phone.screenshot(path=str(artifacts_dir() / "ticket-page-done.png"), full_page=True)
    phone.close()


# Pages a hall's staff and its citizens use; each is checked with axe-core as it renders.
STAFF_PAGES = ["/", "/tickets", "/devices", "/ratings", "/cases", "/reports"]
ADMIN_PAGES = ["/config", "/accounts", "/audit"]


def _serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_every_page_passes_axe_core_without_serious_violations(
    browser: Browser, dashboard: WebServer, serve: Callable[..., Served]
) -> None:
    served = serve(1, RatingLevel.VERY_DISSATISFIED, BadRatingReason.ATTITUDE)
    found: dict[str, list[str]] = {}
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{dashboard.url}/login")
    found["/login"] = _serious_violations(page)
    page.screenshot(path=str(artifacts_dir() / "dashboard-login.png"))
    log_in(page, dashboard.url, "admin", PASSWORD)
    for path in STAFF_PAGES + ADMIN_PAGES:
        page.goto(f"{dashboard.url}{path}")
        page.wait_for_load_state("networkidle")
        found[path] = _serious_violations(page)
        if path == "/config":  # the forms, as an administrator sees them
            page.screenshot(path=str(artifacts_dir() / "dashboard-config.png"), full_page=True)
    page.click("nav button[name=lang][value=en]")  # the switch, and the pages in English
    for path in ("/", "/cases", "/reports"):
        page.goto(f"{dashboard.url}{path}")
        page.wait_for_load_state("networkidle")
        found[f"{path} (en)"] = _serious_violations(page)
    page.screenshot(path=str(artifacts_dir() / "dashboard-reports-en.png"), full_page=True)
    page.close()
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    for lang in ("zh", "ug", "kk"):
        phone.goto(f"{dashboard.url}/t/{served.ticket_id}?k={served.token}&lang={lang}")
        found[f"/t (phone, {lang})"] = _serious_violations(phone)
    # The booking page, with the first day's slots shown.
    phone.goto(f"{dashboard.url}/book")
    phone.click("#show-slots")
    phone.wait_for_load_state("networkidle")
    found["/book (phone)"] = _serious_violations(phone)
    phone.screenshot(path=str(artifacts_dir() / "booking-page.png"), full_page=True)
    phone.close()
    problems = "\n".join(f"{path}: {v}" for path, found_there in found.items() for v in found_there)
    assert not problems, problems
