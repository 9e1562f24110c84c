"""What `gitjit doctor` checks: a live repository's settings against DESIGN.md section 6.

Pure: takes the settings as GitHub's REST API returns them (plain JSON data) and returns one
result per requirement, passed or failed, with the fix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine.core import strictyaml

CHECK = "gitjit/verdict"
HEARTBEAT = "gitjit/heartbeat"
HEARTBEAT_MAX_AGE = timedelta(minutes=30)
ACTIONS_BOT = "github-actions[bot]"
"""Who a workflow's GITHUB_TOKEN acts as: the heartbeat's creator in GITHUB_TOKEN mode."""
SETTINGS = "policies/settings.yaml"
LEDGER = "gitjit/ledger"
NAMESPACE = "gitjit/*"
# What keeps gitjit's branches gitjit's: who may create and update them, and that nobody
# deletes or rewrites them (ruleset rule types, in the order doctor reports them).
RESTRICTED = ("creation", "update")
PRESERVED = ("deletion", "non_fast_forward")
_WORDS = {"creation": "create", "update": "update", "deletion": "delete",
          "non_fast_forward": "force-push"}


@dataclass(frozen=True)
class Beat:
    """One ``gitjit/heartbeat`` on the default branch's tip, and who posted it."""

    kind: str
    """'check run' or 'commit status'."""
    by: str
    """The App's slug (a check run) or the creator's login (a commit status)."""
    app_id: int | None
    """The App that created a check run; None for a commit status."""
    success: bool
    at: datetime | None
    """When GitHub recorded it (completed_at, or the status's created_at)."""


@dataclass(frozen=True)
class Snapshot:
    """A repository's settings, as the API returned them."""

    default_branch: str
    protection: Mapping[str, Any] | None
    """Classic branch protection of the default branch; None when there is none."""
    rules: Sequence[Mapping[str, Any]]
    """The rules in force on the default branch (each with its ``ruleset_id``)."""
    rulesets: Sequence[Mapping[str, Any]]
    """Each active ruleset in full (with its bypass actors)."""
    ledger_rules: Sequence[Mapping[str, Any]]
    """The rules in force on gitjit/ledger."""
    ledger_protection: Mapping[str, Any] | None
    workflow: Mapping[str, Any]
    """GET /actions/permissions/workflow."""
    namespace_rules: Sequence[Mapping[str, Any]] = ()
    """The rules in force on a branch of the gitjit/* namespace (a removal branch)."""
    beats: Sequence[Beat] = ()
    """Every gitjit/heartbeat on the default branch's tip, whoever posted it."""
    app_id: int | None = None
    """The gitjit App's id; None: the workflows run in GITHUB_TOKEN mode."""
    removal: str | None = None
    """``removal`` of policies/settings.yaml on the default branch; None when unset."""
    settings_problem: str | None = None
    """Why policies/settings.yaml could not be read, if it could not."""


@dataclass(frozen=True)
class Result:
    requirement: str
    passed: bool
    detail: str
    fix: str


def removal_setting(raw: bytes | None) -> tuple[str | None, str | None]:
    """(``removal`` of a policies/settings.yaml, why it cannot be read): (None, None) when
    the file or the key is absent."""
    if raw is None:
        return None, None
    try:
        doc = strictyaml.load(raw, SETTINGS)
    except strictyaml.LoadError as exc:
        return None, exc.finding.message
    value = doc.data.get("removal") if isinstance(doc.data, dict) else None
    return (None if value is None else str(value)), None


