"""The clerk's flow end to end: emulated keypads and raters on a pty, the real counter
daemon, real mosquitto and the real scheduler."""

from __future__ import annotations

from pathlib import Path

from counter_terminal.keys import ClerkKey as K
from hallbus.client import BusClient
from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig
from hallbus.messages import CardRead, TicketState, WindowStatus
from hallbus.settings import BusSettings
from hallbus.topics import DeviceEventKind, HallTopics
from scheduler.bridge import SchedulerService
from scheduler.store import Store
from simulator.id_cards import id_number
from tests.conftest import Tickets
from tests.counter_terminal.counters import bus_counter
from tests.id_reader.readers import HASHER


def test_call_recall_finish_and_next_from_the_keypad(
    scheduler: SchedulerService,
    tickets: Tickets,
    bus: BusSettings,
    hall: HallConfig,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    tickets(3)
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


def test_no_show_after_recalls_transfer_and_call_by_number(
    scheduler: SchedulerService,
    tickets: Tickets,
    bus: BusSettings,
    hall: HallConfig,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    tickets(4)
    with bus_counter(bus, hall, clock, tmp_path, [1, 2]) as counter:
        line, seen = counter.line, counter.seen
        assert line.press(1, K.LOGIN, "1001") and line.press(2, K.LOGIN, "1002")
        assert seen.window(2, lambda w: w.status is WindowStatus.OPEN)
        # A001 never comes: recalled up to max_recalls (2), the next recall is a no-show.
        assert line.press(1, K.CALL_NEXT)
        for recalls in (1, 2):
            assert line.press(1, K.RECALL)
            assert seen.window(
                1, lambda w, n=recalls: w.current is not None and w.current.recalls == n
            )  # type: ignore[misc]
        assert line.press(1, K.RECALL)
        assert seen.window(1, lambda w: w.current is None)
        assert scheduler.store.ticket_counts().get(TicketState.NO_SHOW.value) == 1
        # A002 is called, then sent to window 2, which calls it next (一票到底).
        assert line.press(1, K.CALL_NEXT)
        assert seen.window(1, lambda w: w.current is not None and w.current.label == "A002")
        assert line.press(1, K.TRANSFER_WINDOW, "2")
        assert seen.window(1, lambda w: w.current is None)
        assert line.press(2, K.CALL_NEXT)
        assert seen.window(2, lambda w: w.current is not None and w.current.label == "A002")
        # Transfer to a service by its number in the hall file: 2 is tax (B).
        assert line.press(2, K.TRANSFER_SERVICE, "2")
        assert seen.window(2, lambda w: w.current is None)
        # Window 1 calls A004 out of order by number (one service there: the prefix is known).
        assert line.press(1, K.CALL_TICKET, "4")
        assert seen.window(1, lambda w: w.current is not None and w.current.label == "A004")
        # Calling out of order while A004 is still at the window is refused.
        before = seen.key_count("counter-1")
        assert line.press(1, K.CALL_TICKET, "3")
        assert seen.key("counter-1", "invalid_state", after=before) is not None
        # A number nobody holds is refused with a clear message, and nothing changes.
        assert line.press(1, K.FINISH)
        assert seen.window(1, lambda w: w.current is None)
        before = seen.key_count("counter-1")
        assert line.press(1, K.CALL_TICKET, "99")
        refused = seen.key("counter-1", "unknown_ticket", after=before)
        assert refused is not None and refused.text == "无此票号"
        # A transfer without a number never reaches the scheduler.
        assert line.press(1, K.TRANSFER_WINDOW)
        assert seen.key("counter-1", "number_missing") is not None


def test_pause_resume_and_an_a_b_handover(
    scheduler: SchedulerService,
    tickets: Tickets,
    bus: BusSettings,
    hall: HallConfig,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    tickets(3)
    with bus_counter(bus, hall, clock, tmp_path, [1]) as counter:
        line, seen = counter.line, counter.seen
        assert line.press(1, K.LOGIN, "1001")
        assert seen.window(1, lambda w: w.clerk is not None and w.clerk.code == "1001")
        assert line.press(1, K.PAUSE)
        assert seen.window(1, lambda w: w.status is WindowStatus.PAUSED)
        assert line.shown.wait_for(lambda s: s.address == 1 and "暂停服务" in s.lines[0], 10)
        assert line.press(1, K.CALL_NEXT)
        paused = seen.key("counter-1", "window_paused")
        assert paused is not None and paused.text == "请先恢复服务"
        assert line.shown.wait_for(lambda s: s.address == 1 and "请先恢复服务" in s.lines[-1], 10)
        assert line.press(1, K.RESUME)
        assert seen.window(1, lambda w: w.status is WindowStatus.OPEN)
        assert line.press(1, K.CALL_NEXT)
        assert seen.window(1, lambda w: w.current is not None and w.current.label == "A001")
        # Clerk A hands over: finishes, logs out; clerk B logs in and the window goes on.
        assert line.press(1, K.FINISH)
        assert line.press(1, K.LOGOUT)
        assert seen.window(1, lambda w: w.status is WindowStatus.CLOSED)
        assert line.press(1, K.LOGIN, "1002")
        assert seen.window(1, lambda w: w.clerk is not None and w.clerk.code == "1002")
        assert line.press(1, K.CALL_NEXT)
        assert seen.window(1, lambda w: w.current is not None and w.current.label == "A002")
        # An unknown clerk code is refused.
        assert line.press(1, K.LOGIN, "4242")
        assert seen.key("counter-1", "unknown_clerk") is not None


def test_a_clerk_logs_in_by_tapping_their_card_on_the_paired_reader(
    bus: BusSettings, hall: HallConfig, clock: FakeClock, db_url: str, tmp_path: Path
) -> None:
    number = id_number("11010519800101123")
    devices_ = [
        d.model_copy(update={"id_reader": "idr-1"}) if d.id == "counter-1" else d
        for d in hall.devices
    ]
    clerks = [
        c.model_copy(update={"id_hash": HASHER.hash(number)}) if c.code == "1001" else c
        for c in hall.clerks
    ]
    paired = hall.model_copy(update={"devices": devices_, "clerks": clerks})
    service = SchedulerService(
        paired, Store(db_url, paired.id), bus, clock=clock, client_id=f"scheduler-{paired.id}"
    )
    service.start()
    topics = HallTopics(paired.id)
    reader = BusClient(bus, "idr-1-test", topics.availability("idr-1"))
    reader.start()
    try:
        with bus_counter(bus, paired, clock, tmp_path, [1]) as counter:
            card = CardRead(
                id_hash=HASHER.hash(number), masked_name="王*", age=46, read_at=clock.now()
            )
            reader.publish(topics.device_event("idr-1", DeviceEventKind.CARD_READ), card)
            state = counter.seen.window(1, lambda w: w.clerk is not None)
            assert state is not None and state.clerk is not None and state.clerk.code == "1001"
            # A card nobody registered is refused, and the window stays with its clerk.
            other = HASHER.hash(id_number("32010619981105123"))
            stranger = card.model_copy(update={"id_hash": other})
            reader.publish(topics.device_event("idr-1", DeviceEventKind.CARD_READ), stranger)
            assert counter.seen.key("counter-1", "unknown_clerk") is not None
    finally:
        reader.stop()
        service.stop()
