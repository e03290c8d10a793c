"""The bus contract: topic builders, payload models, decoding of hostile input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hallbus.messages import (
    MAX_PAYLOAD_BYTES,
    REQUEST_MODELS,
    ErrorCode,
    IssueTicket,
    Login,
    PayloadError,
    Rate,
    RatingLevel,
    Reply,
    ReviewRating,
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
