"""Estimated waiting time per service, from live service times and staffed windows."""

from __future__ import annotations

from dataclasses import dataclass

# Weight of the newest service time in the moving average: about the last ten services
# dominate, so the estimate follows the hall through the day without jumping on one case.
SMOOTHING = 0.2


@dataclass
class ServiceTimes:
    """An exponentially weighted mean of one service's handling times, in seconds."""

    mean_s: float
    samples: int = 0

    def add(self, seconds: float) -> None:
        """Take in one finished service."""
        seconds = max(seconds, 0.0)
        if self.samples == 0:
            self.mean_s = seconds
        else:
            self.mean_s += SMOOTHING * (seconds - self.mean_s)
        self.samples += 1


def estimate_wait_s(people_ahead: int, mean_service_s: float, staffed_windows: int) -> int:
    """Seconds until a new ticket is called: the line ahead shared among the windows.

    A window that handles several services shares its time between them; counting it
    whole for each keeps the estimate optimistic rather than alarming, and the recorded
    error (predicted against actual) tells the hall how far off it runs.
    """
    if people_ahead <= 0:
        return 0
    return round(people_ahead * mean_service_s / max(staffed_windows, 1))
