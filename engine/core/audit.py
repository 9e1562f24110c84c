"""Every grant's lifecycle, assembled from a clone alone: history, ledger and trailers.

The command reads three things from git and hands them here: the first-parent history of
files under grants/ on the default branch (when each landed and left, and the grant as it was
added), the ledger's records, and the removal commits' trailers. Nothing comes from a forge:
who approved, and when, is what the activated record says.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from engine.core.grants import grant_id, parse_path
from engine.core.ledger import CountedReview, Event, Record, revocation_latency
from engine.core.models import Grant, GrantId
from engine.core.trailers import Removal, RemovalKind


class Ending(StrEnum):
    EXPIRED = "expired"
    RELINQUISHED = "relinquished"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"
    """Ended early because a grant that extends it was activated."""
    REFUSED = "refused"
    REMOVED = "removed"
    """The file left the default branch and neither the ledger nor a trailer says why."""


_ENDING_EVENTS = {Event.EXPIRED: Ending.EXPIRED, Event.RELINQUISHED: Ending.RELINQUISHED,
                  Event.REVOKED: Ending.REVOKED, Event.SUPERSEDED: Ending.SUPERSEDED}


@dataclass(frozen=True)
class GrantHistory:
    """One file under grants/ on the default branch's first-parent line."""

    path: str
    grant: Grant | None
    """The grant as the commit that added it holds it; None when it is not a valid grant."""
    added_commit: str
    added_at: datetime
    """Committer time of the first-parent commit that added it: when it landed."""
    deleted_commit: str | None = None
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class RemovalCommit:
    """A first-parent commit of the default branch, signed by gitjit, whose trailers name
    removed grants. A trailer names a grant's removal only if this commit deleted its file."""

    sha: str
    at: datetime
    """Its committer time."""
    removals: tuple[Removal, ...]


@dataclass(frozen=True)
class Ended:
    how: Ending
    at: datetime
    detail: str = ""
    latency: timedelta | None = None
    """How long the access outlived its end before the target confirmed the removal (zero
    where the target's own schedule ended it); None where the record does not say."""


@dataclass(frozen=True)
class RemovalInfo:
    commit: str
    at: datetime
    expired_at: datetime | None = None
    """From the Gitjit-Removed trailer, when there is one."""
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class Alert:
    at: datetime
    detail: str
    code: str = ""


@dataclass(frozen=True)
class Lifecycle:
    grant_id: GrantId
    path: str
    policy: str
    requester: str
    grant: Grant | None
    """What was requested: duration, justification, ticket ... None if never readable."""
    landed_commit: str | None
    landed_at: datetime | None
    activation: Record | None
    """The activated record: pull request, commits, counted reviews, window, enforcer."""
    refusal: Record | None
    ended: Ended | None
    """None while the grant has not ended (or its end is not recorded yet)."""
    removal: RemovalInfo | None
    alerts: tuple[Alert, ...]
    records: tuple[int, ...]
    """The seq of every ledger record about the grant, in order."""

    @property
    def pull_request(self) -> int | None:
        for record in (self.activation, self.refusal):
            if record is not None and record.pull_request is not None:
                return record.pull_request
        return None

    @property
    def approvals(self) -> tuple[CountedReview, ...]:
        return self.activation.reviews if self.activation else ()

    @property
    def break_glass(self) -> bool:
        return self.activation.break_glass if self.activation else False

    @property
    def review_by(self) -> datetime | None:
        return self.activation.review_by if self.activation else None

    def times(self) -> list[datetime]:
        """Every time something happened to the grant, for --since."""
        found = [self.landed_at]
        found += [review.submitted_at for review in self.approvals]
        for record in (self.activation, self.refusal):
            if record is not None:
                found += [record.at, record.activated_at]
        found += [alert.at for alert in self.alerts]
        found += [self.ended.at if self.ended else None,
                  self.removal.at if self.removal else None]
        return sorted(t for t in found if t is not None)


