"""A request its device gave up on is not carried out when the scheduler comes back.

While the scheduler is down, the broker keeps the requests sent to its persistent
session (for an hour). A kiosk waits a few seconds and tells the citizen that it failed;
carried out at the restart, its ticket would be one nobody holds, called later to an
empty window. Requests that ask for something now expire with their sender's patience;
records of what a person did (a rating, a print report) wait for the scheduler however
long it takes. The broker's clock is real here: the request's expiry is a second or two.
"""

from __future__ import annotations

import pytest

from hallbus.client import BusClient, Requester, expiry_interval
from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig
from hallbus.messages import ErrorCode, IssueTicket, PrintState, ReportPrint
from hallbus.settings import BusSettings
from hallbus.topics import Command, HallTopics
from scheduler.bridge import SchedulerService
from scheduler.store import Store
from tests.conftest import WAIT

# The kiosk's patience in this test: the request's expiry (1 s) lets the broker hold it
# for at most 2 s, so it is gone almost a second before the kiosk gives up.
PATIENCE_S = 2.9


def test_a_ticket_asked_for_while_the_scheduler_was_down_is_not_issued_a_record_is_kept(
    hall: HallConfig, bus: BusSettings, clock: FakeClock, db_url: str
) -> None:
    def scheduler() -> SchedulerService:
        service = SchedulerService(
            hall, Store(db_url, hall.id), bus, clock=clock, client_id=f"scheduler-{hall.id}"
        )
        service.start()
        return service

    topics = HallTopics(hall.id)
    kiosk = BusClient(bus, "kiosk-1", topics.availability("kiosk-1"), persistent=False)
    requests = Requester(kiosk, topics, "kiosk-1")
    requests.attach()
    first = scheduler()
    kiosk.start()
    try:
        ask = IssueTicket(request_id=Requester.new_request_id(), service_code="social")
        issued = requests.request(Command.ISSUE_TICKET, ask, timeout=WAIT)
        assert issued.status == "ok" and issued.data is not None, issued
        first.stop()  # its session stays with the broker, which keeps what is sent to it

        late = IssueTicket(request_id=Requester.new_request_id(), service_code="social")
        gave_up = requests.request(Command.ISSUE_TICKET, late, timeout=PATIENCE_S, attempts=1)
        assert gave_up.error is not None and gave_up.error.code is ErrorCode.TIMEOUT
        printed = ReportPrint(
            request_id=Requester.new_request_id(),
            ticket_id=issued.data["ticket_id"],
            state=PrintState.FAILED,
        )
        report = requests.send(Command.REPORT_PRINT, printed, patience_s=PATIENCE_S)

        second = scheduler()
        try:
            # The report was sent after the given-up request: by its answer, the broker
            # has handed over everything it kept for the scheduler.
            answer = report.wait(WAIT)
            assert answer is not None and answer.status == "ok", answer
            assert second.store.ticket_counts() == {"waiting": 1}
        finally:
            second.stop()
    finally:
        kiosk.stop()


@pytest.mark.parametrize("patience_s", [2.0, 2.5, 3.0, 7.9, 60.0])
def test_an_expiring_request_is_gone_from_the_broker_when_its_sender_gives_up(
    patience_s: float,
) -> None:
    # A broker counting whole seconds holds a message up to a second past its interval.
    assert expiry_interval(patience_s) + 1 <= patience_s
    assert expiry_interval(patience_s) >= patience_s - 2
