"""Which reviews count: folding per reviewer, then assigning approvers to approval steps."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from engine.core.models import Login, Review, ReviewState

DECISIVE = frozenset({ReviewState.APPROVED, ReviewState.CHANGES_REQUESTED, ReviewState.DISMISSED})
_EPOCH = datetime.min


def is_bot(review: Review) -> bool:
    return review.is_bot or review.reviewer.lower().endswith("[bot]")


def fold(reviews: Iterable[Review]) -> dict[Login, Review]:
    """Per reviewer, the latest APPROVED / CHANGES_REQUESTED / DISMISSED review.

    COMMENTED and PENDING reviews never change a reviewer's standing. Reviews are ordered by
    submission time, then by the forge's id, then by their order in the input (the forge lists
    them oldest first)."""
    latest: dict[Login, tuple[tuple[datetime, int, int], Review]] = {}
    for position, review in enumerate(reviews):
        if review.state not in DECISIVE:
            continue
        when = _EPOCH
        if review.submitted_at is not None:
            # Compare instants: dropping the offset of a non-UTC time would misorder it.
            when = review.submitted_at
            if when.tzinfo is not None:
                when = when.astimezone(UTC)
            when = when.replace(tzinfo=None)
        key = (when, review.id, position)
        who = Login(review.reviewer.lower())
        if who not in latest or latest[who][0] <= key:
            latest[who] = (key, review)
    return {who: review for who, (_, review) in latest.items()}


@dataclass(frozen=True)
class Assignment:
    per_step: tuple[tuple[Login, ...], ...]
    """Who counted for each step; one person counts in at most one step."""


def assign(approvers: Sequence[Login], steps: Sequence[tuple[frozenset[Login], int]]) -> Assignment:
    """Assign approvers to steps so that as many step slots as possible are filled.

    A bipartite matching between people and the step's slots (Kuhn's augmenting paths), so an
    approver who is eligible for two steps goes where they are needed. Deterministic: people
    are tried in sorted order."""
    slots = [index for index, (_, count) in enumerate(steps) for _ in range(count)]
    slot_owner: list[Login | None] = [None] * len(slots)

    def try_place(person: Login, seen: set[int]) -> bool:
        for slot, step in enumerate(slots):
            if slot in seen or person not in steps[step][0]:
                continue
            seen.add(slot)
            owner = slot_owner[slot]
            if owner is None or try_place(owner, seen):
                slot_owner[slot] = person
                return True
        return False

    for person in sorted(set(approvers)):
        try_place(person, set())
    per_step: list[list[Login]] = [[] for _ in steps]
    for slot, owner in enumerate(slot_owner):
        if owner is not None:
            per_step[slots[slot]].append(owner)
    return Assignment(tuple(tuple(sorted(people)) for people in per_step))
