"""How long a call-next decision takes as the queue grows: 1,000 against 100,000 waiting.

A synthetic hall of 50 services and 300 windows: each window handles a few services at
tier 1 and more at tier 2, one in ten handles everything (一窗通办). Tickets spread over
every service and priority class; the decision (the calling policy choosing, without
changing anything) is timed at random windows.
"""

from __future__ import annotations

import random
import statistics
import string
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from hallbus.hall_file import HallConfig
from scheduler.domain import HallQueue
from scheduler.policy import WindowView

SERVICES = 50
WINDOWS = 300
START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def synthetic_hall(rng: random.Random) -> HallConfig:
    """50 services, 300 windows with mixed tiers, one clerk per window."""
    letters = string.ascii_uppercase
    services = [
        {
            "code": f"s{n:02d}",
            "prefix": letters[n % 26] + ("" if n < 26 else letters[n // 26]),
            "names": {"zh": f"业务{n}"},
            "green_channel": n % 17 == 0,
        }
        for n in range(SERVICES)
    ]
    codes = [s["code"] for s in services]
    windows: list[dict[str, Any]] = []
    for number in range(1, WINDOWS + 1):
        if number % 10 == 0:
            windows.append({"number": number, "services": "all"})
            continue
        picked = rng.sample(codes, 12)
        tiers = {code: 1 for code in picked[:4]} | {code: 2 for code in picked[4:]}
        windows.append({"number": number, "services": tiers})
    return HallConfig.model_validate(
        {
            "id": "bench-policy",
            "names": {"zh": "基准大厅"},
            "services": services,
            "windows": windows,
            "clerks": [{"code": f"c{n}", "name": f"clerk{n}"} for n in range(1, WINDOWS + 1)],
            "max_wait_s": 1e9,  # no ageing: the full priority comparison every time
        }
    )


def decision_time(waiting: int, samples: int = 3000, seed: int = 7) -> dict[str, float]:
    """Microseconds per decision with ``waiting`` tickets in the queue."""
    rng = random.Random(seed)
    hall = synthetic_hall(rng)
    queue = HallQueue(hall)
    for number in range(1, WINDOWS + 1):
        queue.login(number, START, clerk_code=f"c{number}")
    codes = [s.code for s in hall.services]
    for n in range(waiting):
        age = 70 if n % 9 == 0 else 30
        queue.issue_ticket(rng.choice(codes), START + timedelta(milliseconds=n), "kiosk", age=age)
    queue.take_changes()
    now = START + timedelta(hours=3)
    views = [WindowView(n, queue.window(n).tiers) for n in range(1, WINDOWS + 1)]
    timings = []
    for _ in range(samples):
        view = rng.choice(views)
        start = time.perf_counter_ns()
        chosen = queue.policy.choose(queue.room, view, now)
        timings.append((time.perf_counter_ns() - start) / 1000)
        assert chosen is not None
    timings.sort()
    return {
        "p50_us": round(timings[len(timings) // 2], 1),
        "p99_us": round(timings[int(len(timings) * 0.99)], 1),
        "mean_us": round(statistics.fmean(timings), 1),
    }


def run_policy_bench() -> dict[str, Any]:
    """Both sizes and their ratio (it should stay near 1)."""
    small = decision_time(1_000)
    large = decision_time(100_000)
    return {
        "services": SERVICES,
        "windows": WINDOWS,
        "waiting_1000": small,
        "waiting_100000": large,
        "p50_ratio": round(large["p50_us"] / small["p50_us"], 2),
    }
