"""Signed, witnessed checkpoints make an insider's rewrite of the rating ledger show.

Seen by an auditor: with write access to the database and this project's own code,
every bad rating was turned into 非常满意, the hash chain recomputed with the project's
hash function and the cases deleted, and ``paidui ratings verify`` said intact. Each
attack here runs on a copy of a real scheduler's database.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, insert, update

from hallbus.clock import FakeClock
from hallbus.hall_file import HallConfig
from hallbus.messages import BadRatingReason, RatingLevel
from hallbus.settings import BusSettings
from hallbus.topics import HallTopics
from paidui.cli import main as paidui
from scheduler.bridge import SchedulerService
from scheduler.checkpoints import (
    Checkpoint,
    WitnessFile,
    load_signing_key,
    public_key_path,
    sign_head,
)
from scheduler.ledger import GENESIS_HASH, LedgerEntry, entry_hash
from scheduler.store import Store
from scheduler.tables import ledger_checkpoints, rating_cases, rating_ledger
from simulator.devices import VirtualCounter, VirtualKiosk, VirtualRatingPad
from tests.conftest import WAIT, listen

LEVELS = [
    RatingLevel.SATISFIED,
    RatingLevel.VERY_DISSATISFIED,
    RatingLevel.SATISFIED,
    RatingLevel.DISSATISFIED,
    RatingLevel.VERY_SATISFIED,
    RatingLevel.BASICALLY_SATISFIED,
    RatingLevel.DISSATISFIED,
    RatingLevel.SATISFIED,
    RatingLevel.VERY_SATISFIED,
]


class Day:
    """A hall's database after nine ratings, with its ledger key and witness file."""

    def __init__(self, folder: Path, hall: HallConfig) -> None:
        self.folder, self.hall = folder, hall
        self.db = folder / "hall.db"
        self.key = folder / "ledger.key"
        self.witness = folder / "checkpoints.jsonl"

    def copy(self, name: str) -> Path:
        target = self.folder / f"{name}.db"
        shutil.copy(self.db, target)
        return target

    def verify(
        self, db: Path, capsys: pytest.CaptureFixture[str], *, witness: bool = True
    ) -> tuple[int, dict[str, Any]]:
        args = ["ratings", "verify", "--hall", self.hall.id, "--db", Store.sqlite_url(db)]
        args += ["--public-key", str(public_key_path(self.key))]
        if witness:
            args += ["--witness", str(self.witness)]
        code = paidui(args)
        return code, json.loads(capsys.readouterr().out)

    def entries(self, db: Path) -> list[LedgerEntry]:
        store = Store(Store.sqlite_url(db), self.hall.id)
        store.open(migrate=False)
        try:
            return store.ledger_entries()
        finally:
            store.close()


def _rechain(db: Path, entries: list[LedgerEntry]) -> None:
    """What the insider did: write the entries back with the chain recomputed."""
    engine = create_engine(Store.sqlite_url(db))
    prev = GENESIS_HASH
    with engine.begin() as conn:
        for entry in entries:
            chained = replace(entry, prev_hash=prev, hash="")
            chained = replace(chained, hash=entry_hash(chained))
            conn.execute(
                update(rating_ledger)
                .where(rating_ledger.c.hall == entry.hall, rating_ledger.c.seq == entry.seq)
                .values(
                    outcome=chained.outcome,
                    reason=chained.reason,
                    prev_hash=chained.prev_hash,
                    hash=chained.hash,
                )
            )
            prev = chained.hash
    engine.dispose()


def _all_satisfied(entries: list[LedgerEntry]) -> list[LedgerEntry]:
    return [
        replace(e, outcome=RatingLevel.VERY_SATISFIED.value, reason=None)
        if e.outcome in ("dissatisfied", "very_dissatisfied")
        else e
        for e in entries
    ]


@pytest.fixture
def day(tmp_path: Path, hall: HallConfig, bus: BusSettings, clock: FakeClock) -> Iterator[Day]:
    hall = hall.model_copy(update={"checkpoint_every": 3})
    recorded = Day(tmp_path, hall)
    assert paidui(["ratings", "key", "--out", str(recorded.key)]) == 0
    assert recorded.key.stat().st_mode & 0o777 == 0o600
    service = SchedulerService(
        hall,
        Store(Store.sqlite_url(recorded.db), hall.id),
        bus,
        clock=clock,
        client_id=f"s-{hall.id}",
        ledger_key=load_signing_key(recorded.key),
        witness=WitnessFile(recorded.witness),
    )
    service.start()
    watcher, heads = listen(bus, HallTopics(hall.id).ledger_checkpoint(), "auditor", hall.id)
    kiosk = VirtualKiosk(bus, hall.id, "kiosk-1")
    counter = VirtualCounter(bus, hall.id, "counter-1", 1)
    pad = VirtualRatingPad(bus, hall.id, "pad-1", 1)
    for daemon in (kiosk, counter, pad):
        daemon.start()
    try:
        assert counter.login("1001").status == "ok"
        for level in LEVELS:
            assert kiosk.issue("social").status == "ok"
            assert counter.call_next().status == "ok"
            done = counter.finish()
            assert done.data is not None
            reason = BadRatingReason.ATTITUDE if level.is_bad else None
            assert pad.rate(done.data["transaction_id"], level, reason).status == "ok"
        # The newest signed head is retained on the bus for anyone who keeps it.
        assert heads.wait_for(lambda p: Checkpoint.from_json(p).seq == 9, WAIT)
    finally:
        for daemon in (kiosk, counter, pad):
            daemon.stop()
        watcher.stop()
        service.stop()
    yield recorded


