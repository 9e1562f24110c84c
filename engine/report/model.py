"""The access review's data: what the signals read (``Facts``), their thresholds, and what they
find (``Signal``). Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from engine.core.audit import Lifecycle
from engine.core.ledger import Record
from engine.core.models import Config, ReviewState


class Level(StrEnum):
    """How urgent a finding is, in PIM's words."""

    HIGH = "high"
    """Needs action now: a policy was broken or access outlived its approval."""
    MEDIUM = "medium"
    """Needs a look: a pattern that often means a policy is being worked around."""
    LOW = "low"
    """Suggests a change: standing eligibility, habits worth a word."""


LEVEL_ORDER = {Level.HIGH: 0, Level.MEDIUM: 1, Level.LOW: 2}


@dataclass(frozen=True)
class Period:
    """The reviewed period: ``since`` included, ``until`` excluded."""

    since: datetime
    until: datetime

    def __contains__(self, when: object) -> bool:
        return isinstance(when, datetime) and self.since <= when < self.until


@dataclass(frozen=True)
class Thresholds:
    """When each signal speaks. Defaults follow PIM's alerts where PIM has one; every value
    can be set under ``report:`` in policies/settings.yaml (docs/audit.md)."""

    activations_count: int = 3
    """PIM's "roles are being activated too frequently": this many activations of one policy
    by one person ..."""
    activations_window: timedelta = timedelta(days=1)
    """... within this long."""
    unused_after: timedelta = timedelta(days=30)
    """PIM's "administrators aren't using their privileged roles": eligible for this long
    without a request (requesters) or an approval (approvers) of the policy."""
    fast_approval_within: timedelta = timedelta(seconds=60)
    """An approval given this soon after the reviewed commit was pushed is a fast one ..."""
    fast_approval_count: int = 3
    """... and an approver with at least this many fast ones ..."""
    fast_approval_share: int = 50
    """... making at least this percent of their approvals is a rubber stamp."""
    approve_all_reviews: int = 10
    """An approver with at least this many reviews in the period (forge data) ..."""
    approve_all_share: int = 95
    """... who approved at least this percent and never commented or requested changes."""
    reciprocal_min: int = 1
    """A pair where each approved at least this many of the other's grants."""
    ring_max: int = 4
    """Approval rings (A approves B, B approves C, C approves A) up to this many people."""
    unusual_history: int = 10
    """A person's activation is at an unusual hour only when they have at least this many
    earlier ones ..."""
    unusual_distance: timedelta = timedelta(hours=3)
    """... and none of them was this close to the time of day."""
    justification_reuse: int = 3
    """The same justification, word for word, on at least this many grants."""
    justification_short_percent: int = 40
    """A justification shorter than this percent of the policy's median length ..."""
    justification_baseline: int = 5
    """... where the policy has at least this many justifications to take the median of."""
    ticket_grants: int = 5
    """One ticket on at least this many grants ..."""
    ticket_people: int = 3
    """... or for at least this many people."""
    chain_grants: int = 4
    """A chain of ``extends`` of at least this many grants ..."""
    chain_span: timedelta = timedelta(days=1)
    """... or covering at least this long without a gap: standing access in instalments."""
    late_revocation_after: timedelta = timedelta(minutes=30)
    """Access that outlived its end by more than this before the target confirmed it."""


@dataclass(frozen=True)
class ForgeReview:
    """A formal review as the forge reports it, with whether it said anything."""

    reviewer: str
    state: ReviewState
    commit: str
    submitted_at: datetime | None
    commented: bool = False
    """The review has a body (a comment in its own right)."""


@dataclass(frozen=True)
class ForgePull:
    """A pull request into the default branch, from the forge."""

    number: int
    author: str
    state: str
    """'open', 'closed' (without merging) or 'merged'."""
    head_ref: str
    head_sha: str
    opened_at: datetime | None
    closed_at: datetime | None
    merged_at: datetime | None
    reviews: tuple[ForgeReview, ...] = ()
    title: str = ""


@dataclass(frozen=True)
class Recertification:
    """A recertification pull request (or, offline, its branch) not merged yet."""

    branch: str
    number: int | None
    """The pull request's number; None for a branch prepared offline without one."""
    owner: str
    opened_at: datetime | None


@dataclass(frozen=True)
class Facts:
    """Everything the signals and the charts read."""

    period: Period
    config: Config
    """The configuration at the tip of the default branch: who is eligible now."""
    lifecycles: tuple[Lifecycle, ...]
    """Every grant's lifecycle over the whole history (earlier ones are the baseline)."""
    records: tuple[Record, ...]
    """Every ledger record gitjit signed."""
    eligible_before: Config | None = None
    """The configuration as it stood ``unused_after`` before the period's end; None when the
    history does not reach back that far (then nobody's eligibility is old enough to judge)."""
    pushed_at: Mapping[str, datetime] = field(default_factory=dict)
    """Committer time of each reviewed commit this clone holds: when it was pushed."""
    pulls: tuple[ForgePull, ...] | None = None
    """Pull requests from the forge; None when no forge was given."""
    ledger_problems: tuple[str, ...] = ()
    """Why parts of the ledger are not believed (commits gitjit did not sign, unreadable
    records)."""
    recertifications: tuple[Recertification, ...] = ()
    policy: str | None = None
    """Only this policy (``--policy``); None for all."""
    derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False,
                                    compare=False)
    """What the signals and the charts work out from the fields above and read more than once
    (the activations in order, the approvals), kept here the first time: never given, never
    copied (``dataclasses.replace`` starts a new one)."""


@dataclass(frozen=True)
class Evidence:
    """What a finding rests on, for an auditor to look up."""

    grants: tuple[str, ...] = ()
    pull_requests: tuple[int, ...] = ()
    people: tuple[str, ...] = ()
    times: tuple[datetime, ...] = ()
    records: tuple[int, ...] = ()
    """Ledger record numbers (seq)."""
    notes: tuple[str, ...] = ()
    """One line each of detail: 'dave approved #12 after 8s'."""


@dataclass(frozen=True)
class Signal:
    """One finding of the review."""

    code: str
    """A stable code from ``engine.report.signals.SIGNALS``."""
    level: Level
    policy: str
    """The policy concerned, or "" for findings about people or the ledger."""
    subject: str
    """Who or what: a login, 'alice<->bob', a grant id, a ticket."""
    message: str
    evidence: Evidence = Evidence()

    def key(self) -> tuple[int, str, str, str]:
        return (LEVEL_ORDER[self.level], self.code, self.policy, self.subject)


@dataclass(frozen=True)
class Unused:
    """One eligibility nobody used in ``unused_after``: what recertification removes."""

    login: str
    policy: str
    role: str
    """'requester' or 'approver'."""
    via: str
    """The principal that makes them eligible: 'user:erin' or 'group:dba'."""
