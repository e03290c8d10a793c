"""What the live page says at a glance: events as sentences, today's figures."""

from __future__ import annotations

from collections.abc import Callable

from hallbus.hall_file import HallConfig
from hallbus.messages import BadRatingReason, ClerkView, RatingLevel, WindowState, WindowStatus
from scheduler.bridge import SchedulerService
from scheduler.web.glance import FiguresCache, event_sentence, today_figures
from scheduler.web.live import LivePicture
from scheduler.web.words import dashboard_words
from tests.web.conftest import Served


def test_events_read_as_sentences_with_window_and_clerk(hall: HallConfig) -> None:
    picture = LivePicture()
    picture.windows[2] = WindowState(
        window=2,
        status=WindowStatus.OPEN,
        clerk=ClerkView(code="1002", name="李强"),
        waiting=0,
    )
    zh, en = dashboard_words("zh"), dashboard_words("en")
    key = {"kind": "key", "device": "counter-2", "key": "call_next", "outcome": "nothing_waiting"}
    assert event_sentence(key, hall, picture, zh) == "2号窗口 李强 叫号：无人等候"
    assert event_sentence(key, hall, picture, en) == "Window 2 李强 Call next: nobody waiting"
    done = {"kind": "key", "device": "counter-2", "key": "finish", "outcome": "ok"}
    assert event_sentence(done, hall, picture, zh) == "2号窗口 李强 办结"
    rating = {"kind": "rating", "window": 2, "label": "A001", "outcome": "very_satisfied"}
    assert event_sentence(rating, hall, picture, zh) == "2号窗口 A001 评价：非常满意"
    assert event_sentence(rating, hall, picture, en) == "Window 2 A001 Rating: Very satisfied"
    pad = {"kind": "key", "device": "pad-2", "key": "button_4", "outcome": "ignored"}
    assert event_sentence(pad, hall, picture, zh).endswith("评价器第4键：已忽略")


def test_today_s_figures_come_from_the_day_s_records_and_are_cached(
    serve: Callable[..., Served], scheduler: SchedulerService, hall: HallConfig
) -> None:
    serve(1, RatingLevel.SATISFIED)
    serve(1, RatingLevel.DISSATISFIED, BadRatingReason.EFFICIENCY)
    today = scheduler.clock.now().astimezone(hall.zone).date()
    engine = scheduler.store.engine
    figures = today_figures(engine, hall, today)
    assert (figures["issued"], figures["served"], figures["rated"]) == (2, 2, 2)
    assert figures["satisfaction"] == 0.5 and figures["mean_wait_s"] is not None
    ticks = iter([0.0, 5.0, 20.0])
    cache = FiguresCache(clock=lambda: next(ticks))
    assert cache.get(engine, hall, today) == figures
    serve(1, RatingLevel.SATISFIED)
    assert cache.get(engine, hall, today)["issued"] == 2  # 5 s later: the kept figures
    assert cache.get(engine, hall, today)["issued"] == 3  # 20 s later: counted again
