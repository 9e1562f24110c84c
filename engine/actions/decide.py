"""The verdict on an action request: who asks, what exactly would run, and the approvals.

Judged like a grant request (requester, eligibility, justification, ticket, active hours,
the policy's approval steps on the head commit), plus the plan: the rendered statement or
argv, which the verdict shows and which approvals count on. Actions are never auto-approved
and have no break-glass: an approver sees every operation before it runs.
"""

from __future__ import annotations

import re
from datetime import datetime

from engine.actions.model import ActionRequest, ActionVerdict, Plan
from engine.actions.plan import build_plan
from engine.actions.request import load_action
from engine.core import approvals
from engine.core.decide import author_id_mismatch, describe_hours, within
from engine.core.decision import Decision, Kind, Outcome, PullRequest
from engine.core.findings import Finding, Severity
from engine.core.models import Config, Policy
from engine.core.principals import describe, expand, unresolved
from engine.core.schema import SchemaSet
from engine.core.suggest import did_you_mean


def decide_action(pr: PullRequest, config: Config, schemas: SchemaSet,
                  now: datetime) -> Decision:
    file = pr.added[0]
    loaded = load_action(file.path, file.raw, schemas, config.settings.max_grant_bytes)
    used = _used(file.path, pr)
    if loaded.request is None:
        return Decision(Outcome.DENIED, Kind.ACTION, tuple(sorted([*loaded.findings, *used])))
    request = loaded.request
    policy = config.policies.get(request.policy)
    findings = [*used, *_request_findings(request, policy, pr, config, now)]
    plan = None
    if policy is not None:
        plan, problems = build_plan(request, policy, config.settings)
        findings += problems
        findings += _origin(request, plan, pr)
    verdict = ActionVerdict(request, plan)
    notify = policy.notify if policy else ()
    if policy is None or plan is None or any(f.severity is Severity.ERROR for f in findings):
        return Decision(Outcome.DENIED, Kind.ACTION, tuple(sorted(findings)), action=verdict,
                        notify=notify)
    result = approvals.evaluate(policy, config.groups, pr, request.path, now)
    return Decision(result.outcome, Kind.ACTION, tuple(sorted([*findings, *result.findings])),
                    missing=result.missing, counted=result.counted, action=verdict,
                    notify=notify)


def _origin(request: ActionRequest, plan: Plan | None, pr: PullRequest) -> list[Finding]:
    """What would run under the configuration the head was written against must be what
    runs now: approvals are given on the head, and the head must pin everything that runs."""
    origin = pr.origin
    if origin is None or plan is None:
        return []
    policy = origin.policies.get(request.policy)
    before = build_plan(request, policy, origin.settings)[0] if policy is not None else None
    if before is not None and before == plan:
        return []
    why = ("it could not run at all there" if before is None else
           "the runbook, a limit, the target or its connection differs")
    return [Finding(request.path, request.lines.get("runbook", request.lines.get("sql", 0)),
                    "action.plan-changed", f"what would run differs from what it would have "
                    f"been when this branch was made ({why}): the default branch changed the "
                    f"policy {request.policy!r} or its connection since; merge the default "
                    "branch into this branch, and approvals are given again on what now runs")]


def _used(path: str, pr: PullRequest) -> list[Finding]:
    """An action id is used once: the ledger knows an action by its id, and a re-added file
    (GitHub's Revert button makes one) must never look like the action that already ran."""
    commit = pr.used.get(path)
    if commit is None:
        return []
    return [Finding(path, 0, "action.id-used", f"action {path.removesuffix('.yaml')!r} was "
                    f"used before: the default branch's history already held this file (commit "
                    f"{commit[:12]}); rename the file with a new stamp")]


def _request_findings(request: ActionRequest, policy: Policy | None, pr: PullRequest,
                      config: Config, now: datetime) -> list[Finding]:
    findings: list[Finding] = []

    def deny(key: str, code: str, message: str) -> None:
        findings.append(Finding(request.path, request.lines.get(key, 0), code, message))

    if request.requester != pr.author:
        deny("requester", "action.requester-not-author", f"requester {request.requester!r} is "
             f"not the pull request's author {pr.author!r}; an action is opened by the person "
             "who asks for it")
    renamed = author_id_mismatch(pr, config)
    if renamed is not None:
        deny("requester", "identity.author-id", renamed)
    if policy is None:
        known = ", ".join(sorted(config.policies)) or "none"
        deny("policy", "action.unknown-policy", f"unknown policy {request.policy!r}; "
             f"{did_you_mean(request.policy, config.policies)}known policies: {known}")
        return findings
    requesters = expand(policy.requesters, config.groups)
    gap = unresolved(requesters)
    if gap is not None and (requesters.undefined_groups
                            or request.requester not in requesters.logins):
        findings.append(Finding(policy.path, policy.lines.get("requesters", 1), gap[0],
                                f"requesters name {gap[1]}"))
    elif request.requester not in requesters.logins:
        deny("requester", "action.requester-not-eligible", f"{request.requester} may not ask "
             f"for actions of policy {policy.id!r}; eligible: {describe(policy.requesters)} "
             f"({policy.path})")
    length = len(request.justification.strip())
    if length < policy.justification_min_length:
        deny("justification", "action.justification", f"justification has {length} "
             f"characters; policy {policy.id!r} needs at least "
             f"{policy.justification_min_length}")
    rule = policy.ticket
    if request.ticket is None and rule.required:
        pattern = f" matching {rule.pattern}" if rule.pattern else ""
        deny("policy", "action.ticket-missing", f"policy {policy.id!r} requires a ticket"
             f"{pattern}; add 'ticket'")
    elif request.ticket is not None and rule.pattern is not None \
            and re.fullmatch(rule.pattern, request.ticket) is None:
        deny("ticket", "action.ticket-pattern", f"ticket {request.ticket!r} does not match "
             f"{rule.pattern} (policy {policy.id!r})")
    hours = policy.active_hours
    if hours and not within(hours, now):
        deny("policy", "action.outside-active-hours", f"{now:%a %Y-%m-%d %H:%M} UTC is outside "
             f"the active hours of policy {policy.id!r} ({describe_hours(hours)}); an action "
             "is judged when it is approved and again when it is merged")
    return findings


