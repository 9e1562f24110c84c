"""What gitjit concludes about a pull request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from engine.core.changes import Change
from engine.core.findings import Finding, Severity
from engine.core.models import Config, Grant, Login, PolicyId, Review

if TYPE_CHECKING:
    from engine.actions.model import ActionVerdict


class Outcome(StrEnum):
    APPROVED = "approved"
    PENDING = "pending"
    """Waits for approvals, or for a block (changes requested) to be lifted."""
    DENIED = "denied"
    """No approval can fix it: the pull request must change."""


class Kind(StrEnum):
    REQUEST = "request"
    RELINQUISH = "relinquish"
    HOUSEKEEPING = "housekeeping"
    REVOKE = "revoke"
    MODIFY = "modify"
    CONTROL_PLANE = "control-plane"
    MIXED = "mixed"
    EMPTY = "empty"
    INVALID = "invalid"
    """Touches grants/ with something that is not a valid grant change (bad path, symlink)."""
    ACTION = "action"
    """Adds one action request under actions/ and nothing else."""


@dataclass(frozen=True)
class GrantFile:
    """A grant file's bytes as read from git, and when it landed on the default branch.

    ``activated_at`` is the landing time; the grant's window starts then or at its ``start``,
    whichever is later (engine.core.lifecycle.window)."""

    path: str
    raw: bytes
    activated_at: datetime | None = None
    settled: bool = False
    """The trusted ledger says the grant is over: refused at activation, or ended (expired,
    relinquished, revoked, superseded). Deleting its file revokes nothing."""


@dataclass(frozen=True)
class PullRequest:
    """Everything the core needs to judge a pull request, gathered by the command."""

    author: Login
    head: str
    """The head commit SHA: only approvals given on it count."""
    changes: tuple[Change, ...]
    reviews: tuple[Review, ...] = ()
    pushers: frozenset[Login] = frozenset()
    """People who pushed or authored commits on the pull request: their approvals never count."""
    added: tuple[GrantFile, ...] = ()
    """Head blobs of added regular files under grants/."""
    deleted: tuple[GrantFile, ...] = ()
    """Base blobs of deleted files under grants/, with their activation times."""
    existing: tuple[GrantFile, ...] = ()
    """The author's grants on the base branch, for limits and 'extends'."""
    author_id: int | None = None
    """The author's numeric account id, where the forge reports one: checked against an id
    pinned for the requester in groups."""
    unattributed: tuple[str, ...] = ()
    """Commit identities the forge could tie to no account (Pushers.unattributed): each may be
    any approver, so each costs one more approval."""
    unlisted_commits: int = 0
    """Commits the forge would not list: whoever wrote them is unknown, so approvals are
    denied."""
    used: Mapping[str, str] = field(default_factory=dict)
    """Added grant paths that the base branch's history already touched, with such a commit:
    a grant id is used once."""
    origin: Config | None = None
    """Actions only: the configuration at the merge base, which the head was written
    against. What would run under it must be what runs under the base's, so approvals on
    the head cover exactly what runs; None where there is no history (policy tests)."""


@dataclass(frozen=True)
class Missing:
    """An approval step that is not met yet."""

    policy: PolicyId
    step: int
    """1-based index of the step in the policy's approvals."""
    needed: int
    """How many more approvals this step needs."""
    count: int
    """How many the step needs in all."""
    approvers: str
    """The step's principals as written, e.g. 'group:dba, user:zoe'."""
    eligible: tuple[Login, ...]
    """Who may still give them (not the requester, not pushers, not already counted)."""


@dataclass(frozen=True)
class Counted:
    """An approval that counted, and for which step."""

    reviewer: Login
    policy: PolicyId
    step: int
    commit: str
    submitted_at: datetime | None


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    kind: Kind
    findings: tuple[Finding, ...] = ()
    missing: tuple[Missing, ...] = ()
    counted: tuple[Counted, ...] = ()
    grant: Grant | None = None
    """The requested grant (requests only)."""
    deleted: tuple[Grant, ...] = ()
    """The grants a relinquish, housekeeping or revoke removes."""
    break_glass: bool = False
    auto_approved: bool = False
    review_by: datetime | None = None
    """Break-glass only: when the after-the-fact review is due (from `now`)."""
    notify: tuple[str, ...] = ()
    """Requests only: the notification channels the policy names."""
    action: ActionVerdict | None = None
    """Actions only: the request and exactly what will run."""

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)
