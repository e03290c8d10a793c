"""Voice: the announcement plan (clips in order) for calls, recalls and a rush, without audio;
clips made by espeak-ng; the announcer on the bus, logging what it would say."""

from __future__ import annotations

import logging
import shutil
import threading
import wave
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from display_wall.voice import Announcer, ClipLibrary, MixerOutput
from display_wall.voice_plan import (
    CHIME_CLIP,
    Announcement,
    AnnouncementQueue,
    Clip,
    call_clips,
    load_script,
    plan_call,
)
from hallbus.hall_file import HallConfig
from hallbus.messages import CallAnnouncement
from hallbus.settings import BusSettings
from scheduler.bridge import SchedulerService
from simulator.devices import VirtualCounter
from simulator.mailbox import Mailbox
from tests.conftest import WAIT, Tickets

ZH, EN = load_script("zh"), load_script("en")


def _call(
    label: str, window: int, ticket_id: str | None = None, recalls: int = 0
) -> CallAnnouncement:
    return CallAnnouncement(
        ticket_id=ticket_id or f"t-{label}",
        label=label,
        window=window,
        service_code="social",
        recalls=recalls,
        called_at=datetime.now(UTC),
    )


def _texts(clips: list[Clip] | tuple[Clip, ...]) -> list[str]:
    return [c.text for c in clips]


def test_a_call_in_chinese_and_english_said_twice_after_a_chime() -> None:
    plan = plan_call(_call("A001", 3), [ZH, EN], repeats=2)
    zh = ["请", "A", "零", "零", "一", "号", "到", "三", "号窗口办理"]
    en = ["Number", "A", "zero", "zero", "one", "please go to window", "three"]
    assert plan.clips[0] == CHIME_CLIP
    assert _texts(plan.clips[1:]) == zh + en + zh + en
    assert [c.key for c in plan.clips[1:4]] == ["zh/please", "zh/letter_A", "zh/digit_0"]
    assert plan.said == "请 A001 号到 3 号窗口办理 / Number A001, please go to window 3"


@pytest.mark.parametrize(
    ("window", "zh", "en"),
    [
        (10, ["十"], ["ten"]),
        (12, ["十", "二"], ["twelve"]),
        (20, ["二", "十"], ["twenty"]),
        (23, ["二", "十", "三"], ["twenty", "three"]),
        (105, ["一", "零", "五"], ["one", "zero", "five"]),
    ],
)
def test_window_numbers_are_read_as_numbers(window: int, zh: list[str], en: list[str]) -> None:
    assert _texts(call_clips(ZH, "B7", window))[5:-1] == zh
    assert _texts(call_clips(EN, "B7", window))[4:] == en


def test_a_recall_merges_into_a_waiting_call_and_is_said_again_once_taken() -> None:
    queue = AnnouncementQueue(repeats=2)
    queue.add(_call("A001", 1))
    queue.add(_call("A002", 2))
    queue.add(_call("A001", 1, recalls=1))  # recalled before it was said: merged
    assert len(queue) == 2
    first = queue.take([ZH])
    assert first is not None and first.label == "A001" and first.recalls == 1
    queue.add(_call("A001", 1, recalls=2))  # recalled after it was said: said again
    labels = [a.label for a in iter(lambda: queue.take([ZH]), None)]
    assert labels == ["A002", "A001"]


def test_a_rush_says_every_call_in_order_once_until_it_clears() -> None:
    queue = AnnouncementQueue(repeats=2, rush_backlog=3)
    for n in range(1, 7):
        queue.add(_call(f"A00{n}", n))
    said = list(iter(lambda: queue.take([ZH]), None))
    assert [a.label for a in said] == [f"A00{n}" for n in range(1, 7)]  # none dropped
    once = len(call_clips(ZH, "A001", 1))
    # While three or more wait behind, repeats are merged; the last ones get both again.
    assert [(len(a.clips) - 1) // once for a in said] == [1, 1, 1, 2, 2, 2]


def test_clips_are_recorded_first_then_made_by_espeak_ng_and_cached(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/test installs it)")
    recorded = tmp_path / "recorded"
    (recorded / "zh").mkdir(parents=True)
    library = ClipLibrary(tmp_path / "cache", recorded)
    mine = recorded / "zh" / "please.wav"
    library.path(CHIME_CLIP).replace(mine)  # any WAV will do as a "recording"
    please, one = call_clips(ZH, "A1", 3)[0], call_clips(ZH, "A1", 3)[2]
    assert library.path(please) == mine
    made = library.path(one)
    assert made == tmp_path / "cache" / "zh" / "digit_1.wav"
    with wave.open(str(made)) as clip:
        assert clip.getnframes() > clip.getframerate() // 10  # espeak-ng said something
    made.write_bytes(b"cached")  # were the clip made again, this would be overwritten
    assert library.path(one) == made and made.read_bytes() == b"cached"


def test_the_mixer_joins_clips_into_one_sound(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/test installs it)")
    # SDL's dummy audio driver: a real mixer with no loudspeaker behind it.
    library = ClipLibrary(tmp_path)
    files = library.prepare([CHIME_CLIP, call_clips(ZH, "A1", 3)[2]])
    output = MixerOutput(threading.Event())
    output.open()
    started = threading.Event()
    output.play(files, "一", started.set)
    assert started.is_set()


def test_the_announcer_says_each_call_from_the_bus(
    bus: BusSettings,
    hall: HallConfig,
    scheduler: SchedulerService,
    staff: Callable[[int], VirtualCounter],
    tickets: Tickets,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    announcer = Announcer(bus, hall.id, "voice-1", cache=tmp_path, audio=False)
    heard: Mailbox[Announcement] = Mailbox()
    announcer.worker.listeners.append(lambda announcement, _at: heard.put(announcement))
    announcer.start()
    try:
        tickets(1)
        counter = staff(1)
        with caplog.at_level(logging.INFO, logger="display_wall.voice"):
            reply = counter.call_next()
            assert reply.status == "ok" and reply.data is not None
            assert counter.recall().status == "ok"
            assert heard.wait_count(2, WAIT)
        label = reply.data["label"]
        assert [(a.label, a.window, a.recalls) for a in heard.items()] == [
            (label, 1, 0),
            (label, 1, 1),
        ]
        lines = [r.__dict__.get("said") for r in caplog.records if r.getMessage() == "would say"]
        assert f"请 {label} 号到 1 号窗口办理 / Number {label}, please go to window 1" in lines
    finally:
        announcer.stop()
