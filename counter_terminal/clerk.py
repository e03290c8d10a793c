"""The clerk's side of a counter, pure: keys to scheduler requests, replies to feedback.

Every key press becomes one or two requests whose ids derive from one id per press, so
a resent frame, a bounced key or a lost reply never acts twice: the scheduler answers a
repeated id with its first answer. What the keypad's small screen shows is composed here
too, from the window's retained state and the last key's feedback.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from counter_terminal.keys import ClerkAction, ClerkKey
from hallbus.messages import (
    CallNext,
    CallTicket,
    DeskContact,
    ErrorCode,
    Finish,
    Login,
    Logout,
    NoShow,
    Pause,
    PauseReason,
    Postpone,
    Recall,
    Reply,
    Request,
    Resume,
    StartService,
    TicketState,
    Transfer,
    WindowState,
    WindowStatus,
    WindowView,
)
from hallbus.topics import Command

LABEL_DIGITS = 3  # ticket numbers print as A001


@dataclass(frozen=True, slots=True)
class CounterContext:
    """What a keypad must know of the hall to turn typed numbers into requests."""

    window: int
    services: tuple[tuple[str, str], ...]  # (code, prefix) in hall-file order, numbered from 1
    window_services: frozenset[str]  # the codes this window handles


@dataclass(frozen=True, slots=True)
class Step:
    """One request to send for a key."""

    command: Command
    request: Request


@dataclass(frozen=True, slots=True)
class Feedback:
    """What the clerk is told after a key: shown on the keypad and logged."""

    ok: bool
    text: str  # short Chinese text for a 16-cell screen
    code: str = "ok"  # an ErrorCode or a local reason


def _ticket_label(number: str, context: CounterContext) -> str | None:
    own = [prefix for code, prefix in context.services if code in context.window_services]
    if len(own) == 1:
        return f"{own[0]}{number.zfill(LABEL_DIGITS)}"
    # A window of several services: the first digit is the service's number in the hall.
    if len(number) < 2 or not 1 <= int(number[0]) <= len(context.services):
        return None
    prefix = context.services[int(number[0]) - 1][1]
    return f"{prefix}{number[1:].zfill(LABEL_DIGITS)}"


def plan(
    action: ClerkAction, window: WindowState | None, context: CounterContext, press_id: str
) -> list[Step] | Feedback:
    """The requests a key press makes, or the feedback refusing it before any is sent."""

    def rid(step: int = 0) -> str:
        return f"{press_id}.{step}"

    key, number = action.key, action.number
    match key:
        case ClerkKey.CALL_NEXT:
            # 顺呼: "next" ends the ticket at the window first, which asks for its rating.
            # It is sent whatever the last window state said (that may lag our own call);
            # with nothing at the window the scheduler says so and the call goes ahead.
            # A paused or closed window's "next" is refused whole, finishing nothing.
            call = Step(Command.CALL_NEXT, CallNext(request_id=rid(1)))
            if window is not None and window.status is not WindowStatus.OPEN:
                return [call]
            return [Step(Command.FINISH, Finish(request_id=rid(0))), call]
        case ClerkKey.RECALL:
            return [Step(Command.RECALL, Recall(request_id=rid()))]
        case ClerkKey.START:
            return [Step(Command.START_SERVICE, StartService(request_id=rid()))]
        case ClerkKey.FINISH:
            return [Step(Command.FINISH, Finish(request_id=rid()))]
        case ClerkKey.NO_SHOW:
            return [Step(Command.NO_SHOW, NoShow(request_id=rid()))]
        case ClerkKey.POSTPONE:
            return [Step(Command.POSTPONE, Postpone(request_id=rid()))]
        case ClerkKey.PAUSE:
            return [Step(Command.PAUSE, Pause(request_id=rid(), reason=PauseReason.BREAK))]
        case ClerkKey.RESUME:
            return [Step(Command.RESUME, Resume(request_id=rid()))]
        case ClerkKey.PAUSE_TOGGLE:
            if window is not None and window.status is WindowStatus.PAUSED:
                return [Step(Command.RESUME, Resume(request_id=rid()))]
            return [Step(Command.PAUSE, Pause(request_id=rid(), reason=PauseReason.BREAK))]
        case ClerkKey.LOGOUT:
            return [Step(Command.LOGOUT, Logout(request_id=rid()))]
        case ClerkKey.DESK_CONTACT:
            # The citizen came back to the desk (or stayed) and the clerk talked it through:
            # the case's first contact is made, in the clerk's name, not left to a manager.
            return [Step(Command.DESK_CONTACT, DeskContact(request_id=rid()))]
    if not number:
        return Feedback(False, "请先输入号码", "number_missing")
    match key:
        case ClerkKey.LOGIN:
            return [Step(Command.LOGIN, Login(request_id=rid(), clerk_code=number))]
        case ClerkKey.TRANSFER_WINDOW:
            to_window = int(number)
            if not 1 <= to_window <= 999 or to_window == context.window:
                return Feedback(False, "窗口号无效", "bad_number")
            return [Step(Command.TRANSFER, Transfer(request_id=rid(), to_window=to_window))]
        case ClerkKey.TRANSFER_SERVICE:
            index = int(number)
            if not 1 <= index <= len(context.services):
                return Feedback(False, "业务号无效", "bad_number")
            code = context.services[index - 1][0]
            return [Step(Command.TRANSFER, Transfer(request_id=rid(), to_service=code))]
        case ClerkKey.CALL_TICKET:
            label = _ticket_label(number, context)
            if label is None:
                return Feedback(False, "票号无效", "bad_number")
            return [Step(Command.CALL_TICKET, CallTicket(request_id=rid(), label=label))]
    return Feedback(False, "此键未定义", "unknown_key")  # pragma: no cover - every key is matched


# A keypad screen is 16 cells (8 Chinese characters) a line; a refusal is shown after
# "! ", so its text takes at most 14. Numbers typed are not echoed back: they may not fit.
SCREEN_CELLS = 16

ERROR_TEXT: dict[str, str] = {
    ErrorCode.NOTHING_WAITING: "无人等候",
    ErrorCode.WINDOW_PAUSED: "请先恢复服务",
    ErrorCode.WINDOW_CLOSED: "请先登录",
    ErrorCode.NO_CURRENT_TICKET: "当前无号",
    ErrorCode.UNKNOWN_CLERK: "工号无效",
    ErrorCode.PIN_REQUIRED: "输密码再按登录",
    ErrorCode.WRONG_PIN: "密码错误",
    ErrorCode.CLERK_LOCKED: "已锁定,请稍后",
    ErrorCode.UNKNOWN_TICKET: "无此票号",
    ErrorCode.UNKNOWN_TRANSACTION: "无待沟通差评",
    ErrorCode.UNKNOWN_SERVICE: "无此业务",
    ErrorCode.INVALID_STATE: "当前不可操作",
    ErrorCode.NOT_ALLOWED: "无权操作",
    ErrorCode.TIMEOUT: "无响应,请重试",
    ErrorCode.INTERNAL: "故障,请重试",
}


def _ok_text(action: ClerkAction, data: dict[str, object]) -> str:
    label = str(data.get("label", ""))
    match action.key:
        case ClerkKey.CALL_NEXT | ClerkKey.CALL_TICKET:
            return f"呼叫 {label}"
        case ClerkKey.RECALL:
            state = data.get("state")
            return f"{label} 弃号" if state == TicketState.NO_SHOW else f"重呼 {label}"
        case ClerkKey.START:
            return f"{label} 开始办理"
        case ClerkKey.FINISH:
            return f"{data.get('ticket_label', '')} 已办结"
        case ClerkKey.NO_SHOW:
            return f"{label} 弃号"
        case ClerkKey.POSTPONE:
            return f"{label} 挂起"
        case ClerkKey.TRANSFER_WINDOW | ClerkKey.TRANSFER_SERVICE:
            return "已转移"
        case ClerkKey.LOGIN:
            clerk = data.get("clerk")
            name = clerk.get("name", "") if isinstance(clerk, dict) else ""
            return f"{fit(name, SCREEN_CELLS - 7)} 已登录"
        case ClerkKey.LOGOUT:
            return "已退出"
        case ClerkKey.DESK_CONTACT:
            return "当面沟通已记录"
        case ClerkKey.PAUSE | ClerkKey.RESUME | ClerkKey.PAUSE_TOGGLE:
            return "暂停服务" if data.get("status") == WindowStatus.PAUSED else "恢复服务"
    return "好"  # pragma: no cover - every key is matched


def feedback(action: ClerkAction, reply: Reply) -> Feedback:
    """What to tell the clerk about the last reply of a key's requests."""
    if reply.status == "ok":
        return Feedback(True, _ok_text(action, reply.data or {}))
    assert reply.error is not None
    code = reply.error.code
    return Feedback(False, ERROR_TEXT.get(code, "操作未成功"), code.value)


