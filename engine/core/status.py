"""Where every grant on the default branch stands at ``now``: what ``gitjit status`` shows.

The ledger's verdict comes first: an activated record gives the window and who enforces the
expiry, a refused record means the file waits for its removal. A grant with no verdict yet
waits for activation; its window is computed from its landing time, as activation will.
Expiry is a fact of time: from ``expires_at`` on a grant counts as expired whether or not
reconcile has run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from engine.core.grants import grant_id, parse_path
from engine.core.ledger import (
    END_EVENTS,
    VERDICT_EVENTS,
    Event,
    ExpiryEnforcer,
    Latency,
    Record,
)
from engine.core.lifecycle import State, Window, window
from engine.core.models import Grant, GrantId

if TYPE_CHECKING:
    from engine.actions.report import ActionStory


class GrantState(StrEnum):
    SCHEDULED = "scheduled"
    """Activated by gitjit, but its start is still ahead."""
    ACTIVE = "active"
    EXPIRED = "expired-awaiting-removal"
    """Past its expiry; the removal commit has not landed yet."""
    AWAITING_ACTIVATION = "awaiting-activation"
    """On the default branch, but the ledger holds no verdict on it yet."""
    REFUSED = "refused-awaiting-removal"
    """Failed re-verification, never activated; the removal commit has not landed yet."""
    ENDED = "ended-awaiting-removal"
    """Its access ended before its expiry (superseded by a grant that extends it, or revoked
    because its record disagreed with the branch); the removal has not landed yet."""


SUMMARY_ORDER = (
    (GrantState.ACTIVE, "active"),
    (GrantState.SCHEDULED, "scheduled"),
    (GrantState.EXPIRED, "expired awaiting removal"),
    (GrantState.AWAITING_ACTIVATION, "awaiting activation"),
    (GrantState.REFUSED, "refused awaiting removal"),
    (GrantState.ENDED, "ended awaiting removal"),
)


@dataclass(frozen=True)
class GrantFile:
    """A file under grants/ at the tip of the default branch, as the command read it."""

    path: str
    grant: Grant | None
    """The grant, or None when the file cannot be read as one (the ledger may say more)."""
    landed_at: datetime | None
    """When it landed on the default branch (first-parent commit time); None if unknown."""


@dataclass(frozen=True)
class GrantStatus:
    grant_id: GrantId
    path: str
    requester: str
    """Lower-cased login; "" when neither the file nor the ledger names one."""
    policy: str
    state: GrantState
    landed_at: datetime | None
    activated_at: datetime | None
    """From the activated record; for a grant awaiting activation, when it would start."""
    expires_at: datetime | None
    remaining: timedelta | None
    """Time left for an active grant; None in every other state."""
    expiry_enforced_by: ExpiryEnforcer | None
    pull_request: int | None
    detail: str
    """Why a grant was refused, or how it ended early; "" otherwise."""
    break_glass: bool = False
    review_by: datetime | None = None
    """For a break-glass grant: by when its use must be reviewed."""


@dataclass(frozen=True)
class StatusReport:
    branch: str
    now: datetime
    ledger_ref: str | None
    """The ref the records were read from; None when the clone has no ledger."""
    grants: tuple[GrantStatus, ...]
    untrusted: tuple[str, ...] = ()
    """What the ledger holds that gitjit did not write (ignored here, but worth saying)."""
    latency: Latency | None = None
    """Revocation latency over every recorded end (median, worst)."""
    actions: tuple[ActionStory, ...] = ()
    """Every action on the branch (or in the ledger), beside the grants."""

    def count(self, state: GrantState) -> int:
        return sum(1 for g in self.grants if g.state is state)

    def summary(self) -> str:
        """The stable last line: '2 active, 1 scheduled, 0 expired awaiting removal, ...'."""
        return ", ".join(f"{self.count(state)} {label}" for state, label in SUMMARY_ORDER)


_BY_TIME = {State.SCHEDULED: GrantState.SCHEDULED, State.ACTIVE: GrantState.ACTIVE,
            State.EXPIRED: GrantState.EXPIRED}


def verdicts(records: Iterable[Record]) -> dict[GrantId, Record]:
    """The latest activated or refused record of each grant."""
    found: dict[GrantId, Record] = {}
    for record in sorted(records, key=lambda r: r.seq):
        if record.event in VERDICT_EVENTS:
            found[record.grant_id] = record
    return found


def grant_status(file: GrantFile, verdict: Record | None, now: datetime,
                 ended: Record | None = None) -> GrantStatus:
    gid = grant_id(file.path)
    grant = file.grant
    parts = parse_path(file.path)
    requester = grant.requester if grant else parts.requester if parts else ""
    policy = grant.policy if grant else parts.policy if parts else ""
    activated_at = expires_at = None
    enforcer = None
    detail = ""
    if verdict is not None and verdict.event is Event.ACTIVATED:
        # The record is the source of truth: it holds the window activation applied.
        activated_at, expires_at = verdict.activated_at, verdict.expires_at
        enforcer = verdict.expiry_enforced_by
        assert activated_at is not None and expires_at is not None  # Record guarantees it
        state = _BY_TIME[Window(activated_at, expires_at).state(now)]
        if ended is not None and ended.event is not Event.EXPIRED and ended.at < expires_at:
            state = GrantState.ENDED if now >= ended.at else state
            detail = f"{ended.event}: {ended.detail}" if now >= ended.at else ""
    elif verdict is not None:
        state = GrantState.REFUSED
        detail = verdict.detail
    else:
        state = GrantState.AWAITING_ACTIVATION
        if grant is not None and file.landed_at is not None:
            expected = window(grant, file.landed_at)
            activated_at, expires_at = expected.activated_at, expected.expires_at
    remaining = expires_at - now if state is GrantState.ACTIVE and expires_at else None
    return GrantStatus(
        grant_id=gid,
        path=file.path,
        requester=verdict.requester if verdict and verdict.requester else requester,
        policy=verdict.policy if verdict and verdict.policy else policy,
        state=state,
        landed_at=file.landed_at,
        activated_at=activated_at,
        expires_at=expires_at,
        remaining=remaining,
        expiry_enforced_by=enforcer,
        pull_request=verdict.pull_request if verdict else None,
        detail=detail,
        break_glass=bool(verdict and verdict.break_glass),
        review_by=verdict.review_by if verdict else None,
    )


def build_status(
    branch: str,
    files: Sequence[GrantFile],
    records: Iterable[Record],
    now: datetime,
    ledger_ref: str | None,
    untrusted: Sequence[str] = (),
) -> StatusReport:
    """Every grant file's status at ``now``, sorted by grant id."""
    records = list(records)
    latest: Mapping[GrantId, Record] = verdicts(records)
    ends = {r.grant_id: r for r in sorted(records, key=lambda r: r.seq)
            if r.event in END_EVENTS}
    rows = [grant_status(f, latest.get(grant_id(f.path)), now, ends.get(grant_id(f.path)))
            for f in files]
    return StatusReport(branch, now, ledger_ref, tuple(sorted(rows, key=lambda r: r.grant_id)),
                        tuple(untrusted))
