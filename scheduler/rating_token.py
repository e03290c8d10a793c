"""The signed token in a ticket's QR link: it lets that ticket, and only it, rate later.

The token is an HMAC of the hall and ticket id under the hall's own key, so the public
page needs no login and no table of tokens, and a guessed or copied token opens nothing
else. The key lives in a file beside the database, never in the repository.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_BYTES = 32
TOKEN_BYTES = 16  # 128 bits: far beyond guessing at a rate-limited page


class RatingTokens:
    """Makes and checks the rating-page token of a ticket."""

    def __init__(self, key: bytes, hall: str) -> None:
        if len(key) < 16:
            raise ValueError("a rating-page key needs at least 16 bytes")
        self._key = key
        self.hall = hall

    def token(self, ticket_id: str) -> str:
        """The token printed in the QR link of ``ticket_id``."""
        mac = hmac.new(self._key, f"rate:{self.hall}:{ticket_id}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:TOKEN_BYTES]).rstrip(b"=").decode()

    def check(self, ticket_id: str, token: str) -> bool:
        """Whether ``token`` was made for ``ticket_id`` (constant time)."""
        # Bytes, not str: compare_digest refuses non-ASCII text, and a link can carry any.
        return hmac.compare_digest(self.token(ticket_id).encode(), token.encode())


def load_or_create_key(path: Path) -> bytes:
    """Read the hall's rating-page key, creating it (owner-only) on first use."""
    if path.exists():
        key = path.read_bytes().strip()
        return bytes.fromhex(key.decode())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex())
    return key
