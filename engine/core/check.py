"""Whole-tree checks of the grants under grants/ against the configuration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from engine.core.changes import TreeEntry
from engine.core.config import ConfigResult
from engine.core.findings import Finding, Severity
from engine.core.grants import file_finding, load_grant
from engine.core.lifecycle import State, window
from engine.core.models import Config, Grant, Login, PolicyId, Principal
from engine.core.principals import Expansion, expand
from engine.core.schema import SchemaSet
from engine.core.suggest import did_you_mean
from engine.core.values import format_duration


@dataclass(frozen=True)
class GrantCheck:
    findings: tuple[Finding, ...]
    grants: tuple[Grant, ...]
    """The valid grants (none kept when the caller asked for the count only)."""
    count: int
    """How many grants are valid."""

    def __add__(self, other: GrantCheck) -> GrantCheck:
        """The check of two parts of the grants, in order."""
        return GrantCheck(self.findings + other.findings, self.grants + other.grants,
                          self.count + other.count)


def check_grants(entries: Sequence[TreeEntry], contents: Mapping[str, bytes],
                 config: ConfigResult, schemas: SchemaSet, *, keep: bool = True) -> GrantCheck:
    """Every grant file in ``entries`` (``contents`` holds the regular ones) on its own and
    against the configuration. ``keep``: also return the valid grants, not only their count
    (a large repository's grants need not all be held in memory at once)."""
    findings: list[Finding] = []
    grants: list[Grant] = []
    count = 0
    max_bytes = config.config.settings.max_grant_bytes if config.config else 64 * 1024
    eligible: dict[PolicyId, Expansion] = {}
    # With errors in the configuration, grants are still held against the policies that
    # built, but not those of a broken policy file ("unknown policy" would be noise).
    against = config.config or config.checkable
    for entry in entries:
        unusable = file_finding(entry.path, entry.mode)
        if unusable is not None:
            findings.append(unusable)
            continue
        loaded = load_grant(entry.path, contents[entry.path], schemas, max_bytes)
        findings += loaded.findings
        if loaded.grant is not None:
            count += 1
            if keep:
                grants.append(loaded.grant)
            policy_file = f"policies/{loaded.grant.policy}.yaml"
            if against is not None and policy_file not in config.broken:
                findings += against_policy(loaded.grant, against, eligible)
    return GrantCheck(tuple(findings), tuple(grants), count)


def against_policy(grant: Grant, config: Config,
                   eligible: dict[PolicyId, Expansion] | None = None) -> list[Finding]:
    """A merged grant was approved under the policy of its day: today's policy only warns.

    ``eligible``: who may request each policy, filled in as policies are met, so that a
    whole tree of grants expands each policy's requesters once."""
    policy = config.policies.get(grant.policy)
    if policy is None:
        known = ", ".join(sorted(config.policies)) or "none"
        return [Finding(grant.path, grant.lines.get("policy", 0), "grant.unknown-policy",
                        f"unknown policy {grant.policy!r}; "
                        f"{did_you_mean(grant.policy, config.policies)}known policies: {known}")]
    findings = []
    if eligible is None:
        eligible = {}
    requesters = eligible.get(policy.id)
    if requesters is None:
        requesters = eligible[policy.id] = expand(policy.requesters, config.groups)
    # Offline a team's members are unknown: no warning that could be wrong.
    if grant.requester not in requesters.logins and not requesters.unresolved_teams:
        findings.append(Finding(grant.path, grant.lines.get("requester", 0),
                                "grant.requester-not-eligible", f"{grant.requester} may no "
                                f"longer request policy {policy.id!r}", Severity.WARNING))
    limit = policy.break_glass.max_duration if grant.break_glass and policy.break_glass \
        else policy.duration.max
    if grant.duration > limit:
        findings.append(Finding(grant.path, grant.lines.get("duration", 0),
                                "grant.duration-exceeds-max", f"duration "
                                f"'{format_duration(grant.duration)}' exceeds today's maximum "
                                f"'{format_duration(limit)}' ({policy.path})", Severity.WARNING))
    return findings


def named_logins(config: Config) -> dict[Login, tuple[str, int]]:
    """Every login the configuration names (group members, ``user:`` principals), with the
    first place that names it: the file and line a finding about it points at."""
    found: dict[Login, tuple[str, int]] = {}
    groups = config.groups
    for name in sorted(groups.members):
        for login in sorted(groups.members[name]):
            found.setdefault(login, (groups.path, groups.lines.get(name, 0)))
    for policy_id in sorted(config.policies):
        policy = config.policies[policy_id]
        places: list[tuple[str, tuple[Principal, ...]]] = [
            ("requesters", policy.requesters), ("revokers", policy.revokers),
            *(("approvals", step.approvers) for step in policy.approvals)]
        if policy.auto_approve is not None:
            places.append(("auto_approve", policy.auto_approve.requesters))
        for key, principals in places:
            for principal in principals:
                if principal.kind == "user":
                    found.setdefault(Login(principal.name),
                                     (policy.path, policy.lines.get(key, 0)))
    return found


def identity_findings(config: Config, ids: Mapping[Login, int | None],
                      current: Mapping[int, str | None]) -> list[Finding]:
    """Warnings about logins that moved, from what GitHub says: ``ids`` is each named login's
    account id now (None: no account has it), ``current`` the login each pinned id has now."""
    findings = []
    for login, (path, line) in sorted(named_logins(config).items()):
        if login not in ids:
            continue
        found, pinned = ids[login], config.groups.ids.get(login)
        was = ""
        if pinned is not None:
            now = current.get(pinned)
            was = (f" (that account is now {now!r})" if now else
                   " (that account no longer exists)")
        if found is None:
            findings.append(Finding(path, line, "identity.login-gone", f"no GitHub account has "
                f"the login {login!r} any more (renamed or deleted){was}; replace it with the "
                "person's current login, or remove it", Severity.WARNING))
        elif pinned is not None and found != pinned:
            findings.append(Finding(path, line, "identity.id-changed", f"{login} is now GitHub "
                f"account id {found}, not the pinned {pinned}{was}; replace the login, or "
                "remove it", Severity.WARNING))
    return findings


def expired(grants: Sequence[Grant], landed: Mapping[str, datetime],
            now: datetime) -> list[Finding]:
    """Grants whose time is up at ``now`` but whose file is still there (awaiting removal).

    ``landed``: when each committed grant landed on the branch; uncommitted ones are not live."""
    findings = []
    for grant in grants:
        if grant.path not in landed:
            continue
        span = window(grant, landed[grant.path])
        if span.state(now) is State.EXPIRED:
            findings.append(Finding(grant.path, 0, "grant.expired",
                                    f"expired at {span.expires_at:%Y-%m-%d %H:%M} UTC and awaits "
                                    "removal; reconcile removes it", Severity.NOTICE))
    return findings
