"""好差评 follow-up over the API: a bad rating's case to closed, and a two-manager review."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hallbus.client import BusClient, Requester
from hallbus.messages import BadRatingReason, DeskContact, ErrorCode, LeaveContact, RatingLevel
from hallbus.settings import BusSettings
from hallbus.topics import Command, HallTopics
from scheduler.bridge import SchedulerService
from scheduler.contacts import ContactVault
from scheduler.ledger import EntryKind
from scheduler.web import pages
from tests.web.conftest import ApiUser, Served, browser_login

STEPS = [
    ("contacted", "called the citizen, apologised"),
    ("rectified", "clerk retrained"),
    ("called_back", "citizen satisfied with the fix"),
    ("closed", "case closed"),
]


def test_a_bad_rating_is_followed_to_closed_with_every_step_kept(
    app_client: TestClient,
    api_login: Callable[[str], ApiUser],
    serve: Callable[..., Served],
    scheduler: SchedulerService,
) -> None:
    served = serve(1, RatingLevel.VERY_DISSATISFIED, BadRatingReason.ATTITUDE)
    serve(2, RatingLevel.SATISFIED)
    manager, viewer = api_login("manager"), api_login("viewer")

    listed = app_client.get("/api/v1/cases", headers=viewer.headers).json()
    assert listed["counts"] == {"open": 1, "due_today": 0, "overdue": 0}
    (case,) = listed["cases"]
    assert case["transaction_id"] == served.transaction_id
    assert case["reason"] == "attitude" and case["state"] == "open"
    assert case["due"] > case["opened_on"]  # two working days on

    refused = app_client.post(
        f"/api/v1/cases/{case['id']}/steps",
        json={"to": "contacted", "note": "x"},
        headers=viewer.headers,
    )
    assert refused.status_code == 403
    skipped = app_client.post(
        f"/api/v1/cases/{case['id']}/steps",
        json={"to": "closed", "note": "close at once"},
        headers=manager.headers,
    )
    assert skipped.status_code == 409 and "cannot become closed" in skipped.json()["detail"]

    for to, note in STEPS:
        step = app_client.post(
            f"/api/v1/cases/{case['id']}/steps",
            json={
                "to": to,
                "note": note,
                **({"complexity": "complex"} if to == "contacted" else {}),
                **({"result": "satisfied"} if to == "called_back" else {}),
            },
            headers=manager.headers,
        )
        assert step.status_code == 200, step.text
        assert step.json()["state"] == to

    steps = scheduler.store.case_steps(case["id"])
    assert [(s.value, actor, note) for s, _, actor, note in steps] == [
        (to, "manager", note) for to, note in STEPS
    ]
    closed = app_client.get("/api/v1/cases", headers=viewer.headers).json()
    assert closed["counts"]["open"] == 0 and closed["cases"][0]["state"] == "closed"
    # Following up never touched the rating.
    (entry,) = scheduler.store.ledger_entries(served.transaction_id)
    assert entry.outcome == "very_dissatisfied" and entry.kind == EntryKind.RATING
    admin = api_login("admin")
    actions = [e["action"] for e in app_client.get("/api/v1/audit", headers=admin.headers).json()]
    assert [a for a in actions if a.startswith("case.")] == [
        "case.closed",
        "case.called_back",
        "case.rectified",
        "case.contacted",
    ]


def test_not_adopted_needs_a_second_manager_and_keeps_the_rating(
    app_client: TestClient,
    api_login: Callable[[str], ApiUser],
    serve: Callable[..., Served],
    scheduler: SchedulerService,
) -> None:
    served = serve(1, RatingLevel.VERY_DISSATISFIED, BadRatingReason.OTHER)
    manager, manager2, viewer = api_login("manager"), api_login("manager2"), api_login("viewer")
    body = {"transaction_id": served.transaction_id, "reason": "pressed by a child, per CCTV"}

    assert app_client.post("/api/v1/reviews", json=body, headers=viewer.headers).status_code == 403
    proposed = app_client.post("/api/v1/reviews", json=body, headers=manager.headers)
    assert proposed.status_code == 200, proposed.text
    proposal = proposed.json()["id"]
    again = app_client.post("/api/v1/reviews", json=body, headers=manager2.headers)
    assert again.status_code == 409  # one proposal at a time

    own = app_client.post(f"/api/v1/reviews/{proposal}/approve", headers=manager.headers)
    assert own.status_code == 409 and "second manager" in own.json()["detail"]
    assert [e.kind for e in scheduler.store.ledger_entries(served.transaction_id)] == [
        EntryKind.RATING
    ]

    approved = app_client.post(f"/api/v1/reviews/{proposal}/approve", headers=manager2.headers)
    assert approved.status_code == 200, approved.text
    entries = scheduler.store.ledger_entries(served.transaction_id)
    assert [e.kind for e in entries] == [EntryKind.RATING, EntryKind.NOT_ADOPTED]
    assert entries[0].outcome == "very_dissatisfied"  # the rating itself stays
    assert (entries[1].reviewer, entries[1].approver) == ("manager", "manager2")
    assert approved.json()["ledger_seq"] == entries[1].seq
    assert scheduler.store.verify_ledger() is None

    ledger = app_client.get("/api/v1/ratings/ledger", headers=viewer.headers).json()
    assert ledger[0]["not_adopted"] == {
        "reason": body["reason"],
        "by": "manager",
        "approved_by": "manager2",
    }
    summary = app_client.get("/api/v1/ratings", headers=viewer.headers).json()
    assert summary["hall"][0]["not_adopted"] == 1 and summary["hall"][0]["rated"] == 0
    twice = app_client.post("/api/v1/reviews", json=body, headers=manager.headers)
    assert twice.status_code == 409 and "already" in twice.json()["detail"]


def test_ratings_are_counted_by_level_window_clerk_and_service(
    app_client: TestClient, api_login: Callable[[str], ApiUser], serve: Callable[..., Served]
) -> None:
    serve(1, RatingLevel.VERY_SATISFIED)
    serve(1, RatingLevel.DISSATISFIED, BadRatingReason.EFFICIENCY)
    serve(2, RatingLevel.SATISFIED, service="tax")
    serve(2)  # not rated yet: no record, so not counted
    viewer = api_login("viewer")
    summary = app_client.get("/api/v1/ratings", headers=viewer.headers).json()
    (hall,) = summary["hall"]
    assert hall["rated"] == 3 and hall["bad"] == 1
    assert hall["satisfaction_rate"] == round(2 / 3, 4)
    windows = {row["group"]: row for row in summary["window"]}
    assert windows["1"]["levels"]["very_satisfied"] == 1
    assert windows["1"]["levels"]["dissatisfied"] == 1
    assert windows["2"]["levels"]["satisfied"] == 1
    services = {row["group"]: row["rated"] for row in summary["service"]}
    assert services == {"社保业务": 2, "税务业务": 1}
    clerks = {row["group"]: row["rated"] for row in summary["clerk"]}
    assert clerks == {"王芳": 2, "李强": 1}  # clerks 1001 and 1002 staff windows 1 and 2


def test_the_pages_speak_chinese_and_offer_not_adopted_on_bad_ratings_only(
    app_client: TestClient, serve: Callable[..., Served]
) -> None:
    good = serve(1, RatingLevel.VERY_SATISFIED)
    bad = serve(1, RatingLevel.DISSATISFIED, BadRatingReason.ATTITUDE)
    browser_login(app_client, "manager")
    page = app_client.get("/ratings").text

    def row(transaction_id: str) -> str:
        start = page.index(f'data-transaction="{transaction_id}"')
        return page[start : page.index("</tr>", start)]

    assert "提议不予采纳" not in row(good.transaction_id)  # nothing to set aside
    assert "提议不予采纳" in row(bad.transaction_id) and "服务态度" in row(bad.transaction_id)
    assert "attitude" not in row(bad.transaction_id)  # the reason's code is not shown
    assert "评价器" in row(good.transaction_id)  # the source, not "pad"
    cases = app_client.get("/cases").text
    assert "待联系" in cases and ">open<" not in cases


def test_the_citizens_callback_number_is_sealed_masked_revealed_on_request_and_erased(
    app_client: TestClient,
    serve: Callable[..., Served],
    scheduler: SchedulerService,
    api_login: Callable[[str], ApiUser],
    db_url: str,
) -> None:
    served = serve(1)  # walked away from the pad; rates on the phone page instead
    form = {"k": served.token, "transaction_id": served.transaction_id, "lang": "zh"}
    bad = form | {"level": "dissatisfied", "reason": "efficiency"}
    refused = app_client.post(f"/t/{served.ticket_id}", data=bad | {"phone": "12345"})
    assert refused.status_code == 422 and "请填写11位手机号码" in refused.text
    assert scheduler.store.ledger_entries(served.transaction_id) == []  # nothing recorded
    done = app_client.post(
        f"/t/{served.ticket_id}", data=bad | {"phone": "138 0013 8000"}, follow_redirects=False
    )
    assert done.status_code == 303
    database = Path(db_url.removeprefix("sqlite:///")).read_bytes()
    assert b"13800138000" not in database  # sealed, never in clear

    browser_login(app_client, "manager")
    (case,) = scheduler.store.cases()
    page = app_client.get("/cases").text
    assert "138****8000" in page and "13800138000" not in page
    csrf = _csrf(page)
    shown = app_client.post(f"/cases/{case.id}/contact", data={"csrf_token": csrf})
    assert "13800138000" in shown.text  # for the manager about to call

    manager = api_login("manager")
    url = f"/api/v1/cases/{case.id}"
    early = app_client.post(
        f"{url}/steps", json={"to": "closed", "note": "x"}, headers=manager.headers
    )
    assert early.status_code == 409
    for n in range(1, 4):  # three tries that reached nobody
        tried = app_client.post(
            f"{url}/attempts", json={"note": f"第{n}次电话未接通"}, headers=manager.headers
        )
        assert tried.json()["failed_attempts"] == n
    closed = app_client.post(
        f"{url}/steps", json={"to": "closed", "note": "三次未接通"}, headers=manager.headers
    )
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    assert scheduler.store.sealed_contacts() == {}  # erased with the case
    admin = api_login("admin")
    actions = [e["action"] for e in app_client.get("/api/v1/audit", headers=admin.headers).json()]
    assert actions.count("case.attempt") == 3 and "case.contact_revealed" in actions


def test_a_callback_records_the_citizens_view_of_the_fix(
    app_client: TestClient,
    serve: Callable[..., Served],
    scheduler: SchedulerService,
    api_login: Callable[[str], ApiUser],
) -> None:
    serve(1, RatingLevel.VERY_DISSATISFIED, BadRatingReason.ATTITUDE)
    (case,) = scheduler.store.cases()
    manager = api_login("manager")
    url = f"/api/v1/cases/{case.id}/steps"
    for to in ("contacted", "rectified"):
        step = app_client.post(url, json={"to": to, "note": "x"}, headers=manager.headers)
        assert step.status_code == 200
    blind = app_client.post(url, json={"to": "called_back", "note": "x"}, headers=manager.headers)
    assert blind.status_code == 409 and "callback's result" in blind.json()["detail"]
    heard = app_client.post(
        url,
        json={"to": "called_back", "note": "群众认可", "result": "satisfied"},
        headers=manager.headers,
    )
    assert heard.status_code == 200
    assert scheduler.store.callback_results(case.id) == ["satisfied"]


def _csrf(page: str) -> str:
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def test_a_pad_leaves_a_number_only_for_a_bad_rating_of_its_own_window(
    serve: Callable[..., Served],
    scheduler: SchedulerService,
    bus: BusSettings,
    tmp_path: Path,
) -> None:
    bad = serve(1, RatingLevel.DISSATISFIED, BadRatingReason.PROCESS)
    good = serve(1, RatingLevel.SATISFIED)
    topics = HallTopics(scheduler.hall.id)
    # Requests as pad-1 and pad-2 would send them (pad-1's own daemon is already running).
    client = BusClient(bus, f"pads-{scheduler.hall.id}", topics.availability("pads"))
    pads = {n: Requester(client, topics, f"pad-{n}") for n in (1, 2)}
    for requester in pads.values():
        requester.attach()
    client.start()

    def leave(window: int, transaction_id: str) -> Any:
        request = LeaveContact(
            request_id=uuid.uuid4().hex, transaction_id=transaction_id, phone="13900139000"
        )
        return pads[window].request(Command.LEAVE_CONTACT, request)

    try:
        refused = leave(1, bad.transaction_id)
        assert refused.error is not None and refused.error.code == ErrorCode.NOT_ALLOWED
        scheduler.contacts = ContactVault(tmp_path / "contact.key")
        assert leave(2, bad.transaction_id).error.code == ErrorCode.UNKNOWN_TRANSACTION
        assert leave(1, good.transaction_id).error.code == ErrorCode.UNKNOWN_TRANSACTION
        kept = leave(1, bad.transaction_id)
        assert kept.data == {"masked": "139****9000"}
        assert [m for _, m in scheduler.store.sealed_contacts().values()] == ["139****9000"]
    finally:
        client.stop()


def test_a_clerk_records_contact_made_at_the_desk_on_their_own_window_s_case(
    serve: Callable[..., Served], scheduler: SchedulerService, bus: BusSettings
) -> None:
    bad = serve(1, RatingLevel.DISSATISFIED, BadRatingReason.ATTITUDE)
    serve(2, RatingLevel.SATISFIED)
    topics = HallTopics(scheduler.hall.id)
    # Requests as the keypads of windows 1 and 2 send them (their daemons are running too).
    client = BusClient(bus, f"keypads-{scheduler.hall.id}", topics.availability("keypads"))
    keypads = {n: Requester(client, topics, f"counter-{n}") for n in (1, 2)}
    for requester in keypads.values():
        requester.attach()
    client.start()

    def desk_contact(window: int) -> Any:
        request = DeskContact(request_id=uuid.uuid4().hex)
        return keypads[window].request(Command.DESK_CONTACT, request)

    try:
        (case,) = scheduler.store.cases()
        # Window 2 served only a satisfied citizen: nothing of window 1's is theirs to record.
        assert desk_contact(2).error.code == ErrorCode.UNKNOWN_TRANSACTION
        assert scheduler.store.case_steps(case.id) == []
        done = desk_contact(1)
        assert done.status == "ok", done
        assert done.data == {"case_id": case.id, "ticket_label": bad.label}
        ((state, _, actor, note),) = scheduler.store.case_steps(case.id)
        assert (state.value, actor) == ("contacted", "clerk 1001 at window 1")
        assert note is not None and "当面沟通" in note
        # Once contacted, the key finds nothing more to record.
        assert desk_contact(1).error.code == ErrorCode.UNKNOWN_TRANSACTION
    finally:
        client.stop()


def test_the_ledger_pages_and_filters_by_window(
    app_client: TestClient,
    serve: Callable[..., Served],
    scheduler: SchedulerService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:

    monkeypatch.setattr(pages, "LEDGER_PAGE", 2)  # three records make two pages
    served = [serve(1, RatingLevel.SATISFIED), serve(2, RatingLevel.SATISFIED)]
    served.append(serve(1, RatingLevel.DISSATISFIED, BadRatingReason.PROCESS))
    browser_login(app_client, "viewer")
    first = app_client.get("/ratings")
    assert "第 1 / 2 页" in first.text and first.text.count("<tr data-transaction") == 2
    second = app_client.get("/ratings?page=2")
    assert second.text.count("<tr data-transaction") == 1 and 'id="page-previous"' in second.text
    # Newest first across pages: the first record served is alone on the last page.
    assert served[0].transaction_id in second.text
    window_2 = app_client.get("/ratings?window=2")
    assert (
        window_2.text.count("<tr data-transaction") == 1
        and served[1].transaction_id in window_2.text
    )
    assert app_client.get("/ratings?page=0").status_code == 422
