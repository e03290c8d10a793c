"""Online booking through the API and the phone page, then check-in at the kiosk by code."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select

from hallbus.clock import FakeClock
from hallbus.messages import PriorityClass
from scheduler.tables import appointment_contacts, appointments
from simulator.devices import VirtualKiosk
from simulator.id_cards import id_number

PERSON = id_number("11010519491231002")
OTHER = id_number("44030419800101123")
PHONE = "13800138000"


def _open_slots(client: TestClient) -> tuple[str, list[dict[str, Any]]]:
    """The first bookable day of 社保 and its slots with places left."""
    services = client.get("/api/v1/booking/services").json()
    social = next(s for s in services if s["code"] == "social")
    for day in social["days"]:
        found = client.get("/api/v1/booking/slots", params={"service": "social", "day": day})
        assert found.status_code == 200, found.text
        free = [s for s in found.json() if s["left"] > 0]
        if free:
            return day, free
    raise AssertionError("no bookable slot in the booking window")


def test_book_change_cancel_through_the_api_keeping_no_id_number(
    app_client: TestClient, db_url: str
) -> None:
    day, free = _open_slots(app_client)
    first, later = free[0], free[1]
    made = app_client.post(
        "/api/v1/booking",
        json={
            "service_code": "social",
            "slot_start": first["start"],
            "id_number": PERSON,
            "phone": PHONE,
        },
    )
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    assert len(code) == 8 and code.isdigit() and made.json()["state"] == "booked"
    # Its place is taken: the slot shows one fewer.
    again = app_client.get("/api/v1/booking/slots", params={"service": "social", "day": day})
    slot = next(s for s in again.json() if s["start"] == first["start"])
    assert slot["left"] == first["left"] - 1
    # One a day per person: a second booking that day is refused with the reason.
    twice = app_client.post(
        "/api/v1/booking",
        json={"service_code": "social", "slot_start": later["start"], "id_number": PERSON},
    )
    assert twice.status_code == 409 and "a day" in twice.json()["detail"]
    # Nothing a person is recognised by is kept in clear.
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(appointments)).all()]
        kept = [tuple(r) for r in conn.execute(select(appointment_contacts)).all()]
    engine.dispose()
    stored = repr(rows + kept)
    assert PERSON not in stored and PHONE not in stored and "138****8000" in stored

    moved = app_client.post(f"/api/v1/booking/{code}/change", json={"slot_start": later["start"]})
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["slot_start"]) == datetime.fromisoformat(
        later["start"]
    )
    assert app_client.get(f"/api/v1/booking/{code}").json()["state"] == "booked"
    assert app_client.post(f"/api/v1/booking/{code}/cancel").json()["state"] == "cancelled"
    assert app_client.post(f"/api/v1/booking/{code}/cancel").status_code == 404
    assert app_client.get("/api/v1/booking/00000000").status_code == 404


def test_a_reminder_number_is_deleted_after_its_day(
    app_client: TestClient, db_url: str, clock: FakeClock
) -> None:
    _, free = _open_slots(app_client)
    body = {"service_code": "social", "slot_start": free[0]["start"], "id_number": PERSON}
    assert app_client.post("/api/v1/booking", json=body | {"phone": PHONE}).status_code == 201
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert len(conn.execute(select(appointment_contacts)).all()) == 1
    clock.advance(10 * 24 * 3600)  # the booking's day is long over
    _, free = _open_slots(app_client)
    body = {"service_code": "social", "slot_start": free[0]["start"], "id_number": OTHER}
    assert app_client.post("/api/v1/booking", json=body).status_code == 201
    with engine.connect() as conn:
        assert conn.execute(select(appointment_contacts)).all() == []
    engine.dispose()


def test_bad_input_is_refused_with_the_reason(app_client: TestClient) -> None:
    _, free = _open_slots(app_client)
    body = {"service_code": "social", "slot_start": free[0]["start"], "id_number": PERSON}
    wrong = app_client.post("/api/v1/booking", json=body | {"id_number": PERSON[:-1] + "0"})
    assert wrong.status_code == 422 and "ID number" in wrong.json()["detail"]
    phone = app_client.post("/api/v1/booking", json=body | {"phone": "12345"})
    assert phone.status_code == 422 and "mobile" in phone.json()["detail"]
    unknown = app_client.post("/api/v1/booking", json=body | {"service_code": "nope"})
    assert unknown.status_code == 404
    naive = app_client.post("/api/v1/booking", json=body | {"slot_start": "2026-12-02T09:00"})
    assert naive.status_code == 422


def test_bookings_are_rate_limited_per_client(app_client: TestClient) -> None:
    answers = [
        app_client.post(
            "/api/v1/booking",
            json={
                "service_code": "social",
                "slot_start": "2030-01-01T01:00:00Z",
                "id_number": "x" * 18,
            },
        ).status_code
        for _ in range(12)
    ]
    assert answers[:10] == [422] * 10 and answers[10:] == [429, 429]


def test_the_phone_page_books_and_the_kiosk_checks_in_by_code(
    app_client: TestClient, devices: Callable[..., Any], clock: FakeClock
) -> None:
    day, free = _open_slots(app_client)
    page = app_client.get("/book", params={"service": "social", "day": day})
    assert page.status_code == 200 and 'name="slot"' in page.text
    made = app_client.post(
        "/book",
        data={"service": "social", "day": day, "slot": free[0]["start"], "id_number": OTHER},
        follow_redirects=True,
    )
    assert made.status_code == 200 and "预约成功" in made.text
    code = made.text.split('id="code">')[1].split("<")[0]
    assert len(code) == 8
    # On the day, at the slot, the citizen types the code at the kiosk.
    slot = datetime.fromisoformat(free[0]["start"])
    clock.advance((slot - clock.now()).total_seconds())
    kiosk: VirtualKiosk = devices(VirtualKiosk, "kiosk-1")
    issued = kiosk.issue(None, booking_code=code)
    assert issued.status == "ok", issued.error
    assert issued.data is not None and issued.data["priority"] == PriorityClass.APPOINTMENT
    assert app_client.get(f"/api/v1/booking/{code}").json()["state"] == "checked_in"
    again = kiosk.issue(None, booking_code=code)
    assert again.error is not None and again.error.code == "no_appointment"
