"""A hall on a simulated clock: the real scheduler domain (numbering, priorities, tiers,
ageing, the live estimate) driven by random arrivals and service times, with no broker,
database or wall clock. Used to check staffing plans and the estimated wait.

Citizens arrive per service as a Poisson process whose rate may change each hour; a share
of them booked online (their slot is their arrival) and check in with their card; each
staffed window calls the next ticket whenever it is free (``call_next`` decides who, by
the hall's calling policy), serves for an exponential time of the service's mean, then
finishes, or for a share of citizens transfers them to another service (一票到底, once);
the pad rates at once, so nothing waits for a rating.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hallbus.hall_file import HallConfig
from hallbus.messages import RatingLevel
from scheduler.domain import HallQueue, QueueError

# Arrivals per hour of each service, as a function of hours since the start.
Rates = Callable[[float], Mapping[str, float]]


@dataclass
class Served:
    """One ticket's life in the simulation."""

    service_code: str
    issued_at: datetime
    estimated_wait_s: int
    waited_s: float | None = None  # until first called; None if still waiting at the end
    booked: bool = False  # checked in for an online booking
    served: int = 0  # services finished (two after a transfer)


@dataclass
class SimResult:
    """Every ticket of a run, and the figures people ask for."""

    tickets: list[Served] = field(default_factory=list)

    def waits(self, service_code: str | None = None) -> list[float]:
        """Seconds each called ticket waited (of one service, or all)."""
        return [
            t.waited_s
            for t in self.tickets
            if t.waited_s is not None and service_code in (None, t.service_code)
        ]

    def service_level(self, target_wait_s: float, service_code: str | None = None) -> float:
        """Share of called tickets that waited at most ``target_wait_s``."""
        waits = self.waits(service_code)
        return sum(w <= target_wait_s for w in waits) / len(waits) if waits else 1.0

    def estimate_errors(self, service_code: str | None = None) -> list[float]:
        """Real wait minus the estimate printed on each called ticket (>0: promised short)."""
        return [
            t.waited_s - t.estimated_wait_s
            for t in self.tickets
            if t.waited_s is not None and service_code in (None, t.service_code)
        ]


def simulate(
    hall: HallConfig,
    rates: Rates,
    service_s: Mapping[str, float],
    start: datetime,
    hours: float,
    *,
    seed: int = 1,
    booked_share: float = 0.0,
    transfer_share: float = 0.0,
) -> SimResult:
    """Run ``hall`` with every window staffed from ``start`` for ``hours`` of arrivals,
    then let the windows empty the line."""
    rng = random.Random(seed)
    queue = HallQueue(hall, id_factory=_counter())
    for index, staffed in enumerate(hall.windows):
        clerk = hall.clerks[index % len(hall.clerks)].code if hall.clerks else None
        queue.login(staffed.number, start, clerk_code=clerk)
    result = SimResult()
    by_id: dict[str, Served] = {}
    events: list[tuple[datetime, int, str, str | int]] = []
    seq = 0

    def push(at: datetime, kind: str, what: str | int) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, seq, kind, what))

    # Thinning (Lewis and Shedler): draw at each service's highest rate of the run, keep
    # a draw at time t with chance rate(t) / highest. Rates are sampled every minute.
    peaks = {
        code: max(rates(m / 60).get(code, 0.0) for m in range(int(hours * 60) + 1))
        for code in service_s
    }

    def next_arrival(code: str, after: datetime) -> None:
        peak = peaks[code]
        at = after
        while peak > 0:
            at += timedelta(hours=rng.expovariate(peak))
            elapsed = (at - start).total_seconds() / 3600
            if elapsed >= hours:
                return
            if rng.random() * peak <= rates(elapsed).get(code, 0.0):
                push(at, "arrive", code)
                return

    def serve(window: int, now: datetime) -> None:
        try:
            ticket = queue.call_next(window, now)
        except QueueError:
            return  # nothing this window may call: it waits for the next arrival
        served = by_id[ticket.id]
        if served.waited_s is None:  # a transferred ticket was already called once
            served.waited_s = (now - served.issued_at).total_seconds()
        queue.start_service(window, now)
        mean = service_s[ticket.service_code]
        push(now + timedelta(seconds=rng.expovariate(1 / mean)), "finish", window)

    for code in service_s:
        next_arrival(code, start)
    idle = {w.number for w in hall.windows}
    while events:
        now, _, kind, what = heapq.heappop(events)
        if kind == "arrive":
            code = str(what)
            card = None
            if rng.random() < booked_share:
                card = f"{len(result.tickets):064x}"  # one person, one keyed hash
                try:  # booked the day before, for the slot they arrive in
                    queue.book_appointment(code, now, card, "-", now - timedelta(days=1))
                except QueueError:
                    card = None  # the slot was full: they came without booking
            issued = queue.issue_ticket(None if card else code, now, "sim-kiosk", id_hash=card)
            served = Served(code, now, issued.estimated_wait_s, booked=card is not None)
            by_id[issued.ticket.id] = served
            result.tickets.append(served)
            next_arrival(code, now)
            for window in sorted(idle):
                serve(window, now)
                if queue.current(window) is not None:
                    idle.discard(window)
                    break
        else:
            window = int(what)
            held = queue.current(window)
            assert held is not None
            others = [c for c in service_s if c != held.service_code]
            if held.transfers == 0 and others and rng.random() < transfer_share:
                _, transaction = queue.transfer(window, now, to_service=rng.choice(others))
                for other in sorted(idle):  # the transferred ticket may be called at once
                    serve(other, now)
                    if queue.current(other) is not None:
                        idle.discard(other)
                        break
            else:
                transaction = queue.finish(window, now)
            by_id[held.id].served += 1
            if transaction is not None:
                queue.rate(transaction.id, RatingLevel.VERY_SATISFIED, now, window=window)
            serve(window, now)
            if queue.current(window) is None:
                idle.add(window)
        queue.take_changes()  # nothing is stored: drop what a store would have written
    return result


def _counter() -> Callable[[], str]:
    count = 0

    def new_id() -> str:
        nonlocal count
        count += 1
        return f"sim-{count}"

    return new_id
