"""The simulated hall runs the real domain: it agrees with Erlang C where the model is
M/M/N, and the estimated wait printed on tickets is checked against the real waits."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

from hallbus.hall_file import HallConfig
from scheduler.erlang import staffing
from scheduler.hall_sim import SimResult, simulate

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in the hall
SERVICE_S = 300.0


def one_service_hall(windows: int) -> HallConfig:
    return HallConfig.model_validate(
        {
            "id": "sim",
            "names": {"zh": "模拟大厅"},
            "services": [
                {"code": "s", "prefix": "A", "names": {"zh": "业务"}, "expected_service_s": 300}
            ],
            "windows": [{"number": n, "services": ["s"]} for n in range(1, windows + 1)],
            "clerks": [{"code": f"c{n}", "name": f"柜员{n}"} for n in range(1, windows + 1)],
        }
    )


def runs(
    rates: dict[str, float] | None, seeds: range, hours: float, peak: bool = False
) -> list[SimResult]:
    def rate(hour: float) -> dict[str, float]:
        if peak:  # a morning rush: two hours above what five windows serve, then calm
            return {"s": 70.0 if 1 <= hour < 3 else 36.0}
        assert rates is not None
        return rates

    return [
        simulate(one_service_hall(5), rate, {"s": SERVICE_S}, START, hours, seed=seed)
        for seed in seeds
    ]


def test_the_simulated_hall_agrees_with_erlang_c() -> None:
    # 40 an hour, 5 minutes each, 5 windows: 3.33 Erlangs. Several long runs, because
    # a queue's waits are correlated and one run wanders.
    results = runs({"s": 40.0}, range(6), 60)
    expected = staffing(40, SERVICE_S / 60, 5, 5)
    level = statistics.mean(r.service_level(5 * 60) for r in results)
    p_wait = statistics.mean(sum(w > 0 for w in r.waits()) / len(r.waits()) for r in results)
    assert abs(level - expected.service_level) < 0.04, (level, expected)
    assert abs(p_wait - expected.p_wait) < 0.05, (p_wait, expected)


def _accuracy(results: list[SimResult]) -> tuple[float, float, float]:
    errors = [e for r in results for e in r.estimate_errors()]
    waits = [w for r in results for w in r.waits()]
    mean_wait = statistics.mean(waits)
    return statistics.mean(abs(e) for e in errors), statistics.mean(errors), mean_wait


def test_the_estimated_wait_is_within_its_bound_for_steady_arrivals() -> None:
    # The estimate is the line ahead × the mean service time ÷ the staffed windows. The
    # real wait of the k-th in line is a sum of k exponential gaps: its spread alone is
    # about sqrt(k) gaps, so an honest bound is a share of the mean wait plus a minute.
    mae, bias, mean_wait = _accuracy(runs({"s": 44.0}, range(4), 24))
    assert mae <= 0.6 * mean_wait + 60, (mae, mean_wait)
    assert abs(bias) <= 0.25 * mean_wait + 60, (bias, mean_wait)


def test_the_estimated_wait_is_within_its_bound_through_a_rush() -> None:
    mae, bias, mean_wait = _accuracy(runs(None, range(4), 6, peak=True))
    assert mean_wait > 5 * 60  # the rush made people wait: the check is not idle
    assert mae <= 0.6 * mean_wait + 60, (mae, mean_wait)
    assert abs(bias) <= 0.25 * mean_wait + 60, (bias, mean_wait)


def test_bookings_and_transfers_run_through_the_real_rules() -> None:
    """Booked citizens check in with their card and go ahead of walk-ins; a transferred
    citizen keeps their ticket and is served again for the other service; nobody is lost."""
    hall = HallConfig.model_validate(
        {
            "id": "sim2",
            "names": {"zh": "模拟大厅"},
            "services": [
                {"code": "s", "prefix": "A", "names": {"zh": "社保"}, "expected_service_s": 300},
                {"code": "t", "prefix": "B", "names": {"zh": "税务"}, "expected_service_s": 300},
            ],
            "windows": [{"number": n, "services": "all"} for n in range(1, 6)],
            "clerks": [{"code": f"c{n}", "name": f"柜员{n}"} for n in range(1, 6)],
        }
    )
    result = simulate(
        hall,
        lambda _hour: {"s": 30.0, "t": 20.0},
        {"s": SERVICE_S, "t": SERVICE_S},
        START,
        8,
        seed=5,
        booked_share=0.25,
        transfer_share=0.1,
    )
    tickets = result.tickets
    assert all(t.waited_s is not None and t.served >= 1 for t in tickets)  # nobody lost
    booked = [t.waited_s for t in tickets if t.booked and t.waited_s is not None]
    walk_ins = [t.waited_s for t in tickets if not t.booked and t.waited_s is not None]
    assert len(booked) > 50 and sum(t.served == 2 for t in tickets) > 10
    assert statistics.mean(booked) < statistics.mean(walk_ins) / 2