def test_an_untouched_ledger_is_intact_with_every_checkpoint_signed_and_witnessed(
    day: Day, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = day.witness.read_text().splitlines()
    assert [Checkpoint.from_json(line).seq for line in lines] == [3, 6, 9]
    code, report = day.verify(day.db, capsys)
    assert code == 0, report
    assert report["intact"] and report["checkpoints"] == 6 and report["signatures_checked"]


def test_the_insiders_rewrite_with_a_recomputed_chain_is_caught(
    day: Day, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = day.copy("forged")
    _rechain(forged, _all_satisfied(day.entries(forged)))
    engine = create_engine(Store.sqlite_url(forged))
    with engine.begin() as conn:
        conn.execute(delete(rating_cases))  # and the cases of the bad ratings
    engine.dispose()
    # The chain itself holds now: the old check would say intact ...
    store = Store(Store.sqlite_url(forged), day.hall.id)
    store.open(migrate=False)
    assert store.verify_ledger() is None
    store.close()
    # ... but the signed heads in the database do not match any more.
    code, report = day.verify(forged, capsys, witness=False)
    assert code == 1 and report["first_broken_seq"] == 1, report
    assert "rewritten" in report["problem"]

    # Deleting the database's checkpoints too leaves the witness file.
    engine = create_engine(Store.sqlite_url(forged))
    with engine.begin() as conn:
        conn.execute(delete(ledger_checkpoints))
    engine.dispose()
    code, report = day.verify(forged, capsys)
    assert code == 1 and report["first_broken_seq"] == 1 and "witness" in report["problem"]


def test_removing_the_newest_entries_is_caught(
    day: Day, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = day.copy("cut")
    engine = create_engine(Store.sqlite_url(cut))
    with engine.begin() as conn:
        conn.execute(delete(rating_ledger).where(rating_ledger.c.seq >= 8))
        conn.execute(delete(ledger_checkpoints).where(ledger_checkpoints.c.seq >= 8))
    engine.dispose()
    code, report = day.verify(cut, capsys)
    assert code == 1 and report["first_broken_seq"] == 8, report
    assert "removed" in report["problem"]


def test_a_reordered_chain_is_caught(day: Day, capsys: pytest.CaptureFixture[str]) -> None:
    shuffled = day.copy("shuffled")
    entries = day.entries(shuffled)
    fourth, fifth = entries[3], entries[4]
    swapped = [
        *entries[:3],
        replace(fifth, seq=4, prev_hash=fourth.prev_hash),
        replace(fourth, seq=5, prev_hash=fifth.prev_hash),
        *entries[5:],
    ]
    engine = create_engine(Store.sqlite_url(shuffled))
    with engine.begin() as conn:
        conn.execute(delete(rating_ledger).where(rating_ledger.c.seq.in_([4, 5])))
        for entry in swapped[3:5]:
            row = {**vars(entry), "kind": entry.kind.value, "unique_key": entry.unique_key}
            conn.execute(insert(rating_ledger).values(**row))
    engine.dispose()
    code, report = day.verify(shuffled, capsys)
    assert code == 1 and report["first_broken_seq"] == 4, report


def test_a_rewrite_by_someone_holding_the_key_but_not_the_witnesses_is_caught(
    day: Day, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = day.copy("key-holder")
    _rechain(forged, _all_satisfied(day.entries(forged)))
    key = load_signing_key(day.key)
    entries = day.entries(forged)
    engine = create_engine(Store.sqlite_url(forged))
    with engine.begin() as conn:  # every checkpoint in the database signed again
        conn.execute(delete(ledger_checkpoints))
        for seq in (3, 6, 9):
            entry = entries[seq - 1]
            again = sign_head(key, day.hall.id, seq, entry.hash, entry.recorded_at)
            conn.execute(
                insert(ledger_checkpoints).values(
                    hall=again.hall,
                    seq=seq,
                    hash=again.hash,
                    at=again.at,
                    signature=again.signature,
                )
            )
    engine.dispose()
    code, report = day.verify(forged, capsys, witness=False)
    assert code == 0  # the database alone cannot tell: that is why witnesses exist
    code, report = day.verify(forged, capsys)
    assert code == 1 and report["first_broken_seq"] == 1 and "witness" in report["problem"]
