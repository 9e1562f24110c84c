"""Plain text for terminals: one finding a line, then a stable summary line."""

from __future__ import annotations

from engine.core.decision import Decision
from engine.core.findings import Finding, Severity
from engine.core.report import CheckReport, PullRequestReport
from engine.core.values import format_duration, plural

MISSING = "approval.missing"


def _finding(finding: Finding) -> str:
    prefix = "" if finding.severity is Severity.ERROR else f"{finding.severity.value}: "
    return prefix + finding.render()


def check(report: CheckReport) -> str:
    lines = [_finding(f) for f in report.findings]
    tally = report.tally
    lines.append(f"{plural(report.policies, 'policy')}, {plural(report.grants, 'grant')}, "
                 f"{plural(tally.errors, 'error')}, {plural(tally.warnings, 'warning')}")
    return "\n".join(lines) + "\n"


def describe(decision: Decision) -> str:
    grant = decision.grant
    if decision.action is not None:
        request = decision.action.request
        what = f"runbook {request.runbook}" if request.runbook else "free-form SQL"
        return f"{decision.kind.value}: {request.requester} asks to run {what} of {request.policy}"
    if grant is None:
        return f"{decision.kind.value}"
    return (f"{decision.kind.value}: {grant.requester} asks for {grant.policy} for "
            f"{format_duration(grant.duration)}")


def pull_request(report: PullRequestReport) -> str:
    decision = report.decision
    lines = [f"{decision.outcome.value.upper()}: {describe(decision)}"]
    plan = decision.action.plan if decision.action else None
    if plan is not None:
        lines += [f"  runs: {line}" for line in plan.shown().splitlines()]
        lines.append(f"  digest: {plan.digest()}")
    # The missing lines below say what an approval.missing finding says, with who may approve.
    shown = [f for f in decision.findings if not (decision.missing and f.code == MISSING)]
    lines += [f"  {_finding(f)}" for f in shown]
    for step in decision.missing:
        who = ", ".join(step.eligible) or "nobody eligible is left"
        lines.append(f"  missing: {step.policy} step {step.step} ({step.approvers}) needs "
                     f"{step.needed} more of {step.count}; may approve: {who}")
    for approval in decision.counted:
        lines.append(f"  counted: {approval.reviewer} for {approval.policy} step {approval.step}")
    return "\n".join(lines) + "\n"
