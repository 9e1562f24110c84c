"""Which target plugin serves a policy, made once per settings connection."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from engine.core.models import GrantId, Login, Policy, Settings
from engine.errors import ConfigurationError
from engine.targets.base import Assignment, TargetPlugin
from engine.targets.registry import create_target

TargetKey = tuple[str, str, tuple[tuple[str, str], ...], str]
"""(provider, connection name, target params, login): who holds what, where."""


class Targets:
    """Target plugins by connection, created on first use."""

    def __init__(self, settings: Settings,
                 factory: Callable[[Mapping[str, str]], TargetPlugin] = create_target) -> None:
        self.settings = settings
        self.factory = factory
        self._plugins: dict[str, TargetPlugin] = {}

    def connection(self, policy: Policy) -> tuple[str, Mapping[str, str]]:
        name = policy.target.get("connection")
        if name is None:
            return f"({policy.target.provider})", {"provider": policy.target.provider}
        if name not in self.settings.connections:
            raise ConfigurationError(f"policy {policy.id}: connection {name!r} is not defined "
                                     f"in {self.settings.path}")
        connection = dict(self.settings.connections[name])
        connection.setdefault("provider", policy.target.provider)
        return name, connection

    def plugin(self, policy: Policy) -> TargetPlugin:
        name, connection = self.connection(policy)
        if name not in self._plugins:
            self._plugins[name] = self.factory(connection)
        return self._plugins[name]

    def plugins(self) -> dict[str, TargetPlugin]:
        """The plugins made so far, by connection name."""
        return dict(self._plugins)

    def assignment(self, policy: Policy, grant_id: GrantId, login: Login,
                   activated_at: datetime, expires_at: datetime) -> Assignment:
        _, connection = self.connection(policy)
        return Assignment(grant_id=grant_id, login=login, policy=policy.id,
                          target=policy.target, connection=connection,
                          activated_at=activated_at, expires_at=expires_at)

    def key(self, policy: Policy, login: Login) -> TargetKey:
        name, _ = self.connection(policy)
        return (policy.target.provider, name, policy.target.params, login)
