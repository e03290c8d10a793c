"""The pure layers: HID key maps, the clerk's keys to requests, the pad's prompt rules,
the keypad screen, and every shipped profile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from counter_terminal.clerk import (
    SCREEN_CELLS,
    CounterContext,
    Feedback,
    cells,
    feedback,
    fit,
    plan,
    screen_lines,
)
from counter_terminal.drivers import counter_profile_names, load_counter_profile
from counter_terminal.keys import (
    ClerkAction,
    ClerkKey,
    HidKeypadDecoder,
    HidPadDecoder,
    KeyNoise,
    PadButton,
)
from counter_terminal.profile import HidKeypadProfile, HidPadProfile, RatingKeys
from counter_terminal.rating import (
    CONFIRM_BUTTON,
    NO_REASON_NOTE,
    SKIP_BUTTON,
    AskReason,
    Ignored,
    Phase,
    RatingSession,
    SendContact,
    Submit,
)
from hallbus.input_keys import KeyEvent
from hallbus.messages import (
    BadRatingReason,
    CallTicket,
    CurrentCall,
    DeskContactRecorded,
    ErrorCode,
    RatingLevel,
    RatingPrompt,
    Reply,
    TicketState,
    Transfer,
    WindowState,
    WindowStatus,
)
from hallbus.topics import Command

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CONTEXT = CounterContext(
    window=2,
    services=(("social", "A"), ("tax", "B"), ("residence", "C")),
    window_services=frozenset({"social", "tax"}),
)


def _typed(decoder: HidKeypadDecoder, keys: list[str], start: float = 0.0) -> list[object]:
    out = []
    for i, key in enumerate(keys):
        out.append(decoder.feed(KeyEvent(key, True, start + i * 0.3)))
        out.append(decoder.feed(KeyEvent(key, False, start + i * 0.3 + 0.05)))
    return [o for o in out if o is not None]


def test_usb_keypad_digits_then_function_make_one_action() -> None:
    profile = load_counter_profile("usb-keypad-numeric")
    assert isinstance(profile, HidKeypadProfile)
    decoder = HidKeypadDecoder(profile.keymap())
    assert _typed(decoder, ["KEY_KP1", "KEY_KP0", "KEY_KP0", "KEY_KP2", "KEY_TAB"]) == [
        ClerkAction(ClerkKey.LOGIN, "1002")
    ]
    assert _typed(decoder, ["KEY_KPENTER"], 10) == [ClerkAction(ClerkKey.CALL_NEXT)]
    # Digits before a key that takes none are dropped; backspace clears typed digits.
    assert _typed(decoder, ["KEY_KP3", "KEY_KPPLUS"], 20) == [ClerkAction(ClerkKey.RECALL)]
    assert _typed(decoder, ["KEY_KP3", "KEY_BACKSPACE", "KEY_KPSLASH"], 30) == [
        ClerkAction(ClerkKey.TRANSFER_WINDOW, None)
    ]
    # Digits typed long ago are forgotten.
    assert _typed(decoder, ["KEY_KP4"], 40) == []
    assert _typed(decoder, ["KEY_KPSLASH"], 60) == [ClerkAction(ClerkKey.TRANSFER_WINDOW, None)]
    # A bounce (the same key again within 150 ms) and an unmapped key are noise.
    assert decoder.feed(KeyEvent("KEY_KPENTER", True, 100.0)) == ClerkAction(ClerkKey.CALL_NEXT)
    assert isinstance(decoder.feed(KeyEvent("KEY_KPENTER", True, 100.05)), KeyNoise)
    assert isinstance(decoder.feed(KeyEvent("KEY_A", True, 101.0)), KeyNoise)


def test_usb_pad_buttons_and_bounces() -> None:
    profile = load_counter_profile("usb-pad-5key")
    assert isinstance(profile, HidPadProfile)
    decoder = HidPadDecoder(dict(profile.buttons), profile.debounce_s)
    assert decoder.feed(KeyEvent("KEY_F4", True, 1.0)) == PadButton(4)
    assert decoder.feed(KeyEvent("KEY_F4", False, 1.05)) is None
    assert isinstance(decoder.feed(KeyEvent("KEY_F4", True, 1.1)), KeyNoise)
    assert isinstance(decoder.feed(KeyEvent("KEY_Q", True, 2.0)), KeyNoise)


def _window(
    status: WindowStatus = WindowStatus.OPEN, current: str | None = None, waiting: int = 0
) -> WindowState:
    call = None
    if current is not None:
        call = CurrentCall(
            ticket_id="t1",
            label=current,
            service_code="social",
            state=TicketState.CALLED,
            called_at=NOW,
        )
    return WindowState(window=2, status=status, current=call, waiting=waiting)


def test_next_finishes_the_current_ticket_first_unless_paused_or_closed() -> None:
    steps = plan(ClerkAction(ClerkKey.CALL_NEXT), _window(current="A001"), CONTEXT, "p")
    assert isinstance(steps, list)
    assert [s.command for s in steps] == [Command.FINISH, Command.CALL_NEXT]
    assert [s.request.request_id for s in steps] == ["p.0", "p.1"]
    # The state may lag the window: "next" always asks to finish first.
    idle = plan(ClerkAction(ClerkKey.CALL_NEXT), _window(), CONTEXT, "p")
    assert isinstance(idle, list)
    assert [s.command for s in idle] == [Command.FINISH, Command.CALL_NEXT]
    paused = _window(WindowStatus.PAUSED, current="A001")
    steps = plan(ClerkAction(ClerkKey.CALL_NEXT), paused, CONTEXT, "p")
    assert isinstance(steps, list) and [s.command for s in steps] == [Command.CALL_NEXT]
    closed = plan(ClerkAction(ClerkKey.CALL_NEXT), _window(WindowStatus.CLOSED), CONTEXT, "p")
    assert isinstance(closed, list) and [s.command for s in closed] == [Command.CALL_NEXT]
    toggle = plan(ClerkAction(ClerkKey.PAUSE_TOGGLE), paused, CONTEXT, "p")
    assert isinstance(toggle, list) and toggle[0].command is Command.RESUME


def test_typed_numbers_become_tickets_windows_and_services() -> None:
    # Window 2 handles two services: the first digit picks the service by its number.
    steps = plan(ClerkAction(ClerkKey.CALL_TICKET, "27"), None, CONTEXT, "p")
    assert isinstance(steps, list) and steps[0].request == CallTicket(
        request_id="p.0", label="B007"
    )
    one_service = CounterContext(1, CONTEXT.services, frozenset({"social"}))
    steps = plan(ClerkAction(ClerkKey.CALL_TICKET, "12"), None, one_service, "p")
    assert isinstance(steps, list) and steps[0].request == CallTicket(
        request_id="p.0", label="A012"
    )
    steps = plan(ClerkAction(ClerkKey.TRANSFER_SERVICE, "3"), None, CONTEXT, "p")
    assert isinstance(steps, list)
    assert steps[0].request == Transfer(request_id="p.0", to_service="residence")
    for action in (
        ClerkAction(ClerkKey.TRANSFER_SERVICE, "9"),
        ClerkAction(ClerkKey.TRANSFER_WINDOW, "2"),  # its own window
        ClerkAction(ClerkKey.CALL_TICKET, "9"),
        ClerkAction(ClerkKey.LOGIN),
    ):
        refused = plan(action, None, CONTEXT, "p")
        assert isinstance(refused, Feedback) and not refused.ok, action


def test_the_desk_contact_key_asks_for_the_window_s_case_and_says_which_ticket() -> None:
    steps = plan(ClerkAction(ClerkKey.DESK_CONTACT), _window(), CONTEXT, "p")
    assert isinstance(steps, list) and [s.command for s in steps] == [Command.DESK_CONTACT]
    said = feedback(
        ClerkAction(ClerkKey.DESK_CONTACT),
        Reply.ok("p.0", DeskContactRecorded(case_id="c1", ticket_label="A001")),
    )
    assert said == Feedback(True, "当面沟通已记录")
    nothing = feedback(
        ClerkAction(ClerkKey.DESK_CONTACT),
        Reply.fail("p.0", ErrorCode.UNKNOWN_TRANSACTION, "no case awaiting contact"),
    )
    assert nothing.text == "无待沟通差评"


def test_every_answer_a_keypad_shows_fits_its_16_cell_line() -> None:
    # The longest labels (two letters, four digits) and a four-character name.
    data = {"label": "AB1234", "ticket_label": "AB1234", "clerk": {"name": "欧阳娜娜"}}
    for key in ClerkKey:
        for state in ("serving", "no_show", "paused"):
            said = feedback(
                ClerkAction(key),
                Reply(request_id="p", status="ok", data={**data, "state": state}),
            )
            assert cells(said.text) <= SCREEN_CELLS, said
        for code in ErrorCode:
            said = feedback(ClerkAction(key), Reply.fail("p", code, "an English message"))
            assert cells("! " + said.text) <= SCREEN_CELLS, said
            assert all(not c.isascii() or not c.isalpha() for c in said.text), said
    for action in (
        ClerkAction(ClerkKey.TRANSFER_WINDOW, "99999999"),
        ClerkAction(ClerkKey.TRANSFER_SERVICE, "99999999"),
        ClerkAction(ClerkKey.CALL_TICKET, "9"),
        ClerkAction(ClerkKey.LOGIN),
    ):
        refused = plan(action, None, CONTEXT, "p")
        assert isinstance(refused, Feedback) and cells("! " + refused.text) <= SCREEN_CELLS


def test_the_keypad_screen_fits_its_cells() -> None:
    assert (
        cells("A001 已呼") == 9
        and fit("暂停中,请先恢复", 7) == "暂停中,"
        and fit("暂停中", 5) == "暂停"
    )
    lines = screen_lines(_window(current="A001", waiting=5), Feedback(True, "呼叫 A001"), 2, 16)
    assert lines == ["A001 呼叫 等5人", "呼叫 A001"]
    assert all(cells(line) <= 16 for line in lines)
    closed = _window(WindowStatus.CLOSED)
    assert screen_lines(closed, Feedback(False, "请先登录", "window_closed"), 1, 20) == ["请先登录"]
    assert screen_lines(closed, None, 1, 20) == ["未登录 等0人"]
    # However narrow the screen, the waiting count stays whole.
    assert screen_lines(_window(WindowStatus.PAUSED, waiting=123), None, 1, 12) == ["暂停 等123人"]


def _prompt(transaction: str = "tx1", seconds: float = 30) -> RatingPrompt:
    return RatingPrompt(
        transaction_id=transaction,
        ticket_label="A001",
        window=2,
        deadline=NOW + timedelta(seconds=seconds),
    )


def test_a_pad_rates_only_when_asked_and_only_once() -> None:
    session = RatingSession(RatingKeys())
    assert isinstance(session.press(1, NOW), Ignored)
    assert session.open(_prompt(), NOW)
    assert not session.open(_prompt(), NOW)  # sent again after a scheduler restart
    assert session.press(2, NOW) == Submit("tx1", RatingLevel.SATISFIED)
    assert isinstance(session.press(5, NOW), Ignored)
    assert session.phase is Phase.THANKS
    session.tick(NOW + timedelta(seconds=5))
    assert session.phase is Phase.IDLE
    assert not session.open(_prompt(), NOW)  # already rated: never again


def test_a_bad_rating_asks_why_and_without_an_answer_sends_other_in_time() -> None:
    session = RatingSession(RatingKeys(reason_timeout_s=10))
    session.open(_prompt(seconds=30), NOW)
    assert session.press(5, NOW) == AskReason(RatingLevel.VERY_DISSATISFIED)
    assert session.press(3, NOW) == Submit(
        "tx1", RatingLevel.VERY_DISSATISFIED, BadRatingReason.PROCESS
    )
    session.open(_prompt("tx2", seconds=5), NOW)
    assert isinstance(session.press(4, NOW), AskReason)
    assert session.tick(NOW + timedelta(seconds=3)) is None
    # One second before the deadline, so the scheduler gets it before it records `unrated`.
    late = session.tick(NOW + timedelta(seconds=4))
    assert late == Submit("tx2", RatingLevel.DISSATISFIED, BadRatingReason.OTHER, NO_REASON_NOTE)


def test_a_touch_pad_offers_the_callback_number_after_the_bad_rating_is_sent() -> None:
    session = RatingSession(RatingKeys(ask_contact=True, contact_timeout_s=60))
    session.open(_prompt(), NOW)
    assert isinstance(session.press(4, NOW), AskReason)
    # The rating goes at once; the number is asked for afterwards, never holding it up.
    sent = session.press(1, NOW)
    assert sent == Submit("tx1", RatingLevel.DISSATISFIED, BadRatingReason.ATTITUDE)
    assert session.phase is Phase.CONTACT
    assert session.close("tx1", NOW)  # the scheduler recorded it: the screen stays
    assert session.phase is Phase.CONTACT
    for digit in "1380013800":
        session.press(100 + int(digit), NOW)
    refused = session.press(CONFIRM_BUTTON, NOW)  # ten digits are not a mobile number
    assert isinstance(refused, Ignored) and refused.kind == "bad_number"
    session.press(100, NOW)
    session.press(105, NOW)  # a twelfth digit is not taken
    assert session.digits == "13800138000"
    assert session.press(CONFIRM_BUTTON, NOW) == SendContact("tx1", "13800138000")
    assert session.phase is Phase.THANKS and session.digits == ""

    session.open(_prompt("tx2"), NOW)
    session.press(5, NOW)
    session.press(2, NOW)
    skipped = session.press(SKIP_BUTTON, NOW)
    assert isinstance(skipped, Ignored) and session.phase is Phase.THANKS
    session.open(_prompt("tx3"), NOW)
    session.press(5, NOW)
    session.press(2, NOW)
    session.press(101, NOW)
    session.tick(NOW + timedelta(seconds=61))  # nobody finished it: back to the clerk's card
    assert session.phase is Phase.IDLE and session.digits == ""
    # A good rating, and a five-key rater, never ask.
    session.open(_prompt("tx4"), NOW)
    session.press(1, NOW)
    assert session.phase is Phase.THANKS
    rater = RatingSession(RatingKeys())
    rater.open(_prompt("tx5"), NOW)
    rater.press(5, NOW)
    rater.press(1, NOW)
    assert rater.phase is Phase.THANKS


def test_a_prompt_nobody_answers_closes_at_its_deadline() -> None:
    session = RatingSession(RatingKeys())
    session.open(_prompt(seconds=30), NOW)
    session.tick(NOW + timedelta(seconds=31))
    assert session.phase is Phase.IDLE
    assert isinstance(session.press(1, NOW + timedelta(seconds=32)), Ignored)
    assert not session.open(_prompt(seconds=30), NOW)


@pytest.mark.parametrize("name", counter_profile_names())
def test_every_shipped_profile_loads(name: str) -> None:
    profile = load_counter_profile(name)
    assert profile.id == name and profile.name


def test_profiles_cover_two_keypads_and_two_pads_of_each_kind() -> None:
    types = {load_counter_profile(n).type for n in counter_profile_names()}
    assert {"bus_keypad", "hid_keypad", "bus_rater", "hid_pad", "touch_pad"} <= types


def test_rating_keys_must_name_every_level_once() -> None:
    with pytest.raises(ValueError, match="five levels"):
        RatingKeys(levels=[RatingLevel.SATISFIED] * 5)
