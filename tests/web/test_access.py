"""Who may do what: every API endpoint's role, sessions, CSRF and the login's rate limit."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from hallbus.messages import BadRatingReason, RatingLevel
from scheduler.web.accounts import RANK, Role
from tests.web.conftest import PASSWORD, ApiUser, Served, browser_login

# The least role of every endpoint of the versioned API; public ones need none.
LEAST_ROLE: dict[tuple[str, str], Role | None] = {
    ("POST", "/api/v1/session"): None,
    ("DELETE", "/api/v1/session"): Role.VIEWER,
    ("GET", "/api/v1/live"): Role.VIEWER,
    ("GET", "/api/v1/devices"): Role.VIEWER,
    ("GET", "/api/v1/ratings"): Role.VIEWER,
    ("GET", "/api/v1/ratings/ledger"): Role.VIEWER,
    ("GET", "/api/v1/cases"): Role.VIEWER,
    ("POST", "/api/v1/cases/{case_id}/steps"): Role.HALL_MANAGER,
    ("POST", "/api/v1/cases/{case_id}/attempts"): Role.HALL_MANAGER,
    ("GET", "/api/v1/tickets"): Role.VIEWER,
    ("POST", "/api/v1/tickets/{ticket_id}/void"): Role.HALL_MANAGER,
    ("GET", "/api/v1/reviews"): Role.VIEWER,
    ("POST", "/api/v1/reviews"): Role.HALL_MANAGER,
    ("POST", "/api/v1/reviews/{proposal_id}/{decision}"): Role.HALL_MANAGER,
    ("GET", "/api/v1/reports"): Role.VIEWER,
    ("GET", "/api/v1/reports/export"): Role.HALL_MANAGER,
    ("GET", "/api/v1/config"): Role.ADMINISTRATOR,
    ("PUT", "/api/v1/config"): Role.ADMINISTRATOR,
    ("GET", "/api/v1/audit"): Role.ADMINISTRATOR,
    ("PUT", "/api/v1/clerks/{clerk_code}/pin"): Role.ADMINISTRATOR,
    ("GET", "/api/v1/accounts"): Role.ADMINISTRATOR,
    ("POST", "/api/v1/accounts"): Role.ADMINISTRATOR,
    ("GET", "/api/v1/tickets/{ticket_id}/rating"): None,
    ("POST", "/api/v1/tickets/{ticket_id}/rating"): None,
    ("GET", "/api/v1/booking/services"): None,
    ("GET", "/api/v1/booking/slots"): None,
    ("POST", "/api/v1/booking"): None,
    ("GET", "/api/v1/booking/{code}"): None,
    ("POST", "/api/v1/booking/{code}/cancel"): None,
    ("POST", "/api/v1/booking/{code}/change"): None,
}
PAGES: dict[tuple[str, str], Role] = {
    ("GET", "/"): Role.VIEWER,
    ("GET", "/devices"): Role.VIEWER,
    ("GET", "/tickets"): Role.VIEWER,
    ("GET", "/ratings"): Role.VIEWER,
    ("GET", "/cases"): Role.VIEWER,
    ("GET", "/reports"): Role.VIEWER,
    ("GET", "/reports/export?format=csv"): Role.HALL_MANAGER,
    ("GET", "/config"): Role.ADMINISTRATOR,
    ("GET", "/audit"): Role.ADMINISTRATOR,
    ("GET", "/accounts"): Role.ADMINISTRATOR,
}
PERSON = {Role.VIEWER: "viewer", Role.HALL_MANAGER: "manager", Role.ADMINISTRATOR: "admin"}


def test_the_table_names_every_endpoint_of_the_openapi_document(app_client: TestClient) -> None:
    document = app_client.get("/api/v1/openapi.json").json()
    found = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert found == set(LEAST_ROLE)


def test_every_manager_endpoint_refuses_anonymous_and_lower_roles(
    app_client: TestClient, api_login: Callable[[str], ApiUser]
) -> None:
    people = {role: api_login(name) for role, name in PERSON.items()}
    for (method, path), least in LEAST_ROLE.items():
        if least is None:
            continue
        url = path.format(
            case_id="c", proposal_id="p", decision="approve", ticket_id="t", clerk_code="1001"
        )
        assert app_client.request(method, url).status_code == 401, url
        forged = app_client.request(method, url, headers={"Authorization": "Bearer forged"})
        assert forged.status_code == 401, url
        for role, person in people.items():
            if method == "DELETE":
                continue  # logging out would end the token the next endpoints use
            answer = app_client.request(method, url, headers=person.headers, json={})
            if RANK[role] < RANK[least]:
                assert answer.status_code == 403, (method, url, person.name, answer.text)
            else:
                assert answer.status_code not in (401, 403), (method, url, person.name)


def test_every_page_sends_strangers_to_the_login_and_checks_roles(
    app_client: TestClient,
) -> None:
    for method, path in PAGES:
        answer = app_client.request(method, path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    for role, name in PERSON.items():
        browser_login(app_client, name)
        for (method, path), least in PAGES.items():
            page = app_client.request(method, path, follow_redirects=False)
            assert page.status_code == (200 if RANK[role] >= RANK[least] else 403), (name, path)
        app_client.cookies.clear()


def test_a_cookie_session_needs_its_csrf_token_for_every_change(app_client: TestClient) -> None:
    csrf = browser_login(app_client, "admin")
    body = {"username": "clerk-lead", "password": "a long passphrase", "role": "viewer"}
    assert app_client.post("/api/v1/accounts", json=body).status_code == 403
    wrong = app_client.post("/api/v1/accounts", json=body, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    form = app_client.post("/accounts", data=body, follow_redirects=False)
    assert form.status_code == 403
    made = app_client.post("/accounts", data=body | {"csrf_token": csrf}, follow_redirects=False)
    assert made.status_code == 303
    listed = app_client.get("/api/v1/accounts").json()
    assert "clerk-lead" in [a["username"] for a in listed]
    assert "password" not in str(listed) and "argon2" not in str(listed)


def test_login_is_rate_limited_and_says_so(app_client: TestClient) -> None:
    wrong = {"username": "manager", "password": "guess"}
    codes = [app_client.post("/api/v1/session", json=wrong).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    right = {"username": "manager", "password": PASSWORD}
    locked = app_client.post("/api/v1/session", json=right)
    assert locked.status_code == 429 and "wait a minute" in locked.json()["detail"]
    other = app_client.post("/api/v1/session", json={"username": "viewer", "password": PASSWORD})
    assert other.status_code == 200


def test_logging_out_ends_the_token(
    app_client: TestClient, api_login: Callable[[str], ApiUser]
) -> None:
    viewer = api_login("viewer")
    assert app_client.get("/api/v1/live", headers=viewer.headers).status_code == 200
    assert app_client.delete("/api/v1/session", headers=viewer.headers).status_code == 204
    assert app_client.get("/api/v1/live", headers=viewer.headers).status_code == 401


# What leaks when a template prints a Python object instead of saying what it means.
PYTHON_REPR = re.compile(r"\b(True|False|None)\b|\w+\(\w+=|<\w+ object at")


def test_no_page_shows_a_python_repr(app_client: TestClient, serve: Callable[..., Served]) -> None:
    serve(1, RatingLevel.VERY_DISSATISFIED, BadRatingReason.ATTITUDE)  # rows on every page
    browser_login(app_client, "admin")
    for (method, path), _ in PAGES.items():
        if "export" in path:
            continue  # a file, not a page
        page = app_client.request(method, path)
        assert page.status_code == 200, path
        body = re.sub(r"<script.*?</script>", "", page.text, flags=re.S)
        text = re.sub(r"<[^>]+>", " ", body)  # what a person reads, not attributes or code
        assert not PYTHON_REPR.search(text), (path, PYTHON_REPR.search(text))
