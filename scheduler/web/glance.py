"""What a hall manager reads at a glance: today's key figures and events as sentences.

The figures come from the day's records (tickets, transactions, ratings) through the
reports' own statistics, at most every ``FIGURES_EVERY_S``: the live page updates on
every change, and a manager does not need the count of the last second. Events become
sentences in the manager's language with the window and the clerk's name, never device
ids and codes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import Engine

from hallbus.hall_file import HallConfig
from hallbus.i18n import Texts
from scheduler.stats import hall_statistics
from scheduler.web.live import LivePicture
from scheduler.web.ratings import LABELS
from scheduler.web.words import key_words, window_name

FIGURES_EVERY_S = 15.0


def today_figures(engine: Engine, config: HallConfig, today: date) -> dict[str, Any]:
    """Issued, served, mean wait and satisfaction of the hall's day so far."""
    rows = hall_statistics(engine, config, today, today, by="service")
    waits = [(r.waiting.mean_s, r.waiting.count) for r in rows if r.waiting.mean_s is not None]
    counted = sum(n for _, n in waits)
    rated = sum(r.rated for r in rows)
    return {
        "issued": sum(r.issued or 0 for r in rows),
        "served": sum(r.served for r in rows),
        "mean_wait_s": round(sum(m * n for m, n in waits) / counted) if counted else None,
        "rated": rated,
        "satisfaction": round(sum(r.good for r in rows) / rated, 3) if rated else None,
    }


class FiguresCache:
    """Today's figures, recomputed at most every ``FIGURES_EVERY_S`` (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: tuple[float, date, dict[str, Any]] | None = None

    def get(self, engine: Engine, config: HallConfig, today: date) -> dict[str, Any]:
        """The figures, from the cache while they are fresh and of the same day."""
        now = self._clock()
        with self._lock:
            kept = self._kept
            if kept is not None and kept[1] == today and now - kept[0] < FIGURES_EVERY_S:
                return kept[2]
        figures = today_figures(engine, config, today)
        with self._lock:
            self._kept = (now, today, figures)
        return figures


def event_sentence(
    event: dict[str, Any], config: HallConfig, picture: LivePicture, texts: Texts
) -> str:
    """One event as the manager reads it: 2号窗口 李强 叫号：无人等候."""
    if event.get("kind") == "rating":
        outcome = str(event.get("outcome"))
        level = texts(LABELS["outcome"].get(outcome, outcome))
        rated = texts("Rating: {level}", level=level)
        return f"{window_name(texts, event.get('window'))} {event.get('label', '')} {rated}"
    device = config.device(str(event.get("device")))
    window = device.window if device is not None else None
    state = picture.windows.get(window) if window is not None else None
    who = state.clerk.name if state is not None and state.clerk is not None else ""
    where = window_name(texts, window) if window is not None else str(event.get("device"))
    said = key_words(texts, str(event.get("key")), str(event.get("outcome")))
    return " ".join(p for p in (where, who, said) if p)


def at_a_glance(
    view: dict[str, Any],
    picture: LivePicture,
    config: HallConfig,
    figures: dict[str, Any],
    texts: Texts,
) -> dict[str, Any]:
    """The live view with today's figures and every event as a sentence."""
    events = [{**e, "sentence": event_sentence(e, config, picture, texts)} for e in view["events"]]
    return {**view, "today": figures, "events": events}
