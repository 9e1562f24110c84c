"""What `gitjit doctor` checks: a live repository's settings against DESIGN.md section 6.

Pure: takes the settings as GitHub's REST API returns them (plain JSON data) and returns one
result per requirement, passed or failed, with the fix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

CHECK = "gitjit/verdict"
HEARTBEAT_MAX_AGE = timedelta(minutes=30)


@dataclass(frozen=True)
class Snapshot:
    """A repository's settings, as the API returned them."""

    default_branch: str
    protection: Mapping[str, Any] | None
    """Classic branch protection of the default branch; None when there is none."""
    rules: Sequence[Mapping[str, Any]]
    """The rules in force on the default branch (all active rulesets)."""
    rulesets: Sequence[Mapping[str, Any]]
    """Each active ruleset in full (with its bypass actors)."""
    ledger_rules: Sequence[Mapping[str, Any]]
    """The rules in force on gitjit/ledger."""
    ledger_protection: Mapping[str, Any] | None
    workflow: Mapping[str, Any]
    """GET /actions/permissions/workflow."""
    heartbeat: datetime | None
    """When the last reconcile succeeded (the gitjit/heartbeat status), if ever."""
    app_id: int | None = None
    """The gitjit App's id, when known: the required check must come from it."""


@dataclass(frozen=True)
class Result:
    requirement: str
    passed: bool
    detail: str
    fix: str


def _rule(rules: Sequence[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [r for r in rules if r.get("type") == kind]


def diagnose(snap: Snapshot, now: datetime) -> list[Result]:
    out: list[Result] = []
    classic = snap.protection or {}
    branch = snap.default_branch

    def add(requirement: str, passed: bool, detail: str, fix: str) -> None:
        out.append(Result(requirement, passed, detail, fix))

    reviews = classic.get("required_pull_request_reviews")
    pr_rules = _rule(snap.rules, "pull_request")
    add("changes reach the default branch only through pull requests",
        bool(reviews) or bool(pr_rules),
        f"{branch}: " + ("pull requests required" if reviews or pr_rules else "direct pushes "
                         "allowed"),
        f"Add a branch ruleset on {branch} with 'Require a pull request before merging'.")

    checks: list[tuple[str, int | None]] = []
    status = classic.get("required_status_checks") or {}
    checks += [(c.get("context", ""), c.get("app_id")) for c in status.get("checks", [])]
    checks += [(c, None) for c in status.get("contexts", []) if c not in {n for n, _ in checks}]
    for rule in _rule(snap.rules, "required_status_checks"):
        checks += [(c.get("context", ""), c.get("integration_id"))
                   for c in rule.get("parameters", {}).get("required_status_checks", [])]
    ours = [(name, source) for name, source in checks if name == CHECK]
    add(f"the check {CHECK} is required", bool(ours),
        f"required checks: {', '.join(sorted({n for n, _ in checks})) or 'none'}",
        f"Require the status check '{CHECK}' in the ruleset on {branch}.")
    if snap.app_id is not None:
        pinned = any(source == snap.app_id for _, source in ours)
        add(f"{CHECK} must come from the gitjit App", pinned,
            "sources: " + (", ".join(str(s) if s is not None else "any" for _, s in ours)
                           or "none"),
            f"Set the check's expected source to the gitjit App (id {snap.app_id}), so no "
            "other workflow or token can post a green verdict.")

    dismiss = bool(reviews and reviews.get("dismiss_stale_reviews")) or any(
        r.get("parameters", {}).get("dismiss_stale_reviews_on_push") for r in pr_rules)
    add("stale approvals are dismissed on push", dismiss,
        "dismissed" if dismiss else "kept after new pushes",
        "Enable 'Dismiss stale pull request approvals when new commits are pushed'.")

    bypass: list[str] = []
    if snap.protection is not None and not (classic.get("enforce_admins") or {}).get("enabled"):
        bypass.append("administrators (enforce_admins is off)")
    allowances = (reviews or {}).get("bypass_pull_request_allowances") or {}
    bypass += [f"user {u.get('login')}" for u in allowances.get("users", [])]
    bypass += [f"team {t.get('slug')}" for t in allowances.get("teams", [])]
    for ruleset in snap.rulesets:
        bypass += [f"{a.get('actor_type')} {a.get('actor_id')} in ruleset "
                   f"'{ruleset.get('name')}'" for a in ruleset.get("bypass_actors") or []]
    add("nobody can bypass the rules", not bypass, "; ".join(bypass) or "no bypass actors",
        "Remove every bypass actor, and enforce the rules for administrators.")

    can_approve = bool(snap.workflow.get("can_approve_pull_request_reviews"))
    add("GitHub Actions may not approve pull requests", not can_approve,
        "allowed" if can_approve else "not allowed",
        "Settings > Actions > General: untick 'Allow GitHub Actions to create and approve "
        "pull requests'.")
    default = snap.workflow.get("default_workflow_permissions", "unknown")
    add("the default GITHUB_TOKEN is read-only", default == "read", f"default: {default}",
        "Settings > Actions > General > Workflow permissions: 'Read repository contents'.")

    ledger_safe = bool(_rule(snap.ledger_rules, "non_fast_forward")) or bool(
        snap.ledger_protection is not None
        and not (snap.ledger_protection.get("allow_force_pushes") or {}).get("enabled"))
    add("gitjit/ledger is protected from force pushes", ledger_safe,
        "protected" if ledger_safe else "force pushes allowed",
        "Add a ruleset on gitjit/ledger that blocks force pushes and deletion.")

    fresh = snap.heartbeat is not None and now - snap.heartbeat <= HEARTBEAT_MAX_AGE
    seen = snap.heartbeat.strftime("%Y-%m-%d %H:%M UTC") if snap.heartbeat else "never"
    add("reconcile succeeded within the last 30 minutes", fresh, f"last success: {seen}",
        "Check the reconcile workflow's runs; GitHub's schedule can be late or dropped, so it "
        "also runs on push and on dispatch.")
    return out
