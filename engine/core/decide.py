"""The verdict on a pull request: classify the change, then judge it (DESIGN.md section 4)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from engine.actions.classify import classify_actions
from engine.actions.model import ACTIONS_DIR
from engine.core import approvals, privileges
from engine.core.changes import Change
from engine.core.config import ConfigResult
from engine.core.decision import Counted, Decision, GrantFile, Kind, Missing, Outcome, PullRequest
from engine.core.findings import Finding, Severity
from engine.core.grants import (
    GRANTS_DIR,
    LoadedGrant,
    canonical_path,
    file_finding,
    grant_id,
    load_grant,
    parse_path,
)
from engine.core.lifecycle import State, window
from engine.core.models import ActiveHours, ApprovalStep, Config, Grant, Policy
from engine.core.principals import describe, expand, unresolved
from engine.core.schema import SchemaSet
from engine.core.suggest import did_you_mean
from engine.core.values import format_duration

MAX_START_AHEAD = timedelta(days=30)


@dataclass(frozen=True)
class Classification:
    kind: Kind
    findings: tuple[Finding, ...] = ()
    """Non-empty only when the change is denied by its shape alone."""


def classify(changes: Sequence[Change]) -> Classification:
    """What kind of pull request this is, judged from the diff alone."""
    if not changes:
        return Classification(Kind.EMPTY, (Finding("", 0, "pr.empty",
                              "the pull request changes nothing; add a grant file"),))
    grant_side = [c for c in changes if c.path.startswith(GRANTS_DIR)]
    action_side = [c for c in changes if c.path.startswith(ACTIONS_DIR)]
    control = [c for c in changes
               if not c.path.startswith(GRANTS_DIR) and not c.path.startswith(ACTIONS_DIR)]
    if action_side:
        return classify_actions(action_side, grant_side or control)
    if grant_side and control:
        return Classification(Kind.MIXED, (Finding(control[0].path, 0, "pr.mixed",
            f"changes grants ({grant_side[0].path}) and configuration ({control[0].path}) "
            "together; open separate pull requests"),))
    if control:
        return Classification(Kind.CONTROL_PLANE)
    modified = [c for c in changes if c.status not in ("A", "D")]
    if modified:
        return Classification(Kind.MODIFY, tuple(Finding(c.path, 0, "pr.modifies-grant",
            "grants are immutable: this pull request changes an existing grant; to extend it, "
            "add a new grant that names it in 'extends'") for c in modified))
    added = [c for c in changes if c.status == "A"]
    deleted = [c for c in changes if c.status == "D"]
    if added and deleted:
        return Classification(Kind.MIXED, (Finding(added[0].path, 0, "pr.mixed",
            f"adds {added[0].path} and deletes {deleted[0].path} in one pull request (a rename "
            "is exactly that); add and remove grants in separate pull requests"),))
    shape = [f for c in changes for f in _shape_findings(c)]
    if shape:
        return Classification(Kind.INVALID, tuple(shape))
    if len(added) > 1:
        return Classification(Kind.REQUEST, (Finding(added[1].path, 0, "pr.multiple-grants",
            f"adds {len(added)} grant files; open one pull request per grant"),))
    return Classification(Kind.REQUEST if added else Kind.REVOKE)


def _shape_findings(change: Change) -> list[Finding]:
    mode = change.new_mode if change.status == "A" else change.old_mode
    finding = file_finding(change.path, mode)
    return [finding] if finding else []


def decide(pr: PullRequest, base: ConfigResult, schemas: SchemaSet, now: datetime,
           head: ConfigResult | None = None) -> Decision:
    """The verdict. ``base`` judges requests; ``head`` is needed for control-plane changes."""
    shape = classify(pr.changes)
    if shape.findings:
        return Decision(Outcome.DENIED, shape.kind, _sorted(shape.findings))
    if shape.kind is Kind.CONTROL_PLANE:
        if head is None:
            raise ValueError("a control-plane change needs the head configuration")
        return decide_control_plane(base, head)
    if base.config is None:
        # The real findings, not a stand-in: whoever fixes the base needs to know what is wrong.
        errors = [f for f in base.findings if f.severity is Severity.ERROR]
        return Decision(Outcome.DENIED, shape.kind, _sorted([*errors, Finding(
            "policies/", 0, "pr.base-config-invalid", f"the base branch's configuration has "
            f"{len(errors)} error(s), listed here, so no request can be judged (fail closed); "
            "fix them on the default branch first ('gitjit check')")]))
    if shape.kind is Kind.REQUEST:
        return decide_request(pr, base.config, schemas, now)
    if shape.kind is Kind.ACTION:
        # Imported here: the actions package judges with this module's helpers.
        from engine.actions.decide import decide_action
        return decide_action(pr, base.config, schemas, now)
    return decide_deletion(pr, base.config, schemas, now)


def decide_control_plane(base: ConfigResult, head: ConfigResult) -> Decision:
    """Not a request: gitjit validates the new configuration and reports who gains what."""
    findings = list(head.findings)
    findings.append(Finding("", 0, "pr.control-plane", "configuration change: not an access "
                            "request; approval comes from the repository's own rules "
                            "(CODEOWNERS, rulesets)", Severity.NOTICE))
    if base.config is not None and head.config is not None:
        findings += privileges.changes(base.config, head.config)
    outcome = Outcome.DENIED if any(f.severity is Severity.ERROR for f in findings) \
        else Outcome.APPROVED
    return Decision(outcome, Kind.CONTROL_PLANE, _sorted(findings))


def decide_request(pr: PullRequest, config: Config, schemas: SchemaSet,
                   now: datetime) -> Decision:
    decision = _judge_request(pr, config, schemas, now)
    policy = config.policies.get(decision.grant.policy) if decision.grant else None
    # Whoever the policy notifies is told of the request whatever its verdict.
    return replace(decision, notify=policy.notify) if policy else decision


def _judge_request(pr: PullRequest, config: Config, schemas: SchemaSet,
                   now: datetime) -> Decision:
    file = pr.added[0]
    loaded = load_grant(file.path, file.raw, schemas, config.settings.max_grant_bytes)
    used = _used_findings(file.path, pr, now)
    if loaded.grant is None:
        # A path that disagrees with the content denies, but must not hide the other reasons:
        # the content is judged as it reads, so the requester can fix everything at once.
        draft = loaded.draft
        others = [] if draft is None else _request_findings(
            draft, config.policies.get(draft.policy), pr, config, schemas, now)
        return Decision(Outcome.DENIED, Kind.REQUEST,
                        _sorted([*loaded.findings, *used, *others]))
    grant = loaded.grant
    policy = config.policies.get(grant.policy)
    findings = [*used, *_request_findings(grant, policy, pr, config, schemas, now)]
    if policy is None or any(f.severity is Severity.ERROR for f in findings):
        return Decision(Outcome.DENIED, Kind.REQUEST, _sorted(findings), grant=grant)

    if grant.break_glass:
        assert policy.break_glass is not None  # checked by _request_findings
        review_by = now + policy.break_glass.review_within
        findings.append(Finding(grant.path, grant.lines.get("break_glass", 0),
            "approval.break-glass", f"break-glass: approved without review; it must be "
            f"reviewed by {review_by:%Y-%m-%d %H:%M} UTC", Severity.WARNING))
        return Decision(Outcome.APPROVED, Kind.REQUEST, _sorted(findings), grant=grant,
                        break_glass=True, review_by=review_by)

    result = approvals.evaluate(policy, config.groups, pr, grant.path, now) \
        if policy.approvals else None
    if _auto_approves(policy, config, grant) and not (result and result.blocked):
        findings.append(Finding(grant.path, grant.lines.get("duration", 0), "approval.auto",
            f"auto-approved: {grant.requester} may be auto-approved for up to "
            f"{format_duration(policy.auto_approve.max_duration)}"  # type: ignore[union-attr]
            , Severity.NOTICE))
        return Decision(Outcome.APPROVED, Kind.REQUEST, _sorted(findings), grant=grant,
                        auto_approved=True)
    if result is None:
        auto = policy.auto_approve
        gap = unresolved(expand(auto.requesters, config.groups)) if auto else None
        if gap is not None:
            findings.append(Finding(policy.path, policy.lines.get("auto_approve", 1), gap[0],
                                    f"auto_approve names {gap[1]}"))
        rule = (f"its auto-approve rule admits only {describe(auto.requesters)} for up to "
                f"{format_duration(auto.max_duration)}" if auto else "it has no auto-approve rule")
        findings.append(Finding(policy.path, policy.lines.get("id", 1), "approval.no-approvers",
            f"policy {policy.id!r} has no approval step and {rule}; this request cannot be "
            "approved"))
        return Decision(Outcome.DENIED, Kind.REQUEST, _sorted(findings), grant=grant)
    return Decision(result.outcome, Kind.REQUEST, _sorted([*findings, *result.findings]),
                    missing=result.missing, counted=result.counted, grant=grant)


def _auto_approves(policy: Policy, config: Config, grant: Grant) -> bool:
    auto = policy.auto_approve
    if auto is None or grant.duration > auto.max_duration:
        return False
    eligible = expand(auto.requesters, config.groups)
    requesters = expand(policy.requesters, config.groups)
    # Auto-approve only narrows: the requester must be eligible under both lists.
    return (not eligible.unknown_groups and grant.requester in eligible.logins
            and grant.requester in requesters.logins)


def _request_findings(grant: Grant, policy: Policy | None, pr: PullRequest, config: Config,
                      schemas: SchemaSet, now: datetime) -> list[Finding]:
    """Every reason the request is denied, so the requester can fix them all at once."""
    findings: list[Finding] = []

    def deny(key: str, code: str, message: str) -> None:
        findings.append(Finding(grant.path, grant.lines.get(key, 0), code, message))

    if grant.requester != pr.author:
        deny("requester", "grant.requester-not-author", f"requester {grant.requester!r} is not "
             f"the pull request's author {pr.author!r}; a request must be opened by the person "
             "it grants access to")
    renamed = author_id_mismatch(pr, config)
    if renamed is not None:
        deny("requester", "identity.author-id", renamed)
    if policy is None:
        known = ", ".join(sorted(config.policies)) or "none"
        deny("policy", "grant.unknown-policy", f"unknown policy {grant.policy!r}; "
             f"{did_you_mean(grant.policy, config.policies)}known policies: {known}")
        return findings
    where = f"({policy.path})"
    if not policy.grants:
        deny("policy", "grant.actions-only", f"policy {policy.id!r} approves actions only "
             f"(it has no 'duration'): nobody holds its role; file an action request under "
             f"actions/{policy.id}/ instead {where}")
    requesters = expand(policy.requesters, config.groups)
    # An unresolved team only matters if the requester is not eligible some other way; an
    # undefined group is a broken configuration and denies whoever asks.
    gap = unresolved(requesters)
    if gap is not None and (requesters.undefined_groups
                            or grant.requester not in requesters.logins):
        findings.append(Finding(policy.path, policy.lines.get("requesters", 1), gap[0],
                                f"requesters name {gap[1]}"))
    elif grant.requester not in requesters.logins:
        deny("requester", "grant.requester-not-eligible", f"{grant.requester} may not request "
             f"policy {policy.id!r}; eligible: {describe(policy.requesters)} {where}")
    asked = format_duration(grant.duration)
    if grant.break_glass:
        glass = policy.break_glass
        if glass is None:
            deny("break_glass", "grant.break-glass-not-allowed", f"policy {policy.id!r} has "
                 f"no break_glass rule; remove 'break_glass' {where}")
        elif grant.duration > glass.max_duration:
            deny("duration", "grant.break-glass-duration", f"duration '{asked}' exceeds the "
                 f"break-glass maximum '{format_duration(glass.max_duration)}' {where}")
    # Every duration is capped by the policy maximum, break-glass too (its own maximum may
    # be set higher by mistake).
    if grant.duration > policy.duration.max:
        deny("duration", "grant.duration-exceeds-max", f"duration '{asked}' exceeds the policy "
             f"maximum '{format_duration(policy.duration.max)}' {where}")
    length = len(grant.justification.strip())
    if length < policy.justification_min_length:
        deny("justification", "grant.justification", f"justification has {length} characters; "
             f"policy {policy.id!r} needs at least {policy.justification_min_length}")
    findings += _ticket_findings(grant, policy)
    if grant.start is not None and grant.start > now + MAX_START_AHEAD:
        deny("start", "grant.start-after-expiry-window", f"start {grant.start:%Y-%m-%dT%H:%MZ} "
             "is more than 30 days ahead; request closer to the time")
    hours = policy.active_hours
    at = max(now, grant.start or now)
    if hours and not grant.break_glass and not within(hours, at):
        deny("start" if grant.start else "policy", "grant.outside-active-hours",
             f"{at:%a %Y-%m-%d %H:%M} UTC is outside the active hours of policy "
             f"{policy.id!r} ({describe_hours(hours)})")
    findings += _existing_findings(grant, policy, pr, config, schemas, now)
    return findings


def author_id_mismatch(pr: PullRequest, config: Config) -> str | None:
    """Why the pull request's author is not the account groups.yaml pins that login to, or
    None: a login freed by a rename can be claimed by someone else."""
    pinned = config.groups.ids.get(pr.author)
    if pinned is None or pr.author_id is None or pr.author_id == pinned:
        return None
    return (f"the pull request's author {pr.author} is GitHub account id {pr.author_id}, but "
            f"{config.groups.path} pins {pr.author} to id {pinned}: the login was renamed and "
            "claimed by someone else, or the pin is out of date; a policy admin must confirm "
            "who it is")


def _used_findings(path: str, pr: PullRequest, now: datetime) -> list[Finding]:
    """A grant id is used once: activation, the ledger and audit know a grant by its id, so a
    re-added file (GitHub's Revert button makes one) would be approved and never activated."""
    commit = pr.used.get(path)
    if commit is None:
        return []
    parts = parse_path(path)
    fresh = ""
    if parts is not None:
        name = canonical_path(parts.policy, parts.requester, now)
        if name == path:  # asked again within the same minute
            name = canonical_path(parts.policy, parts.requester, now + timedelta(minutes=1))
        fresh = f" such as {name}"
    return [Finding(path, 0, "grant.id-used", f"grant id {grant_id(path)!r} was used before: "
                    f"the default branch's history already held this file (commit "
                    f"{commit[:12]}); pick a new stamp: rename the file{fresh}")]


def _ticket_findings(grant: Grant, policy: Policy) -> list[Finding]:
    rule = policy.ticket
    line = grant.lines.get("ticket", 0)
    if grant.ticket is None:
        if rule.required:
            pattern = f" matching {rule.pattern}" if rule.pattern else ""
            return [Finding(grant.path, 0, "grant.ticket-missing", f"policy {policy.id!r} "
                            f"requires a ticket{pattern}; add 'ticket'")]
        return []
    if rule.pattern is not None and re.fullmatch(rule.pattern, grant.ticket) is None:
        return [Finding(grant.path, line, "grant.ticket-pattern", f"ticket {grant.ticket!r} "
                        f"does not match {rule.pattern} (policy {policy.id!r})")]
    return []


def within(hours: tuple[ActiveHours, ...], at: datetime) -> bool:
    """Whether ``at`` falls in any window of the active hours, each in its own time zone (end
    excluded)."""
    return any(_in_window(window, at) for window in hours)


def _in_window(window: ActiveHours, at: datetime) -> bool:
    local = at.astimezone(ZoneInfo(window.timezone))
    clock = local.time().replace(tzinfo=None)
    if window.start < window.end:
        return local.weekday() in window.days and window.start <= clock < window.end
    # Across midnight: the window opens on a listed day and closes on the next morning, so
    # the early hours belong to the day before (fri 22:00-06:00 covers Saturday 05:00).
    if clock >= window.start:
        return local.weekday() in window.days
    return clock < window.end and (local.weekday() - 1) % 7 in window.days


def describe_hours(hours: tuple[ActiveHours, ...]) -> str:
    """'mon,fri 07:00-19:00 Europe/Berlin', windows joined with ' or '."""
    return " or ".join(_describe_window(window) for window in hours)


def _describe_window(window: ActiveHours) -> str:
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    days = ",".join(names[d] for d in sorted(window.days))
    end = "24:00" if window.end == window.end.max else f"{window.end:%H:%M}"
    overnight = " (to the next day)" if window.end < window.start else ""
    return f"{days} {window.start:%H:%M}-{end}{overnight} {window.timezone}"


def _live(file: GrantFile, grant: Grant, now: datetime) -> bool:
    """Live = active or scheduled. A grant without a known activation counts as live."""
    if file.settled:
        return False
    if file.activated_at is None:
        return True
    return window(grant, file.activated_at).state(now) is not State.EXPIRED


def _existing_findings(grant: Grant, policy: Policy, pr: PullRequest, config: Config,
                       schemas: SchemaSet, now: datetime) -> list[Finding]:
    live: dict[str, Grant] = {}
    for file in pr.existing:
        loaded = load_grant(file.path, file.raw, schemas, config.settings.max_grant_bytes)
        other = loaded.grant
        if other is not None and other.policy == policy.id and _live(file, other, now):
            live[other.id] = other
    findings = []
    if grant.extends is not None and grant.extends not in live:
        findings.append(Finding(grant.path, grant.lines.get("extends", 0), "grant.extends",
            f"extends {grant.extends!r}, which is not a live grant of {grant.requester} under "
            f"policy {policy.id!r}"))
    limit = policy.max_active_per_requester
    counting = [g for g in live if g != grant.extends]
    if limit is not None and len(counting) >= limit:
        findings.append(Finding(grant.path, 0, "grant.too-many-active",
            f"{grant.requester} already has {len(counting)} live grant(s) of policy "
            f"{policy.id!r} ({', '.join(sorted(counting))}); the limit is {limit}: relinquish "
            "one, or name it in 'extends'"))
    return findings


def decide_deletion(pr: PullRequest, config: Config, schemas: SchemaSet,
                    now: datetime) -> Decision:
    """Relinquish (own grants), housekeeping (expired grants) or revoke (others' live ones)."""
    loaded = [(f, load_grant(f.path, f.raw, schemas, config.settings.max_grant_bytes))
              for f in pr.deleted]
    unreadable = [item for _, item in loaded if item.grant is None]
    if unreadable:
        return Decision(Outcome.DENIED, Kind.REVOKE, _sorted(_unreadable(unreadable)))
    grants = [(f, item.grant) for f, item in loaded if item.grant is not None]
    deleted = tuple(g for _, g in grants)
    expired = [g for f, g in grants if not _live(f, g, now)]
    revoked = [g for f, g in grants if g.requester != pr.author and _live(f, g, now)]
    if not revoked:
        kind = Kind.HOUSEKEEPING if len(expired) == len(grants) else Kind.RELINQUISH
        code = "pr.housekeeping" if kind is Kind.HOUSEKEEPING else "pr.relinquish"
        text = ("removes expired grants" if kind is Kind.HOUSEKEEPING
                else "relinquishes the author's own grants")
        notes = [Finding(g.path, 0, code, f"{text}: approved without review", Severity.NOTICE)
                 for g in deleted]
        return Decision(Outcome.APPROVED, kind, _sorted(notes), deleted=deleted)

    findings: list[Finding] = []
    missing: list[Missing] = []
    counted: list[Counted] = []
    outcomes = []
    for policy_id in sorted({g.policy for g in revoked}):
        first = next(g for g in revoked if g.policy == policy_id)
        policy = config.policies.get(policy_id)
        if policy is None:
            findings.append(Finding(first.path, first.lines.get("policy", 0),
                "grant.unknown-policy", f"policy {policy_id!r} no longer exists, so nobody "
                "may approve revoking this grant; a policy admin must remove it"))
            outcomes.append(Outcome.DENIED)
            continue
        result = approvals.evaluate(policy, config.groups, pr, first.path, now)
        findings.append(Finding(first.path, 0, "pr.revoke", f"revokes live grant(s) of policy "
                        f"{policy_id!r}: needs that policy's approvals"
                        + (f", or one approval by any of its revokers "
                           f"({describe(policy.revokers)})" if policy.revokers else ""),
                        Severity.NOTICE))
        if policy.revokers and result.outcome is not Outcome.APPROVED:
            result, note = _emergency(policy, config, pr, first.path, now, result)
            findings += note
        findings += result.findings
        missing += result.missing
        counted += result.counted
        outcomes.append(result.outcome)
    outcome = min(outcomes, key=[Outcome.DENIED, Outcome.PENDING, Outcome.APPROVED].index)
    return Decision(outcome, Kind.REVOKE, _sorted(findings), tuple(missing), tuple(counted),
                    deleted=deleted)


_RANK = [Outcome.DENIED, Outcome.PENDING, Outcome.APPROVED]


def _emergency(policy: Policy, config: Config, pr: PullRequest, where: str, now: datetime,
               normal: approvals.ApprovalResult,
               ) -> tuple[approvals.ApprovalResult, list[Finding]]:
    """The emergency stop: one approval by any of the policy's revokers revokes, under the same
    rules as any approval (head commit, a person who did not push, write access, age)."""
    alone = replace(policy, approvals=(ApprovalStep(policy.revokers, 1),))
    result = approvals.evaluate(alone, config.groups, pr, where, now)
    if result.outcome is Outcome.APPROVED:
        who = ", ".join(c.reviewer for c in result.counted)
        return result, [Finding(where, 0, "approval.revoker", f"approved by {who} alone, a "
                                f"revoker of policy {policy.id!r} ({describe(policy.revokers)}):"
                                " the emergency stop", Severity.NOTICE)]
    # Neither path approves yet: report the policy's steps, unless only the revokers can
    # still approve at all.
    if _RANK.index(result.outcome) > _RANK.index(normal.outcome):
        return result, []
    return normal, []


def _unreadable(items: list[LoadedGrant]) -> list[Finding]:
    return [Finding(item.path, 0, "pr.grant-unreadable", "deletes a file that is not a valid "
                    f"grant ({'; '.join(f.message for f in item.findings)}); nobody can "
                    "approve what cannot be read") for item in items]


def _sorted(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings))
