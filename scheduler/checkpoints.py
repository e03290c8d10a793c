"""Signed checkpoints of the rating ledger, kept where the scheduler's database is not.

The hash chain alone does not stop an insider: with write access to the database and
this project's code, every bad rating can be rewritten and the chain recomputed. So the
scheduler signs the head of the chain (Ed25519, a key file outside the database) every
``checkpoint_every`` entries and at each day's end, and hands each checkpoint to
witnesses that the database does not hold: an append-only file, the bus (retained), and
the upstream export. ``audit_ledger`` then checks the chain, every signature, and that
every witnessed head is still in the chain: a rewrite, a truncation or a reordering
shows, and so does a rewrite by someone who holds the key but not the witnesses.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from scheduler.ledger import Breach, LedgerEntry, verify_chain


class CheckpointKeyError(RuntimeError):
    """The signing key is missing, unreadable or open to others."""


@dataclass(frozen=True)
class Checkpoint:
    """The ledger's head at ``seq``, signed: ``hash`` is that entry's hash."""

    hall: str
    seq: int
    hash: str
    at: datetime
    signature: str  # hex

    def message(self) -> bytes:
        """What is signed: hall, seq, hash and time, canonically."""
        body = {"hall": self.hall, "seq": self.seq, "hash": self.hash, "at": self.at.isoformat()}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def to_json(self) -> str:
        """One line of the witness file, and the retained bus payload."""
        return json.dumps(
            {
                "hall": self.hall,
                "seq": self.seq,
                "hash": self.hash,
                "at": self.at.isoformat(),
                "signature": self.signature,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Checkpoint:
        """Read one back (ValueError if it is not one)."""
        raw = json.loads(text)
        try:
            return cls(
                hall=str(raw["hall"]),
                seq=int(raw["seq"]),
                hash=str(raw["hash"]),
                at=datetime.fromisoformat(raw["at"]),
                signature=str(raw["signature"]),
            )
        except (KeyError, TypeError) as err:
            raise ValueError(f"not a ledger checkpoint: {err}") from err

    def signed_by(self, public_key: Ed25519PublicKey) -> bool:
        """Whether the signature holds for this hall's key."""
        try:
            public_key.verify(bytes.fromhex(self.signature), self.message())
        except (InvalidSignature, ValueError):
            return False
        return True


def make_signing_key(path: Path) -> Path:
    """Write a new Ed25519 key (owner-only) and its public half beside it (``.pub``)."""
    if path.exists():
        raise CheckpointKeyError(f"{path} exists; a hall keeps one key (move it away first)")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public = public_key_path(path)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return public


def public_key_path(key_file: Path) -> Path:
    """Where the public half of a signing key is written (auditors get this one)."""
    return key_file.with_name(key_file.name + ".pub")


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The hall's signing key; refused when others may read it."""
    try:
        if path.stat().st_mode & 0o077:
            raise CheckpointKeyError(f"{path} is readable by others: chmod 600 it")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as err:
        raise CheckpointKeyError(f"cannot read the ledger key {path}: {err}") from err
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointKeyError(f"{path} is not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The public half, for verifying."""
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointKeyError(f"{path} is not an Ed25519 public key")
    return key


def sign_head(key: Ed25519PrivateKey, hall: str, seq: int, head: str, at: datetime) -> Checkpoint:
    """A checkpoint of the chain's head."""
    unsigned = Checkpoint(hall, seq, head, at, "")
    return Checkpoint(hall, seq, head, at, key.sign(unsigned.message()).hex())


class WitnessFile:
    """An append-only file of checkpoints, one JSON line each, outside the database."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, checkpoint: Checkpoint) -> None:
        """Add one line and flush it to disk (O_APPEND: never rewrites what is there)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (checkpoint.to_json() + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self, hall: str) -> list[Checkpoint]:
        """The hall's checkpoints in the file (other halls' lines are skipped)."""
        if not self.path.exists():
            return []
        found = []
        for line in self.path.read_text().splitlines():
            if line.strip():
                checkpoint = Checkpoint.from_json(line)
                if checkpoint.hall == hall:
                    found.append(checkpoint)
        return found


def audit_ledger(
    entries: Sequence[LedgerEntry],
    checkpoints: Iterable[tuple[str, Checkpoint]],
    public_key: Ed25519PublicKey | None,
) -> Breach | None:
    """The first broken entry of a chain checked against signed, witnessed heads.

    ``checkpoints`` are (where it was kept, checkpoint): the database's own and every
    witness's. A head that no longer matches names the first entry after the last head
    that still does: somewhere from there to the mismatch the ledger was rewritten.
    """
    breach = verify_chain(entries)
    by_seq = {entry.seq: entry for entry in entries}
    last = entries[-1].seq if entries else 0
    trusted = 0  # the highest seq every checkpoint up to it vouches for
    ordered = sorted(checkpoints, key=lambda item: item[1].seq)
    for index, (source, checkpoint) in enumerate(ordered):
        if index and ordered[index - 1][1].seq < checkpoint.seq:
            trusted = ordered[index - 1][1].seq  # all heads below this seq matched
        if public_key is not None and not checkpoint.signed_by(public_key):
            return _first(
                breach, Breach(checkpoint.seq, f"the {source} checkpoint's signature is false")
            )
        entry = by_seq.get(checkpoint.seq)
        if entry is None:
            found = Breach(
                last + 1,
                f"the ledger ends at {last} but the {source} saw entry {checkpoint.seq} "
                f"signed at {checkpoint.at.isoformat()}: entries were removed",
            )
            return _first(breach, found)
        if entry.hash != checkpoint.hash:
            found = Breach(
                trusted + 1,
                f"entries {trusted + 1}..{checkpoint.seq} differ from the head the {source} "
                f"kept, signed at {checkpoint.at.isoformat()}: the ledger was rewritten",
            )
            return _first(breach, found)
    return breach


def _first(chain: Breach | None, checkpoint: Breach) -> Breach:
    return chain if chain is not None and chain.seq <= checkpoint.seq else checkpoint
