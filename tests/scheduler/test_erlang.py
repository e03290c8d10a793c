"""paidui plan erlang: Erlang C against published tables, and against a simulated queue."""

from __future__ import annotations

import heapq
import json
import random

import pytest

from paidui.cli import main
from scheduler.erlang import PlanError, erlang_c, fewest_windows, staffing

# Published Erlang C table for an offered load of 10 Erlangs (probability of waiting).
TABLE_A10 = {11: 0.6821, 12: 0.4494, 13: 0.2853, 14: 0.1741, 15: 0.1020}


@pytest.mark.parametrize(("windows", "published"), TABLE_A10.items())
def test_the_chance_of_waiting_matches_the_published_table(windows: int, published: float) -> None:
    assert erlang_c(10.0, windows) == pytest.approx(published, abs=5e-5)


def test_small_cases_exactly_and_an_overloaded_hall() -> None:
    assert erlang_c(2.0, 3) == pytest.approx(4 / 9)  # A^N/N! N/(N-A) over the sum: 4 / 9
    assert erlang_c(10.0, 10) == 1.0 and erlang_c(10.0, 8) == 1.0  # never catches up
    overloaded = staffing(200, 3, 10, 1)
    assert overloaded.service_level == 0.0 and overloaded.mean_wait_min == float("inf")
    # Hundreds of windows: no overflow, still a probability.
    assert 0 < erlang_c(300.0, 320) < 1


def test_the_fewest_windows_for_80_percent_within_20_seconds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 200 citizens an hour, 3 minutes each: 10 Erlangs. 13 windows serve 79.6 % within
    # 20 s, 14 serve 88.8 %: 14 is the answer.
    assert staffing(200, 3, 13, 1 / 3).service_level < 0.8
    code = main(
        [
            *("plan", "erlang", "--arrivals-per-hour", "200", "--service-min", "3"),
            *("--target-wait-min", str(1 / 3), "--target-share", "80"),
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and set(out) == {"windows", "p_wait", "service_level", "mean_wait_min"}
    assert out["windows"] == 14 and out["p_wait"] == pytest.approx(0.1741, abs=1e-4)
    assert out["service_level"] == pytest.approx(0.8884, abs=1e-4)
    assert out["mean_wait_min"] == pytest.approx(0.1741 * 3 / 4, abs=1e-4)
    assert fewest_windows(200, 3, 1 / 3, 0.8) == fewest_windows(200, 3, 1 / 3, 80)


def test_questions_that_cannot_be_answered_say_why(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(PlanError, match="target share"):
        fewest_windows(100, 3, 5, 100)
    args = ["plan", "erlang", "--arrivals-per-hour", "-1", "--service-min", "3"]
    assert main([*args, "--target-wait-min", "5", "--target-share", "0.8"]) == 2
    assert "arrivals" in capsys.readouterr().err


def test_a_simulated_queue_waits_as_erlang_c_says() -> None:
    """First come, first served, N windows, Poisson arrivals, exponential service."""
    rng = random.Random(7)
    rate_per_min, service_min, windows = 200 / 60, 3.0, 12  # 10 Erlangs
    free_at = [0.0] * windows
    clock, waited, waits = 0.0, 0, []
    for _ in range(200_000):
        clock += rng.expovariate(rate_per_min)
        soonest = heapq.heappop(free_at)
        start = max(clock, soonest)
        waited += start > clock
        waits.append(start - clock)
        heapq.heappush(free_at, start + rng.expovariate(1 / service_min))
    figures = staffing(200, service_min, windows, 1.0)
    assert waited / len(waits) == pytest.approx(figures.p_wait, abs=0.01)
    assert sum(waits) / len(waits) == pytest.approx(figures.mean_wait_min, rel=0.05)
    within = sum(w <= 1.0 for w in waits) / len(waits)
    assert within == pytest.approx(figures.service_level, abs=0.01)