def build_lifecycles(
    histories: Iterable[GrantHistory],
    records: Iterable[Record],
    removals: Iterable[RemovalCommit],
) -> list[Lifecycle]:
    """One lifecycle per grant the history or the ledger knows, oldest first."""
    by_grant: dict[GrantId, list[Record]] = {}
    for record in sorted(records, key=lambda r: r.seq):
        by_grant.setdefault(record.grant_id, []).append(record)
    trailers: dict[GrantId, tuple[RemovalCommit, Removal]] = {}
    # Oldest first, so the newest commit naming a grant is the one kept.
    for commit in sorted(removals, key=lambda c: c.at):
        for removal in commit.removals:
            trailers[removal.grant_id] = (commit, removal)
    history: dict[GrantId, GrantHistory] = {}
    for item in histories:
        history.setdefault(grant_id(item.path), item)
    ids = set(history) | set(by_grant)
    lifecycles = [
        _lifecycle(gid, history.get(gid), by_grant.get(gid, []), trailers.get(gid))
        for gid in ids
    ]
    return sorted(lifecycles, key=_order)


def _order(lifecycle: Lifecycle) -> tuple[datetime | str, ...]:
    times = lifecycle.times()
    # A lifecycle with no time at all (impossible for a valid record) sorts by id only.
    return (times[0], lifecycle.grant_id) if times else (lifecycle.grant_id,)


def _lifecycle(
    gid: GrantId,
    history: GrantHistory | None,
    records: Sequence[Record],
    trailer: tuple[RemovalCommit, Removal] | None,
) -> Lifecycle:
    path = history.path if history else f"grants/{gid}.yaml"
    grant = history.grant if history else None
    activation = next((r for r in records if r.event is Event.ACTIVATED), None)
    refusal = next((r for r in records if r.event is Event.REFUSED), None)
    parts = parse_path(path)
    named = [r for r in records if r.requester]
    requester = (grant.requester if grant else named[0].requester if named
                 else parts.requester if parts else "")
    with_policy = [r for r in records if r.policy]
    policy = (grant.policy if grant else with_policy[0].policy if with_policy
              else parts.policy if parts else "")
    if trailer is not None and (history is None or history.deleted_commit != trailer[0].sha):
        trailer = None  # a trailer counts only on the commit that deleted the file
    removal = None
    if trailer is not None:
        commit, named_removal = trailer
        removal = RemovalInfo(commit.sha, commit.at, named_removal.expired_at,
                              named_removal.revoked_at)
    elif history is not None and history.deleted_commit and history.deleted_at:
        removal = RemovalInfo(history.deleted_commit, history.deleted_at)
    return Lifecycle(
        grant_id=gid,
        path=path,
        policy=policy,
        requester=requester,
        grant=grant,
        landed_commit=history.added_commit if history else None,
        landed_at=history.added_at if history else None,
        activation=activation,
        refusal=refusal,
        ended=_ended(records, refusal, trailer, history),
        removal=removal,
        alerts=tuple(Alert(r.at, r.detail, r.code) for r in records
                     if r.event is Event.ALERT),
        records=tuple(r.seq for r in records),
    )


def _ended(
    records: Sequence[Record],
    refusal: Record | None,
    trailer: tuple[RemovalCommit, Removal] | None,
    history: GrantHistory | None,
) -> Ended | None:
    # The ledger knows best; a trailer, then the deletion itself, stand in where it is silent.
    endings = [r for r in records if r.event in _ENDING_EVENTS]
    if endings:
        last = endings[-1]
        return Ended(_ENDING_EVENTS[last.event], last.at, last.detail,
                     revocation_latency(last))
    if refusal is not None:
        return Ended(Ending.REFUSED, refusal.at, refusal.detail)
    if trailer is not None:
        commit, removal = trailer
        if removal.kind is RemovalKind.EXPIRED and removal.revoked_at is not None:
            return Ended(Ending.EXPIRED, removal.revoked_at)
        return Ended(Ending.REFUSED, commit.at)
    if history is not None and history.deleted_at is not None:
        return Ended(Ending.REMOVED, history.deleted_at)
    return None


def since(lifecycles: Iterable[Lifecycle], start: datetime) -> list[Lifecycle]:
    """The lifecycles with any event at or after ``start``."""
    return [item for item in lifecycles if any(t >= start for t in item.times())]
