"""Fuzzing the scheduler's request edge: any payload on any request topic gets a clear answer.

Payloads are JSON objects built from each command's own field names with values of any
JSON shape (and some times and numbers that overflow date arithmetic), so most get past
the parser and reach validation or the domain. Every one must be answered, never with
``internal``, and the scheduler must log no error.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hallbus.client import BusClient
from hallbus.hall_file import HallConfig
from hallbus.messages import REQUEST_MODELS, ErrorCode, Reply, decode
from hallbus.settings import BusSettings
from hallbus.topics import Command, HallTopics
from scheduler.bridge import ALLOWED_COMMANDS, SchedulerService
from simulator.mailbox import Mailbox
from tests.conftest import WAIT

# Hundreds of requests in seconds, a third from devices not in the hall: far past any
# flood limit, which tests/scheduler/test_flood.py covers.
pytestmark = [pytest.mark.slow, pytest.mark.load]

# Which device may send each command (the fuzz also sends from the wrong kinds).
SENDERS = ["kiosk-1", "counter-1", "pad-1", "portal", "idr-1", "nobody-7"]

awkward_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(
        [
            "9999-12-31T23:59:59+08:00",
            "0001-01-01T00:00:00Z",
            "2026-12-01T10:30:00",
            "2026-12-01T10:30:00+14:00",
            "social",
            "A001",
            "very_dissatisfied",
            "attitude",
            "x" * 70,
            "³",
        ]
    ),
)
json_values = st.recursive(
    awkward_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, bytes]:
    command = draw(st.sampled_from(list(Command)))
    fields = list(REQUEST_MODELS[command].model_fields)
    body = {
        name: draw(json_values) for name in draw(st.lists(st.sampled_from(fields), unique=True))
    }
    body["request_id"] = uuid.uuid4().hex
    return draw(st.sampled_from(SENDERS)), command.value, json.dumps(body).encode()


@pytest.fixture
def answers(scheduler: SchedulerService, bus: BusSettings, hall: HallConfig) -> Any:
    topics = HallTopics(hall.id)
    box: Mailbox[Reply] = Mailbox()
    client = BusClient(bus, f"fuzz-{hall.id}", topics.availability("fuzz"))
    for device in SENDERS:
        client.subscribe(topics.reply(device), lambda _t, p: box.put(decode(Reply, p)), inline=True)
    client.start()
    yield client, topics, box
    client.stop()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests())
def test_every_request_gets_a_clear_answer_and_no_error_is_logged(
    request: tuple[str, str, bytes],
    answers: Any,
    scheduler: SchedulerService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, topics, box = answers
    device, command, payload = request
    request_id = json.loads(payload)["request_id"]
    caplog.set_level(logging.WARNING, logger="scheduler")
    client.publish(topics.request(device, command), payload)
    reply = box.wait_for(lambda r: r.request_id == request_id, WAIT)
    assert reply is not None, (device, command, payload)
    if reply.error is not None:
        assert reply.error.code != ErrorCode.INTERNAL, (device, command, payload, reply)
        assert reply.error.message
    else:
        kind = scheduler.hall.device(device)
        assert kind is not None and Command(command) in ALLOWED_COMMANDS[kind.kind]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], (device, command, payload, errors)