# --- the keypad's small screen ---------------------------------------------------------


def cells(text: str) -> int:
    """Screen cells ``text`` takes: two for a wide (Chinese) character, one otherwise."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells."""
    out, used = [], 0
    for char in text:
        size = cells(char)
        if used + size > width:
            break
        out.append(char)
        used += size
    return "".join(out)


def status_line(window: WindowState | None) -> str:
    """The window's state in a few characters: current ticket, paused, closed."""
    if window is None:
        return "连接中"
    if window.status is WindowStatus.CLOSED:
        return "未登录"
    if window.status is WindowStatus.PAUSED:
        return "暂停服务"
    if window.current is None:
        return "空闲"
    state = "办理" if window.current.state is TicketState.SERVING else "呼叫"
    return f"{window.current.label} {state}"


def screen_lines(
    window: WindowState | None, last: Feedback | None, lines: int, width: int
) -> list[str]:
    """What a keypad screen of ``lines`` × ``width`` cells shows now.

    The first line is the window's state and how many wait for it (the count is never
    cut); below it, the answer to the clerk's last key.
    """
    waiting = f"等{window.waiting}人" if window is not None else ""
    head = fit(status_line(window), max(0, width - cells(waiting) - 1))
    top = f"{head} {waiting}".strip()
    if lines == 1:
        return [fit(last.text if last is not None and not last.ok else top, width)]
    rows = [top]
    if last is not None:
        rows.append(("" if last.ok else "! ") + last.text)
    return [fit(row, width) for row in rows[:lines]]


def carry_on(step: Step, reply: Reply) -> bool:
    """Whether the next step of a key runs after ``reply`` to ``step``.

    "Next" asks to finish the current ticket first; with none at the window, it calls.
    """
    if reply.status == "ok":
        return True
    return (
        step.command is Command.FINISH
        and reply.error is not None
        and reply.error.code is ErrorCode.NO_CURRENT_TICKET
    )


WINDOW_COMMANDS = frozenset({Command.PAUSE, Command.RESUME, Command.LOGIN, Command.LOGOUT})


def after_reply(window: WindowState | None, step: Step, reply: Reply) -> WindowState | None:
    """The window as the reply to our own pause, resume, login or logout says it is now.

    The retained state says the same a moment later; taking it from the reply means the
    very next key already sees a paused window as paused.
    """
    if window is None or reply.status != "ok" or step.command not in WINDOW_COMMANDS:
        return window
    view = WindowView.model_validate(reply.data or {})
    return window.model_copy(
        update={"status": view.status, "clerk": view.clerk, "pause_reason": view.pause_reason}
    )
