"""Per-device flood limits: a token bucket per device, checked before a request is queued.

A kiosk stuck in a loop (or a hostile client with a device's credentials) sent 60,000
requests in 14.5 s: the scheduler's inbox grew by 120 MB and another device's request
timed out. Each device now spends a token per request; the bucket refills at the
device kind's rate up to its burst. A refused request is answered ``rate_limited`` so
its device can say so, but those answers are limited too (one bucket's worth a second),
so a flood costs the scheduler a parse and a dict lookup per message, and no memory.

A dozen lines of arithmetic; a library's limiter would add a storage thread and
per-hit overhead on the read path for no gain here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class Rate:
    """How many requests a device may make: ``per_s`` sustained, ``burst`` at once."""

    per_s: float
    burst: int


class Verdict(Enum):
    """What to do with one request."""

    ACCEPT = "accept"
    REFUSE = "refuse"  # answer rate_limited
    DROP = "drop"  # refused answers are spent too: say nothing


class _Bucket:
    __slots__ = ("answers", "stamp", "tokens")

    def __init__(self, burst: int, now: float) -> None:
        self.tokens = float(burst)
        self.answers = float(burst)  # refusals that are still answered
        self.stamp = now


class FloodGuard:
    """Token buckets per device; unknown devices share one bucket so they cannot grow it."""

    UNKNOWN = "\x00unknown"  # not a valid device id, so no device can share this bucket

    def __init__(self, rate_of: Callable[[str], Rate], clock: Callable[[], float]) -> None:
        self._rate_of = rate_of  # device id (or UNKNOWN) -> its kind's rate
        self._clock = clock  # monotonic seconds
        self._buckets: dict[str, _Bucket] = {}
        self.refused = 0  # requests refused since start, for logs and benchmarks

    def check(self, device_id: str) -> Verdict:
        """Spend a token of ``device_id`` (already mapped to UNKNOWN if not configured)."""
        rate = self._rate_of(device_id)
        now = self._clock()
        bucket = self._buckets.get(device_id)
        if bucket is None:
            bucket = self._buckets[device_id] = _Bucket(rate.burst, now)
        elapsed = max(now - bucket.stamp, 0.0)
        bucket.stamp = now
        bucket.tokens = min(bucket.tokens + elapsed * rate.per_s, rate.burst)
        bucket.answers = min(bucket.answers + elapsed * rate.burst, rate.burst)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return Verdict.ACCEPT
        self.refused += 1
        if bucket.answers >= 1.0:
            bucket.answers -= 1.0
            return Verdict.REFUSE
        return Verdict.DROP

    def forget(self, keep: set[str]) -> None:
        """Drop the buckets of devices no longer configured (after a configuration change)."""
        for device_id in [d for d in self._buckets if d not in keep and d != self.UNKNOWN]:
            del self._buckets[device_id]
