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
from engine.core.models import Config, Grant
from engine.core.principals import expand
from engine.core.schema import SchemaSet
from engine.core.values import format_duration


@dataclass(frozen=True)
class GrantCheck:
    findings: tuple[Finding, ...]
    grants: tuple[Grant, ...]
    """The valid grants."""

    @property
    def count(self) -> int:
        return len(self.grants)


def check_grants(entries: Sequence[TreeEntry], contents: Mapping[str, bytes],
                 config: ConfigResult, schemas: SchemaSet) -> GrantCheck:
    findings: list[Finding] = []
    grants: list[Grant] = []
    max_bytes = config.config.settings.max_grant_bytes if config.config else 64 * 1024
    for entry in entries:
        unusable = file_finding(entry.path, entry.mode)
        if unusable is not None:
            findings.append(unusable)
            continue
        loaded = load_grant(entry.path, contents[entry.path], schemas, max_bytes)
        findings += loaded.findings
        if loaded.grant is not None:
            grants.append(loaded.grant)
            if config.config is not None:
                findings += against_policy(loaded.grant, config.config)
    return GrantCheck(tuple(findings), tuple(grants))


def against_policy(grant: Grant, config: Config) -> list[Finding]:
    """A merged grant was approved under the policy of its day: today's policy only warns."""
    policy = config.policies.get(grant.policy)
    if policy is None:
        known = ", ".join(sorted(config.policies)) or "none"
        return [Finding(grant.path, grant.lines.get("policy", 0), "grant.unknown-policy",
                        f"unknown policy {grant.policy!r}; known policies: {known}")]
    findings = []
    requesters = expand(policy.requesters, config.groups)
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
