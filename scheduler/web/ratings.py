"""好差评 as managers read it: ratings by level and group, bad-rating cases, reviews.

Read-only queries over the ledger and cases, plus the two-manager review desk. Nothing
here updates or deletes a ledger row: a review is proposed here and, once a second
manager approves it, appended to the ledger by the scheduler.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, update

from hallbus.hall_file import HallConfig
from hallbus.messages import UNRATED, BadRatingReason, RatingLevel
from scheduler.cases import BadRatingCase, CaseState
from scheduler.domain import new_id
from scheduler.ledger import EntryKind
from scheduler.store import Store
from scheduler.tables import rating_ledger, review_proposals, transactions
from scheduler.web.words import N_, dashboard_words

LEVELS = [level.value for level in RatingLevel]
# The codes the ledger and cases keep, as the hall's staff read them (catalog ids: pages
# show them in the manager's language).
LABELS: dict[str, dict[str, str]] = {
    "outcome": {
        RatingLevel.VERY_SATISFIED.value: N_("Very satisfied"),
        RatingLevel.SATISFIED.value: N_("Satisfied"),
        RatingLevel.BASICALLY_SATISFIED.value: N_("Basically satisfied"),
        RatingLevel.DISSATISFIED.value: N_("Dissatisfied"),
        RatingLevel.VERY_DISSATISFIED.value: N_("Very dissatisfied"),
        UNRATED: N_("Not rated"),
    },
    "reason": {
        BadRatingReason.ATTITUDE.value: N_("Attitude"),
        BadRatingReason.EFFICIENCY.value: N_("Efficiency"),
        BadRatingReason.PROCESS.value: N_("Process"),
        BadRatingReason.OTHER.value: N_("Other"),
    },
    "source": {
        "pad": N_("Rating pad"),
        "qr": N_("QR code"),
        "timeout": N_("Not rated in time"),
        "review": N_("Review"),
    },
    "case_state": {
        CaseState.OPEN.value: N_("To contact"),
        CaseState.CONTACTED.value: N_("Contacted"),
        CaseState.RECTIFIED.value: N_("Rectified"),
        CaseState.CALLED_BACK.value: N_("Called back"),
        CaseState.CLOSED.value: N_("Closed"),
        CaseState.ATTEMPT_FAILED.value: N_("Not reached"),
    },
    "proposal": {
        "proposed": N_("Awaiting approval"),
        "approved": N_("Approved"),
        "rejected": N_("Rejected"),
    },
    "complexity": {"simple": N_("Simple"), "complex": N_("Complex")},
    "callback": {"satisfied": N_("Citizen satisfied"), "unsatisfied": N_("Citizen unsatisfied")},
}
# The API's labels: the hall's official (Chinese) words, as on the rating pads.
OUTCOME_LABELS: dict[str, str] = {
    code: dashboard_words("zh")(label) for code, label in LABELS["outcome"].items()
}
GOOD = {RatingLevel.VERY_SATISFIED.value, RatingLevel.SATISFIED.value}
GOOD |= {RatingLevel.BASICALLY_SATISFIED.value}
BAD = {RatingLevel.DISSATISFIED.value, RatingLevel.VERY_DISSATISFIED.value}


class ReviewError(ValueError):
    """A review step the rules refuse."""


def day_bounds(config: HallConfig, first: date, last: date) -> tuple[datetime, datetime]:
    """The UTC-comparable instants of the hall's local days [first, last]."""
    zone = config.zone
    return (
        datetime.combine(first, time.min, zone),
        datetime.combine(last + timedelta(days=1), time.min, zone),
    )


