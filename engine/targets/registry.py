"""Finds target plugins: the built-ins plus anything registered under ``gitjit.targets``.

A third-party package adds a target by declaring an entry point in its pyproject.toml::

    [project.entry-points."gitjit.targets"]
    vault = "gitjit_vault:VaultTarget"

The entry point names a factory: a callable (usually the class) taking the settings connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points

from engine.targets.base import TargetError, TargetFactory, TargetPlugin, looks_like_plugin

GROUP = "gitjit.targets"

# The built-ins are also registered as entry points by our own pyproject.toml; this table keeps
# them usable from a source checkout that was never pip-installed.
_BUILTINS: dict[str, str] = {
    "postgres": "engine.targets.postgres:PostgresTarget",
    "command": "engine.targets.command:CommandTarget",
    "recording": "engine.targets.recording:RecordingTarget",
    "github-team": "engine.targets.github_team:GitHubTeamTarget",
    "aws": "engine.targets.aws:AwsTarget",
}


def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {
        name: EntryPoint(name=name, value=value, group=GROUP) for name, value in _BUILTINS.items()
    }
    for ep in entry_points(group=GROUP):
        known = found.get(ep.name)
        # Two packages claiming one provider name would make the choice depend on install
        # order; a grant must never silently go to a different implementation.
        if known is not None and known.value != ep.value:
            raise TargetError(
                f"target provider {ep.name!r} is registered twice ({known.value} and "
                f"{ep.value}); uninstall one of the packages that provide it"
            )
        found[ep.name] = ep
    return found


def known_providers() -> list[str]:
    """Every provider name that can be used in ``provider:``, sorted."""
    return sorted(_entry_points())


def load_factory(provider: str) -> TargetFactory:
    """The factory for ``provider``; a TargetError naming the known providers if unknown."""
    eps = _entry_points()
    ep = eps.get(provider)
    if ep is None:
        raise TargetError(
            f"unknown target provider {provider!r}; known providers: {', '.join(sorted(eps))}. "
            f"Fix the provider name or install the package that provides it "
            f"(it registers an entry point in the {GROUP!r} group)"
        )
    try:
        factory = ep.load()
    except Exception as exc:  # a broken third-party plugin must not look like our bug
        raise TargetError(
            f"cannot load target provider {provider!r} from {ep.value}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not callable(factory):
        raise TargetError(f"target provider {provider!r} ({ep.value}) is not callable; "
                          f"the entry point must name a class or function taking the connection")
    return factory  # type: ignore[no-any-return]


def create_target(connection: Mapping[str, str]) -> TargetPlugin:
    """The plugin for a settings connection (its ``provider`` entry picks the plugin)."""
    provider = connection.get("provider")
    if not provider:
        raise TargetError("the connection has no 'provider'; add e.g. 'provider: postgres' to it "
                          "in policies/settings.yaml")
    plugin = load_factory(provider)(connection)
    if not looks_like_plugin(plugin):
        raise TargetError(
            f"target provider {provider!r} returned {type(plugin).__name__}, which lacks the "
            f"target protocol (name, native_expiry, apply, revoke, list_managed)"
        )
    return plugin
