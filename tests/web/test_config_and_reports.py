"""Configuration changed on the dashboard takes effect live; reports export as CSV and XLSX."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from hallbus.hall_file import HallConfig
from hallbus.messages import RatingLevel, RatingPrompt, ServiceState, decode
from hallbus.settings import BusSettings
from hallbus.topics import DeviceCommandKind, HallTopics
from scheduler.bridge import SchedulerService
from scheduler.web.config_forms import cell, fields
from simulator.devices import VirtualCounter
from tests.conftest import Tickets, listen
from tests.web.conftest import ApiUser, Served, browser_login

WAIT = 5.0


def test_a_changed_service_is_live_on_the_bus_and_audited(
    app_client: TestClient,
    api_login: Callable[[str], ApiUser],
    scheduler: SchedulerService,
    hall: HallConfig,
    bus: BusSettings,
) -> None:
    admin = api_login("admin")
    config = app_client.get("/api/v1/config", headers=admin.headers).json()
    config["services"][1]["names"]["zh"] = "税务综合业务"
    config["services"][1]["quota"] = 50
    topic = HallTopics(hall.id).service_state("tax")
    watcher, states = listen(bus, topic, f"watch-{hall.id}")
    try:
        applied = app_client.put("/api/v1/config", json={"config": config}, headers=admin.headers)
        assert applied.status_code == 200, applied.text
        assert applied.json()["changed"] == ["services"]
        renamed = states.wait_for(
            lambda p: decode(ServiceState, p).names["zh"] == "税务综合业务", WAIT
        )
        assert renamed is not None
    finally:
        watcher.stop()
    assert scheduler.hall.service("tax").quota == 50  # type: ignore[union-attr]
    (latest, *_) = app_client.get("/api/v1/audit", headers=admin.headers).json()
    assert latest["action"] == "config.apply" and latest["actor"] == "admin"
    assert latest["detail"]["before"]["services"][1]["names"]["zh"] == "税务业务"


def test_a_configuration_the_rules_refuse_changes_nothing(
    app_client: TestClient,
    api_login: Callable[[str], ApiUser],
    scheduler: SchedulerService,
    staff: Callable[[int], VirtualCounter],
    tickets: Tickets,
) -> None:
    admin = api_login("admin")
    config = app_client.get("/api/v1/config", headers=admin.headers).json()
    duplicate = config | {"services": [*config["services"], config["services"][0]]}
    refused = app_client.put("/api/v1/config", json={"config": duplicate}, headers=admin.headers)
    assert refused.status_code == 422 and "unique" in refused.json()["detail"]

    counter = staff(1)
    (label,) = tickets(1)
    assert counter.call_next().status == "ok"
    before = scheduler.config_version
    without_1 = config | {
        "windows": [w for w in config["windows"] if w["number"] != 1],
        "devices": [d for d in config["devices"] if d.get("window") != 1],
    }
    held = app_client.put("/api/v1/config", json={"config": without_1}, headers=admin.headers)
    assert held.status_code == 422 and f"window 1 still holds {label}" in held.json()["detail"]
    assert scheduler.config_version == before
    assert counter.finish().status == "ok"
    moved = app_client.put("/api/v1/config", json={"config": without_1}, headers=admin.headers)
    assert moved.status_code == 200, moved.text
    assert scheduler.config_version == before + 1
    assert [w.number for w in scheduler.hall.windows] == [2, 3, 4]


def test_the_config_page_saves_a_section_as_yaml(
    app_client: TestClient, scheduler: SchedulerService
) -> None:
    csrf = browser_login(app_client, "admin")
    page = app_client.get("/config")
    assert "社保业务" in page.text
    body = "- {code: '1001', name: 王芳, stars: 5}\n- {code: '2001', name: 新柜员}\n"
    # First the preview: what changes, said item by item, and nothing applied yet.
    before = [c.code for c in scheduler.hall.clerks]
    shown = app_client.post("/config/clerks/preview", data={"body": body, "csrf_token": csrf})
    assert shown.status_code == 200 and "新增柜员 2001" in shown.text
    assert "删除柜员 1002" in shown.text and "修改柜员 1001" not in shown.text
    assert [c.code for c in scheduler.hall.clerks] == before
    wrong = app_client.post(
        "/config/clerks/preview", data={"body": "- {code: '1 0'}", "csrf_token": csrf}
    )
    assert wrong.status_code == 422 and 'id="config-error"' in wrong.text
    assert "确认保存" not in wrong.text
    saved = app_client.post(
        "/config/clerks", data={"body": body, "csrf_token": csrf}, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    assert [c.code for c in scheduler.hall.clerks] == ["1001", "2001"]
    broken = app_client.post("/config/clerks", data={"body": "- {code: ", "csrf_token": csrf})
    assert broken.status_code == 422 and "YAML" in broken.text


def test_the_config_page_edits_services_in_a_form_previewed_then_saved(
    app_client: TestClient, scheduler: SchedulerService
) -> None:
    csrf = browser_login(app_client, "admin")
    page = app_client.get("/config")
    assert 'id="form-services"' in page.text and 'name="r0.prefix"' in page.text
    # The boxes as the page fills them (a checkbox left off is not sent at all).
    services = [s.model_dump(mode="json", exclude_none=True) for s in scheduler.hall.services]
    form = {"csrf_token": csrf}
    for row, service in enumerate(services):
        for field in fields("services", scheduler.hall.languages):
            if value := cell(service, field):
                form[f"r{row}.{field.key}"] = value
    form["r0.quota"] = "120"  # 社保: 120 tickets a day
    form |= {"new.code": "pension", "new.prefix": "D", "new.names.zh": "养老认证"}
    shown = app_client.post("/config/services/form", data=form)
    assert shown.status_code == 200, shown.text
    changes = shown.text.split('id="config-changes"')[1].split("</ul>")[0]
    assert "修改业务 social：quota" in changes and "新增业务 pension" in changes, changes
    # The documents the form does not show are kept, not lost.
    assert "documents" not in shown.text.split('id="config-changes"')[1].split("</ul>")[0]
    body = shown.text.split('name="body" value="')[1].split('"')[0]
    saved = app_client.post(
        "/config/services",
        data={"body": html.unescape(body), "csrf_token": csrf},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    social = scheduler.hall.service("social")
    assert social is not None and social.quota == 120 and social.documents
    assert scheduler.hall.service("pension") is not None
    # A wrong box is named, and nothing is saved.
    wrong = app_client.post("/config/services/form", data=form | {"r1.quota": "很多"})
    assert wrong.status_code == 422 and "第 2 行「每日号源」" in wrong.text


def test_a_report_exports_the_same_figures_as_csv_and_xlsx(
    app_client: TestClient, api_login: Callable[[str], ApiUser], serve: Callable[..., Served]
) -> None:
    serve(1, RatingLevel.VERY_SATISFIED)
    serve(1, RatingLevel.VERY_DISSATISFIED)
    serve(2, RatingLevel.SATISFIED, service="tax")
    manager = api_login("manager")
    rows = app_client.get("/api/v1/reports", params={"by": "service"}, headers=manager.headers)
    figures = {r["group"]: r for r in rows.json()}
    assert figures["social"]["served"] == 2 and figures["social"]["bad"] == 1
    assert figures["tax"]["satisfaction_rate"] == 1.0

    exported = app_client.get(
        "/api/v1/reports/export", params={"format": "csv"}, headers=manager.headers
    )
    assert exported.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    heading, *body = lines
    served_at = heading.index("办结")
    assert {line[1]: line[served_at] for line in body} == {"社保业务": "2", "税务业务": "1"}
    assert "平均等候(秒)" in heading  # a spreadsheet's times are seconds, and say so

    workbook = app_client.get(
        "/api/v1/reports/export", params={"format": "xlsx", "per": "month"}, headers=manager.headers
    )
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    assert sheet is not None
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    satisfaction = cells[0].index("满意率")
    assert {row[1]: row[satisfaction] for row in cells[1:]} == {"社保业务": 0.5, "税务业务": 1.0}
    assert cells[1][0].day == 1  # type: ignore[union-attr]  # a month is dated its first day

    viewer = api_login("viewer")
    page = app_client.get("/reports", headers=viewer.headers)
    # Three report charts and the day's staffing (recommended against open windows).
    assert page.text.count("<svg") == 4 and "export-csv" not in page.text
    assert "窗口安排" in page.text
    # On the page durations read as 分秒 (table and chart alike), never raw seconds.
    durations = re.findall(r'<td class="duration">([^<]*)</td>', page.text)
    assert durations and all(re.fullmatch(r"—|\d+分\d\d秒|\d+小时\d\d分", d) for d in durations)
    assert "平均等候" in page.text and "(秒)" not in page.text


def test_a_rating_pad_moved_to_another_window_is_prompted_there_at_once(
    app_client: TestClient,
    api_login: Callable[[str], ApiUser],
    scheduler: SchedulerService,
    staff: Callable[[int], VirtualCounter],
    tickets: Tickets,
    hall: HallConfig,
    bus: BusSettings,
) -> None:
    # The scheduler keeps the hall's pads by window: a change of the hall file must reach
    # those maps, not only the file it keeps.
    admin = api_login("admin")
    config = app_client.get("/api/v1/config", headers=admin.headers).json()
    for device in config["devices"]:
        if device["id"] == "pad-1":
            device["window"] = 2
    applied = app_client.put("/api/v1/config", json={"config": config}, headers=admin.headers)
    assert applied.status_code == 200, applied.text
    topics = HallTopics(hall.id)
    prompts = {}
    watchers = []
    for pad in ("pad-1", "pad-2"):
        topic = topics.device_command(pad, DeviceCommandKind.RATING_PROMPT)
        watcher, prompts[pad] = listen(bus, topic, f"watch-{pad}-{hall.id}")
        watchers.append(watcher)
    try:
        counter = staff(2)
        (label,) = tickets(1)
        assert counter.call_next().status == "ok"
        assert counter.finish().status == "ok"
        for pad in ("pad-1", "pad-2"):
            prompt = prompts[pad].wait_for(lambda _p: True, WAIT)
            assert prompt is not None, f"{pad} was not prompted at window 2"
            assert decode(RatingPrompt, prompt).ticket_label == label
    finally:
        for watcher in watchers:
            watcher.stop()
