"""What a hall manager reads at a glance: today's key figures and events as sentences.

The figures come from the day's records (tickets, transactions, ratings) through the
reports' own statistics, at most every ``FIGURES_EVERY_S``: the live page updates on
every change, and a manager does not need the count of the last second. Events become
Chinese sentences with the window and the clerk's name, never device ids and codes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import Engine

from hallbus.hall_file import HallConfig
from scheduler.stats import hall_statistics
from scheduler.web.live import LivePicture
from scheduler.web.ratings import OUTCOME_LABELS

FIGURES_EVERY_S = 15.0

KEY_VERBS = {
    "call_next": "叫号",
    "call_ticket": "特呼",
    "recall": "重呼",
    "start": "开始办理",
    "finish": "办结",
    "no_show": "弃号",
    "postpone": "挂起",
    "pause": "暂停服务",
    "resume": "恢复服务",
    "pause_toggle": "暂停/恢复",
    "transfer_window": "转窗口",
    "transfer_service": "转业务",
    "login": "登录",
    "logout": "退出",
    "desk_contact": "记录当面沟通",
    "noise": "无效按键",
    "card": "刷卡登录",
}
OUTCOME_WORDS = {
    "ok": "",
    "nothing_waiting": "无人等候",
    "window_paused": "暂停中",
    "window_closed": "未登录",
    "no_current_ticket": "当前无号",
    "unknown_clerk": "工号无效",
    "unknown_ticket": "无此票号",
    "pin_required": "需输入密码",
    "wrong_pin": "密码错误",
    "clerk_locked": "已锁定",
    "invalid_state": "当前不可操作",
    "timeout": "系统无响应",
    "ignored": "已忽略",
}


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


def event_sentence(event: dict[str, Any], config: HallConfig, picture: LivePicture) -> str:
    """One event as the manager reads it: 2号窗口 李强 叫号：无人等候."""
    if event.get("kind") == "rating":
        window = event.get("window")
        level = OUTCOME_LABELS.get(str(event.get("outcome")), str(event.get("outcome")))
        return f"{window}号窗口 {event.get('label', '')} 评价：{level}"
    device = config.device(str(event.get("device")))
    window = device.window if device is not None else None
    state = picture.windows.get(window) if window is not None else None
    who = state.clerk.name if state is not None and state.clerk is not None else ""
    where = f"{window}号窗口" if window is not None else str(event.get("device"))
    verb = KEY_VERBS.get(str(event.get("key")), str(event.get("key")))
    outcome = OUTCOME_WORDS.get(str(event.get("outcome")), str(event.get("outcome")))
    return " ".join(p for p in (where, who, verb) if p) + (f"：{outcome}" if outcome else "")


def at_a_glance(
    view: dict[str, Any], picture: LivePicture, config: HallConfig, figures: dict[str, Any]
) -> dict[str, Any]:
    """The live view with today's figures and every event as a sentence."""
    events = [{**e, "sentence": event_sentence(e, config, picture)} for e in view["events"]]
    return {**view, "today": figures, "events": events}
