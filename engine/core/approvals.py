"""Whether the reviews on a pull request meet a policy's approval steps (DESIGN.md section 4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations

from engine.core.decision import Counted, Missing, Outcome, PullRequest
from engine.core.findings import Finding, Severity
from engine.core.models import Groups, Login, Policy, Review, ReviewState
from engine.core.principals import Expansion, describe, expand, unresolved
from engine.core.reviews import assign, fold, is_bot
from engine.core.values import format_duration

MAX_UNATTRIBUTED = 3
"""More commit identities linked to no account than this deny instead of costing one more
approval each: checking every way the approvers could hide among them grows too fast, and no
honest pull request needs it."""


@dataclass(frozen=True)
class ApprovalResult:
    outcome: Outcome
    findings: tuple[Finding, ...]
    missing: tuple[Missing, ...]
    counted: tuple[Counted, ...]
    blocked: bool


def evaluate(policy: Policy, groups: Groups, pr: PullRequest, where: str,
             now: datetime) -> ApprovalResult:
    """Fold the reviews, keep the ones that count, and match them to the policy's steps.

    ``where`` is the file findings point at (the grant); ``now`` is when the approvals must
    still be young enough (the evaluation, or the merge at activation). Fails closed: an
    unknown group, a team not looked up, no step, a step that cannot be met by people other
    than the author, or commits nobody can be tied to all deny or cost approvals."""
    steps = [expand(step.approvers, groups) for step in policy.approvals]
    denial = _structural_denial(policy, steps, pr) or _commits_denial(pr, where)
    if denial is not None:
        return ApprovalResult(Outcome.DENIED, (denial,), (), (), blocked=False)

    eligible_any = frozenset().union(*(step.logins for step in steps))
    notes: list[Finding] = []
    valid: list[Login] = []
    blocked = False

    def note(code: str, message: str, severity: Severity = Severity.NOTICE) -> None:
        notes.append(Finding(where, 0, code, message, severity))

    for reviewer, review in sorted(fold(pr.reviews).items()):
        verb = "approval" if review.state is ReviewState.APPROVED else "request for changes"
        if review.state is ReviewState.DISMISSED:
            continue
        if is_bot(review):
            note("approval.bot", f"{verb} by {review.reviewer} ignored: reviews by bots never "
                 "count")
        elif reviewer == pr.author:
            note("approval.self", f"{verb} by {reviewer} ignored: the requester's own review "
                 "never counts")
        elif reviewer not in eligible_any:
            note("approval.not-eligible", f"{verb} by {reviewer} ignored: not an approver of "
                 f"policy {policy.id!r}")
        elif (impostor := _impostor(review, groups)) is not None:
            note("identity.reviewer-id", f"{verb} by {reviewer} ignored: GitHub says account "
                 f"id {review.reviewer_id}, but {groups.path} pins {reviewer} to id "
                 f"{impostor}; the login was renamed or re-registered", Severity.WARNING)
        elif review.state is ReviewState.CHANGES_REQUESTED:
            blocked = True
            note("approval.changes-requested", f"{reviewer} requested changes; the request "
                 "waits until they approve or the review is dismissed", Severity.WARNING)
        elif reviewer in pr.pushers:
            note("approval.pusher", f"approval by {reviewer} ignored: they pushed or authored "
                 "commits on this pull request")
        elif review.commit != pr.head:
            note("approval.stale", f"approval by {reviewer} ignored: given on commit "
                 f"{review.commit[:12]}, not on the head {pr.head[:12]}; ask them to approve "
                 "again")
        elif review.can_write is False:
            note("approval.no-write-access", f"approval by {reviewer} ignored: they have no "
                 "write access to the repository (anyone may review a public repository)")
        elif (age := _too_old(review, policy, now)) is not None:
            note("approval.expired", f"approval by {reviewer} ignored: {age}; the policy "
                 f"counts approvals for {format_duration(policy.approval_max_age)} "
                 "(approval_max_age); ask them to approve again", Severity.WARNING)
        else:
            valid.append(reviewer)

    capacities = [(step.logins, rule.count)
                  for step, rule in zip(steps, policy.approvals, strict=True)]
    assignment = assign(valid, capacities)
    counted: list[Counted] = []
    missing: list[Missing] = []
    latest = fold(pr.reviews)
    unavailable = {pr.author, *pr.pushers, *valid}
    for index, (people, rule) in enumerate(zip(assignment.per_step, policy.approvals, strict=True)):
        counted += [Counted(person, policy.id, index + 1, latest[person].commit,
                            latest[person].submitted_at) for person in people]
        if len(people) < rule.count:
            eligible = tuple(sorted(steps[index].logins - unavailable))
            missing.append(Missing(policy.id, index + 1, rule.count - len(people), rule.count,
                                   describe(rule.approvers), eligible))
            note("approval.missing", f"step {index + 1} ({describe(rule.approvers)}) needs "
                 f"{_more(rule.count - len(people))} of {rule.count}"
                 + (f"; eligible: {', '.join(eligible)}" if eligible else
                    "; no eligible approver is left who did not push to this pull request"),
                 Severity.WARNING)
    hidden = False
    if pr.unattributed:
        # Said while steps are still missing too, so nobody is surprised when they are met.
        hidden = bool(missing) or not _robust(valid, capacities, len(pr.unattributed))
        if hidden:
            note("approval.unattributed", f"{len(pr.unattributed)} commit identit"
                 f"{'y is' if len(pr.unattributed) == 1 else 'ies are'} linked to no GitHub "
                 f"account ({', '.join(pr.unattributed)}), so any approver may have written "
                 f"those commits: the request needs {_more(len(pr.unattributed))} "
                 "from the policy's approvers, so that the steps are still met whoever they "
                 "are; or re-push the commits under an e-mail address linked to the author's "
                 "account", Severity.WARNING)
    outcome = Outcome.PENDING if blocked or missing or hidden else Outcome.APPROVED
    return ApprovalResult(outcome, tuple(notes), tuple(missing), tuple(counted), blocked)


def _impostor(review: Review, groups: Groups) -> int | None:
    """The id pinned for the reviewer's login when the forge reports another account."""
    pinned = groups.ids.get(Login(review.reviewer.lower()))
    if pinned is None or review.reviewer_id is None or review.reviewer_id == pinned:
        return None
    return pinned


