"""Who a list of principals ('user:alice', 'group:sre', 'team:acme/dba') stands for."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from engine.core.models import Config, Groups, Login, Principal
from engine.errors import GitjitError

TEAM_PREFIX = "team:"

TeamLookup = Callable[[str, str], frozenset[Login]]
"""(org, slug) -> the team's members; raises GitjitError when GitHub cannot say."""


@dataclass(frozen=True)
class Expansion:
    logins: frozenset[Login]
    unknown_groups: tuple[str, ...]
    """Groups named but not defined ('dba'), and teams whose members were not looked up
    ('team:acme/dba'): callers fail closed on these."""

    @property
    def undefined_groups(self) -> tuple[str, ...]:
        """Groups missing from policies/groups.yaml: a configuration error."""
        return tuple(n for n in self.unknown_groups if not n.startswith(TEAM_PREFIX))

    @property
    def unresolved_teams(self) -> tuple[str, ...]:
        """Teams not looked up: always so offline, so valid configuration, but never members."""
        return tuple(n for n in self.unknown_groups if n.startswith(TEAM_PREFIX))


def expand(principals: Iterable[Principal], groups: Groups) -> Expansion:
    logins: set[Login] = set()
    unknown: list[str] = []
    for principal in principals:
        if principal.kind == "user":
            logins.add(Login(principal.name))
        elif principal.kind == "team":
            if principal.name in groups.teams:
                logins |= groups.teams[principal.name]
            else:
                unknown.append(str(principal))
        elif principal.name in groups.members:
            logins |= groups.members[principal.name]
        else:
            unknown.append(principal.name)
    return Expansion(frozenset(logins), tuple(sorted(set(unknown))))


def unresolved(expansion: Expansion) -> tuple[str, str] | None:
    """The finding code and reason for denying what ``expansion`` could not resolve, or None.

    An undefined group comes first: it is a configuration error that the lookup cannot fix."""
    if expansion.undefined_groups:
        return ("config.unknown-group", f"unknown group(s) "
                f"{', '.join(expansion.undefined_groups)}; denied until the group is defined")
    if expansion.unresolved_teams:
        return ("config.unresolved-team", f"{', '.join(expansion.unresolved_teams)}, whose "
                "members could not be looked up on GitHub; denied until the lookup succeeds "
                "(check that the team exists and that gitjit's token may read its members)")
    return None


def describe(principals: Iterable[Principal]) -> str:
    return ", ".join(str(p) for p in principals)


def teams(config: Config) -> frozenset[str]:
    """Every team ('org/slug') any policy names, as requester, approver, revoker or
    auto-approved."""
    return frozenset(p.name for p in _all_principals(config) if p.kind == "team")


def _all_principals(config: Config) -> Iterator[Principal]:
    for policy in config.policies.values():
        yield from policy.requesters
        for step in policy.approvals:
            yield from step.approvers
        yield from policy.revokers
        if policy.auto_approve is not None:
            yield from policy.auto_approve.requesters


def resolve_teams(config: Config, lookup: TeamLookup) -> Config:
    """``config`` with the members of every team its policies name, as ``lookup`` tells.

    A team whose lookup fails stays unresolved, so whatever needs it is denied: a guess (an
    empty team, or last time's members) could let the wrong person approve. Teams already
    resolved are kept, not looked up again."""
    resolved = dict(config.groups.teams)
    for name in sorted(teams(config) - set(resolved)):
        org, _, slug = name.partition("/")
        try:
            resolved[name] = frozenset(lookup(org, slug))
        except GitjitError:
            continue
    return replace(config, groups=replace(config.groups, teams=resolved))
