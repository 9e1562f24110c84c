"""A policy in plain words: who may request, who must approve, and the limits."""

from __future__ import annotations

import json
from typing import Any

from engine.actions.plan import describe_param
from engine.core.decide import describe_hours
from engine.core.models import ActiveHours, Config, Login, Policy, Principal
from engine.core.principals import expand
from engine.core.values import format_duration

JSON_VERSION = 1
"""The version of explain's and policies' JSON documents (docs/json-output.md)."""
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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
    if policy.grants:
        lines.append(f"  duration: {format_duration(policy.duration.default)} by default, at "
                     f"most {format_duration(policy.duration.max)}; the clock starts at merge "
                     "(or at 'start' if later)")
    else:
        lines.append("  no grants: this policy approves actions only; nobody holds its role")
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
    if policy.actions is not None:
        lines += explain_actions(policy)
    return lines


def explain_actions(policy: Policy) -> list[str]:
    """The runbooks and the free-form SQL rules, as a requester needs them."""
    rules = policy.actions
    assert rules is not None
    within = format_duration(rules.timeout)
    lines = [f"  actions (run once after approval and merge, within {within}; request with "
             f"'gitjit request {policy.id} --runbook NAME --param NAME=VALUE'):"]
    for name, runbook in sorted(rules.runbooks.items()):
        lines.append(f"    runbook {name}: {runbook.description or '(no description)'}")
        for param in runbook.params:
            about = f" ({param.description})" if param.description else ""
            lines.append(f"      --param {param.name}=...: {describe_param(param)}{about}")
        lines += [f"      runs: {line.strip()}" for line in
                  (runbook.sql or json.dumps(list(runbook.argv or ()))).strip().splitlines()]
        if runbook.max_rows is not None:
            lines.append(f"      rolled back if more than {runbook.max_rows} rows change")
    if rules.sql is not None:
        sql = rules.sql
        allowed = ", ".join(sorted(c.value for c in sql.allow))
        extra = [f"DDL {'allowed' if sql.ddl else 'denied'}",
                 "several statements" if sql.multiple else "one statement per request",
                 f"functions: {', '.join(sorted(sql.functions)) or 'none'}"]
        if sql.max_rows is not None:
            extra.append(f"rolled back if more than {sql.max_rows} rows change")
        lines.append(f"    free-form SQL (--sql): {allowed}; {'; '.join(extra)}; UPDATE and "
                     "DELETE need a WHERE on a column")
    return lines


def _people(principals: tuple[Principal, ...], config: Config,
            without: Login | None = None) -> dict[str, Any]:
    expansion = expand(principals, config.groups)
    return {"principals": [str(p) for p in principals],
            "logins": sorted(str(login) for login in expansion.logins if login != without),
            "unresolved": list(expansion.unknown_groups)}


def _window(window: ActiveHours) -> dict[str, Any]:
    end = "24:00" if window.end == window.end.max else f"{window.end:%H:%M}"
    return {"days": [_DAYS[d] for d in sorted(window.days)],
            "between": f"{window.start:%H:%M}-{end}", "timezone": window.timezone,
            "overnight": window.end < window.start}


def describe(policy: Policy, config: Config, requester: Login | None = None) -> dict[str, Any]:
    """The policy as data: what explain says in words, for scripts and for ``policies
    --for``. With ``requester``, approvers are listed without them (nobody approves their own
    request)."""
    auto = policy.auto_approve
    rules = policy.actions
    return {
        "policy": str(policy.id),
        "description": policy.description,
        "target": {"provider": policy.target.provider, **dict(policy.target.params)},
        "requesters": _people(policy.requesters, config),
        "approvals": [{"step": index, "count": step.count,
                       **_people(step.approvers, config, requester)}
                      for index, step in enumerate(policy.approvals, 1)],
        "approval_max_age": format_duration(policy.approval_max_age),
        "duration": ({"default": format_duration(policy.duration.default),
                      "max": format_duration(policy.duration.max)} if policy.grants else None),
        "justification_min_length": policy.justification_min_length,
        "ticket": {"required": policy.ticket.required, "pattern": policy.ticket.pattern},
        "active_hours": [_window(w) for w in policy.active_hours],
        "max_active_per_requester": policy.max_active_per_requester,
        "auto_approve": None if auto is None else {
            "max_duration": format_duration(auto.max_duration),
            # Only requesters are ever auto-approved: auto-approve narrows, never widens.
            "logins": sorted(str(x) for x in expand(auto.requesters, config.groups).logins
                             & expand(policy.requesters, config.groups).logins)},
        "break_glass": None if policy.break_glass is None else {
            "max_duration": format_duration(policy.break_glass.max_duration),
            "review_within": format_duration(policy.break_glass.review_within)},
        "revokers": _people(policy.revokers, config),
        "notify": list(policy.notify),
        "actions": None if rules is None else {
            "runbooks": sorted(rules.runbooks), "sql": rules.sql is not None},
        "lines": explain(policy, config),
    }


def may_request(policy: Policy, config: Config, login: Login) -> bool | None:
    """True if ``login`` may request ``policy``; None when it depends on a GitHub team that
    is only known online (the verdict looks it up); False otherwise."""
    expansion = expand(policy.requesters, config.groups)
    if login in expansion.logins:
        return True
    return None if expansion.unresolved_teams else False


def requestable(config: Config, login: Login) -> list[tuple[Policy, bool]]:
    """The policies ``login`` may request, by id, each with whether that is certain (False:
    through a GitHub team whose members are looked up online)."""
    found = []
    for policy_id in sorted(config.policies):
        policy = config.policies[policy_id]
        verdict = may_request(policy, config, login)
        if verdict is not False:
            found.append((policy, verdict is True))
    return found
