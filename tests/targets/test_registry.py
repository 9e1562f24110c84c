"""Target discovery through the gitjit.targets entry point group, and the Assignment data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest

from engine.core.models import GrantId, Login, PolicyId, Target
from engine.targets import registry
from engine.targets.base import Assignment, ManagedAssignment, TargetError
from engine.targets.command import CommandTarget
from engine.targets.recording import RecordingTarget


def test_the_installed_package_registers_the_built_ins_as_entry_points() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="gitjit.targets")}
    assert found == {
        "postgres": "engine.targets.postgres:PostgresTarget",
        "command": "engine.targets.command:CommandTarget",
        "recording": "engine.targets.recording:RecordingTarget",
        "entra": "engine.targets.entra:EntraTarget",
        "github-team": "engine.targets.github_team:GitHubTeamTarget",
        "aws": "engine.targets.aws:AwsTarget",
    }


def test_known_providers_include_the_built_ins() -> None:
    assert {"postgres", "command", "recording", "github-team", "aws"} <= set(
        registry.known_providers())


def test_create_target_picks_the_plugin_by_provider(tmp_path: Path) -> None:
    recording = registry.create_target({"provider": "recording", "path": str(tmp_path / "r")})
    assert isinstance(recording, registry.CheckedTarget)
    assert isinstance(recording.plugin, RecordingTarget)
    assert recording.name == "recording" and recording.path == tmp_path / "r"
    command = registry.create_target({"provider": "command"})
    assert isinstance(command, registry.CheckedTarget)
    assert isinstance(command.plugin, CommandTarget)


def test_an_unknown_provider_names_the_known_ones() -> None:
    with pytest.raises(TargetError) as err:
        registry.create_target({"provider": "oracle"})
    assert str(err.value) == (
        "unknown target provider 'oracle'; known providers: aws, command, entra, github-team, "
        "postgres, recording. "
        "Fix the provider name or install the package that provides it (it registers an "
        "entry point in the 'gitjit.targets' group)")


def _fake_entry_points(*extra: EntryPoint) -> object:
    real = list(entry_points(group="gitjit.targets"))

    def fake(group: str) -> list[EntryPoint]:
        assert group == "gitjit.targets"
        return [*real, *extra]

    return fake


class _ThirdParty:
    name = "vault"

    def __init__(self, connection: object) -> None:
        self.connection = connection

    def native_expiry(self, assignment: Assignment) -> bool:
        return True

    def apply(self, assignment: Assignment) -> None: ...
    def revoke(self, assignment: Assignment) -> None: ...
    def list_managed(self) -> list[ManagedAssignment]:
        return []


def test_a_third_party_plugin_is_discovered(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = EntryPoint("vault", f"{__name__}:_ThirdParty", "gitjit.targets")
    monkeypatch.setattr(registry, "entry_points", _fake_entry_points(ep))

    plugin = registry.create_target({"provider": "vault", "addr": "https://vault"})

    assert "vault" in registry.known_providers()
    assert isinstance(plugin, registry.CheckedTarget)
    assert isinstance(plugin.plugin, _ThirdParty)
    assert plugin.connection == {"provider": "vault", "addr": "https://vault"}


def test_a_provider_name_claimed_twice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = EntryPoint("postgres", "evil_pkg:Target", "gitjit.targets")
    monkeypatch.setattr(registry, "entry_points", _fake_entry_points(ep))

    with pytest.raises(TargetError) as err:
        registry.create_target({"provider": "postgres"})
    assert str(err.value) == (
        "target provider 'postgres' is registered twice (engine.targets.postgres:PostgresTarget "
        "and evil_pkg:Target); uninstall one of the packages that provide it")


def test_a_broken_plugin_is_reported_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = EntryPoint("broken", "no_such_module_for_gitjit:Target", "gitjit.targets")
    monkeypatch.setattr(registry, "entry_points", _fake_entry_points(ep))

    with pytest.raises(TargetError) as err:
        registry.create_target({"provider": "broken"})
    assert str(err.value) == (
        "cannot load target provider 'broken' from no_such_module_for_gitjit:Target: "
        "ModuleNotFoundError: No module named 'no_such_module_for_gitjit'")


def test_a_factory_returning_something_else_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = EntryPoint("odd", "builtins:dict", "gitjit.targets")
    monkeypatch.setattr(registry, "entry_points", _fake_entry_points(ep))

    with pytest.raises(TargetError) as err:
        registry.create_target({"provider": "odd"})
    assert str(err.value) == (
        "target provider 'odd' returned dict, which lacks the target protocol "
        "(name, native_expiry, apply, revoke, list_managed)")


def _assignment(activated: datetime, expires: datetime) -> Assignment:
    return Assignment(GrantId("p/alice-20261130T1030Z"), Login("alice"), PolicyId("p"),
                      Target("recording"), {}, activated, expires)


def test_assignment_times_must_be_aware_utc_and_ordered() -> None:
    start = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="activated_at must be a timezone-aware UTC"):
        _assignment(start.replace(tzinfo=None), start + timedelta(hours=1))
    with pytest.raises(ValueError, match="expires_at must be a timezone-aware UTC"):
        _assignment(start, (start + timedelta(hours=1)).astimezone(timezone(timedelta(hours=1))))
    with pytest.raises(ValueError, match="is not after activated_at"):
        _assignment(start, start)


def test_policy_target_params_win_over_the_connection() -> None:
    start = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
    a = Assignment(GrantId("p/alice-20261130T1030Z"), Login("alice"), PolicyId("p"),
                   Target("postgres", (("mode", "login-role"),)),
                   {"mode": "membership", "dsn_env": "X"}, start, start + timedelta(hours=1))
    assert (a.setting("mode"), a.setting("dsn_env"), a.setting("nope", "d")) == (
        "login-role", "X", "d")
