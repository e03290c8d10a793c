"""The bus contract: topic builders, payload models, decoding of hostile input."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hallbus.messages import (
    MAX_PAYLOAD_BYTES,
    REQUEST_MODELS,
    ClerkView,
    ErrorCode,
    IssueTicket,
    Login,
    Message,
    PayloadError,
    Rate,
    RatingLevel,
    Reply,
    ReviewRating,
    TicketIssued,
    TransactionView,
    TransferDone,
    WindowStatus,
    WindowView,
    decode,
)
from hallbus.topics import Command, DeviceCommandKind, HallTopics, valid_id

T = HallTopics("hall-7")


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (T.availability("kiosk-1"), "paidui/v1/hall-7/device/kiosk-1/availability"),
        (T.request("pad-2", Command.RATE), "paidui/v1/hall-7/device/pad-2/req/rate"),
        (T.reply("pad-2"), "paidui/v1/hall-7/device/pad-2/reply"),
        (
            T.device_command("pad-2", DeviceCommandKind.RATING_PROMPT),
            "paidui/v1/hall-7/device/pad-2/cmd/rating_prompt",
        ),
        (T.window_state(3), "paidui/v1/hall-7/state/window/3"),
        (T.all_requests(), "paidui/v1/hall-7/device/+/req/+"),
    ],
)
def test_topic_builders(built: str, expected: str) -> None:
    assert built == expected


def test_request_topics_parse_back() -> None:
    for command in Command:
        parsed = T.parse_request(T.request("counter-4", command))
        assert parsed is not None
        assert (parsed.device_id, parsed.command) == ("counter-4", command.value)
    assert T.parse_request(T.reply("counter-4")) is None
    assert T.parse_request("paidui/v1/other-hall/device/x/req/rate") is None


@pytest.mark.parametrize(
    "bad", ["", "a/b", "a+", "#", "x" * 65, "-lead", "空格 id", "y.scheduler", "x.y"]
)
def test_ids_that_would_break_topics_or_acl_are_refused(bad: str) -> None:
    assert not valid_id(bad)
    with pytest.raises(ValueError, match="invalid"):
        T.availability(bad)


def test_reply_is_either_data_or_error() -> None:
    ok = Reply.ok("r1", IssueTicket(request_id="r1", service_code="A"))
    assert ok.status == "ok" and ok.error is None
    with pytest.raises(ValueError, match="error"):
        Reply(request_id="r", status="error")
    with pytest.raises(ValueError, match="error"):
        Reply.model_validate(
            {"request_id": "r", "status": "ok", "error": {"code": "internal", "message": "x"}}
        )


def test_decode_reports_size_and_schema_errors_precisely() -> None:
    with pytest.raises(PayloadError) as too_big:
        decode(IssueTicket, b"{" + b" " * MAX_PAYLOAD_BYTES + b"}")
    assert too_big.value.code == ErrorCode.PAYLOAD_TOO_LARGE
    with pytest.raises(PayloadError, match="level") as bad_level:
        decode(Rate, b'{"request_id": "r", "transaction_id": "t", "level": "great"}')
    assert bad_level.value.code == ErrorCode.BAD_REQUEST
    with pytest.raises(PayloadError, match="reason"):
        decode(Rate, b'{"request_id": "r", "transaction_id": "t", "level": "dissatisfied"}')
    rate = decode(
        Rate,
        b'{"request_id": "r", "transaction_id": "t", "level": "dissatisfied", "reason": "process"}',
    )
    assert rate.level.is_bad and not RatingLevel.BASICALLY_SATISFIED.is_bad
    with pytest.raises(PayloadError, match="only a bad rating"):
        decode(
            Rate,
            b'{"request_id": "r", "transaction_id": "t", "level": "satisfied", "reason": "other"}',
        )
    with pytest.raises(PayloadError, match="exactly one"):
        decode(Login, b'{"request_id": "r"}')
    with pytest.raises(PayloadError, match="another manager"):
        decode(
            ReviewRating,
            b'{"request_id": "r", "transaction_id": "t", "reviewer": "m", "approver": "m",'
            b' "reason": "x"}',
        )


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(payload=st.binary(max_size=512), command=st.sampled_from(list(Command)))
def test_any_bytes_decode_or_raise_payload_error(payload: bytes, command: Command) -> None:
    try:
        decode(REQUEST_MODELS[command], payload)
    except PayloadError as err:
        assert err.code in (ErrorCode.BAD_REQUEST, ErrorCode.PAYLOAD_TOO_LARGE)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200)
@given(
    doc=st.dictionaries(
        st.sampled_from(
            [
                "request_id",
                "service_code",
                "transaction_id",
                "level",
                "reason",
                "id_hash",
                "age",
                "clerk_code",
                "label",
                "to_window",
                "slot_start",
                "x",
            ]
        ),
        st.one_of(st.none(), st.integers(), st.text(max_size=80), st.lists(st.integers())),
    ),
    command=st.sampled_from(list(Command)),
)
def test_json_shaped_garbage_never_escapes_as_another_error(
    doc: dict[str, object], command: Command
) -> None:
    import json

    with contextlib.suppress(PayloadError):
        decode(REQUEST_MODELS[command], json.dumps(doc).encode())


_TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2199, 12, 31), timezones=st.just(UTC)
)
_TEXT = st.text(max_size=40)  # any text: quotes, backslashes, control characters, CJK


@st.composite
def _answers(draw: st.DrawFn) -> Message:
    transaction = TransactionView(
        transaction_id=draw(_TEXT),
        ticket_id=draw(_TEXT),
        ticket_label=draw(_TEXT),
        service_code=draw(_TEXT),
        window=draw(st.integers(1, 999)),
        clerk_code=draw(st.none() | _TEXT),
        started_at=draw(_TIMES),
        finished_at=draw(_TIMES),
        rating_deadline=draw(_TIMES),
    )
    issued = TicketIssued(
        ticket_id=draw(_TEXT),
        label=draw(_TEXT),
        service_code=draw(_TEXT),
        service_date=draw(st.dates(date(2000, 1, 1), date(2199, 12, 31))),
        state="waiting",
        issued_at=draw(_TIMES),
        window=draw(st.none() | st.integers(1, 999)),
        people_ahead=draw(st.integers(0, 10**6)),
        estimated_wait_s=draw(st.integers(0, 10**6)),
        appointment_slot=draw(st.none() | _TIMES),
        rating_token=draw(st.none() | _TEXT),
    )
    clerk = ClerkView(code=draw(_TEXT), name=draw(_TEXT), stars=draw(st.none() | st.integers(1, 5)))
    window = WindowView(window=draw(st.integers(1, 999)), status=WindowStatus.OPEN, clerk=clerk)
    done = TransferDone(ticket=issued, transaction=draw(st.none() | st.just(transaction)))
    return draw(st.sampled_from([transaction, issued, window, done]))


@given(request_id=st.text(max_size=80), data=_answers())
def test_an_answer_made_without_the_reply_model_is_the_same_bytes(
    request_id: str, data: Message
) -> None:
    # The scheduler answers every command with Reply.ok_bytes: the devices must not be
    # able to tell it from the model's own serialisation.
    made = Reply.ok_bytes(request_id, data)
    assert made == Reply.ok(request_id, data).to_bytes()
    assert decode(Reply, made).data == data.model_dump(mode="json")