def _too_old(review: Review, policy: Policy, now: datetime) -> str | None:
    """Why the approval is too old to count at ``now``, or None while it counts."""
    if review.submitted_at is None:
        return "the forge does not say when it was given"
    age = now - review.submitted_at
    if age <= policy.approval_max_age:
        return None
    # Whole minutes read best; the age is above the maximum, a positive duration.
    shown = timedelta(minutes=age // timedelta(minutes=1)) or timedelta(seconds=age.seconds)
    return f"given {format_duration(shown)} ago ({review.submitted_at:%Y-%m-%d %H:%M} UTC)"


def _robust(valid: list[Login], steps: list[tuple[frozenset[Login], int]], hidden: int) -> bool:
    """Whether the steps are still met if any ``hidden`` of the counted approvers wrote the
    unattributed commits (and so may not count)."""
    needed = sum(count for _, count in steps)
    people = sorted(set(valid))
    for suspects in combinations(people, min(hidden, len(people))):
        rest = [p for p in people if p not in suspects]
        if sum(map(len, assign(rest, steps).per_step)) < needed:
            return False
    return True


def _commits_denial(pr: PullRequest, where: str) -> Finding | None:
    """Commits whose authors cannot be known at all deny: no number of approvals clears them."""
    if pr.unlisted_commits:
        return Finding(where, 0, "pr.too-many-commits", f"{pr.unlisted_commits} commit(s) of "
                       "this pull request are beyond what GitHub's API lists (250), so gitjit "
                       "cannot tell who wrote them and no approval can count; squash the "
                       "commits and push again")
    if len(pr.unattributed) > MAX_UNATTRIBUTED:
        return Finding(where, 0, "approval.unattributed", f"{len(pr.unattributed)} commit "
                       "identities are linked to no GitHub account "
                       f"({', '.join(pr.unattributed[:MAX_UNATTRIBUTED])}, ...), more than "
                       f"{MAX_UNATTRIBUTED}; re-push the commits under e-mail addresses linked "
                       "to their authors' accounts")
    return None


def _structural_denial(policy: Policy, steps: list[Expansion], pr: PullRequest) -> Finding | None:
    """Denials that no review can fix: unknown groups and teams, no steps, unreachable counts."""
    author = pr.author
    where = policy.path
    if not policy.approvals:
        return Finding(where, policy.lines.get("approvals", 0) or 1, "approval.no-approvers",
                       f"policy {policy.id!r} has no approval step, so this request cannot be "
                       "approved by review")
    for index, (step, rule) in enumerate(zip(steps, policy.approvals, strict=True)):
        # Any unresolved team denies, even if others could fill the step: a team member's
        # request for changes would otherwise go unseen.
        gap = unresolved(step)
        if gap is not None:
            return Finding(where, policy.lines.get("approvals", 1), gap[0],
                           f"approval step {index + 1} names {gap[1]}")
        others = step.logins - {author}
        if len(others) < rule.count:
            return Finding(where, policy.lines.get("approvals", 1), "approval.no-approvers",
                           f"approval step {index + 1} needs {rule.count} approver(s) other "
                           f"than {author}, but only {len(others)} exist(s) "
                           f"({describe(rule.approvers)})")
    return None


def _more(count: int) -> str:
    return f"{count} more approval" + ("" if count == 1 else "s")
