"""Which target plugin serves a grant, made once per settings connection.

A grant is bound to the target its ``activated`` (or latest ``retargeted``) record names, not
to what its policy says today: revocation goes exactly where the access was put."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol, runtime_checkable

from engine.core.ledger import AppliedTarget
from engine.core.models import GrantId, Login, Policy, PolicyId, Settings, Target
from engine.errors import ConfigurationError
from engine.targets.base import Assignment, Probes, TargetPlugin
from engine.targets.registry import create_target

TargetKey = tuple[str, str, tuple[tuple[str, str], ...], str]
"""(provider, connection name, target params, login): who holds what, where."""


def applied(policy: Policy) -> AppliedTarget:
    """The target a grant of ``policy`` is applied to today."""
    return AppliedTarget(policy.target.provider, policy.target.get("connection"),
                         policy.target.params)


def describe(target: AppliedTarget) -> str:
    """``provider:connection(params)``, for reports."""
    params = ", ".join(f"{k}={v}" for k, v in target.params if k != "connection")
    return f"{target.provider}:{target.connection or '-'}({params})"


@runtime_checkable
class _Validates(Protocol):
    def validate(self, assignment: Assignment) -> None: ...


def preflight(plugin: TargetPlugin, assignment: Assignment) -> str:
    """Whether ``assignment`` could be applied now, without applying it: its settings against
    the provider's schemas (as ``apply`` checks them), then the plugin's read-only probe where
    it has one. What was checked; TargetError (a GitjitError) when it could not be applied."""
    if isinstance(plugin, _Validates):
        plugin.validate(assignment)
    if isinstance(plugin, Probes):
        return plugin.probe(assignment)
    return (f"its settings fit the {plugin.name} provider; that provider offers no read-only "
            "probe, so whether the target is reachable is found out by a real run")


class Targets:
    """Target plugins by connection, created on first use."""

    def __init__(self, settings: Settings,
                 factory: Callable[[Mapping[str, str]], TargetPlugin] = create_target) -> None:
        self.settings = settings
        self.factory = factory
        self._plugins: dict[str, TargetPlugin] = {}

    def connection(self, target: AppliedTarget) -> tuple[str, Mapping[str, str]]:
        name = target.connection
        if name is None:
            return f"({target.provider})", {"provider": target.provider}
        if name not in self.settings.connections:
            raise ConfigurationError(f"connection {name!r} ({target.provider}) is not defined in "
                                     f"{self.settings.path}, so gitjit cannot reach that target; "
                                     "restore the connection, or revoke the access by hand")
        connection = dict(self.settings.connections[name])
        connection.setdefault("provider", target.provider)
        return name, connection

    def plugin(self, target: AppliedTarget) -> TargetPlugin:
        name, connection = self.connection(target)
        if name not in self._plugins:
            self._plugins[name] = self.factory(connection)
        return self._plugins[name]

    def plugins(self) -> dict[str, TargetPlugin]:
        """The plugins made so far, by connection name."""
        return dict(self._plugins)

    def assignment(self, target: AppliedTarget, policy: PolicyId, grant_id: GrantId,
                   login: Login, activated_at: datetime, expires_at: datetime, *,
                   justification: str = "", ticket: str | None = None) -> Assignment:
        _, connection = self.connection(target)
        return Assignment(grant_id=grant_id, login=login, policy=policy,
                          target=Target(target.provider, target.params), connection=connection,
                          activated_at=activated_at, expires_at=expires_at,
                          justification=justification, ticket=ticket)

    def key(self, target: AppliedTarget, login: Login) -> TargetKey:
        name, _ = self.connection(target)
        return (target.provider, name, target.params, login)
