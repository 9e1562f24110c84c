"""The signals of an access review: pure functions from ``Facts`` to findings.

Each signal looks at the period (``Facts.period``) and uses the history before it only as a
baseline (a person's usual hours, a policy's usual justification). Every finding names its
evidence: grants, pull requests, people, times and ledger records.
"""

from __future__ import annotations

import bisect
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from engine.core.audit import Lifecycle
from engine.core.decide import describe_hours, within
from engine.core.ledger import Event, Record
from engine.core.models import Config, Policy, PolicyId, Principal, ReviewState
from engine.core.principals import expand
from engine.report.model import (
    Evidence,
    Facts,
    ForgePull,
    Level,
    Signal,
    Thresholds,
    Unused,
)


@dataclass(frozen=True)
class SignalInfo:
    title: str
    level: Level
    action: str
    """What the reviewer should do about it."""


SIGNALS: dict[str, SignalInfo] = {
    "report.too-many-activations": SignalInfo(
        "one person activated a policy too often", Level.MEDIUM,
        "Ask why: a duration too short for the work, or a script renewing access."),
    "report.unused-eligibility": SignalInfo(
        "eligibility nobody used", Level.LOW,
        "Remove it ('gitjit recertify' opens the pull request), or keep it with a reason."),
    "report.fast-approval": SignalInfo(
        "approvals given seconds after the push", Level.MEDIUM,
        "Talk to the approver: an approval is a review of the request, not a formality."),
    "report.approves-everything": SignalInfo(
        "an approver who approves everything and never comments", Level.MEDIUM,
        "Check a sample of their approvals; consider a second approval step."),
    "report.reciprocal-approvals": SignalInfo(
        "two people approve each other's requests", Level.HIGH,
        "Require an approver outside the pair (another step, another group)."),
    "report.approval-ring": SignalInfo(
        "a ring of people approving each other's requests", Level.HIGH,
        "Require an approver outside the ring (another step, another group)."),
    "report.break-glass-unreviewed": SignalInfo(
        "a break-glass grant whose review is overdue", Level.HIGH,
        "Review the emergency use now: a formal review on its pull request by an approver."),
    "report.break-glass-late-review": SignalInfo(
        "a break-glass grant reviewed after its deadline", Level.MEDIUM,
        "Remind the approvers of the policy's review_within."),
    "report.outside-active-hours": SignalInfo(
        "access activated outside the policy's active hours", Level.MEDIUM,
        "Ask why it could not wait; widen the hours if the work needs them."),
    "report.unusual-hour": SignalInfo(
        "access activated at an unusual time for that person", Level.LOW,
        "Confirm with the person that it was them."),
    "report.reused-justification": SignalInfo(
        "the same justification on many grants", Level.LOW,
        "Ask for a reason per request; a copied reason explains nothing."),
    "report.short-justification": SignalInfo(
        "a justification far shorter than usual for the policy", Level.LOW,
        "Ask for a real reason; raise the policy's justification.min_length."),
    "report.reused-ticket": SignalInfo(
        "one ticket used for many grants or people", Level.MEDIUM,
        "Check that the ticket covers all of them; require a ticket per change."),
    "report.extends-chain": SignalInfo(
        "a long chain of extensions: standing access in instalments", Level.MEDIUM,
        "Ask whether the work needs standing access, and grant it openly if so."),
    "report.late-revocation": SignalInfo(
        "access revoked late", Level.MEDIUM,
        "Check that reconcile runs (heartbeat); prefer targets that expire access themselves."),
    "report.held-after-end": SignalInfo(
        "a target still held access after the grant ended", Level.HIGH,
        "Find out who put it back; revoke it and check the target's audit log."),
    "report.drift": SignalInfo(
        "a target held access that no grant backs", Level.HIGH,
        "Find out who granted it outside gitjit; revoke it and check the target's audit log."),
    "report.refused-activation": SignalInfo(
        "a merged grant failed re-verification and was refused", Level.HIGH,
        "Find out how it was merged without valid approvals (admin merge, direct push)."),
    "report.alert": SignalInfo(
        "an alert in the ledger", Level.HIGH,
        "Read the alert's detail and follow docs/ledger.md for its code."),
    "report.ledger-untrusted": SignalInfo(
        "the ledger holds commits gitjit did not sign", Level.HIGH,
        "Run 'gitjit audit verify' and investigate every commit it names."),
}

DRIFT_CODES = frozenset({"target.drift"})
"""Alert codes for access a target holds that no live grant backs."""
_SEPARATE_ALERTS = frozenset({"activation.refused"}) | DRIFT_CODES
"""Alerts reported by their own signal (a refusal has its refused record)."""


