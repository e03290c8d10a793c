"""Callback numbers citizens give after a bad rating: sealed, masked, erased at closing.

The 好差评 rules want every bad rating called back; the citizen may leave a mobile
number for it on the ticket's page or the touch pad. The number is kept only sealed
(Fernet, with a key file beside the rating key, shared by the scheduler and the
dashboard, never in the database), shown masked
(138****1234) on every page, revealed to a manager only on request (audited), and
deleted when the case closes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

MOBILE = re.compile(r"^1[3-9][0-9]{9}$")  # mainland mobile numbers


class ContactError(ValueError):
    """Not a number the hall can call back."""


def mask(number: str) -> str:
    """138****1234: enough to recognise, not to call."""
    return f"{number[:3]}****{number[-4:]}"


def normalised(number: str) -> str:
    """A mainland mobile number without spaces or dashes; ContactError if it is not one."""
    digits = re.sub(r"[\s-]", "", number)
    if digits.startswith("+86"):
        digits = digits[3:]
    if not MOBILE.fullmatch(digits):
        raise ContactError("please give an 11-digit mobile number")
    return digits


class ContactVault:
    """Seals and opens callback numbers with the hall's contact key."""

    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self._fernet: Fernet | None = None

    def _key(self) -> Fernet:
        if self._fernet is None:
            if not self.key_file.exists():
                self.key_file.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(Fernet.generate_key())
            self._fernet = Fernet(self.key_file.read_bytes().strip())
        return self._fernet

    def seal(self, number: str) -> str:
        """The token kept in the database."""
        return self._key().encrypt(number.encode()).decode()

    def open(self, sealed: str) -> str:
        """The number back, for the manager who calls."""
        try:
            return self._key().decrypt(sealed.encode()).decode()
        except InvalidToken as err:
            raise ContactError("this number was sealed with another key") from err
