"""What plugins declare (TARGET_SCHEMA, CONNECTION_SCHEMA, EXPIRY, REQUIRES, holders), read by
the registry without making a plugin, and the check at apply that backs the check before merge."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import pytest

from engine import __version__
from engine.core.models import GrantId, Login, PolicyId, Target
from engine.core.targets import Provider
from engine.targets import registry
from engine.targets.aws import AwsTarget
from engine.targets.base import Assignment, HasHolders, ManagedAssignment, TargetError
from engine.targets.command import CommandTarget
from engine.targets.github_team import GitHubTeamTarget
from engine.targets.postgres import PostgresTarget
from engine.targets.recording import RecordingTarget

START = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)


def _with(monkeypatch: pytest.MonkeyPatch, *extra: EntryPoint) -> None:
    real = list(entry_points(group=registry.GROUP))
    monkeypatch.setattr(registry, "entry_points", lambda group: [*real, *extra])


@pytest.mark.parametrize("cls", [PostgresTarget, CommandTarget, RecordingTarget])
def test_the_built_ins_declare_schemas_expiry_and_holders(cls: Any) -> None:
    provider = registry.catalog().providers[cls.name]
    assert provider == Provider(cls.name, f"built-in (gitjit {__version__})",
                                cls.TARGET_SCHEMA, cls.CONNECTION_SCHEMA, cls.EXPIRY, True)
    assert provider.undeclared == ()
    # Declarations are data: they survive a trip through JSON ('gitjit targets --format json').
    assert json.loads(json.dumps(cls.TARGET_SCHEMA)) == cls.TARGET_SCHEMA


def test_reading_declarations_makes_no_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[object] = []
    monkeypatch.setattr(RecordingTarget, "__init__",
                        lambda self, connection: made.append(connection))
    registry.catalog()
    assert made == []


class _Plugin:
    name = "vault"

    def __init__(self, connection: object) -> None:
        self.connection = connection

    def native_expiry(self, assignment: Assignment) -> bool:
        return False

    def apply(self, assignment: Assignment) -> None: ...
    def revoke(self, assignment: Assignment) -> None: ...
    def list_managed(self) -> list[ManagedAssignment]:
        return []


class _BadSchema(_Plugin):
    TARGET_SCHEMA = {"type": "mapping"}


class _OldDraft(_Plugin):
    TARGET_SCHEMA = {"$schema": "http://json-schema.org/draft-07/schema#"}


class _NoApply:
    name = "vault"
    native_expiry = revoke = list_managed = _Plugin.native_expiry


@pytest.mark.parametrize(("value", "problem"), [
    ("_Plugin", ""),
    ("_BadSchema", "its TARGET_SCHEMA is not a valid JSON Schema: 'mapping' is not valid "
                   "under any of the given schemas"),
    ("_OldDraft", "its TARGET_SCHEMA declares $schema 'http://json-schema.org/draft-07/schema#'"
                  "; gitjit checks with 'https://json-schema.org/draft/2020-12/schema'"),
    ("_NoApply", "the class lacks apply of the target protocol"),
])
def test_what_a_third_party_plugin_declares(monkeypatch: pytest.MonkeyPatch, value: str,
                                            problem: str) -> None:
    _with(monkeypatch, EntryPoint("vault", f"{__name__}:{value}", registry.GROUP))
    provider = registry.catalog().providers["vault"]
    assert provider.problem == problem
    if not problem:
        assert provider.undeclared == ("TARGET_SCHEMA", "CONNECTION_SCHEMA", "EXPIRY")
        assert not provider.holders


def test_a_name_registered_twice_is_unusable_but_spoils_nothing_else(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _with(monkeypatch, EntryPoint("postgres", f"{__name__}:_Plugin", registry.GROUP))
    found = registry.catalog()
    assert found.providers["postgres"].problem == (
        f"target provider 'postgres' is registered twice (engine.targets.postgres:PostgresTarget"
        f" and {__name__}:_Plugin)")
    assert not found.providers["recording"].problem


# -- the check at apply ---------------------------------------------------------------------

def assignment(connection: dict[str, str], **params: str) -> Assignment:
    return Assignment(GrantId("p/alice-20261130T1030Z"), Login("alice"), PolicyId("p"),
                      Target("recording", tuple(sorted({"connection": "rec", **params}.items()))),
                      connection, START, START + timedelta(hours=1))


def test_apply_refuses_settings_the_schemas_refuse_and_revoke_still_works(
        tmp_path: Path) -> None:
    path = tmp_path / "recording.json"
    good = {"provider": "recording", "path": str(path)}
    plugin = registry.create_target(good)
    plugin.apply(assignment(good, role="admin"))
    assert json.loads(path.read_text())["assignments"]

    bad = {**good, "native_expiry": "yes"}
    plugin = registry.create_target(bad)
    with pytest.raises(TargetError) as err:
        plugin.apply(assignment(bad, role="admin"))
    assert str(err.value) == (
        "recording target: will not apply grant p/alice-20261130T1030Z: policy p's target or "
        "its connection does not fit the provider's schemas ($.connection.native_expiry: 'yes' "
        "is not allowed; write false or true); fix them ('gitjit check' says where)")

    plugin.revoke(assignment(bad, role="admin"))  # a schema never stops a revocation
    assert json.loads(path.read_text())["assignments"] == {}


class _Unusable(_Plugin):
    TARGET_SCHEMA = {"type": 7}
    applied: list[str] = []
    revoked: list[str] = []

    def apply(self, assignment: Assignment) -> None:
        self.applied.append(assignment.grant_id)

    def revoke(self, assignment: Assignment) -> None:
        self.revoked.append(assignment.grant_id)


def test_a_plugin_whose_schema_is_unusable_applies_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _with(monkeypatch, EntryPoint("vault", f"{__name__}:_Unusable", registry.GROUP))
    plugin = registry.create_target({"provider": "vault"})
    a = assignment({"provider": "vault"})
    with pytest.raises(TargetError, match="will not apply grant .*: the provider cannot be "
                                          "checked \\(its TARGET_SCHEMA is not a valid JSON"):
        plugin.apply(a)
    plugin.revoke(a)
    assert (_Unusable.applied, _Unusable.revoked) == ([], [a.grant_id])


def test_holders_pass_through_exactly_when_the_plugin_has_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recording = registry.create_target({"provider": "recording", "path": str(tmp_path / "r")})
    assert isinstance(recording, HasHolders)
    assert recording.holders(Target("recording", (("role", "admin"),))) == []
    _with(monkeypatch, EntryPoint("vault", f"{__name__}:_Plugin", registry.GROUP))
    assert not isinstance(registry.create_target({"provider": "vault"}), HasHolders)


def test_a_built_in_whose_extra_is_missing_names_the_extra(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # As without 'pip install gitjit[postgres]': psycopg cannot be imported. The declarations
    # import no psycopg, so its absence is found from PostgresTarget.REQUIRES.
    monkeypatch.setitem(sys.modules, "psycopg", None)
    provider = registry.catalog().providers["postgres"]
    assert provider.problem == ("cannot import engine.targets.postgres:PostgresTarget (No module "
                                "named 'psycopg')")
    assert provider.fix == "install what it needs: pip install 'gitjit[postgres]'"
    # Where a grant is applied, the plugin is not made at all, as when its import failed.
    with pytest.raises(TargetError) as err:
        registry.create_target({"provider": "postgres", "dsn_env": "PG_DSN"})
    assert str(err.value) == ("cannot load target provider 'postgres' from "
                              "engine.targets.postgres:PostgresTarget: ModuleNotFoundError: No "
                              "module named 'psycopg'")


@pytest.mark.parametrize(("cls", "driver", "client", "message"), [
    (PostgresTarget, "engine.targets.postgres_driver", "psycopg",
     "postgres target: cannot load psycopg (import of psycopg halted; None in sys.modules); "
     "install it with pip install 'gitjit[postgres]'"),
    (AwsTarget, "engine.targets.aws.driver", "boto3",
     "aws target: cannot load boto3 (import of boto3 halted; None in sys.modules); install it "
     "with pip install 'gitjit[aws]'"),
    (GitHubTeamTarget, "engine.targets.github_team_driver", "github",
     "github-team target: cannot load PyGithub (import of github halted; None in sys.modules); "
     "reinstall gitjit: pip install --upgrade gitjit"),
])
def test_a_client_that_fails_to_import_fails_the_operation_saying_what_to_install(
        monkeypatch: pytest.MonkeyPatch, cls: Any, driver: str, client: str,
        message: str) -> None:
    # A plugin made past the registry's REQUIRES check (an installation broken after it, a
    # client found but unable to load): its first operation loads the driver, and fails.
    monkeypatch.delitem(sys.modules, driver, raising=False)
    monkeypatch.setitem(sys.modules, client, None)
    plugin = cls({"provider": cls.name})
    with pytest.raises(TargetError) as err:
        plugin.revoke(assignment({"provider": cls.name}))
    assert str(err.value) == message


class _NeedsHvac(_Plugin):
    REQUIRES = ("json", "gitjit_no_such_module_hvac")


class _NeedsAPackagesPart(_Plugin):
    REQUIRES = ("gitjit_no_such_package.client",)


class _NeedsWhatIsHere(_Plugin):
    REQUIRES = ["json", "email.message"]


class _RequiresText(_Plugin):
    REQUIRES = "hvac"


@pytest.mark.parametrize(("value", "problem"), [
    ("_NeedsWhatIsHere", ""),
    ("_NeedsHvac", "cannot import {ep} (No module named 'gitjit_no_such_module_hvac')"),
    ("_NeedsAPackagesPart", "cannot import {ep} (No module named "
                            "'gitjit_no_such_package.client')"),
    ("_RequiresText", "its REQUIRES is 'hvac'; it must be a tuple of module names, e.g. "
                      "('psycopg',)"),
])
def test_a_third_party_plugin_may_declare_what_it_requires(
        monkeypatch: pytest.MonkeyPatch, value: str, problem: str) -> None:
    ep = f"{__name__}:{value}"
    _with(monkeypatch, EntryPoint("vault", ep, registry.GROUP))
    provider = registry.catalog().providers["vault"]
    assert provider.problem == problem.format(ep=ep)
    assert not any(m.startswith("gitjit_no_such") for m in sys.modules)
    if problem.startswith("cannot import"):
        assert provider.fix == "reinstall the package that provides it, with its dependencies"
        with pytest.raises(TargetError, match="^cannot load target provider 'vault' from "
                                              f"{ep}: ModuleNotFoundError: No module named"):
            registry.create_target({"provider": "vault"})
