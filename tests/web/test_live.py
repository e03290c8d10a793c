"""The live hall's alerts and device list, built from bus messages (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hallbus.hall_file import DEMO_HALL_FILE, load_hall
from hallbus.messages import (
    DeviceKind,
    DeviceStatus,
    PauseReason,
    ServiceState,
    WindowState,
    WindowStatus,
)
from scheduler.web.live import DeviceSeen, LivePicture, alerts, device_rows, live_view
from scheduler.web.words import dashboard_words

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
HALL = load_hall(DEMO_HALL_FILE)


def _all_online(picture: LivePicture) -> None:
    for device in HALL.devices:
        picture.devices[device.id] = DeviceSeen(online=True, last_seen=NOW)


def _service(code: str, waited_min: float | None) -> ServiceState:
    since = None if waited_min is None else NOW - timedelta(minutes=waited_min)
    return ServiceState(
        service_code=code,
        names={"zh": code},
        waiting=1,
        estimated_wait_s=60,
        open_windows=1,
        longest_waiting_since=since,
    )


def test_a_quiet_hall_raises_nothing() -> None:
    picture = LivePicture(scheduler_online=True)
    _all_online(picture)
    picture.services["social"] = _service("social", 5)
    assert alerts(picture, HALL, NOW) == []


def test_each_threshold_and_fault_raises_its_alert() -> None:
    picture = LivePicture(scheduler_online=True)
    _all_online(picture)
    picture.services["social"] = _service("social", HALL.alert_wait_min + 1)
    picture.windows[2] = WindowState(
        window=2,
        status=WindowStatus.PAUSED,
        pause_reason=PauseReason.BREAK,
        waiting=0,
        status_since=NOW - timedelta(minutes=HALL.alert_pause_min + 3),
    )
    picture.windows[3] = WindowState(
        window=3, status=WindowStatus.PAUSED, waiting=0, status_since=NOW - timedelta(minutes=1)
    )
    picture.devices["board-2"].online = False
    picture.devices["kiosk-1"].status = DeviceStatus(
        kind=DeviceKind.KIOSK, healthy=True, faults=["paper_near_end"]
    )
    picture.devices["board-1"].status = DeviceStatus(
        kind=DeviceKind.WINDOW_BOARD, healthy=False, faults=["not_answering"]
    )
    raised = {(a.kind, a.subject) for a in alerts(picture, HALL, NOW)}
    assert raised == {
        ("long_wait", "social"),
        ("long_pause", "window 2"),
        ("device_offline", "board-2"),
        ("paper_low", "kiosk-1"),
        ("device_fault", "board-1"),
    }


def test_a_device_never_heard_of_and_a_stopped_scheduler_are_alerts() -> None:
    picture = LivePicture(scheduler_online=False)
    _all_online(picture)
    del picture.devices["pad-3"]
    found = [(a.kind, a.subject, a.about, a.message) for a in alerts(picture, HALL, NOW)]
    assert found == [
        ("scheduler", "scheduler", "调度器", "离线：无法取号和叫号"),
        ("device_offline", "pad-3", "pad-3", "评价器 从未连接"),
    ]
    # The same alerts in the words of a manager who switched the dashboard to English.
    english = alerts(picture, HALL, NOW, dashboard_words("en"))
    assert [(a.about, a.message) for a in english] == [
        ("Scheduler", "offline: no tickets, no calls"),
        ("pad-3", "Rating pad never connected"),
    ]


def test_the_view_times_the_ticket_at_a_window_and_lists_unknown_devices() -> None:
    picture = LivePicture(scheduler_online=True)
    picture.windows[1] = WindowState.model_validate(
        {
            "window": 1,
            "status": "open",
            "waiting": 3,
            "current": {
                "ticket_id": "t1",
                "label": "A007",
                "service_code": "social",
                "state": "serving",
                "called_at": (NOW - timedelta(seconds=200)).isoformat(),
                "serving_since": (NOW - timedelta(seconds=150)).isoformat(),
            },
        }
    )
    picture.devices["stray-9"] = DeviceSeen(
        online=True, status=DeviceStatus(kind=DeviceKind.KIOSK, healthy=True)
    )
    view = live_view(picture, HALL, NOW)
    window_1 = next(w for w in view["windows"] if w["number"] == 1)
    assert (window_1["ticket"], window_1["served_for_s"], window_1["waiting"]) == ("A007", 150, 3)
    rows = device_rows(picture, HALL)
    assert rows[-1]["id"] == "stray-9" and rows[-1]["configured"] is False
    assert len(rows) == len(HALL.devices) + 1
