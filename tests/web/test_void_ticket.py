"""A hall manager ends a ticket from the dashboard: over the bus, audited, never deleted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from scheduler.bridge import SchedulerService
from simulator.devices import VirtualCounter, VirtualKiosk
from tests.web.conftest import ApiUser


def test_a_manager_ends_a_waiting_and_a_called_ticket_with_a_reason(
    app_client: TestClient,
    api_login: Callable[[str], ApiUser],
    devices: Callable[..., Any],
    staff: Callable[[int], VirtualCounter],
    scheduler: SchedulerService,
) -> None:
    kiosk: VirtualKiosk = devices(VirtualKiosk, "kiosk-1")
    called, waiting, served = (kiosk.issue("social").data or {} for _ in range(3))
    counter = staff(1)
    assert counter.call_next().data["ticket_id"] == called["ticket_id"]  # type: ignore[index]
    manager, viewer = api_login("manager"), api_login("viewer")

    listed = app_client.get("/api/v1/tickets", headers=viewer.headers).json()
    assert [t["label"] for t in listed] == ["A001", "A002", "A003"]
    page = app_client.get("/tickets", headers=viewer.headers).text
    assert page.count("<td>社保业务</td>") == 3  # the service's name, not its code
    url = "/api/v1/tickets/{}/void"
    refused = app_client.post(
        url.format(called["ticket_id"]), json={"reason": "x"}, headers=viewer.headers
    )
    assert refused.status_code == 403
    # A001 was called to window 1 and nobody came; A002 still waits.
    ended = app_client.post(
        url.format(called["ticket_id"]), json={"reason": "群众已离开"}, headers=manager.headers
    )
    assert ended.status_code == 200 and ended.json()["state"] == "voided"
    assert scheduler.queue.current(1) is None  # the window is free to call the next
    ended = app_client.post(
        url.format(waiting["ticket_id"]), json={"reason": "取错业务"}, headers=manager.headers
    )
    assert ended.status_code == 200
    assert scheduler.queue.waiting_count("social") == 1

    # Being served: finished at the window, not voided from the office.
    assert counter.call_next().data["ticket_id"] == served["ticket_id"]  # type: ignore[index]
    assert counter.start_service().status == "ok"
    busy = app_client.post(
        url.format(served["ticket_id"]), json={"reason": "x"}, headers=manager.headers
    )
    assert busy.status_code == 409 and "finish it there" in busy.json()["detail"]
    gone = app_client.post(url.format("nope"), json={"reason": "x"}, headers=manager.headers)
    assert gone.status_code == 404

    counts = scheduler.store.ticket_counts()
    assert counts == {"voided": 2, "serving": 1}  # kept, never deleted
    admin = api_login("admin")
    audit = app_client.get("/api/v1/audit", headers=admin.headers).json()
    voids = [(e["actor"], e["detail"]["reason"]) for e in audit if e["action"] == "ticket.void"]
    assert sorted(voids) == [("manager", "取错业务"), ("manager", "群众已离开")]
