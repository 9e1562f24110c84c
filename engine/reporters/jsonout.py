"""JSON for machines. The shape is documented in docs/json-output.md; bump 'version' on change."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from engine.actions.model import ActionVerdict
from engine.core.findings import Finding
from engine.core.models import Grant
from engine.core.report import CheckReport, PullRequestReport
from engine.core.values import format_duration

VERSION = 1


def _time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def finding(item: Finding) -> dict[str, Any]:
    return {"code": item.code, "severity": item.severity.value, "path": item.path,
            "line": item.line, "message": item.message}


def grant(item: Grant) -> dict[str, Any]:
    return {"id": item.id, "path": item.path, "policy": item.policy,
            "requester": item.requester, "duration": format_duration(item.duration),
            "justification": item.justification, "ticket": item.ticket,
            "start": _time(item.start), "extends": item.extends,
            "break_glass": item.break_glass}


def action(verdict: ActionVerdict) -> dict[str, Any]:
    request, plan = verdict.request, verdict.plan
    return {"id": request.id, "path": request.path, "policy": request.policy,
            "requester": request.requester, "runbook": request.runbook,
            "params": dict(request.params), "sql": request.sql,
            "max_rows": request.max_rows, "justification": request.justification,
            "ticket": request.ticket,
            "plan": None if plan is None else {**plan.document(), "digest": plan.digest()}}


def check(report: CheckReport) -> str:
    tally = report.tally
    return json.dumps({
        "version": VERSION,
        "ok": tally.errors == 0,
        "summary": {"policies": report.policies, "grants": report.grants,
                    "files": report.files, "errors": tally.errors,
                    "warnings": tally.warnings, "notices": tally.notices},
        "findings": [finding(f) for f in report.findings],
    }, indent=2) + "\n"


def pull_request(report: PullRequestReport) -> str:
    decision = report.decision
    return json.dumps({
        "version": VERSION,
        "decision": decision.outcome.value,
        "kind": decision.kind.value,
        "author": report.author,
        "base": report.base,
        "head": report.head,
        "grant": grant(decision.grant) if decision.grant else None,
        "deleted": [grant(g) for g in decision.deleted],
        "action": action(decision.action) if decision.action else None,
        "break_glass": decision.break_glass,
        "auto_approved": decision.auto_approved,
        "review_by": _time(decision.review_by),
        "notify": list(decision.notify),
        "findings": [finding(f) for f in decision.findings],
        "missing": [{"policy": m.policy, "step": m.step, "needed": m.needed, "count": m.count,
                     "approvers": m.approvers, "eligible": list(m.eligible)}
                    for m in decision.missing],
        "counted": [{"reviewer": c.reviewer, "policy": c.policy, "step": c.step,
                     "commit": c.commit, "submitted_at": _time(c.submitted_at)}
                    for c in decision.counted],
    }, indent=2) + "\n"
