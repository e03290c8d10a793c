"""The rating ledger: append-only and hash-chained, so no rating is deleted or altered unseen.

Each entry's hash covers every field of the entry and the hash before it. Removing,
changing or reordering an entry breaks the chain at that entry; removing the newest
entries is caught by anyone who kept the head (the ``event/rating`` messages carry it).
A review never edits a rating: it appends a ``not_adopted`` entry that points at it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from enum import StrEnum

GENESIS_HASH = "0" * 64


class EntryKind(StrEnum):
    """What a ledger entry records."""

    RATING = "rating"  # the one rating record of a transaction (a level or unrated)
    NOT_ADOPTED = "not_adopted"  # a review set a rating aside; the rating stays


@dataclass(frozen=True)
class LedgerEntry:
    """One entry of a hall's rating ledger."""

    seq: int
    hall: str
    kind: EntryKind
    transaction_id: str
    outcome: str  # a rating level or "unrated"; for not_adopted, the outcome set aside
    source: str  # pad, qr, timeout, review
    recorded_at: datetime
    service_code: str
    window: int
    clerk_code: str | None = None
    reason: str | None = None  # bad-rating reason, or why a review set a rating aside
    note: str | None = None  # the citizen's comment
    reviewer: str | None = None
    approver: str | None = None
    prev_hash: str = GENESIS_HASH
    hash: str = ""

    @property
    def unique_key(self) -> str:
        """One rating, and at most one review, per transaction: the store makes it unique."""
        return f"{self.kind.value}:{self.transaction_id}"


def entry_hash(entry: LedgerEntry) -> str:
    """SHA-256 over the entry's fields (its own hash excluded) in a canonical form."""
    fields = asdict(entry)
    del fields["hash"]
    fields["kind"] = entry.kind.value
    fields["recorded_at"] = entry.recorded_at.isoformat()
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class RatingLedger:
    """The head of one hall's chain; appends are computed here and stored by the caller."""

    def __init__(self, hall: str, head_seq: int = 0, head_hash: str = GENESIS_HASH) -> None:
        self.hall = hall
        self.head_seq = head_seq
        self.head_hash = head_hash

    def append(self, entry: LedgerEntry) -> LedgerEntry:
        """Chain ``entry`` (its seq and hashes are filled in) and move the head to it."""
        chained = replace(entry, hall=self.hall, seq=self.head_seq + 1, prev_hash=self.head_hash)
        chained = replace(chained, hash=entry_hash(chained))
        self.head_seq, self.head_hash = chained.seq, chained.hash
        return chained


@dataclass(frozen=True)
class Breach:
    """The first entry where the chain does not hold, and what is wrong with it."""

    seq: int
    problem: str


def verify_chain(entries: Iterable[LedgerEntry]) -> Breach | None:
    """Walk a hall's entries in seq order; None when every link holds."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    for entry in entries:
        if entry.seq != expected_seq:
            return Breach(entry.seq, f"entry {expected_seq} is missing before it")
        if entry.prev_hash != prev_hash:
            return Breach(entry.seq, "does not link to the entry before it")
        if entry_hash(entry) != entry.hash:
            return Breach(entry.seq, "its contents do not match its hash")
        prev_hash = entry.hash
        expected_seq += 1
    return None
