"""Whether the reviews on a pull request meet a policy's approval steps (DESIGN.md section 4)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.decision import Counted, Missing, Outcome, PullRequest
from engine.core.findings import Finding, Severity
from engine.core.models import Groups, Login, Policy, ReviewState
from engine.core.principals import Expansion, describe, expand, unresolved
from engine.core.reviews import assign, fold, is_bot


@dataclass(frozen=True)
class ApprovalResult:
    outcome: Outcome
    findings: tuple[Finding, ...]
    missing: tuple[Missing, ...]
    counted: tuple[Counted, ...]
    blocked: bool


def evaluate(policy: Policy, groups: Groups, pr: PullRequest, where: str) -> ApprovalResult:
    """Fold the reviews, keep the ones that count, and match them to the policy's steps.

    ``where`` is the file findings point at (the grant). Fails closed: an unknown group, a
    team not looked up, no step, or a step that cannot be met by people other than the author
    all deny."""
    steps = [expand(step.approvers, groups) for step in policy.approvals]
    denial = _structural_denial(policy, steps, pr.author)
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
                 f"{rule.count - len(people)} more approval(s) of {rule.count}"
                 + (f"; eligible: {', '.join(eligible)}" if eligible else
                    "; no eligible approver is left who did not push to this pull request"),
                 Severity.WARNING)
    outcome = Outcome.PENDING if blocked or missing else Outcome.APPROVED
    return ApprovalResult(outcome, tuple(notes), tuple(missing), tuple(counted), blocked)


def _structural_denial(policy: Policy, steps: list[Expansion], author: Login) -> Finding | None:
    """Denials that no review can fix: unknown groups and teams, no steps, unreachable counts."""
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
