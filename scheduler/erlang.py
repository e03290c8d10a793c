"""How many windows an hour needs, by Erlang C (pure).

Citizens arrive at random (Poisson, ``arrivals_per_hour``) and are served first come,
first served by ``windows`` identical windows taking ``service_min`` on average
(exponential). With offered load A = arrivals x service time (in Erlangs), the chance a
citizen waits at all is Erlang C, the share who wait at most T minutes is
1 - C * exp(-(N - A) T / S), and the mean wait is C * S / (N - A). A hall with no more
windows than the load never catches up: every figure says so (waits grow without bound).

Erlang C is computed through the Erlang B recursion, which stays exact for hundreds of
windows where factorials overflow.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

MAX_WINDOWS = 500


class PlanError(ValueError):
    """The question cannot be answered as asked; the message says why."""


@dataclass(frozen=True)
class Staffing:
    """The figures for one number of windows."""

    windows: int
    p_wait: float  # the chance a citizen waits at all
    service_level: float  # the share who wait at most the target
    mean_wait_min: float

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON, rounded as people read it."""
        data = asdict(self)
        for key in ("p_wait", "service_level", "mean_wait_min"):
            data[key] = round(data[key], 4)
        return data


def erlang_c(load: float, windows: int) -> float:
    """The chance of waiting with ``windows`` servers and ``load`` Erlangs (1 if N <= A)."""
    if windows <= load:
        return 1.0
    blocking = 1.0  # Erlang B with no servers
    for k in range(1, windows + 1):
        blocking = load * blocking / (k + load * blocking)
    return windows * blocking / (windows - load * (1 - blocking))


def staffing(
    arrivals_per_hour: float, service_min: float, windows: int, target_wait_min: float
) -> Staffing:
    """What ``windows`` windows give for this arrival rate and service time."""
    load = arrivals_per_hour * service_min / 60
    p_wait = erlang_c(load, windows)
    if windows <= load:
        return Staffing(windows, 1.0, 0.0, math.inf)
    spare = windows - load
    level = 1 - p_wait * math.exp(-spare * target_wait_min / service_min)
    return Staffing(windows, p_wait, level, p_wait * service_min / spare)


def fewest_windows(
    arrivals_per_hour: float, service_min: float, target_wait_min: float, target_share: float
) -> Staffing:
    """The fewest windows for which ``target_share`` of citizens wait at most the target."""
    if arrivals_per_hour < 0 or service_min <= 0 or target_wait_min < 0:
        raise PlanError("arrivals must be >= 0, service time > 0 and the target wait >= 0")
    if target_share > 1:
        target_share /= 100  # 80 means 80 %
    if not 0 < target_share < 1:
        raise PlanError("the target share is a fraction (0.8) or a percentage (80) below 100")
    if arrivals_per_hour == 0:
        return Staffing(0, 0.0, 1.0, 0.0)
    load = arrivals_per_hour * service_min / 60
    for windows in range(max(1, math.floor(load) + 1), MAX_WINDOWS + 1):
        figures = staffing(arrivals_per_hour, service_min, windows, target_wait_min)
        if figures.service_level >= target_share:
            return figures
    raise PlanError(f"more than {MAX_WINDOWS} windows would be needed")