def _signal(code: str, policy: str, subject: str, message: str,
            evidence: Evidence | None = None) -> Signal:
    return Signal(code, SIGNALS[code].level, policy, subject, message, evidence or Evidence())


def _time(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%MZ")


def span(value: timedelta) -> str:
    """'45s', '12m', '3h5m', '2d4h': the largest two units."""
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [(days, "d"), (hours, "h"), (minutes, "m")]
    shown = [f"{n}{unit}" for n, unit in parts if n]
    return "".join(shown[:2])


# -- what happened in the period ----------------------------------------------------------


def in_scope(facts: Facts, policy: str) -> bool:
    return facts.policy is None or policy == facts.policy


def activations(facts: Facts, *, everything: bool = False) -> list[Lifecycle]:
    """Lifecycles activated in the period (or ever, with ``everything``), oldest first."""
    ever: tuple[Lifecycle, ...] | None = facts.derived.get("activations")
    if ever is None:
        ever = facts.derived["activations"] = tuple(sorted(
            (lc for lc in facts.lifecycles
             if lc.activation is not None and lc.activation.activated_at is not None
             and in_scope(facts, lc.policy)),
            key=_activated_at))
    # Sorting is stable, so the period's share of the sorted whole is in the order sorting
    # the share alone would give.
    return list(ever) if everything else [lc for lc in ever if _activated_at(lc) in facts.period]


def _activated_at(lifecycle: Lifecycle) -> datetime:
    assert lifecycle.activation is not None and lifecycle.activation.activated_at is not None
    return lifecycle.activation.activated_at


def _requested_at(lifecycle: Lifecycle) -> datetime | None:
    """When the request landed (or, known only to the ledger, was activated)."""
    if lifecycle.landed_at is not None:
        return lifecycle.landed_at
    if lifecycle.activation is not None:
        return lifecycle.activation.activated_at
    return None


def requested(facts: Facts) -> list[Lifecycle]:
    """Readable grants that landed in the period."""
    return [lc for lc in facts.lifecycles if lc.grant is not None and in_scope(facts, lc.policy)
            and _requested_at(lc) in facts.period]


@dataclass(frozen=True)
class Approval:
    """One approval of a request, from the ledger (counted) or the forge."""

    reviewer: str
    requester: str
    policy: str
    grant: str
    pull_request: int | None
    at: datetime
    latency: timedelta | None
    """From the push of the reviewed commit to the approval; None where unknown."""


def approvals(facts: Facts) -> list[Approval]:
    """Every approval given in the period: from the forge when given (every approval,
    counted or not), else the counted ones of the ledger's activated records."""
    found: tuple[Approval, ...] | None = facts.derived.get("approvals")
    if found is None:
        found = facts.derived["approvals"] = tuple(_approvals(facts))
    return list(found)


def _approvals(facts: Facts) -> list[Approval]:
    found: list[Approval] = []
    if facts.pulls is not None:
        by_number = _grants_by_pull(facts)
        for pull in facts.pulls:
            lifecycle = by_number.get(pull.number)
            policy = lifecycle.policy if lifecycle else _policy_of_branch(pull.head_ref)
            if not in_scope(facts, policy):
                continue
            found += [
                Approval(review.reviewer, pull.author, policy,
                         lifecycle.grant_id if lifecycle else "", pull.number,
                         review.submitted_at, _latency(facts, review.commit, review.submitted_at))
                for review in pull.reviews
                if review.state is ReviewState.APPROVED and review.submitted_at is not None
                and review.submitted_at in facts.period]
        return found
    for lifecycle in facts.lifecycles:
        if lifecycle.activation is None or not in_scope(facts, lifecycle.policy):
            continue
        for review in lifecycle.approvals:
            when = review.submitted_at or lifecycle.activation.activated_at
            if when is not None and when in facts.period:
                found.append(Approval(
                    review.reviewer, lifecycle.requester, lifecycle.policy,
                    lifecycle.grant_id, lifecycle.pull_request, when,
                    _latency(facts, review.commit, review.submitted_at)))
    return found


def _latency(facts: Facts, commit: str, at: datetime | None) -> timedelta | None:
    pushed = facts.pushed_at.get(commit)
    if pushed is None or at is None:
        return None
    return max(at - pushed, timedelta(0))


def _grants_by_pull(facts: Facts) -> dict[int, Lifecycle]:
    return {lc.pull_request: lc for lc in facts.lifecycles if lc.pull_request is not None}


def _policy_of_branch(head_ref: str) -> str:
    """'access/<policy>/<login>-<stamp>' is the branch `gitjit request` makes."""
    parts = head_ref.split("/")
    return parts[1] if len(parts) == 3 and parts[0] == "access" else ""


# -- the signals ------------------------------------------------------------------------


def too_many_activations(facts: Facts, t: Thresholds) -> list[Signal]:
    by_person: dict[tuple[str, str], list[Lifecycle]] = defaultdict(list)
    for lifecycle in activations(facts):
        by_person[(lifecycle.requester, lifecycle.policy)].append(lifecycle)
    found = []
    for (person, policy), items in sorted(by_person.items()):
        best: Sequence[Lifecycle] = ()
        first = 0
        for last in range(len(items)):
            while _activated_at(items[last]) - _activated_at(items[first]) >= t.activations_window:
                first += 1
            if last - first + 1 > len(best):
                best = items[first:last + 1]
        if len(best) >= t.activations_count:
            times = tuple(_activated_at(lc) for lc in best)
            found.append(_signal(
                "report.too-many-activations", policy, person,
                f"{person} activated {policy} {len(best)} times within "
                f"{span(times[-1] - times[0]) or '0s'} ({_time(times[0])} to {_time(times[-1])}; "
                f"the threshold is {t.activations_count} within {span(t.activations_window)})",
                Evidence(grants=tuple(lc.grant_id for lc in best),
                         pull_requests=_numbers(best), people=(person,), times=times)))
    return found


def _numbers(lifecycles: Iterable[Lifecycle]) -> tuple[int, ...]:
    return tuple(lc.pull_request for lc in lifecycles if lc.pull_request is not None)


def _eligible(policy: Policy, role: str, config: Config,
              expanded: dict[str, list[str]] | None = None) -> dict[str, str]:
    """login -> the principal that makes them eligible (a direct 'user:' entry first).
    ``expanded``: principal -> its sorted logins under ``config``, filled as it goes, for a
    caller that asks about many policies (a group named by 200 policies is expanded once)."""
    principals: list[Principal] = (
        list(policy.requesters) if role == "requester"
        else [p for step in policy.approvals for p in step.approvers])
    found: dict[str, str] = {}
    for principal in sorted(principals, key=lambda p: (p.kind != "user", str(p))):
        name = str(principal)
        logins = expanded.get(name) if expanded is not None else None
        if logins is None:
            logins = sorted(expand([principal], config.groups).logins)
            if expanded is not None:
                expanded[name] = logins
        for login in logins:
            found.setdefault(login, name)
    return found


def eligibility(config: Config) -> set[tuple[str, str, str]]:
    """Every (login, policy, role) the configuration makes eligible."""
    expanded: dict[str, list[str]] = {}
    return {(login, str(policy_id), role)
            for policy_id, policy in config.policies.items()
            for role in ("requester", "approver")
            for login in _eligible(policy, role, config, expanded)}


def unused_eligibility(facts: Facts, t: Thresholds) -> tuple[list[Signal], list[Unused]]:
    """People eligible for the whole of ``unused_after`` (at its start and now) who never
    requested (requesters) or approved (approvers) a grant of the policy in it."""
    before = facts.eligible_before
    if before is None:
        return [], []
    start = facts.period.until - t.unused_after
    window = range_check(start, facts.period.until)
    used: dict[tuple[str, str], set[str]] = defaultdict(set)
    """(policy, role) -> who used it in the window."""
    for lifecycle in facts.lifecycles:
        when = _requested_at(lifecycle)
        if when is not None and window(when):
            used[(lifecycle.policy, "requester")].add(lifecycle.requester)
        for review in lifecycle.approvals:
            at = review.submitted_at or when
            if at is not None and window(at):
                used[(lifecycle.policy, "approver")].add(review.reviewer)
    if facts.pulls is not None:
        by_number = _grants_by_pull(facts)
        for pull in facts.pulls:
            matched = by_number.get(pull.number)
            pull_policy = matched.policy if matched else _policy_of_branch(pull.head_ref)
            if pull.opened_at is not None and window(pull.opened_at):
                used[(pull_policy, "requester")].add(pull.author)
            for forge_review in pull.reviews:
                if forge_review.submitted_at is not None and window(forge_review.submitted_at):
                    used[(pull_policy, "approver")].add(forge_review.reviewer)
    unused: list[Unused] = []
    now_expanded: dict[str, list[str]] = {}
    then_expanded: dict[str, list[str]] = {}
    for policy_id, policy in sorted(facts.config.policies.items()):
        old = before.policies.get(PolicyId(policy_id))
        if old is None or not in_scope(facts, policy_id):
            continue
        for role in ("requester", "approver"):
            now = _eligible(policy, role, facts.config, now_expanded)
            # The configuration unchanged since (config_before returns the same object):
            # everyone eligible now was eligible then.
            unchanged = old is policy and before is facts.config
            then = now if unchanged else _eligible(old, role, before, then_expanded)
            taken = used.get((policy_id, role), set())
            unused += [Unused(login, policy_id, role, via) for login, via in now.items()
                       if login not in taken and (unchanged or login in then)]
    by_login: dict[str, list[Unused]] = defaultdict(list)
    for item in unused:
        by_login[item.login].append(item)
    signals = []
    for login, items in sorted(by_login.items()):
        policies = sorted({item.policy for item in items})
        roles = "; ".join(f"{item.role} of {item.policy} ({item.via})" for item in items)
        signals.append(_signal(
            "report.unused-eligibility", policies[0] if len(policies) == 1 else "", login,
            f"{login} has not used their eligibility in {span(t.unused_after)} "
            f"(since {_time(start)}): {roles}",
            Evidence(people=(login,), times=(start,),
                     notes=tuple(f"{item.role} of {item.policy} through {item.via}"
                                 for item in items))))
    return signals, unused


def range_check(start: datetime, end: datetime) -> Callable[[datetime], bool]:
    return lambda when: start <= when < end


def fast_approvals(facts: Facts, t: Thresholds) -> list[Signal]:
    by_approver: dict[str, list[Approval]] = defaultdict(list)
    for approval in approvals(facts):
        if approval.latency is not None:
            by_approver[approval.reviewer].append(approval)
    found = []
    for reviewer, items in sorted(by_approver.items()):
        fast = [a for a in items if a.latency is not None
                and a.latency <= t.fast_approval_within]
        if len(fast) >= t.fast_approval_count and (
                len(fast) * 100 >= t.fast_approval_share * len(items)):
            policies = sorted({a.policy for a in fast})
            found.append(_signal(
                "report.fast-approval", policies[0] if len(policies) == 1 else "", reviewer,
                f"{reviewer} approved {len(fast)} of {len(items)} requests within "
                f"{span(t.fast_approval_within)} of the push of the commit they approved",
                Evidence(grants=tuple(a.grant for a in fast if a.grant),
                         pull_requests=tuple(a.pull_request for a in fast
                                             if a.pull_request is not None),
                         people=(reviewer,), times=tuple(a.at for a in fast),
                         notes=tuple(f"{_pr(a.pull_request)} by {a.requester}: approved "
                                     f"{span(a.latency or timedelta(0)) or '0s'} after the push"
                                     for a in fast))))
    return found


def _pr(number: int | None) -> str:
    return f"#{number}" if number is not None else "a direct push"


def approves_everything(facts: Facts, t: Thresholds) -> list[Signal]:
    """Needs the forge: only it knows the reviews that did not approve."""
    if facts.pulls is None:
        return []
    by_number = _grants_by_pull(facts)
    seen: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    spoke: set[str] = set()
    for pull in facts.pulls:
        lifecycle = by_number.get(pull.number)
        policy = lifecycle.policy if lifecycle else _policy_of_branch(pull.head_ref)
        if not in_scope(facts, policy):
            continue
        for review in pull.reviews:
            if review.submitted_at is None or review.submitted_at not in facts.period:
                continue
            if review.state in (ReviewState.PENDING, ReviewState.DISMISSED):
                continue
            seen[review.reviewer][pull.number].append(review.state)
            if review.commented or review.state in (ReviewState.COMMENTED,
                                                     ReviewState.CHANGES_REQUESTED):
                spoke.add(review.reviewer)
    found = []
    for reviewer, pulls in sorted(seen.items()):
        approved = [n for n, states in pulls.items() if ReviewState.APPROVED in states]
        if (reviewer not in spoke and len(pulls) >= t.approve_all_reviews
                and len(approved) * 100 >= t.approve_all_share * len(pulls)):
            found.append(_signal(
                "report.approves-everything", "", reviewer,
                f"{reviewer} reviewed {len(pulls)} pull requests, approved {len(approved)}, "
                "and never commented or requested changes",
                Evidence(pull_requests=tuple(sorted(pulls)), people=(reviewer,))))
    return found


def _approval_graph(facts: Facts) -> dict[tuple[str, str], list[Lifecycle]]:
    """(approver, requester) -> the activated grants in the period one approved of the
    other's: counted approvals only."""
    edges: dict[tuple[str, str], list[Lifecycle]] = defaultdict(list)
    for lifecycle in activations(facts):
        for review in lifecycle.approvals:
            if review.reviewer != lifecycle.requester:
                edges[(review.reviewer, lifecycle.requester)].append(lifecycle)
    return edges


def reciprocal_approvals(facts: Facts, t: Thresholds) -> list[Signal]:
    edges = _approval_graph(facts)
    found = []
    for (a, b), grants in sorted(edges.items()):
        back = edges.get((b, a), [])
        if a < b and len(grants) >= t.reciprocal_min and len(back) >= t.reciprocal_min:
            both = sorted([*grants, *back], key=_activated_at)
            found.append(_signal(
                "report.reciprocal-approvals", _one_policy(both), f"{a}<->{b}",
                f"{a} approved {len(grants)} of {b}'s grants and {b} approved {len(back)} of "
                f"{a}'s",
                Evidence(grants=tuple(lc.grant_id for lc in both),
                         pull_requests=_numbers(both), people=(a, b),
                         times=tuple(_activated_at(lc) for lc in both))))
    return found


def _one_policy(lifecycles: Sequence[Lifecycle]) -> str:
    policies = {lc.policy for lc in lifecycles}
    return policies.pop() if len(policies) == 1 else ""


def approval_rings(facts: Facts, t: Thresholds) -> list[Signal]:
    """Cycles of three or more people (A approved B, B approved C, C approved A)."""
    edges = _approval_graph(facts)
    successors: dict[str, list[str]] = defaultdict(list)
    for approver, requester in edges:
        successors[approver].append(requester)
    rings: set[tuple[str, ...]] = set()

    def walk(path: list[str]) -> None:
        for nxt in sorted(successors.get(path[-1], [])):
            if nxt == path[0] and len(path) >= 3:
                rings.add(tuple(path))
            elif nxt > path[0] and nxt not in path and len(path) < t.ring_max:
                walk([*path, nxt])

    for start in sorted(successors):
        walk([start])
    found = []
    for ring in sorted(rings):
        pairs = list(zip(ring, (*ring[1:], ring[0]), strict=True))
        grants = sorted({lc for pair in pairs for lc in edges[pair]}, key=_activated_at)
        chain = " -> ".join([*ring, ring[0]])
        found.append(_signal(
            "report.approval-ring", _one_policy(grants), "->".join(ring),
            f"each approved the next one's grants: {chain}",
            Evidence(grants=tuple(lc.grant_id for lc in grants), pull_requests=_numbers(grants),
                     people=ring, times=tuple(_activated_at(lc) for lc in grants))))
    return found


def break_glass_reviews(facts: Facts, t: Thresholds) -> list[Signal]:
    """A break-glass grant is reviewed by a formal review on its pull request, after its
    activation, by an eligible approver of the policy who is not the requester."""
    pulls = {pull.number: pull for pull in facts.pulls or ()}
    found = []
    until = facts.period.until
    for lifecycle in activations(facts, everything=True):
        activation = lifecycle.activation
        assert activation is not None and activation.activated_at is not None
        if not activation.break_glass or activation.review_by is None:
            continue
        if activation.activated_at >= until:
            continue
        due = activation.review_by
        reviewed = _break_glass_review(facts, lifecycle, pulls.get(lifecycle.pull_request or 0))
        evidence = Evidence(grants=(lifecycle.grant_id,), pull_requests=_numbers([lifecycle]),
                            people=(lifecycle.requester,),
                            times=(activation.activated_at, due), records=(activation.seq,))
        if reviewed is None and due < until:
            if facts.pulls is None:
                why = ("no forge was given (or the local forge holds no pull requests), so "
                       "no review can be seen: run the report with the forge that holds the pull "
                       "requests (--forge local or github) to check")
            else:
                why = f"no approver has reviewed {_pr(lifecycle.pull_request)} since"
            found.append(_signal(
                "report.break-glass-unreviewed", lifecycle.policy, lifecycle.grant_id,
                f"break-glass grant of {lifecycle.requester}, activated "
                f"{_time(activation.activated_at)}, was due for review by {_time(due)} "
                f"({span(until - due)} ago); {why}", evidence))
        elif reviewed is not None and reviewed[1] > due and (
                activation.activated_at in facts.period or reviewed[1] in facts.period):
            who, when = reviewed
            found.append(_signal(
                "report.break-glass-late-review", lifecycle.policy, lifecycle.grant_id,
                f"break-glass grant of {lifecycle.requester} was reviewed by {who} at "
                f"{_time(when)}, {span(when - due)} after its deadline {_time(due)}",
                Evidence(grants=evidence.grants, pull_requests=evidence.pull_requests,
                         people=(lifecycle.requester, who),
                         times=(activation.activated_at, due, when), records=evidence.records)))
    return found


def _break_glass_review(facts: Facts, lifecycle: Lifecycle,
                        pull: ForgePull | None) -> tuple[str, datetime] | None:
    if pull is None or lifecycle.activation is None:
        return None
    policy = facts.config.policies.get(PolicyId(lifecycle.policy))
    if policy is None:
        return None
    approvers = _eligible(policy, "approver", facts.config)
    start = lifecycle.activation.activated_at
    times = sorted((review.submitted_at, review.reviewer) for review in pull.reviews
                   if review.submitted_at is not None and start is not None
                   and review.submitted_at >= start and review.reviewer in approvers
                   and review.reviewer != lifecycle.requester
                   and review.state in (ReviewState.APPROVED, ReviewState.COMMENTED,
                                        ReviewState.CHANGES_REQUESTED))
    return (times[0][1], times[0][0]) if times else None


def outside_active_hours(facts: Facts, t: Thresholds) -> list[Signal]:
    outside: dict[tuple[str, str], list[Lifecycle]] = defaultdict(list)
    for lifecycle in activations(facts):
        policy = facts.config.policies.get(PolicyId(lifecycle.policy))
        if policy is None or not policy.active_hours or lifecycle.break_glass:
            continue
        if not within(policy.active_hours, _activated_at(lifecycle)):
            outside[(lifecycle.requester, lifecycle.policy)].append(lifecycle)
    found = []
    for (person, policy_id), items in sorted(outside.items()):
        hours = facts.config.policies[PolicyId(policy_id)].active_hours
        zone = ZoneInfo(hours[0].timezone)
        local = [_activated_at(lc).astimezone(zone).strftime("%a %H:%M") for lc in items]
        found.append(_signal(
            "report.outside-active-hours", policy_id, person,
            f"{person} had {len(items)} activation(s) of {policy_id} outside its active hours "
            f"({describe_hours(hours)}): {', '.join(local)}",
            Evidence(grants=tuple(lc.grant_id for lc in items), pull_requests=_numbers(items),
                     people=(person,), times=tuple(_activated_at(lc) for lc in items))))
    return found


def unusual_hours(facts: Facts, t: Thresholds) -> list[Signal]:
    history: dict[str, list[int]] = defaultdict(list)
    """Per person, the minute of the day (UTC) of each earlier activation, sorted."""
    unusual: dict[str, list[tuple[Lifecycle, int]]] = defaultdict(list)
    limit = t.unusual_distance.total_seconds() / 60
    for lifecycle in activations(facts, everything=True):
        when = _activated_at(lifecycle)
        earlier = history[lifecycle.requester]
        minute = when.hour * 60 + when.minute
        if when in facts.period and len(earlier) >= t.unusual_history:
            if _nearest(earlier, minute) > limit:
                unusual[lifecycle.requester].append((lifecycle, len(earlier)))
        bisect.insort(earlier, minute)
    found = []
    for person, items in sorted(unusual.items()):
        lifecycles = [lc for lc, _n in items]
        found.append(_signal(
            "report.unusual-hour", _one_policy(lifecycles), person,
            f"{person} activated access at "
            f"{', '.join(_time(_activated_at(lc)) for lc in lifecycles)}: none of their "
            f"{items[0][1]} earlier activations was within "
            f"{span(t.unusual_distance)} of that time of day (UTC)",
            Evidence(grants=tuple(lc.grant_id for lc in lifecycles),
                     pull_requests=_numbers(lifecycles), people=(person,),
                     times=tuple(_activated_at(lc) for lc in lifecycles))))
    return found


def _nearest(minutes: list[int], minute: int) -> int:
    """The distance around the clock from ``minute`` to the nearest of ``minutes`` (sorted, not
    empty): that of its neighbour on one side or the other, wrapping past midnight."""
    after = bisect.bisect_left(minutes, minute)
    return min(_circular(minute, minutes[after % len(minutes)]),
               _circular(minute, minutes[after - 1]))


def _circular(a: int, b: int) -> int:
    distance = abs(a - b) % 1440
    return min(distance, 1440 - distance)


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def justifications(facts: Facts, t: Thresholds) -> list[Signal]:
    found = []
    period = requested(facts)
    same: dict[str, list[Lifecycle]] = defaultdict(list)
    for lifecycle in period:
        assert lifecycle.grant is not None
        same[_normal(lifecycle.grant.justification)].append(lifecycle)
    for text, items in sorted(same.items()):
        if len(items) >= t.justification_reuse:
            people = tuple(sorted({lc.requester for lc in items}))
            assert items[0].grant is not None
            quoted = items[0].grant.justification
            found.append(_signal(
                "report.reused-justification", _one_policy(items), _subject(text),
                f"{len(items)} grants by {', '.join(people)} give the same justification: "
                f"{_quote(quoted)}",
                Evidence(grants=tuple(lc.grant_id for lc in items),
                         pull_requests=_numbers(items), people=people,
                         times=_request_times(items))))
    lengths: dict[str, list[int]] = defaultdict(list)
    for lifecycle in facts.lifecycles:
        if lifecycle.grant is not None:
            lengths[lifecycle.policy].append(len(lifecycle.grant.justification.strip()))
    medians: dict[str, float] = {}
    for lifecycle in period:
        assert lifecycle.grant is not None
        baseline = lengths[lifecycle.policy]
        if len(baseline) < t.justification_baseline:
            continue
        median = medians.get(lifecycle.policy)
        if median is None:
            median = medians[lifecycle.policy] = statistics.median(baseline)
        size = len(lifecycle.grant.justification.strip())
        if size * 100 < t.justification_short_percent * median:
            found.append(_signal(
                "report.short-justification", lifecycle.policy, lifecycle.grant_id,
                f"{lifecycle.requester}'s justification has {size} characters, against a median "
                f"of {median:g} for {lifecycle.policy}: {_quote(lifecycle.grant.justification)}",
                Evidence(grants=(lifecycle.grant_id,), pull_requests=_numbers([lifecycle]),
                         people=(lifecycle.requester,),
                         times=_request_times([lifecycle]))))
    tickets: dict[str, list[Lifecycle]] = defaultdict(list)
    for lifecycle in period:
        assert lifecycle.grant is not None
        if lifecycle.grant.ticket:
            tickets[lifecycle.grant.ticket.strip().upper()].append(lifecycle)
    for ticket, items in sorted(tickets.items()):
        people = tuple(sorted({lc.requester for lc in items}))
        if len(items) >= t.ticket_grants or len(people) >= t.ticket_people:
            found.append(_signal(
                "report.reused-ticket", _one_policy(items), ticket,
                f"ticket {ticket} was given for {len(items)} grants of {len(people)} people "
                f"({', '.join(people)})",
                Evidence(grants=tuple(lc.grant_id for lc in items),
                         pull_requests=_numbers(items), people=people,
                         times=_request_times(items))))
    return found


def _request_times(lifecycles: Iterable[Lifecycle]) -> tuple[datetime, ...]:
    return tuple(when for lc in lifecycles if (when := _requested_at(lc)) is not None)


def _subject(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _quote(text: str) -> str:
    one = " ".join(text.split())
    return f"'{one if len(one) <= 120 else one[:117] + '...'}'"


def extends_chains(facts: Facts, t: Thresholds) -> list[Signal]:
    by_id: dict[str, Lifecycle] = {lc.grant_id: lc for lc in facts.lifecycles}
    parent: dict[str, str] = {}
    for lifecycle in facts.lifecycles:
        if lifecycle.grant is not None and lifecycle.grant.extends in by_id:
            parent[lifecycle.grant_id] = str(lifecycle.grant.extends)
    extended = set(parent.values())
    found = []
    for leaf in sorted(set(parent) - extended):
        chain = [by_id[leaf]]
        while chain[-1].grant_id in parent and len(chain) <= len(parent):
            chain.append(by_id[parent[chain[-1].grant_id]])
        chain.reverse()
        active = [lc for lc in chain if lc.activation is not None
                  and lc.activation.activated_at is not None
                  and lc.activation.expires_at is not None]
        if not active or not in_scope(facts, chain[-1].policy):
            continue
        if not any(_activated_at(lc) in facts.period for lc in active):
            continue
        assert active[-1].activation is not None and active[-1].activation.expires_at is not None
        covered = active[-1].activation.expires_at - _activated_at(active[0])
        if len(chain) >= t.chain_grants or (len(chain) >= 2 and covered >= t.chain_span):
            found.append(_signal(
                "report.extends-chain", chain[-1].policy, chain[0].grant_id,
                f"{chain[-1].requester} extended {chain[0].grant_id} {len(chain) - 1} time(s): "
                f"{len(chain)} grants covering {span(covered)} from "
                f"{_time(_activated_at(active[0]))}",
                Evidence(grants=tuple(lc.grant_id for lc in chain),
                         pull_requests=_numbers(chain), people=(chain[-1].requester,),
                         times=tuple(_activated_at(lc) for lc in active))))
    return found


def late_revocations(facts: Facts, t: Thresholds) -> list[Signal]:
    found = []
    for lifecycle in facts.lifecycles:
        ended = lifecycle.ended
        if (ended is None or ended.latency is None or ended.latency <= t.late_revocation_after
                or ended.at not in facts.period or not in_scope(facts, lifecycle.policy)):
            continue
        found.append(_signal(
            "report.late-revocation", lifecycle.policy, lifecycle.grant_id,
            f"{lifecycle.requester}'s access ({ended.how.value}) was removed {span(ended.latency)} "
            f"after it should have ended (at {_time(ended.at)}; the threshold is "
            f"{span(t.late_revocation_after)})",
            Evidence(grants=(lifecycle.grant_id,), pull_requests=_numbers([lifecycle]),
                     people=(lifecycle.requester,),
                     times=(ended.at - ended.latency, ended.at))))
    return found


def _ended_before(lifecycle: Lifecycle | None, when: datetime) -> datetime | None:
    if lifecycle is None:
        return None
    end = lifecycle.ended.at if lifecycle.ended is not None else None
    if end is None and lifecycle.activation is not None:
        end = lifecycle.activation.expires_at
    return end if end is not None and end <= when else None


def ledger_events(facts: Facts, t: Thresholds) -> list[Signal]:
    """Refused activations, drift and held-after-end alerts, and every other alert."""
    by_id: dict[str, Lifecycle] = {lc.grant_id: lc for lc in facts.lifecycles}
    found = []
    for record in facts.records:
        if record.at not in facts.period:
            continue
        if record.policy and not in_scope(facts, record.policy):
            continue
        if not record.policy and facts.policy is not None:
            continue
        found += _record_signal(record, by_id)
    if facts.ledger_problems and facts.policy is None:
        found.append(_signal(
            "report.ledger-untrusted", "", "ledger",
            f"{len(facts.ledger_problems)} part(s) of the ledger are not believed: "
            + "; ".join(facts.ledger_problems[:5]),
            Evidence(notes=facts.ledger_problems)))
    return found


def _record_signal(record: Record, by_id: dict[str, Lifecycle]) -> list[Signal]:
    evidence = Evidence(grants=(record.grant_id,) if record.grant_id else (),
                        pull_requests=(record.pull_request,) if record.pull_request else (),
                        people=(record.requester,) if record.requester else (),
                        times=(record.at,), records=(record.seq,),
                        notes=(record.detail,) if record.detail else ())
    if record.event is Event.REFUSED:
        return [_signal("report.refused-activation", record.policy, record.grant_id,
                        f"{record.grant_id or 'a file'} was refused at activation: "
                        f"{_one_line(record.detail)}", evidence)]
    if record.event is not Event.ALERT or record.code in ("activation.refused",):
        return []
    if record.code in DRIFT_CODES:
        ended = _ended_before(by_id.get(record.grant_id), record.at)
        subject = record.subject or record.grant_id or record.code
        if ended is not None:
            return [_signal("report.held-after-end", record.policy, record.grant_id,
                            f"{record.grant_id} ended at {_time(ended)}, yet the target still "
                            f"held its access at {_time(record.at)} ({subject}): "
                            f"{_one_line(record.detail)}", evidence)]
        return [_signal("report.drift", record.policy, subject,
                        f"the target held access no live grant backs ({subject}) at "
                        f"{_time(record.at)}: {_one_line(record.detail)}", evidence)]
    return [_signal("report.alert", record.policy, record.code or "alert",
                    f"alert {record.code or '(no code)'}"
                    f"{' about ' + record.grant_id if record.grant_id else ''} at "
                    f"{_time(record.at)}: {_one_line(record.detail)}", evidence)]


def _one_line(text: str, limit: int = 300) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[:limit - 3] + "..."


SignalFunction = Callable[[Facts, Thresholds], list[Signal]]
SIGNAL_FUNCTIONS: tuple[SignalFunction, ...] = (
    too_many_activations, fast_approvals, approves_everything, reciprocal_approvals,
    approval_rings, break_glass_reviews, outside_active_hours, unusual_hours, justifications,
    extends_chains, late_revocations, ledger_events,
)


def review(facts: Facts, t: Thresholds) -> tuple[list[Signal], list[Unused]]:
    """Every finding of the period, most urgent first, and the unused eligibility."""
    found, unused = unused_eligibility(facts, t)
    for function in SIGNAL_FUNCTIONS:
        found += function(facts, t)
    return sorted(found, key=Signal.key), unused
