"""Keyed hashes of ID numbers: how a person is recognised without their number being kept.

Every component that meets an ID number (the readers, the booking portal, the tool that
puts clerks' hashes in the hall file) hashes it with the hall's secret key, so the same
person gives the same hash everywhere while a leaked database or bus capture cannot be
turned back into numbers by hashing all 10^17 candidates without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from pathlib import Path

MIN_KEY_BYTES = 16
# GB 11643: 17 digits, then a check character from their weighted sum modulo 11.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_NUMBER = re.compile(r"^[0-9]{17}[0-9X]$")  # ASCII: \d would take any Unicode digit


def check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of an ID number."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError("an ID number starts with 17 digits")
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def valid_id_number(number: str) -> bool:
    """Whether ``number`` is an 18-character ID number with the right check character."""
    return bool(_ID_NUMBER.match(number)) and check_digit(number[:17]) == number[17]


class IdKeyError(ValueError):
    """The hall's ID key is missing, unreadable or too short."""


def new_id_key() -> str:
    """A fresh random key, as the hex text a key file holds."""
    return secrets.token_hex(32)


def normalise_id_number(number: str) -> str:
    """The canonical form that is hashed: no spaces, upper-case check letter."""
    return "".join(number.split()).upper()


class IdHasher:
    """HMAC-SHA256 of ID numbers under one hall's key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise IdKeyError(f"an ID key needs at least {MIN_KEY_BYTES} bytes")
        self._key = key

    @classmethod
    def from_hex(cls, text: str) -> IdHasher:
        """A hasher from a key written as hex."""
        try:
            return cls(bytes.fromhex(text.strip()))
        except ValueError as err:
            raise IdKeyError(f"an ID key is hex text of at least {MIN_KEY_BYTES} bytes") from err

    @classmethod
    def from_file(cls, path: Path) -> IdHasher:
        """A hasher from a key file (hex text), as written by ``paidui id-key``."""
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as err:
            raise IdKeyError(f"cannot read the ID key file {path}: {err}") from err
        return cls.from_hex(text)

    def hash(self, id_number: str) -> str:
        """The keyed hash (64 hex characters) of an ID number."""
        message = normalise_id_number(id_number).encode("ascii", "replace")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "IdHasher(<key hidden>)"
