"""What bus keypads and raters say in their frames' data, by their profiles. Pure.

A key frame's data is the sequence byte (where the bus has one), the key code, then any
digits typed before the key in ASCII; field keypads send the number first, in binary,
and the key (or a confirm key) last, as their profiles say. Host frames carry screen text
in the device's encoding (lines separated by LF) or a rater's prompt state.
"""

from __future__ import annotations

from counter_terminal.bus_protocol import BusFrame
from counter_terminal.keys import NUMBERED_KEYS, ClerkAction, ClerkKey, KeyNoise, PadButton
from counter_terminal.profile import BusKeypadBase, BusRaterProfile, TextDisplay
from counter_terminal.rating import Phase


def _key_code(frame: BusFrame, sequence_byte: bool) -> tuple[int, bytes] | KeyNoise:
    body = frame.data[1:] if sequence_byte else frame.data
    if not body:
        return KeyNoise("key frame without a key code")
    return body[0], body[1:]


class KeypadFrames:
    """A keypad's key frames to clerk actions, by its profile.

    Stateful only for keypads with a confirm key, where the numbered key and the number
    come in two frames; the numbered key alone is passed on (the screen asks for the
    number) and remembered for the confirm that follows.
    """

    def __init__(self, profile: BusKeypadBase) -> None:
        self.profile = profile
        self._armed: tuple[ClerkKey, float] | None = None

    def action(self, frame: BusFrame, now: float) -> ClerkAction | KeyNoise:
        """The action of ``frame``, received at monotonic time ``now``."""
        profile = self.profile
        parsed = _key_code(frame, profile.sequence_byte)
        if isinstance(parsed, KeyNoise):
            return parsed
        if profile.numbers.order == "binary_then_key":
            code, typed = parsed
            return self._number_first(bytes((code,)) + typed, now)
        code, typed = parsed
        key = profile.keys.get(code)
        if key is None:
            return KeyNoise(f"key code {code:#04x} is not in {profile.id}")
        if not typed:
            return ClerkAction(key)
        if not typed.isdigit() or len(typed) > 8:
            return KeyNoise(
                f"key code {code:#04x} came with {len(typed)} bytes that are not digits"
            )
        return ClerkAction(key, typed.decode("ascii") if key in NUMBERED_KEYS else None)

    def _number_first(self, body: bytes, now: float) -> ClerkAction | KeyNoise:
        numbers = self.profile.numbers
        code, number_bytes = body[-1], body[:-1]
        if number_bytes and len(number_bytes) != numbers.size:
            return KeyNoise(f"{len(number_bytes)} number bytes where {numbers.size} are sent")
        number = str(int.from_bytes(number_bytes, "big")) if number_bytes else None
        if numbers.confirm is not None and code == numbers.confirm:
            armed, self._armed = self._armed, None
            if armed is None or now - armed[1] > numbers.confirm_within_s:
                return KeyNoise("a number confirmed with no numbered key pressed before it")
            if number is None:
                return KeyNoise("confirm pressed with no number")
            return ClerkAction(armed[0], number)
        key = self.profile.keys.get(code)
        if key is None:
            return KeyNoise(f"key code {code:#04x} is not in {self.profile.id}")
        if key in NUMBERED_KEYS and numbers.confirm is not None and number is None:
            self._armed = (key, now)  # the number and the confirm follow
        else:
            self._armed = None
        return ClerkAction(key, number if key in NUMBERED_KEYS else None)


def key_payloads(profile: BusKeypadBase, key: ClerkKey, number: str = "") -> list[bytes]:
    """What a keypad of ``profile`` sends for ``key`` with ``number`` typed: the data of
    each key frame, without the sequence byte (the device's side: emulators, the kit)."""
    codes = [code for code, function in profile.keys.items() if function is key]
    if not codes:
        raise ValueError(f"{profile.id} has no {key} key")
    numbers = profile.numbers
    if numbers.order == "key_then_ascii":
        return [bytes((codes[0],)) + number.encode("ascii")]
    typed = int(number).to_bytes(numbers.size, "big") if number else b""
    if numbers.confirm is None or not typed:
        return [typed + bytes((codes[0],))]
    # The numbered key, then the number with the confirm key: two frames.
    return [bytes((codes[0],)), typed + bytes((numbers.confirm,))]


def rater_button(frame: BusFrame, profile: BusRaterProfile) -> PadButton | KeyNoise:
    """The button a rater's key frame carries."""
    parsed = _key_code(frame, profile.sequence_byte)
    if isinstance(parsed, KeyNoise):
        return parsed
    code, _ = parsed
    button = profile.buttons.get(code)
    if button is None:
        return KeyNoise(f"key code {code:#04x} is not a button of {profile.id}")
    return PadButton(button)


def screen_data(lines: list[str], display: TextDisplay) -> bytes:
    """Screen text as the device takes it; characters it cannot show become '?'."""
    return "\n".join(lines).encode(display.encoding, errors="replace")


PHASE_TEXT = {
    Phase.IDLE: "欢迎",
    Phase.RATING: "请对本次服务进行评价",
    Phase.REASON: "请选择不满意原因",
    Phase.THANKS: "谢谢您的评价",
}


def prompt_state(phase: Phase, profile: BusRaterProfile) -> int:
    """The prompt byte that lights a rater's keys for ``phase``."""
    states = profile.prompt_states
    return {
        Phase.IDLE: states.idle,
        Phase.RATING: states.rate,
        Phase.REASON: states.reason,
        Phase.THANKS: states.thanks,
    }[phase]
