"""Every time a person reads on the dashboard is on the hall's clock, not UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from hallbus.clock import FakeClock
from hallbus.hall_time import NaiveTimeError, hall_iso, wall_clock
from scheduler.bridge import SchedulerService
from tests.web.conftest import browser_login


@pytest.mark.parametrize(
    ("zone", "shown"),
    [("Asia/Shanghai", "2026-12-01 10:30"), ("America/Sao_Paulo", "2026-11-30 23:30")],
)
def test_one_module_turns_utc_into_the_halls_wall_clock(zone: str, shown: str) -> None:
    moment = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    assert wall_clock(moment, ZoneInfo(zone)) == shown
    assert wall_clock(moment.isoformat(), ZoneInfo(zone)) == shown
    assert hall_iso(moment, ZoneInfo("Asia/Shanghai")) == "2026-12-01T10:30:00+08:00"
    with pytest.raises(NaiveTimeError):
        wall_clock(datetime(2026, 12, 1, 2, 30), ZoneInfo(zone))


def test_the_audit_devices_and_live_pages_show_the_halls_time(
    app_client: TestClient, scheduler: SchedulerService, clock: FakeClock
) -> None:
    zone = scheduler.hall.zone
    local = f"{clock.now().astimezone(zone):%H:%M}"
    utc = f"{clock.now():%H:%M}"
    assert local != utc  # Shanghai is eight hours ahead
    browser_login(app_client, "admin")
    audit = app_client.get("/audit").text
    assert local in audit and utc not in audit  # the login just recorded
    live = app_client.get("/api/v1/live").json()
    assert live["at"].endswith("+08:00")
    devices = app_client.get("/devices").text
    assert f"{clock.now():%H:%M:%S}" not in devices
