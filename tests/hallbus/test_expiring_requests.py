"""A device does not hand an expiring request to a connection that is down.

paho would keep it and send it on the reconnect, however much later, and the broker
would count its expiry from then: a kiosk that told its citizen "failed" minutes ago
would have its ticket issued after all. A record (topics.RECORDS) is kept and sent.
"""

from __future__ import annotations

import threading

from hallbus.client import BusClient, Requester
from hallbus.messages import IssueTicket, PrintState, ReportPrint
from hallbus.settings import BusSettings
from hallbus.topics import Command, HallTopics
from paidui.broker import MosquittoBroker
from simulator.mailbox import Mailbox
from tests.conftest import WAIT


def test_a_request_asked_while_disconnected_is_not_sent_on_the_reconnect_a_record_is(
    own_broker: MosquittoBroker,
) -> None:
    bus = BusSettings(port=own_broker.port)
    topics = HallTopics("expiring")
    seen: Mailbox[str] = Mailbox()
    # The scheduler's side: a persistent session, so the broker keeps what comes for it.
    scheduler = BusClient(bus, "scheduler", topics.scheduler_availability())
    scheduler.subscribe(topics.all_requests(), lambda t, _p: seen.put(t), inline=True)
    kiosk = BusClient(bus, "kiosk-1", topics.availability("kiosk-1"), persistent=False)
    requests = Requester(kiosk, topics, "kiosk-1")
    requests.attach()
    lost, back = threading.Event(), threading.Event()
    kiosk.on_disconnected(lost.set)
    kiosk.on_connected(lambda: back.set() if lost.is_set() else None)
    scheduler.start()
    kiosk.start()
    try:
        own_broker.stop()
        assert lost.wait(WAIT)
        ask = IssueTicket(request_id=Requester.new_request_id(), service_code="social")
        requests.send(Command.ISSUE_TICKET, ask, patience_s=3.0)
        report = ReportPrint(
            request_id=Requester.new_request_id(), ticket_id="t" * 32, state=PrintState.FAILED
        )
        requests.send(Command.REPORT_PRINT, report, patience_s=3.0)
        own_broker.start()
        assert back.wait(WAIT)
        record = topics.request("kiosk-1", Command.REPORT_PRINT)
        # Sent after the ticket's request on the same connection: had that gone out, it
        # would have come first.
        assert seen.wait_for(lambda t: t == record, WAIT)
        assert seen.items() == [record]
    finally:
        kiosk.stop()
        scheduler.stop()
