"""The public page a ticket's QR code opens: one rating per transaction, the token per ticket."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from hallbus.clock import FakeClock
from hallbus.messages import RatingLevel
from hallbus.settings import BusSettings
from hallbus.topics import HallEventKind, HallTopics
from scheduler.bridge import SchedulerService
from scheduler.web import operations
from tests.conftest import WAIT, listen
from tests.web.conftest import Served


def _rate(client: TestClient, served: Served, level: str, **extra: str) -> object:
    return client.post(
        f"/t/{served.ticket_id}",
        data={
            "k": served.token,
            "transaction_id": served.transaction_id,
            "level": level,
            "lang": "zh",
            **extra,
        },
        follow_redirects=False,
    )


def test_a_ticket_rates_its_transaction_once_on_its_page(
    app_client: TestClient, serve: Callable[..., Served], scheduler: SchedulerService
) -> None:
    served = serve(1)  # the citizen walked away from the pad
    page = app_client.get(f"/t/{served.ticket_id}", params={"k": served.token, "lang": "zh"})
    assert page.status_code == 200
    assert served.label in page.text and "非常满意" in page.text and "1号窗口" in page.text

    answer = _rate(app_client, served, "satisfied")
    assert answer.status_code == 303
    (entry,) = scheduler.store.ledger_entries(served.transaction_id)
    assert (entry.outcome, entry.source) == ("satisfied", "qr")

    thanks = app_client.get(answer.headers["location"])
    assert "感谢您的评价" in thanks.text and "已评价: 满意" in thanks.text
    again = _rate(app_client, served, "very_dissatisfied", reason="attitude")
    assert again.status_code == 409 and "本次服务已评价过" in again.text
    assert len(scheduler.store.ledger_entries(served.transaction_id)) == 1


def test_a_bad_rating_asks_for_a_reason_before_anything_is_recorded(
    app_client: TestClient, serve: Callable[..., Served], scheduler: SchedulerService
) -> None:
    served = serve(1)
    asked = _rate(app_client, served, "dissatisfied")
    assert asked.status_code == 200 and "哪里做得不好" in asked.text and "服务态度" in asked.text
    assert scheduler.store.ledger_entries(served.transaction_id) == []
    done = _rate(app_client, served, "dissatisfied", reason="efficiency", comment="排了两次队")
    assert done.status_code == 303
    (entry,) = scheduler.store.ledger_entries(served.transaction_id)
    assert (entry.outcome, entry.reason, entry.note) == ("dissatisfied", "efficiency", "排了两次队")
    assert scheduler.store.cases()[0].transaction_id == served.transaction_id


def test_a_token_opens_its_own_ticket_only(
    app_client: TestClient, serve: Callable[..., Served], scheduler: SchedulerService
) -> None:
    mine, other = serve(1), serve(1)
    crossed = app_client.get(f"/t/{other.ticket_id}", params={"k": mine.token})
    assert crossed.status_code == 404 and "链接无效" in crossed.text
    forged = Served(other.ticket_id, other.label, mine.token, other.transaction_id)
    assert _rate(app_client, forged, "very_satisfied").status_code == 404
    # The right ticket's token cannot reach another ticket's transaction either.
    smuggled = Served(mine.ticket_id, mine.label, mine.token, other.transaction_id)
    refused = _rate(app_client, smuggled, "very_satisfied")
    assert refused.status_code == 404 and "该服务不属于此票号" in refused.text
    assert scheduler.store.ledger_entries(other.transaction_id) == []
    for wrong in ("x" * 22, "令牌"):  # non-ASCII once answered 500 (found by the fuzzer)
        api = app_client.get(f"/api/v1/tickets/{mine.ticket_id}/rating", params={"k": wrong})
        assert api.status_code == 404


def test_the_page_speaks_the_language_the_ticket_was_taken_in(
    app_client: TestClient, serve: Callable[..., Served]
) -> None:
    served = serve(1, RatingLevel.SATISFIED)
    page = app_client.get(f"/t/{served.ticket_id}", params={"k": served.token, "lang": "en"})
    assert "Window 1" in page.text and "Rated: Satisfied" in page.text
    assert 'lang="en"' in page.text


def test_rating_closes_at_the_deadline_and_says_so(
    app_client: TestClient,
    serve: Callable[..., Served],
    scheduler: SchedulerService,
    clock: FakeClock,
    bus: BusSettings,
) -> None:
    served = serve(1)
    topics = HallTopics(scheduler.hall.id)
    watcher, records = listen(bus, topics.hall_event(HallEventKind.RATING), "obs-unrated")
    try:
        clock.advance(scheduler.hall.rating_timeout_s + scheduler.hall.later_rating_s + 1)
        # Whether or not the scheduler has recorded "unrated" yet, the page says the same.
        page = app_client.get(f"/t/{served.ticket_id}", params={"k": served.token})
        assert "评价已截止" in page.text and "已评价" not in page.text
        scheduler.poke()
        assert records.wait_count(1, WAIT)
        outcomes = [e.outcome for e in scheduler.store.ledger_entries(served.transaction_id)]
        assert outcomes == ["unrated"]
        page = app_client.get(f"/t/{served.ticket_id}", params={"k": served.token})
        assert "评价已截止" in page.text and "已评价" not in page.text
        refused = _rate(app_client, served, "very_satisfied")
        assert refused.status_code == 409 and "评价已截止" in refused.text
        # The late level is never written.
        outcomes = [e.outcome for e in scheduler.store.ledger_entries(served.transaction_id)]
        assert outcomes == ["unrated"]
    finally:
        watcher.stop()


def test_the_page_is_rate_limited_per_client(
    app_client: TestClient, serve: Callable[..., Served]
) -> None:
    served = serve(1)
    wrong = Served(served.ticket_id, "", "bad-token", "t")
    answers = [_rate(app_client, wrong, "satisfied").status_code for _ in range(31)]
    assert answers[:30] == [404] * 30 and answers[30] == 429


def test_the_second_of_two_concurrent_ratings_is_told_it_was_already_rated(
    app_client: TestClient,
    serve: Callable[..., Served],
    scheduler: SchedulerService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two phones post at once: both pass the page's "not rated yet" check first.

    The interleaving is made deterministic by giving the second post the page as it was
    before the first one was recorded.
    """
    served = serve(1)
    ctx = app_client.app.state.context  # type: ignore[attr-defined]
    before = operations.ticket_page(ctx, served.ticket_id, served.token)
    assert _rate(app_client, served, "very_satisfied").status_code == 303
    monkeypatch.setattr(operations, "ticket_page", lambda *_args: before)
    second = _rate(app_client, served, "very_dissatisfied", reason="attitude")
    assert second.status_code == 409 and "本次服务已评价过" in second.text
    (entry,) = scheduler.store.ledger_entries(served.transaction_id)
    assert entry.outcome == "very_satisfied"


def test_a_short_comment_goes_with_any_level(
    app_client: TestClient, serve: Callable[..., Served], scheduler: SchedulerService
) -> None:
    served = serve(1)
    page = app_client.get(f"/t/{served.ticket_id}", params={"k": served.token, "lang": "zh"})
    assert 'name="comment"' in page.text  # offered before any level is chosen
    answer = _rate(app_client, served, "very_satisfied", comment="工作人员很耐心")
    assert answer.status_code == 303
    (entry,) = scheduler.store.ledger_entries(served.transaction_id)
    assert (entry.outcome, entry.reason, entry.note) == ("very_satisfied", None, "工作人员很耐心")
