"""Who a list of principals ('user:alice', 'group:sre') stands for."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.core.models import Groups, Login, Principal


@dataclass(frozen=True)
class Expansion:
    logins: frozenset[Login]
    unknown_groups: tuple[str, ...]
    """Groups named but not defined: callers fail closed on these."""


def expand(principals: Iterable[Principal], groups: Groups) -> Expansion:
    logins: set[Login] = set()
    unknown: list[str] = []
    for principal in principals:
        if principal.kind == "user":
            logins.add(Login(principal.name))
        elif principal.name in groups.members:
            logins |= groups.members[principal.name]
        else:
            unknown.append(principal.name)
    return Expansion(frozenset(logins), tuple(sorted(set(unknown))))


def describe(principals: Iterable[Principal]) -> str:
    return ", ".join(str(p) for p in principals)
