"""A rating pad's prompt, pure: who may rate what, when, and what gets sent.

Only the citizen in front of the pad, while the pad is asking, can rate: a button pressed
with no prompt open is ignored and reported, and once a transaction is rated (or its
prompt is over) nothing more is sent for it, so a second press changes nothing. A bad
rating asks for a reason; if none is chosen in time, ``other`` is sent with a note, so
the bad rating itself is never lost. The clock is passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from counter_terminal.profile import RatingKeys
from hallbus.messages import BadRatingReason, RatingLevel, RatingPrompt

THANKS_S = 3.0  # the thank-you screen, then back to the clerk's card
REMEMBERED = 64  # transactions the pad remembers it has finished with
NO_REASON_NOTE = "no reason chosen at the pad"
REASON_MARGIN_S = 1.0  # a bad rating without a reason is sent this long before the deadline


class Phase(StrEnum):
    """What the pad shows."""

    IDLE = "idle"  # the clerk's card
    RATING = "rating"  # the five levels
    REASON = "reason"  # after a bad level: why
    CONTACT = "contact"  # after a bad rating was sent: a number for the callback, or skip
    THANKS = "thanks"


# The contact screen's keys, numbered apart from the levels and reasons (1..5).
DIGIT_BUTTONS = {100 + d: str(d) for d in range(10)}
ERASE_BUTTON, CONFIRM_BUTTON, SKIP_BUTTON = 110, 111, 112
MOBILE_DIGITS = 11


@dataclass(frozen=True, slots=True)
class Submit:
    """Send this rating (once; its request id is derived from the transaction)."""

    transaction_id: str
    level: RatingLevel
    reason: BadRatingReason | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Ignored:
    """A button that did nothing, and why (logged and published)."""

    # no prompt; rated already; no such key; a digit typed; no number left; not a number
    kind: Literal["stray", "repeated", "not_a_button", "typing", "skipped", "bad_number"]
    reason: str


@dataclass(frozen=True, slots=True)
class AskReason:
    """A bad level was pressed: the pad now asks why."""

    level: RatingLevel


@dataclass(frozen=True, slots=True)
class SendContact:
    """The citizen left a number for the callback of their bad rating (sent once)."""

    transaction_id: str
    phone: str


Outcome = Submit | Ignored | AskReason | SendContact


class RatingSession:
    """One pad's prompt state."""

    def __init__(self, keys: RatingKeys) -> None:
        self.keys = keys
        self.phase = Phase.IDLE
        self.prompt: RatingPrompt | None = None
        self.level: RatingLevel | None = None
        self._reason_until: datetime | None = None
        self._thanks_until: datetime | None = None
        self._contact_until: datetime | None = None
        self.digits = ""  # the number being typed on the contact screen
        self._finished: deque[str] = deque(maxlen=REMEMBERED)

    def open(self, prompt: RatingPrompt, now: datetime) -> bool:
        """The scheduler asks for a rating; False if this pad is done with it already.

        A scheduler restart sends open prompts again: the one being rated stays as it is.
        """
        if prompt.transaction_id in self._finished or prompt.deadline <= now:
            return False
        if self.prompt is not None and self.prompt.transaction_id == prompt.transaction_id:
            return False
        self.prompt, self.level, self.phase = prompt, None, Phase.RATING
        self._reason_until = None
        return True

    def close(self, transaction_id: str, now: datetime) -> bool:
        """The scheduler says the prompt is over (rated, or out of time)."""
        self._finished.append(transaction_id)
        if self.prompt is None or self.prompt.transaction_id != transaction_id:
            return False
        # The rating was taken: thanks, or the contact screen, run out by themselves.
        self._end(now, thanks=self.phase in (Phase.THANKS, Phase.CONTACT))
        return True

    def press(self, button: int, now: datetime) -> Outcome:
        """The citizen pressed button 1..5."""
        self.tick(now)
        prompt = self.prompt
        if self.phase is Phase.IDLE or prompt is None:
            return Ignored("stray", f"button {button} pressed with no rating asked")
        if self.phase is Phase.THANKS:
            return Ignored("repeated", f"button {button} after {prompt.ticket_label} was rated")
        if self.phase is Phase.CONTACT:
            return self._contact_key(button, prompt.transaction_id, now)
        if self.phase is Phase.RATING:
            if not 1 <= button <= len(self.keys.levels):
                return Ignored("not_a_button", f"button {button} is not a level")
            level = self.keys.levels[button - 1]
            if level.is_bad:
                self.level, self.phase = level, Phase.REASON
                # Sent before the deadline, or the scheduler would record `unrated` first.
                latest = prompt.deadline - timedelta(seconds=REASON_MARGIN_S)
                self._reason_until = max(
                    now, min(now + timedelta(seconds=self.keys.reason_timeout_s), latest)
                )
                return AskReason(level)
            return self._submit(Submit(prompt.transaction_id, level), now)
        if not 1 <= button <= len(self.keys.reasons):
            return Ignored("not_a_button", f"button {button} is not a reason")
        assert self.level is not None
        reason = self.keys.reasons[button - 1]
        return self._submit(Submit(prompt.transaction_id, self.level, reason), now)

    def _contact_key(self, button: int, transaction_id: str, now: datetime) -> Outcome:
        if button in DIGIT_BUTTONS:
            if len(self.digits) < MOBILE_DIGITS:
                self.digits += DIGIT_BUTTONS[button]
            return Ignored("typing", "a digit of the callback number")
        if button == ERASE_BUTTON:
            self.digits = self.digits[:-1]
            return Ignored("typing", "a digit erased")
        if button == SKIP_BUTTON:
            self._thank(now)
            return Ignored("skipped", "no number left for the callback")
        if button == CONFIRM_BUTTON:
            if len(self.digits) != MOBILE_DIGITS or self.digits[0] != "1":
                return Ignored("bad_number", "not an 11-digit mobile number")
            phone, self.digits = self.digits, ""
            self._thank(now)
            return SendContact(transaction_id, phone)
        return Ignored("not_a_button", f"button {button} is not on the contact screen")

    def tick(self, now: datetime) -> Submit | None:
        """Let time pass: a reason not chosen in time sends ``other``; a deadline closes."""
        prompt = self.prompt
        if prompt is None:
            return None
        if self.phase is Phase.REASON and self._reason_until is not None:
            if now >= self._reason_until:
                assert self.level is not None
                submit = Submit(
                    prompt.transaction_id, self.level, BadRatingReason.OTHER, NO_REASON_NOTE
                )
                return self._submit(submit, now)
        elif self.phase is Phase.RATING and now >= prompt.deadline:
            # The scheduler records `unrated` at the deadline; the pad stops asking then.
            self._finished.append(prompt.transaction_id)
            self._end(now, thanks=False)
        elif self.phase is Phase.THANKS and self._thanks_until and now >= self._thanks_until:
            self._end(now, thanks=False)
        elif self.phase is Phase.CONTACT and self._contact_until and now >= self._contact_until:
            self.digits = ""
            self._end(now, thanks=False)  # nobody typed a number: back to the clerk's card
        return None

    def next_change(self) -> datetime | None:
        """When ``tick`` next has something to do."""
        if self.prompt is None:
            return None
        if self.phase is Phase.REASON:
            return self._reason_until
        if self.phase is Phase.THANKS:
            return self._thanks_until
        if self.phase is Phase.CONTACT:
            return self._contact_until
        return self.prompt.deadline

    def _submit(self, submit: Submit, now: datetime) -> Submit:
        self._finished.append(submit.transaction_id)
        if submit.level.is_bad and self.keys.ask_contact:
            # The rating goes now; the number, if any, follows it for the callback.
            self.phase, self.digits = Phase.CONTACT, ""
            self._contact_until = now + timedelta(seconds=self.keys.contact_timeout_s)
            return submit
        self._thank(now)
        return submit

    def _thank(self, now: datetime) -> None:
        self.phase = Phase.THANKS
        self._thanks_until = now + timedelta(seconds=THANKS_S)

    def _end(self, now: datetime, *, thanks: bool) -> None:
        if thanks:
            return  # the thank-you screen runs out by itself
        self.phase, self.prompt, self.level = Phase.IDLE, None, None
        self._reason_until = self._thanks_until = self._contact_until = None
