"""An administrator sets a clerk's PIN from the dashboard; the clerk then needs it."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from hallbus.messages import ErrorCode, Login
from hallbus.topics import Command
from scheduler.bridge import SchedulerService
from scheduler.tables import audit_log, clerk_pins
from simulator.devices import VirtualCounter
from tests.web.conftest import ApiUser


def test_an_administrator_sets_a_clerks_pin_and_only_its_hash_is_kept(
    app_client: TestClient,
    api_login: Callable[[str], ApiUser],
    scheduler: SchedulerService,
    devices: Callable[..., Any],
) -> None:
    admin, manager = api_login("admin"), api_login("manager")
    url = "/api/v1/clerks/1001/pin"
    assert app_client.put(url, json={"pin": "2468"}, headers=manager.headers).status_code == 403
    assert app_client.put(url, json={"pin": "24a8"}, headers=admin.headers).status_code == 422
    gone = app_client.put("/api/v1/clerks/9999/pin", json={"pin": "2468"}, headers=admin.headers)
    assert gone.status_code == 404
    assert app_client.put(url, json={"pin": "2468"}, headers=admin.headers).status_code == 200
    with scheduler.store.engine.connect() as conn:
        (stored,) = conn.execute(select(clerk_pins.c.pin_hash)).scalars()
        actions = list(conn.execute(select(audit_log.c.action, audit_log.c.actor)).all())
    assert stored.startswith("$argon2") and "2468" not in stored
    assert ("clerk.pin_set", "admin") in [(a, b) for a, b in actions]

    counter: VirtualCounter = devices(VirtualCounter, "counter-1", 1)

    def login(pin: str | None) -> Any:
        request = Login(request_id=os.urandom(8).hex(), clerk_code="1001", pin=pin)
        return counter.request(Command.LOGIN, request)

    assert login(None).error.code == ErrorCode.PIN_REQUIRED  # a PIN set is always needed
    assert login("2468").status == "ok"
