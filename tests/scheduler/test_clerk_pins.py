"""Clerk PINs: a 工号 alone (printed on every pad) opens no window where a PIN is set.

Over the real bus with the real scheduler; the keypad's two-step login (code, then PIN)
on the emulated RS-485 line with the real counter daemon.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from counter_terminal.keys import ClerkKey as K
from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig
from hallbus.messages import ErrorCode, KeyHandled, Login, WindowStatus, decode
from hallbus.settings import BusSettings
from hallbus.topics import Command
from paidui.cli import main as paidui
from scheduler.bridge import SchedulerService
from scheduler.clerk_pins import hash_pin
from scheduler.store import Store
from scheduler.tables import audit_log
from scheduler.web.live import LivePicture, live_view
from simulator.devices import VirtualCounter
from simulator.processes import write_hall_file
from tests.counter_terminal.counters import bus_counter


@pytest.fixture
def pin_hall(hall: HallConfig) -> HallConfig:
    return hall.model_copy(update={"require_pin": True})


@pytest.fixture
def scheduler(
    pin_hall: HallConfig, bus: BusSettings, clock: FakeClock, db_url: str
) -> Iterator[SchedulerService]:
    service = SchedulerService(
        pin_hall, Store(db_url, pin_hall.id), bus, clock=clock, client_id=f"s-{pin_hall.id}"
    )
    service.start()
    yield service
    service.stop()


def _login(counter: VirtualCounter, code: str, pin: str | None) -> Any:
    request = Login(request_id=os.urandom(8).hex(), clerk_code=code, pin=pin)
    return counter.request(Command.LOGIN, request)


def _audit(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.actor, audit_log.c.action)
            .where(audit_log.c.hall == store.hall)
            .order_by(audit_log.c.id)
        ).all()
    return [(r[0], r[1]) for r in rows]


def test_code_alone_is_refused_wrong_pins_lock_the_clerk_and_every_try_is_audited(
    scheduler: SchedulerService,
    pin_hall: HallConfig,
    devices: Callable[..., Any],
    clock: FakeClock,
    tmp_path: Path,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    counter: VirtualCounter = devices(VirtualCounter, "counter-1", 1)
    # No PIN set yet in a hall that requires one: nobody gets in.
    unset = _login(counter, "1001", None)
    assert unset.error is not None and unset.error.code == ErrorCode.PIN_REQUIRED

    hall_file = write_hall_file(pin_hall, tmp_path / "hall.yaml")
    os.environ["PAIDUI_NEW_PIN"] = "2468"
    try:
        assert paidui(["clerks", "pin", "1001", "--hall-file", str(hall_file), "--db", db_url]) == 0
    finally:
        del os.environ["PAIDUI_NEW_PIN"]
    assert json.loads(capsys.readouterr().out)["pin"] == "set"
    assert "2468" not in Path(db_url.removeprefix("sqlite:///")).read_bytes().decode("latin-1")

    assert _login(counter, "1001", None).error.code == ErrorCode.PIN_REQUIRED
    for _ in range(pin_hall.pin_max_failures - 1):
        wrong = _login(counter, "1001", "1111")
        assert wrong.error is not None and wrong.error.code == ErrorCode.WRONG_PIN
    locked = _login(counter, "1001", "1111")  # the fifth wrong PIN locks the clerk
    assert locked.error is not None and locked.error.code == ErrorCode.CLERK_LOCKED
    still = _login(counter, "1001", "2468")  # even the right PIN, for a while
    assert still.error is not None and still.error.code == ErrorCode.CLERK_LOCKED
    view = live_view(
        LivePicture(), pin_hall, clock.now(), scheduler.store.locked_clerks(clock.now())
    )
    locked_alerts = [a for a in view["alerts"] if a["kind"] == "clerk_locked"]
    assert [a["subject"] for a in locked_alerts] == ["1001"]  # the dashboard's alert

    clock.advance(pin_hall.pin_lockout_min * 60 + 1)
    opened = _login(counter, "1001", "2468")
    assert opened.status == "ok"
    assert counter.logout().status == "ok"
    assert _audit(scheduler.store) == [
        ("command line", "clerk.pin_set"),
        *[("1001", "clerk.login_wrong")] * (pin_hall.pin_max_failures - 1),
        ("1001", "clerk.login_locked"),
        ("1001", "clerk.login_locked"),
        ("1001", "clerk.login"),
        ("1001", "clerk.logout"),
    ]


def test_the_keypad_asks_for_the_pin_after_the_code(
    scheduler: SchedulerService,
    pin_hall: HallConfig,
    bus: BusSettings,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    scheduler.store.set_clerk_pin("1001", hash_pin("2468"), "test", clock.now())
    with bus_counter(bus, pin_hall, clock, tmp_path, [1]) as counter:
        line, seen = counter.line, counter.seen
        assert line.press(1, K.LOGIN, "1001")
        asked = seen.key("counter-1", "pin_required")
        assert asked is not None and asked.text == "输密码再按登录"
        assert line.press(1, K.LOGIN, "1111")
        wrong = seen.key("counter-1", "wrong_pin")
        assert wrong is not None and wrong.text == "密码错误"
        assert line.press(1, K.LOGIN, "1001")
        assert line.press(1, K.LOGIN, "2468")
        assert seen.window(1, lambda w: w.status is WindowStatus.OPEN)
        # The PIN is on no screen and in no event.
        assert all("2468" not in " ".join(s.lines) for s in line.shown.items())
        events = [decode(KeyHandled, p) for p in seen.keys["counter-1"].items()]
        assert all("2468" not in (k.text or "") for k in events)
