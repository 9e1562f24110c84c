"""Re-judging a merge from forge data: merge alone is never trusted.

Used by activation (a newly merged grant), by reconcile's check of what a deletion was (a
relinquish or revoke that would have been approved, or not), and by reconcile's sweep (is an
assignment the ledger does not know provably live?). The pull request is judged with exactly
the code `gitjit check-pr` uses, against the configuration of the merge's first parent, with
only the reviews submitted at or before the merge: an approval given after the fact (GitHub
accepts reviews on merged pull requests) never counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.adapters.git import CommitStamp
from engine.commands.verdict import Verdict, judge
from engine.core.decision import Decision, Kind, Outcome
from engine.core.findings import Finding
from engine.core.forge import PullRequestInfo
from engine.core.grants import file_finding
from engine.core.ledger import MAX_DEFERRALS
from engine.core.models import Grant, Policy, Review
from engine.errors import GitjitError
from engine.lifecycle.context import Lifecycle


class Refusal(Exception):
    """Re-verification failed: the grant is never applied."""

    def __init__(self, reason: str, pull_request: PullRequestInfo | None = None,
                 merge_sha: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pull_request = pull_request
        self.merge_sha = merge_sha


class Unverifiable(Exception):
    """The forge or the pull request's head could not be read this time: try again later
    (a bounded number of times)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Verified:
    """A merged grant that passed re-verification."""

    grant: Grant
    policy: Policy
    pull_request: PullRequestInfo
    merge: CommitStamp
    first_parent: str
    merged_at: datetime
    verdict: Verdict


@dataclass(frozen=True)
class Judged:
    """A merged pull request judged again, as of its merge."""

    pull_request: PullRequestInfo
    first_parent: str
    merged_at: datetime
    verdict: Verdict


def landing_pull_request(life: Lifecycle, sha: str) -> PullRequestInfo | None:
    """The merged pull request whose merge commit is ``sha``; Unverifiable if the forge
    cannot say."""
    try:
        return life.forge.pull_request_for_commit(sha)
    except GitjitError as exc:
        raise Unverifiable(f"the forge could not say which pull request landed "
                           f"{sha[:12]}: {exc}") from exc


def judge_merge(life: Lifecycle, pr: PullRequestInfo, merge: CommitStamp) -> Judged:
    """The pull request's verdict as of its merge: the configuration of the merge's first
    parent, the reviews submitted at or before ``merged_at``, who pushed."""
    first_parent = life.repo.resolve(f"{merge.sha}^1")
    merged_at = pr.merged_at or merge.time
    _ensure_head(life, pr)
    try:
        reviews = [r for r in life.forge.reviews(pr.number) if _before(r, merged_at)]
        pushers = life.forge.pushers(pr.number)
    except GitjitError as exc:
        raise Unverifiable(f"the forge could not list pull request #{pr.number}'s reviews "
                           f"and pushes: {exc}") from exc
    # Teams are looked up where the forge can (GitHub); offline they stay unresolved and a
    # grant that needs one is refused.
    verdict = judge(life.repo, first_parent, pr.head_sha, pr.author, reviews, pushers,
                    merged_at, teams=getattr(life.forge, "team_members", None))
    return Judged(pr, first_parent, merged_at, verdict)


def _before(review: Review, merged_at: datetime) -> bool:
    # A review without a time cannot be placed before the merge: it does not count.
    return review.submitted_at is not None and review.submitted_at <= merged_at


def _ensure_head(life: Lifecycle, pr: PullRequestInfo) -> None:
    """The head commit's objects, fetched from the pull request's own ref when the clone
    lacks them (a squash merge whose branch was deleted)."""
    if life.repo.object_types([pr.head_sha]).get(pr.head_sha) == "commit":
        return
    if life.remote is not None:
        life.remote.fetch_pull_head(pr.number)
        if life.repo.object_types([pr.head_sha]).get(pr.head_sha) == "commit":
            return
    raise Unverifiable(f"the head commit {pr.head_sha[:12]} of pull request #{pr.number} "
                       "cannot be read (neither in the clone nor through refs/pull/"
                       f"{pr.number}/head)")


def verify_merged(life: Lifecycle, path: str, mode: str, stamp: CommitStamp | None) -> Verified:
    """Re-verify the grant file at ``path`` that landed in ``stamp``; Refusal or
    Unverifiable when it cannot be activated (now)."""
    pr, first_parent = landed_alone(life, path, file_finding(path, mode), stamp)
    assert stamp is not None  # landed_alone refuses a file no commit brought
    judged = judge_merge(life, pr, stamp)
    decision = judged.verdict.decision
    if decision.outcome is not Outcome.APPROVED or decision.kind is not Kind.REQUEST \
            or decision.grant is None or decision.grant.path != path:
        raise Refusal(why(decision), pr, stamp.sha)
    config = judged.verdict.config.result.config
    assert config is not None  # an approved request was judged by a working configuration
    policy = config.policies[decision.grant.policy]
    return Verified(decision.grant, policy, pr, stamp, first_parent, judged.merged_at,
                    judged.verdict)


def landed_alone(life: Lifecycle, path: str, unusable: Finding | None,
                 stamp: CommitStamp | None) -> tuple[PullRequestInfo, str]:
    """The merged pull request that brought ``path`` (a grant or an action request) to the
    default branch in ``stamp``, and the merge's first parent. Refusal for a file that was
    pushed past gitjit's check (``unusable``), one that no commit or a direct push brought,
    and a merge that brings anything else or other content than the reviewed head."""
    if unusable is not None:
        raise Refusal(f"{unusable.message}; it was pushed without passing gitjit's check")
    if stamp is None:
        raise Refusal("no commit on the default branch's first-parent line adds it")
    pr = landing_pull_request(life, stamp.sha)
    if pr is None:
        raise Refusal(f"landed in {stamp.sha[:12]} without a pull request (a direct push)",
                      merge_sha=stamp.sha)
    _ensure_head(life, pr)
    first_parent = life.repo.resolve(f"{stamp.sha}^1")
    others = [c.path for c in life.repo.changes(first_parent, stamp.sha) if c.path != path]
    if others:
        raise Refusal(f"the merge {stamp.sha[:12]} also changes {', '.join(others[:3])}", pr,
                      stamp.sha)
    landed = {e.path: e.blob for e in life.repo.tree(stamp.sha).entries(path)}
    reviewed = {e.path: e.blob for e in life.repo.tree(pr.head_sha).entries(path)}
    if landed.get(path) is None or landed.get(path) != reviewed.get(path):
        raise Refusal(f"the file that landed differs from the one in pull request #{pr.number}'s"
                      f" head {pr.head_sha[:12]}", pr, stamp.sha)
    return pr, first_parent


def attempt_after(failure: Unverifiable, earlier: int) -> int:
    """The number of this attempt to verify, after ``earlier`` deferred ones; Refusal once
    MAX_DEFERRALS attempts could not verify (a forge that never answers does not keep a
    merged grant or action waiting for ever)."""
    attempt = earlier + 1
    if attempt >= MAX_DEFERRALS:
        raise Refusal(f"it could not be verified in {attempt} attempts; the last said: "
                      f"{failure.reason}") from failure
    return attempt


def why(decision: Decision) -> str:
    reasons = [f.message for f in decision.findings if f.severity.value != "notice"]
    return (f"merged while the verdict was {decision.outcome.value}: "
            + "; ".join(reasons[:3]) if reasons else f"verdict {decision.outcome.value}")
