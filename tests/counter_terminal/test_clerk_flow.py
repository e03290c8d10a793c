"""The clerk's flow end to end: emulated keypads and raters on a pty, the real counter
daemon, real mosquitto and the real scheduler."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from counter_terminal.keys import ClerkKey as K
from hallbus.clock import FakeClock
from hallbus.daemon import DeviceDaemon
from hallbus.messages import TicketState, WindowStatus
from hallbus.settings import BusSettings
from scheduler.bridge import SchedulerService
from scheduler.config import HallConfig
from simulator.devices import VirtualKiosk
from tests.counter_terminal.counters import bus_counter


def test_call_recall_finish_and_next_from_the_keypad(
    scheduler: SchedulerService,
    devices: Callable[..., DeviceDaemon],
    bus: BusSettings,
    hall: HallConfig,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    kiosk: VirtualKiosk = devices(VirtualKiosk, "kiosk-1")
    for _ in range(3):
        assert kiosk.issue("social").status == "ok"
    with bus_counter(bus, hall, clock, tmp_path, [1]) as counter:
        line, seen = counter.line, counter.seen
        assert line.press(1, K.CALL_NEXT)
        refused = seen.key("counter-1", "window_closed")
        assert refused is not None and refused.text == "请先登录"
        assert line.press(1, K.LOGIN, "1001")
        assert seen.key("counter-1", "ok") is not None
        assert seen.window(1, lambda w: w.status is WindowStatus.OPEN)
        assert line.press(1, K.CALL_NEXT)
        assert seen.window(1, lambda w: w.current is not None and w.current.label == "A001")
        assert line.shown.wait_for(lambda s: s.address == 1 and "A001" in s.lines[0], 10)
        assert line.press(1, K.RECALL)
        assert seen.window(1, lambda w: w.current is not None and w.current.recalls == 1)
        assert line.press(1, K.CALL_NEXT)  # 顺呼: finishes A001, calls A002
        assert seen.window(1, lambda w: w.current is not None and w.current.label == "A002")
        assert scheduler.store.ticket_counts().get(TicketState.DONE.value) == 1
