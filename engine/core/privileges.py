"""Who may newly obtain what: the privilege change a configuration change makes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from engine.core.findings import Finding, Severity
from engine.core.models import Config, Policy, Principal
from engine.core.principals import expand
from engine.core.values import format_duration


def changes(base: Config, head: Config) -> list[Finding]:
    """One notice per change in who may request or approve, and in how much is needed."""
    findings: list[Finding] = []
    for policy_id in sorted(set(base.policies) | set(head.policies)):
        old, new = base.policies.get(policy_id), head.policies.get(policy_id)
        if new is None:
            assert old is not None
            findings.append(_note(old.path, f"policy {policy_id!r} is removed"))
            continue
        findings += (_note(new.path, text) for text in _policy_changes(old, new, base, head))
    return findings


def _note(path: str, message: str) -> Finding:
    return Finding(path, 0, "pr.privilege-change", message, Severity.WARNING)


def _teams(principals: Iterable[Principal]) -> set[str]:
    """Teams named, as 'team:org/slug': offline their members are unknown, so a team newly
    named is reported as such (whoever is in it on GitHub gains the privilege)."""
    return {str(p) for p in principals if p.kind == "team"}


def _policy_changes(old: Policy | None, new: Policy, base: Config,
                    head: Config) -> Iterator[str]:
    pid = new.id
    new_requesters = expand(new.requesters, head.groups).logins
    if old is None:
        named = [*sorted(new_requesters), *sorted(_teams(new.requesters))]
        yield (f"new policy {pid!r} ({new.target.provider}): "
               f"{', '.join(named) or 'nobody'} may request it, for up to "
               f"{format_duration(new.duration.max)}")
        return
    gained: set[str] = set(expand(new.requesters, head.groups).logins
                           - expand(old.requesters, base.groups).logins)
    gained |= _teams(new.requesters) - _teams(old.requesters)
    if gained:
        yield f"may newly request {pid!r}: {', '.join(sorted(gained))}"
    lost = expand(old.requesters, base.groups).logins - new_requesters
    if lost:
        yield f"may no longer request {pid!r}: {', '.join(sorted(lost))}"
    old_approvers: set[str] = _teams(p for s in old.approvals for p in s.approvers).union(
        *(expand(s.approvers, base.groups).logins for s in old.approvals))
    new_approvers: set[str] = _teams(p for s in new.approvals for p in s.approvers).union(
        *(expand(s.approvers, head.groups).logins for s in new.approvals))
    if new_approvers - old_approvers:
        yield f"may newly approve {pid!r}: {', '.join(sorted(new_approvers - old_approvers))}"
    old_needed = sum(s.count for s in old.approvals)
    new_needed = sum(s.count for s in new.approvals)
    if new_needed < old_needed:
        yield f"{pid!r} needs fewer approvals: {old_needed} -> {new_needed}"
    if new.duration.max > old.duration.max:
        yield (f"{pid!r} maximum duration grows: {format_duration(old.duration.max)} -> "
               f"{format_duration(new.duration.max)}")
    if new.target != old.target:
        yield f"{pid!r} target changes: {old.target} -> {new.target}"
    auto = new.auto_approve
    auto_now = expand(auto.requesters, head.groups).logins if auto else frozenset()
    auto_before = (expand(old.auto_approve.requesters, base.groups).logins
                   if old.auto_approve else frozenset())
    # A group change alone can also make someone newly auto-approved.
    if auto is not None and (auto != old.auto_approve or auto_now - auto_before):
        who = ", ".join([*sorted(auto_now), *sorted(_teams(auto.requesters))]) or "nobody"
        yield (f"{pid!r} auto-approves {who} for up to {format_duration(auto.max_duration)}")
    if new.break_glass is not None and new.break_glass != old.break_glass:
        yield (f"{pid!r} allows break-glass for up to "
               f"{format_duration(new.break_glass.max_duration)} without review")
    if old.active_hours and new.active_hours != old.active_hours:
        yield f"{pid!r} active hours change or are removed"
