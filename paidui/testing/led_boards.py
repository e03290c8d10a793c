"""The conformance kit for LED board drivers: the tests a driver and its emulator must pass.

A driver package subclasses ``LedBoardConformance`` in one of its test modules::

    from paidui.testing.led_boards import LedBoardConformance
    from acme_led.driver import DRIVER

    class TestAcmeBoard(LedBoardConformance):
        driver = DRIVER
        profile_name = "acme-window-96x16"

and pytest runs every test below against it. The pure tests check the codec and the
emulator against each other (any text, split anywhere, after any noise, never raising);
the last ones run the real LED wall daemon on a pty to the driver's emulator, with real
mosquitto and the real scheduler: a call reaches the board, a board that stops answering
is reported and gets its content back when it answers again, noise is survived.
Needs pytest, hypothesis and mosquitto (``apt-get install mosquitto``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from display_wall.boards import BoardCodec, BoardContent, lay_out
from display_wall.drivers import LED_DRIVERS, BoardEmulator, LedBoardDriver, load_led_profile
from display_wall.led_wall import LedBoardSpec, LedWall, led_boards, line_settings
from display_wall.profile import Colour, LedBoardProfileBase, LineTiming
from hallbus.client import BusClient
from hallbus.hall_file import DEMO_HALL_FILE, DeviceConfig, HallConfig, load_hall
from hallbus.links import SerialLink
from hallbus.messages import DeviceKind, DeviceStatus, decode
from hallbus.settings import BusSettings
from hallbus.topics import HallTopics
from paidui.testing import running_broker
from scheduler.bridge import SchedulerService
from scheduler.store import Store
from simulator.devices import VirtualCounter, VirtualKiosk
from simulator.led_line_emulator import EmulatedBoard, LedLineEmulator
from simulator.mailbox import Mailbox

WAIT = 10.0  # seconds any one expected thing may take
# Short line timings, so a silent board is found and retried within a test.
QUICK = LineTiming(reply_timeout_s=0.1, retries=1, missed_before_silent=1, probe_interval_s=0.3)
# Hall texts: Chinese, digits, letters, spaces, as boards show them.
HALL_TEXT = st.text(
    alphabet=st.sampled_from("请到号窗口办理暂停服务欢迎您ABCDEFGH0123456789 -"), max_size=24
)


class LedBoardConformance:
    """Subclass with ``driver`` and ``profile_name`` (and ``address`` if 1 is not valid)."""

    driver: ClassVar[LedBoardDriver]
    profile_name: ClassVar[str]
    address: ClassVar[int] = 1

    # --- helpers --------------------------------------------------------------------
    def profile(self) -> LedBoardProfileBase:
        """The profile under test, loaded the way the daemon loads it."""
        return load_led_profile(self.profile_name)

    def codec(self, address: int | None = None) -> BoardCodec:
        """The driver's codec at ``address``."""
        return self.driver.codec(self.profile(), self.address if address is None else address)

    def emulator(self, address: int | None = None) -> BoardEmulator:
        """The driver's emulated board at ``address``."""
        assert self.driver.emulator is not None, "a driver must bring an emulator"
        return self.driver.emulator(self.profile(), self.address if address is None else address)

    def content(self, text: str, colour_index: int = 0, scrolling: bool = False) -> BoardContent:
        """Content in one of the board's own colours."""
        colours = self.profile().colours
        return BoardContent(text, colours[colour_index % len(colours)], scrolling)

    def send(
        self, emulator: BoardEmulator, frames: list[bytes]
    ) -> tuple[list[BoardContent], bytes]:
        """Feed frames to an emulated board one by one, as the wall sends them."""
        shown: list[BoardContent] = []
        answers = b""
        for frame in frames:
            pictures, answer = emulator.feed(frame)
            shown += pictures
            answers += answer
        return shown, answers

    # --- registration and profile ---------------------------------------------------------
    def test_the_driver_is_registered_under_its_type(self) -> None:
        assert LED_DRIVERS.get(self.driver.type) is self.driver
        assert LED_DRIVERS.problems == []

    def test_the_profile_validates_against_the_driver_schema(self) -> None:
        profile = self.profile()
        assert profile.type == self.driver.type
        assert isinstance(profile, self.driver.profile_model)
        assert profile.colours, "a board has at least one colour"

    # --- codec against emulator -----------------------------------------------------------
    @settings(max_examples=60, deadline=None)
    @given(text=HALL_TEXT, colour=st.integers(0, 2), scrolling=st.booleans())
    def test_the_board_shows_what_the_codec_sends(
        self, text: str, colour: int, scrolling: bool
    ) -> None:
        content = self.content(text, colour, scrolling)
        codec = self.codec()
        shown, answer = self.send(self.emulator(), codec.frames(content))
        assert shown and shown[-1].text == content.text
        assert shown[-1].colour == content.colour
        if codec.acknowledges:
            reader = codec.answer()
            assert reader.feed(answer)[0] is True

    @settings(max_examples=40, deadline=None)
    @given(text=HALL_TEXT, cuts=st.lists(st.integers(1, 400), max_size=8))
    def test_frames_split_anywhere_read_the_same(self, text: str, cuts: list[int]) -> None:
        content = self.content(text)
        stream = b"".join(self.codec().frames(content))
        pieces, start = [], 0
        for cut in sorted({c for c in cuts if c < len(stream)}):
            pieces.append(stream[start:cut])
            start = cut
        pieces.append(stream[start:])
        shown, _ = self.send(self.emulator(), pieces)
        assert shown and shown[-1].text == content.text

    def test_a_board_ignores_frames_for_another_address(self) -> None:
        other = self.emulator(self.address + 1)
        shown, answer = self.send(other, self.codec().frames(self.content("A001")))
        assert shown == [] and answer == b""

    def test_the_probe_is_answered_and_shows_nothing_new(self) -> None:
        codec = self.codec()
        if not codec.acknowledges:
            pytest.skip("this model never answers")
        shown, answer = self.send(self.emulator(), [codec.probe()])
        assert shown == []
        assert codec.answer().feed(answer)[0] is True

    def test_another_boards_answer_is_not_taken_for_ours(self) -> None:
        codec = self.codec()
        if not codec.acknowledges:
            pytest.skip("this model never answers")
        other = self.address + 1
        _, answer = self.send(self.emulator(other), [self.codec(other).probe()])
        assert codec.answer().feed(answer)[0] is not True

    @settings(max_examples=150, deadline=None)
    @given(noise=st.binary(max_size=200))
    def test_garbage_never_raises_and_a_frame_after_it_is_read(self, noise: bytes) -> None:
        emulator = self.emulator()
        emulator.feed(noise)
        self.codec().answer().feed(noise)
        # A real frame after the garbage (and a pause, which the host's timeouts give).
        shown, _ = self.send(emulator, self.codec().frames(self.content("B002 请到1号窗口")))
        assert shown and shown[-1].text == "B002 请到1号窗口"

    # --- the real daemon on a pty -----------------------------------------------------------
    @pytest.fixture(scope="class")
    @classmethod
    def bus(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusSettings]:
        """mosquitto with the project's demo configuration, for this class."""
        yield from running_broker(tmp_path_factory)

    def hall(self) -> HallConfig:
        """The demo hall with this board above window 1 and its clerk's keypad."""
        base = load_hall(DEMO_HALL_FILE)
        devices = [
            DeviceConfig(id="kiosk-1", kind=DeviceKind.KIOSK),
            DeviceConfig(id="counter-1", kind=DeviceKind.COUNTER, window=1),
            DeviceConfig(
                id="board-1",
                kind=DeviceKind.WINDOW_BOARD,
                window=1,
                bus_address=self.address,
                profile=self.profile_name,
            ),
        ]
        return base.model_copy(update={"id": f"kit-{uuid.uuid4().hex[:8]}", "devices": devices})

    @contextmanager
    def running_wall(
        self, bus: BusSettings, hall: HallConfig, folder: Path
    ) -> Iterator[tuple[EmulatedBoard, LedLineEmulator, Mailbox[bytes]]]:
        """The scheduler, and the LED wall daemon driving the emulated board on a pty."""
        scheduler = SchedulerService(hall, Store(Store.sqlite_url(folder / "kit.db"), hall.id), bus)
        specs = [
            LedBoardSpec(
                s.device_id, s.address, s.profile.model_copy(update={"timing": QUICK}), s.window
            )
            for s in led_boards(hall)
        ]
        line = LedLineEmulator()
        board = line.add(self.address, specs[0].profile)
        port = line.serve_pty(folder / "ttyLED")
        statuses: Mailbox[bytes] = Mailbox()
        topics = HallTopics(hall.id)
        watcher = BusClient(bus, f"kit-watch-{hall.id}", topics.availability("kit-watch"))
        watcher.subscribe(
            topics.device_status("board-1"), lambda _t, p: statuses.put(p), inline=True
        )
        wall = LedWall(bus, hall.id, specs, SerialLink(port, line_settings(specs)))
        scheduler.start()
        watcher.start()
        wall.start()
        try:
            yield board, line, statuses
        finally:
            wall.stop()
            line.stop()
            watcher.stop()
            scheduler.stop()

    @staticmethod
    def shows(
        line: LedLineEmulator, board: EmulatedBoard, pages: list[str], **values: int | str
    ) -> bool:
        """Wait until the board shows a state's ``pages``, filled in, as it lays them out."""
        text = lay_out([p.format(**values) for p in pages], Colour.RED, board.profile).text
        found = line.shown.wait_for(
            lambda s: s.address == board.address and s.text == text and board.text == text, WAIT
        )
        return found is not None

    @staticmethod
    def status(statuses: Mailbox[bytes], faults: set[str], after: int = 0) -> bool:
        """Wait for a status of the board with exactly these faults."""
        found = statuses.wait_for(
            lambda p: set(decode(DeviceStatus, p).faults) == faults, WAIT, after=after
        )
        return found is not None

    def test_the_wall_drives_the_board_through_a_call_silence_and_noise(
        self, bus: BusSettings, tmp_path: Path
    ) -> None:
        hall = self.hall()
        texts = self.profile().texts
        with self.running_wall(bus, hall, tmp_path) as (board, line, statuses):
            assert self.shows(line, board, texts.closed, window=1)
            counter = VirtualCounter(bus, hall.id, "counter-1", 1)
            kiosk = VirtualKiosk(bus, hall.id, "kiosk-1")
            counter.start()
            kiosk.start()
            try:
                assert counter.login("1001").status == "ok"
                issued = kiosk.issue("social")
                assert issued.status == "ok" and issued.data is not None
                label = str(issued.data["label"])
                assert counter.call_next().status == "ok"
                assert self.shows(line, board, texts.call, label=label, window=1)
                expected = self.profile().state_colours.call
                if expected in self.profile().colours:
                    assert board.colour == expected
                assert counter.start_service().status == "ok"
                assert counter.finish().status == "ok"
                assert self.shows(line, board, texts.idle, window=1)
                # The board stops answering: reported, and the line goes on.
                line.faults.silent.add(board.address)
                assert counter.pause().status == "ok"
                assert self.status(statuses, {"not_answering"})
                seen = len(statuses.items())
                # It answers again: healthy, and it gets what it missed.
                line.faults.silent.discard(board.address)
                assert self.status(statuses, set(), after=seen)
                assert self.shows(line, board, texts.paused)
                # Noise on the line before an answer: no fault, the content arrives.
                seen = len(statuses.items())
                line.faults.noise = bytes(range(256))[::7]
                assert counter.resume().status == "ok"
                assert self.shows(line, board, texts.idle, window=1)
                assert not any(b"not_answering" in p for p in statuses.items()[seen:])
            finally:
                kiosk.stop()
                counter.stop()
