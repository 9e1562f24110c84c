"""A policy in plain words: who may request, who must approve, and the limits."""

from __future__ import annotations

from engine.core.decide import describe_hours
from engine.core.models import Config, Policy, Principal
from engine.core.principals import expand
from engine.core.values import format_duration


def _who(principals: tuple[Principal, ...], config: Config) -> str:
    parts = []
    for principal in principals:
        if principal.kind == "user":
            parts.append(principal.name)
        elif principal.kind == "team":
            members = sorted(config.groups.teams.get(principal.name, ()))
            parts.append(f"GitHub team {principal.name} ("
                         f"{', '.join(members) or 'members looked up on GitHub'})")
        else:
            members = sorted(config.groups.members.get(principal.name, ()))
            parts.append(f"group {principal.name} ({', '.join(members) or 'no members'})")
    return "; ".join(parts) or "nobody"


def explain(policy: Policy, config: Config) -> list[str]:
    target = ", ".join(f"{k} {v}" for k, v in policy.target.params)
    lines = [
        f"{policy.id}: {policy.description}".rstrip(": "),
        f"  grants: {policy.target.provider}" + (f" ({target})" if target else ""),
        f"  who may request: {_who(policy.requesters, config)}",
    ]
    if policy.approvals:
        lines.append("  who must approve (every step; one person counts in one step only; "
                     "never the requester or anyone who pushed to the request):")
        for index, step in enumerate(policy.approvals, 1):
            lines.append(f"    step {index}: {step.count} of {_who(step.approvers, config)}")
        lines.append(f"  an approval counts for {format_duration(policy.approval_max_age)} "
                     "(at the verdict and at the merge); older ones must be given again")
    else:
        lines.append("  who must approve: no approval step; only auto-approve or break-glass "
                     "can approve")
    lines.append(f"  duration: {format_duration(policy.duration.default)} by default, at most "
                 f"{format_duration(policy.duration.max)}; the clock starts at merge (or at "
                 "'start' if later)")
    if policy.justification_min_length:
        lines.append(f"  justification: at least {policy.justification_min_length} characters")
    if policy.ticket.required or policy.ticket.pattern:
        need = "required" if policy.ticket.required else "optional"
        pattern = f", matching {policy.ticket.pattern}" if policy.ticket.pattern else ""
        lines.append(f"  ticket: {need}{pattern}")
    if policy.active_hours:
        lines.append(f"  active hours: {describe_hours(policy.active_hours)}")
    if policy.max_active_per_requester is not None:
        lines.append(f"  at most {policy.max_active_per_requester} live grant(s) per requester")
    if policy.auto_approve:
        auto = policy.auto_approve
        who = sorted(expand(auto.requesters, config.groups).logins
                     & expand(policy.requesters, config.groups).logins)
        lines.append(f"  auto-approved without review: {', '.join(who) or 'nobody'}, for up to "
                     f"{format_duration(auto.max_duration)} (inclusive)")
    if policy.break_glass:
        glass = policy.break_glass
        lines.append(f"  break-glass: up to {format_duration(glass.max_duration)} without "
                     f"review, flagged and to be reviewed within "
                     f"{format_duration(glass.review_within)}")
    if policy.revokers:
        lines.append(f"  may revoke a live grant alone (emergency stop): "
                     f"{_who(policy.revokers, config)}")
    if policy.notify:
        lines.append(f"  notifies: {', '.join(policy.notify)}")
    return lines