def _rule(rules: Sequence[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [r for r in rules if r.get("type") == kind]


def _actors(ruleset: Mapping[str, Any] | None) -> set[tuple[str, Any]] | None:
    """(actor_type, actor_id) of a ruleset's bypass list; None when the list was not readable
    (GitHub shows it to admins only)."""
    if ruleset is None or "bypass_actors" not in ruleset:
        return None
    return {(a.get("actor_type", ""), a.get("actor_id"))
            for a in ruleset.get("bypass_actors") or []}


def _app_may_push(ruleset: Mapping[str, Any], app_id: int) -> bool:
    return any(a.get("actor_type") == "Integration" and a.get("actor_id") == app_id
               and a.get("bypass_mode", "always") != "pull_request"
               for a in ruleset.get("bypass_actors") or [])


def _classic_forbids(classic: Mapping[str, Any] | None, kind: str) -> bool:
    """Classic branch protection forbids deletion or force pushes (its only branch rules)."""
    if classic is None:
        return False
    allowed = classic.get("allow_deletions" if kind == "deletion" else "allow_force_pushes")
    return not (allowed or {}).get("enabled")


def diagnose(snap: Snapshot, now: datetime) -> list[Result]:
    out: list[Result] = []
    classic = snap.protection or {}
    branch = snap.default_branch
    by_id = {r.get("id"): r for r in snap.rulesets}

    def add(requirement: str, passed: bool, detail: str, fix: str) -> None:
        out.append(Result(requirement, passed, detail, fix))

    reviews = classic.get("required_pull_request_reviews")
    pr_rules = _rule(snap.rules, "pull_request")
    pulls_required = bool(reviews) or bool(pr_rules)
    add("changes reach the default branch only through pull requests", pulls_required,
        f"{branch}: " + ("pull requests required" if pulls_required else "direct pushes "
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
    last_push = bool(reviews and reviews.get("require_last_push_approval")) or any(
        r.get("parameters", {}).get("require_last_push_approval") for r in pr_rules)
    add("the most recent push must be approved by someone else", last_push,
        "required" if last_push else "not required: whoever pushes last may approve",
        "Enable 'Require approval of the most recent reviewable push' in the pull request "
        f"rule on {branch}, so nobody approves a push of their own.")

    out.append(_removal(snap, pulls_required))

    bypass: list[str] = []
    if snap.protection is not None and not (classic.get("enforce_admins") or {}).get("enabled"):
        bypass.append("administrators (enforce_admins is off)")
    allowances = (reviews or {}).get("bypass_pull_request_allowances") or {}
    bypass += [f"user {u.get('login')}" for u in allowances.get("users", [])]
    bypass += [f"team {t.get('slug')}" for t in allowances.get("teams", [])]
    # Only the rulesets on the default branch: the gitjit/* rulesets list the App, on purpose.
    on_default = {r.get("ruleset_id") for r in snap.rules}
    for ruleset in snap.rulesets:
        if ruleset.get("id") in on_default:
            bypass += [f"{a.get('actor_type')} {a.get('actor_id')} in ruleset "
                       f"'{ruleset.get('name')}'" for a in ruleset.get("bypass_actors") or []]
    add("nobody can bypass the rules", not bypass, "; ".join(bypass) or "no bypass actors",
        "Remove every bypass actor of the default branch's rulesets, and enforce the rules "
        "for administrators.")

    can_approve = bool(snap.workflow.get("can_approve_pull_request_reviews"))
    add("GitHub Actions may not approve pull requests", not can_approve,
        "allowed" if can_approve else "not allowed",
        "Settings > Actions > General: untick 'Allow GitHub Actions to create and approve "
        "pull requests'.")
    default = snap.workflow.get("default_workflow_permissions", "unknown")
    add("the default GITHUB_TOKEN is read-only", default == "read", f"default: {default}",
        "Settings > Actions > General > Workflow permissions: 'Read repository contents'.")

    out += _gitjit_branches(snap, by_id)
    out += _heartbeat(snap, now)
    return out


def _removal(snap: Snapshot, pulls_required: bool) -> Result:
    requirement = "gitjit's removals can reach the default branch"
    fix = ("Set 'removal: pull-request' in policies/settings.yaml: gitjit then removes "
           "expired and refused grants through pull requests, which its own check approves "
           "as housekeeping.")
    if snap.settings_problem is not None:
        return Result(requirement, False, f"policies/settings.yaml: {snap.settings_problem}",
                      "Fix policies/settings.yaml on the default branch (`gitjit check`).")
    # Unset is pull-request on GitHub (docs/lifecycle.md).
    removal = snap.removal or "pull-request"
    passed = removal != "push" or not pulls_required
    detail = f"removal: {removal}" + ("" if passed else f", but {snap.default_branch} "
                                      "requires pull requests: every direct push is refused")
    return Result(requirement, passed, detail, fix)


def _gitjit_branches(snap: Snapshot, by_id: Mapping[Any, Mapping[str, Any]]) -> list[Result]:
    """gitjit/ledger and the gitjit/* namespace: written by the App alone, never deleted or
    rewritten."""
    if snap.app_id is None:
        return [Result(
            f"only gitjit can write {LEDGER} and {NAMESPACE}", False,
            "GITHUB_TOKEN mode: the workflows write as github-actions[bot], which every "
            "workflow of the repository acts as, so no ruleset can tell gitjit from anyone "
            "with write access; anyone who can push can push the ledger, and gitjit's "
            "signatures are its only protection",
            "Install the gitjit GitHub App and set the repository variable GITJIT_APP_ID "
            "(docs/installation.md), then restrict gitjit/* to the App.")]
    results = []
    places = ((LEDGER, snap.ledger_rules, snap.ledger_protection),
              (NAMESPACE, snap.namespace_rules, None))
    for name, rules, classic in places:
        problems: list[str] = []
        for kind in RESTRICTED + PRESERVED:
            found = _rule(rules, kind)
            sources = [by_id.get(r.get("ruleset_id")) for r in found]
            actors = [_actors(s) for s in sources]
            if kind in PRESERVED and _classic_forbids(classic, kind):
                continue
            if not found:
                problems.append(f"anyone with write access may {_WORDS[kind]} it")
                continue
            if any(a is None for a in actors):
                problems.append(f"cannot read who may bypass its {kind} rule (needs an "
                                "admin's token)")
                continue
            app = {("Integration", snap.app_id)}
            if not any(a is not None and a <= app for a in actors):
                others = sorted({f"{t} {i}" for a in actors if a for t, i in a - app})
                problems.append(f"{', '.join(others)} may {_WORDS[kind]} it besides the App")
            if kind in RESTRICTED and not all(
                    s is not None and _app_may_push(s, snap.app_id) for s in sources):
                problems.append(f"the gitjit App itself may not {_WORDS[kind]} it (add it as "
                                "the ruleset's bypass actor, mode 'always')")
        results.append(Result(
            f"only the gitjit App creates and updates {name}, and nobody deletes or "
            "force-pushes it", not problems, "; ".join(problems) or "restricted to the App",
            f"Add a branch ruleset on {name} (docs/installation.md, 'gitjit-branches') with "
            "Restrict creations, Restrict updates, Restrict deletions and Block force pushes, "
            f"and the gitjit App (id {snap.app_id}) as its only bypass actor."))
    return results


def is_genuine(beat: Beat, app_id: int | None) -> bool:
    """Whether gitjit posted the mark: a check run of the pinned App (App mode), or a commit
    status by github-actions[bot] (GITHUB_TOKEN mode)."""
    if app_id is not None:
        return beat.kind == "check run" and beat.app_id == app_id
    return beat.kind == "commit status" and beat.by == ACTIONS_BOT


def _heartbeat(snap: Snapshot, now: datetime) -> list[Result]:
    """The last success of reconcile, counted only when gitjit posted it: a check run of the
    pinned App (App mode), or a commit status by github-actions[bot] (GITHUB_TOKEN mode)."""

    def genuine(beat: Beat) -> bool:
        return is_genuine(beat, snap.app_id)

    ours = [b.at for b in snap.beats if genuine(b) and b.success and b.at is not None]
    last = max(ours, default=None)
    forged = sorted({f"{b.by} ({b.kind})" for b in snap.beats if not genuine(b)})
    source = (f"a check run of the gitjit App (id {snap.app_id})" if snap.app_id is not None
              else f"a commit status by {ACTIONS_BOT}")
    fresh = last is not None and now - last <= HEARTBEAT_MAX_AGE
    seen = last.strftime("%Y-%m-%d %H:%M UTC") if last else "never"
    return [
        Result("reconcile succeeded within the last 30 minutes", fresh,
               f"last success: {seen}; counted: {source}",
               "Check the reconcile workflow's runs; GitHub's schedule can be late or dropped, "
               "so it also runs on push and on dispatch."),
        Result(f"nobody but gitjit posts {HEARTBEAT}", not forged,
               ("ignored, posted by " + ", ".join(forged)) if forged else "none forged",
               f"Someone posted {HEARTBEAT} who is not gitjit, perhaps to hide a reconcile "
               "that no longer runs: find out who (the check run's App, the status's creator), "
               "and check the reconcile workflow's runs."),
    ]