@dataclass
class Tally:
    """Counts of one group's rating records."""

    group: str
    levels: Counter[str]
    not_adopted: int = 0

    @property
    def rated(self) -> int:
        """Records with a level, reviews set aside excluded."""
        return sum(self.levels[level] for level in LEVELS)

    @property
    def satisfaction_rate(self) -> float | None:
        """Good ratings over rated ones."""
        rated = self.rated
        return round(sum(self.levels[g] for g in GOOD) / rated, 4) if rated else None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the API."""
        return {
            "group": self.group,
            "levels": {outcome: self.levels[outcome] for outcome in [*LEVELS, UNRATED]},
            "rated": self.rated,
            "bad": self.levels[RatingLevel.DISSATISFIED]
            + self.levels[RatingLevel.VERY_DISSATISFIED],
            "not_adopted": self.not_adopted,
            "satisfaction_rate": self.satisfaction_rate,
        }


def rating_summary(
    engine: Engine, config: HallConfig, first: date, last: date
) -> dict[str, list[dict[str, Any]]]:
    """Rating records of local days [first, last] by level: overall and per group."""
    start, end = day_bounds(config, first, last)
    with engine.connect() as conn:
        rows = conn.execute(
            select(rating_ledger).where(
                rating_ledger.c.hall == config.id,
                rating_ledger.c.recorded_at >= start,
                rating_ledger.c.recorded_at < end,
            )
        ).all()
    set_aside = {r.transaction_id for r in rows if r.kind == EntryKind.NOT_ADOPTED.value}
    groups: dict[str, dict[str, Tally]] = defaultdict(dict)
    names = {s.code: s.names["zh"] for s in config.services}
    clerks = {c.code: c.name for c in config.clerks}
    for row in rows:
        if row.kind != EntryKind.RATING.value:
            continue
        keys = {
            "hall": config.names.get("zh", config.id),
            "window": f"{row.window}",
            "clerk": clerks.get(row.clerk_code or "", row.clerk_code or "—"),
            "service": names.get(row.service_code, row.service_code),
        }
        for by, key in keys.items():
            tally = groups[by].setdefault(key, Tally(key, Counter()))
            if row.transaction_id in set_aside:
                tally.not_adopted += 1
            else:
                tally.levels[row.outcome] += 1
    return {by: [t.as_dict() for _, t in sorted(tallies.items())] for by, tallies in groups.items()}


def ledger_page(
    engine: Engine, config: HallConfig, first: date, last: date, *, bad_only: bool = False
) -> list[dict[str, Any]]:
    """Rating records of the period, newest first, with any review of them."""
    start, end = day_bounds(config, first, last)
    with engine.connect() as conn:
        rows = conn.execute(
            select(rating_ledger, transactions.c.ticket_label)
            .join(transactions, transactions.c.id == rating_ledger.c.transaction_id)
            .where(
                rating_ledger.c.hall == config.id,
                rating_ledger.c.recorded_at >= start,
                rating_ledger.c.recorded_at < end,
            )
            .order_by(rating_ledger.c.seq.desc())
        ).all()
    reviews = {r.transaction_id: r for r in rows if r.kind == EntryKind.NOT_ADOPTED.value}
    page = []
    for row in rows:
        if row.kind != EntryKind.RATING.value:
            continue
        bad = row.outcome in BAD
        if bad_only and not bad:
            continue
        review = reviews.get(row.transaction_id)
        page.append(
            {
                "seq": row.seq,
                "transaction_id": row.transaction_id,
                "ticket": row.ticket_label,
                "window": row.window,
                "clerk": row.clerk_code,
                "service": row.service_code,
                "outcome": row.outcome,
                "label": OUTCOME_LABELS.get(row.outcome, row.outcome),
                "bad": bad,
                "reason": row.reason,
                "note": row.note,
                "source": row.source,
                "recorded_at": row.recorded_at.isoformat(),
                "not_adopted": (
                    {"reason": review.reason, "by": review.reviewer, "approved_by": review.approver}
                    if review
                    else None
                ),
            }
        )
    return page


def case_page(engine: Engine, cases: list[BadRatingCase], today: date) -> list[dict[str, Any]]:
    """Cases with their next deadline and whether it is due today or overdue."""
    ids = [c.transaction_id for c in cases]
    with engine.connect() as conn:
        info = {
            r.id: r
            for r in conn.execute(
                select(
                    transactions.c.id,
                    transactions.c.ticket_label,
                    transactions.c.window,
                    transactions.c.clerk_code,
                    transactions.c.service_code,
                ).where(transactions.c.id.in_(ids))
            )
        }
    page = []
    for case in cases:
        due = case.due()
        tx = info.get(case.transaction_id)
        page.append(
            {
                "id": case.id,
                "transaction_id": case.transaction_id,
                "ticket": tx.ticket_label if tx else None,
                "window": tx.window if tx else None,
                "clerk": tx.clerk_code if tx else None,
                "service": tx.service_code if tx else None,
                "outcome": case.outcome,
                "label": OUTCOME_LABELS.get(case.outcome, case.outcome),
                "reason": case.reason,
                "state": case.state.value,
                "complexity": case.complexity.value,
                "opened_on": case.opened_on.isoformat(),
                "due": due.isoformat() if due else None,
                "due_today": due == today,
                "overdue": due is not None and due < today,
            }
        )
    return page


def case_counts(page: list[dict[str, Any]]) -> dict[str, int]:
    """Open, due today and overdue cases, for the page header."""
    open_cases = [c for c in page if c["state"] != CaseState.CLOSED.value]
    return {
        "open": len(open_cases),
        "due_today": sum(1 for c in open_cases if c["due_today"]),
        "overdue": sum(1 for c in open_cases if c["overdue"]),
    }


@dataclass(frozen=True)
class Proposal:
    """A proposal to set a rating aside as not adopted, and what became of it."""

    id: str
    transaction_id: str
    reason: str
    proposed_by: str
    proposed_at: datetime
    state: str
    decided_by: str | None
    ledger_seq: int | None


class ReviewDesk:
    """Proposals to mark a rating not adopted; a second manager decides."""

    def __init__(self, store: Store, hall: str) -> None:
        self.store = store
        self.hall = hall

    @property
    def engine(self) -> Engine:
        """The open store's engine."""
        return self.store.engine

    def proposals(self, *, proposal_id: str | None = None) -> list[Proposal]:
        """Every proposal (or the one with ``proposal_id``), newest first."""
        query = select(review_proposals).where(review_proposals.c.hall == self.hall)
        if proposal_id is not None:
            query = query.where(review_proposals.c.id == proposal_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(review_proposals.c.proposed_at.desc())).all()
        return [
            Proposal(
                r.id,
                r.transaction_id,
                r.reason,
                r.proposed_by,
                r.proposed_at,
                r.state,
                r.decided_by,
                r.ledger_seq,
            )
            for r in rows
        ]

    def propose(self, transaction_id: str, reason: str, by: str, now: datetime) -> Proposal:
        """Record a proposal; refused without a rating, or with one already pending or done."""
        reason = reason.strip()
        if not reason:
            raise ReviewError("say why the rating should not be adopted")
        with self.engine.begin() as conn:
            kinds = set(
                conn.execute(
                    select(rating_ledger.c.kind).where(
                        rating_ledger.c.hall == self.hall,
                        rating_ledger.c.transaction_id == transaction_id,
                    )
                ).scalars()
            )
            if EntryKind.RATING.value not in kinds:
                raise ReviewError(f"no rating recorded for {transaction_id}")
            if EntryKind.NOT_ADOPTED.value in kinds:
                raise ReviewError("this rating is already marked not adopted")
            pending = conn.execute(
                select(review_proposals.c.id).where(
                    review_proposals.c.transaction_id == transaction_id,
                    review_proposals.c.state == "proposed",
                )
            ).first()
            if pending is not None:
                raise ReviewError("a proposal for this rating is already waiting")
            proposal = Proposal(new_id(), transaction_id, reason, by, now, "proposed", None, None)
            conn.execute(
                insert(review_proposals).values(
                    id=proposal.id,
                    hall=self.hall,
                    transaction_id=transaction_id,
                    reason=reason,
                    proposed_by=by,
                    proposed_at=now,
                    state="proposed",
                )
            )
        return proposal

    def pending(self, proposal_id: str, decider: str) -> Proposal:
        """A proposal still waiting, that ``decider`` may decide (not its proposer)."""
        found = next((p for p in self.proposals(proposal_id=proposal_id)), None)
        if found is None:
            raise ReviewError(f"no proposal {proposal_id}")
        if found.state != "proposed":
            raise ReviewError(f"the proposal was already {found.state}")
        if found.proposed_by == decider:
            raise ReviewError("a second manager must decide; you proposed it")
        return found

    def decide(
        self, proposal: Proposal, decider: str, now: datetime, *, approved_seq: int | None
    ) -> None:
        """Close a proposal: approved (with its ledger entry) or rejected."""
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(review_proposals)
                .where(review_proposals.c.id == proposal.id, review_proposals.c.state == "proposed")
                .values(
                    state="approved" if approved_seq is not None else "rejected",
                    decided_by=decider,
                    decided_at=now,
                    ledger_seq=approved_seq,
                )
            ).rowcount
        if moved != 1:
            raise ReviewError("someone else decided this proposal meanwhile")
