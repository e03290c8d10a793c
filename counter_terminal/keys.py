"""What the keys of caller keypads and rating pads mean, whatever the hardware.

A clerk's key is a ``ClerkKey`` with an optional number typed before it (a window, a
service, a ticket, a clerk code); a rating pad's key is a button from 1 to 5. The USB
HID key maps are pure here: evdev key events in, actions out. Bus keypads send the same
actions as key codes (``counter_terminal.bus_protocol``); their maps live in the profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hallbus.input_keys import KeyEvent


class ClerkKey(StrEnum):
    """The functions of a caller keypad (叫号器)."""

    CALL_NEXT = "call_next"  # 呼叫 / 顺呼: finishes the current ticket, calls the next
    RECALL = "recall"  # 重呼
    START = "start"  # the citizen arrived (keypads without it serve from the call)
    FINISH = "finish"  # 评价 / 办结: service done, the pad asks for a rating
    NO_SHOW = "no_show"  # 弃号
    POSTPONE = "postpone"  # 挂起: back to the end of the line
    PAUSE = "pause"  # 暂停
    RESUME = "resume"  # 恢复
    PAUSE_TOGGLE = "pause_toggle"  # one key that pauses an open window and resumes a paused one
    TRANSFER_WINDOW = "transfer_window"  # 转移 to the window typed before it
    TRANSFER_SERVICE = "transfer_service"  # 转移 to the service numbered in the hall file
    CALL_TICKET = "call_ticket"  # 回呼 / 特呼: the ticket typed before it
    LOGIN = "login"  # 登录 with the clerk code typed before it
    LOGOUT = "logout"  # 退出
    DESK_CONTACT = "desk_contact"  # 当面沟通: spoke at the desk with the last bad rating's citizen


# Keys that take the number typed before them; the others ignore a typed number.
NUMBERED_KEYS = frozenset(
    {ClerkKey.TRANSFER_WINDOW, ClerkKey.TRANSFER_SERVICE, ClerkKey.CALL_TICKET, ClerkKey.LOGIN}
)

MAX_TYPED_DIGITS = 8


@dataclass(frozen=True, slots=True)
class ClerkAction:
    """A clerk pressed ``key``, with ``number`` typed before it where the key takes one."""

    key: ClerkKey
    number: str | None = None


@dataclass(frozen=True, slots=True)
class PadButton:
    """A rating pad's button, 1 (leftmost, best) to 5."""

    button: int


@dataclass(frozen=True, slots=True)
class KeyNoise:
    """Key presses that made no action, and why (logged; never the clerk code typed)."""

    reason: str


@dataclass(frozen=True, slots=True)
class HidKeypadMap:
    """A USB keypad's keys: evdev names to functions and digits."""

    functions: dict[str, ClerkKey]
    digits: dict[str, str]
    clear: str | None = None
    entry_timeout_s: float = 10.0  # digits older than this are forgotten
    debounce_s: float = 0.15  # the same key again this soon is contact bounce


class HidKeypadDecoder:
    """Turns a USB keypad's key events into clerk actions."""

    def __init__(self, keymap: HidKeypadMap) -> None:
        self.keymap = keymap
        self._typed: list[str] = []
        self._typed_at: float | None = None
        self._last: tuple[str, float] | None = None

    def feed(self, event: KeyEvent) -> ClerkAction | KeyNoise | None:
        """Take one key event; an action when a function key goes down."""
        if not event.down:
            return None
        if self._last is not None:
            key, at = self._last
            if key == event.key and event.at - at < self.keymap.debounce_s:
                return KeyNoise(f"{event.key} bounced")
        self._last = (event.key, event.at)
        if self._typed_at is not None and event.at - self._typed_at > self.keymap.entry_timeout_s:
            self._typed = []
        if event.key in self.keymap.digits:
            if len(self._typed) >= MAX_TYPED_DIGITS:
                return KeyNoise(f"more than {MAX_TYPED_DIGITS} digits typed")
            self._typed.append(self.keymap.digits[event.key])
            self._typed_at = event.at
            return None
        if event.key == self.keymap.clear:
            self._typed = []
            return None
        function = self.keymap.functions.get(event.key)
        if function is None:
            return KeyNoise(f"{event.key} is not in the key map")
        typed, self._typed = "".join(self._typed), []
        if function in NUMBERED_KEYS:
            return ClerkAction(function, typed or None)
        return ClerkAction(function)


class HidPadDecoder:
    """Turns a USB rating pad's key events into buttons."""

    def __init__(self, buttons: dict[str, int], debounce_s: float = 0.15) -> None:
        self.buttons = buttons
        self.debounce_s = debounce_s
        self._last: tuple[str, float] | None = None

    def feed(self, event: KeyEvent) -> PadButton | KeyNoise | None:
        """Take one key event; a button when one goes down."""
        if not event.down:
            return None
        if self._last is not None:
            key, at = self._last
            if key == event.key and event.at - at < self.debounce_s:
                return KeyNoise(f"{event.key} bounced")
        self._last = (event.key, event.at)
        button = self.buttons.get(event.key)
        if button is None:
            return KeyNoise(f"{event.key} is not a rating button")
        return PadButton(button)
