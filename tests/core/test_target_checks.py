"""engine.core.targets: policy targets and settings connections against the schemas of the
providers a catalog holds. Pure: the catalog is built here from plain data."""

from __future__ import annotations

from typing import Any

from engine.adapters.schemas import packaged_schemas
from engine.core.changes import REGULAR_FILE
from engine.core.config import ConfigFile, build_config
from engine.core.schema import DRAFT
from engine.core.targets import Catalog, Provider, assignment_problems
from tests.core.builders import POLICY, policy_files

SCHEMA: dict[str, Any] = {
    "$schema": DRAFT, "type": "object", "additionalProperties": False,
    "properties": {"team": {"type": "string", "pattern": "^[a-z-]+$",
                            "errorMessage": "is not a team slug; write e.g. release"}},
    "required": ["team"],
}
CONNECTION: dict[str, Any] = {
    "$schema": DRAFT, "type": "object", "additionalProperties": False,
    "properties": {"org": {"type": "string"}, "app_id": {"type": "string"},
                   "token_env": {"type": "string"}},
    "anyOf": [{"required": ["app_id"]}, {"required": ["token_env"]}],
}
TEAMS = Provider("teams", "gitjit-teams 1.0", SCHEMA, CONNECTION, "gitjit", True)
CATALOG = Catalog({"teams": TEAMS, "command": Provider("command", "built-in")},
                  {"entra": "pip install 'gitjit[entra]'"})
SETTINGS = """
connections:
  acme: {provider: teams, org: acme, app_id: "1"}
"""


def rendered(target: str, settings: str = SETTINGS, catalog: Catalog = CATALOG) -> list[str]:
    body = POLICY.replace("target: {provider: command, role: admin}", f"target: {target}")
    files = policy_files(body, settings=settings)
    result = build_config([ConfigFile(p, REGULAR_FILE, t.encode()) for p, t in files.items()],
                          packaged_schemas(), catalog)
    return [f.render() for f in result.findings]


def test_a_valid_target_and_connection_pass() -> None:
    assert rendered("{provider: teams, connection: acme, team: release}") == []


def test_without_a_catalog_targets_are_not_looked_at() -> None:
    body = POLICY.replace("provider: command", "provider: nonesuch")
    files = policy_files(body)
    result = build_config([ConfigFile(p, REGULAR_FILE, t.encode()) for p, t in files.items()],
                          packaged_schemas())
    assert result.findings == () and result.config is not None


def test_a_bad_value_quotes_the_schemas_own_words() -> None:
    assert rendered("{provider: teams, connection: acme, team: Release}") == [
        "policies/db.yaml:5: target.invalid: teams target: $.target.team: 'Release' is not a "
        "team slug; write e.g. release; see the parameters a teams target takes with 'gitjit "
        "targets teams'"]


def test_a_connection_missing_one_of_several_keys_names_them_all() -> None:
    settings = SETTINGS.replace(', app_id: "1"', "")
    assert rendered("{provider: teams, connection: acme, team: release}", settings) == [
        "policies/settings.yaml:4: target.invalid: teams connection 'acme': "
        "$.connections.acme: missing 'app_id' or 'token_env'; see the settings a teams "
        "connection takes with 'gitjit targets teams'"]


def test_an_unknown_provider_is_not_also_a_mismatch() -> None:
    assert rendered("{provider: team, connection: acme, team: release}") == [
        "policies/db.yaml:5: target.unknown-provider: unknown target provider 'team'; did you "
        "mean 'teams'? installed here: command, teams ('gitjit targets' lists them). Fix the "
        "name, or install the package that provides it"]


def test_a_provider_gitjit_knows_but_lacks_says_how_to_install_it() -> None:
    assert rendered("{provider: entra, role_id: x}") == [
        "policies/db.yaml:5: target.unknown-provider: target provider 'entra' is not "
        "installed; it is one of gitjit's own targets: install it with pip install "
        "'gitjit[entra]'; installed here: command, teams ('gitjit targets' lists them)"]


def test_a_schema_that_refers_outside_itself_is_never_fetched() -> None:
    remote = Provider("teams", "gitjit-teams 1.0",
                      {"$ref": "https://schemas.example.com/team.json"}, CONNECTION)
    assert rendered("{provider: teams, connection: acme, team: release}",
                    catalog=Catalog({"teams": remote})) == [
        "policies/db.yaml:5: target.unavailable: target provider 'teams' (gitjit-teams 1.0) "
        "cannot check target: the schema refers to 'https://schemas.example.com/team.json', "
        "which is not inside it; gitjit never fetches remote schemas: inline the definition "
        "under $defs; report it to the plugin's authors"]


def test_an_unusable_provider_is_an_error_where_it_is_named() -> None:
    broken = Provider("teams", "gitjit-teams 1.0", problem="cannot import teams (boom)",
                      fix="reinstall it")
    assert rendered("{provider: teams, connection: acme, team: release}",
                    catalog=Catalog({"teams": broken})) == [
        "policies/db.yaml:5: target.unavailable: target provider 'teams' (gitjit-teams 1.0) is "
        "installed but cannot be used: cannot import teams (boom); reinstall it",
        "policies/settings.yaml:4: target.unavailable: target provider 'teams' "
        "(gitjit-teams 1.0) is installed but cannot be used: cannot import teams (boom); "
        "reinstall it"]


def test_a_connection_without_a_schema_is_a_warning_there() -> None:
    bare = Provider("teams", "gitjit-teams 1.0", SCHEMA)
    found = rendered("{provider: teams, connection: acme, team: release}",
                     catalog=Catalog({"teams": bare}))
    assert found == [
        "policies/settings.yaml:4: target.unchecked: target provider 'teams' "
        "(gitjit-teams 1.0) declares no CONNECTION_SCHEMA, so these settings are checked only "
        "when a grant is applied; ask the plugin's authors to declare one (docs/targets.md)"]


def test_the_configuration_with_a_target_error_judges_nothing() -> None:
    body = POLICY.replace("provider: command, role: admin", "provider: teams, team: x")
    files = policy_files(body, settings=SETTINGS)
    result = build_config([ConfigFile(p, REGULAR_FILE, t.encode()) for p, t in files.items()],
                          packaged_schemas(), CATALOG)
    assert result.config is None
    assert [f.code for f in result.findings] == ["target.invalid"]


def test_assignment_problems_check_both_sides() -> None:
    assert assignment_problems(TEAMS, {"connection": "acme", "team": "release"},
                               {"provider": "teams", "app_id": "1"}) == []
    assert assignment_problems(TEAMS, {"connection": "acme", "tem": "release"},
                               {"provider": "teams"}) == [
        "$.target: missing required key 'team'",
        "$.target: unexpected key 'tem'; allowed keys: team",
        "$.connection: missing 'app_id' or 'token_env'"]

