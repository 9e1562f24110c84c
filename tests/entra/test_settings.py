"""The Entra target's schemas and connection settings: the bundled example validates, typos
do not, and a connection cannot send gitjit's credentials anywhere but Microsoft (or the
emulator on this machine's loopback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from engine.core import strictyaml
from engine.targets.base import TargetError
from engine.targets.entra import EntraTarget
from engine.targets.entra.settings import read_connection

ROOT = Path(__file__).resolve().parents[2]
CONNECTION = {"tenant_id": "0b5b2f4e-7d0c-4b8e-9d2a-6f1f3c2a9e11",
              "client_id": "6c7a3f5d-2e1b-4c9a-8f0e-3d4b5a6c7e8f", "auth": "github-oidc",
              "upn_pattern": "{login}@contoso.com"}
ROLE = "fe930be7-5e62-47db-91af-98c3a49a38b1"


def bundled(path: str, *keys: str) -> dict[str, Any]:
    data: Any = strictyaml.load((ROOT / path).read_bytes(), path).data
    for key in keys:
        data = data[key]
    return dict(data)


def errors(schema: dict[str, Any], value: dict[str, Any]) -> list[str]:
    Draft202012Validator.check_schema(schema)
    return sorted(e.message for e in Draft202012Validator(schema).iter_errors(value))


def test_the_bundled_policy_and_connection_match_the_schemas() -> None:
    target = bundled("policies/entra-user-admin.yaml", "target")
    del target["provider"], target["connection"]
    assert errors(EntraTarget.TARGET_SCHEMA, target) == []
    connection = bundled("policies/settings.yaml", "connections", "contoso-entra")
    assert connection.pop("provider") == "entra"
    assert errors(EntraTarget.CONNECTION_SCHEMA, connection) == []
    conn = read_connection(connection)
    assert (conn.auth, conn.upn_pattern, dict(conn.users)) == (
        "github-oidc", "{login}@contoso.com", {"hugo": "5b0c2d7e-8a41-4f3e-9c6d-1e2f3a4b5c6d"})
    assert (conn.authority, conn.graph, conn.scope, conn.loopback) == (
        "https://login.microsoftonline.com", "https://graph.microsoft.com/v1.0",
        "https://graph.microsoft.com/.default", False)
    assert EntraTarget.EXPIRY == "target"


@pytest.mark.parametrize(("target", "problem"), [
    ({"rle_id": ROLE}, "Additional properties are not allowed ('rle_id' was unexpected)"),
    ({"role_id": "User Administrator"}, "'User Administrator' does not match"),
    ({"role_id": ROLE, "group_id": ROLE}, "is not valid under any of the given schemas"),
    ({"group_id": ROLE, "access": "admin"}, "'admin' is not one of ['member', 'owner']"),
    ({"role_id": ROLE, "directory_scope": "tenant"}, "'tenant' does not match"),
])
def test_typos_in_a_policys_target_fail_the_schema(target: dict[str, str], problem: str
                                                  ) -> None:
    assert any(problem in message for message in errors(EntraTarget.TARGET_SCHEMA, target))


def test_a_connection_names_its_secret_for_the_chosen_method() -> None:
    assert errors(EntraTarget.CONNECTION_SCHEMA, {**CONNECTION, "auth": "client-secret"}) \
        == ["'client_secret_env' is a required property"]
    assert errors(EntraTarget.CONNECTION_SCHEMA, {**CONNECTION, "client_secret": "x"}) == [
        "Additional properties are not allowed ('client_secret' was unexpected)"]
    with pytest.raises(TargetError, match="missing setting 'certificate_env'"):
        read_connection({**CONNECTION, "auth": "certificate"})


@pytest.mark.parametrize("host", ["https://login.evil.example", "https://10.0.0.8",
                                  "http://127.0.0.1:8443", "https://user:pw@127.0.0.1"])
def test_endpoints_may_move_only_to_this_machines_loopback(host: str) -> None:
    # A change to settings.yaml could otherwise hand the client secret (or a signed
    # assertion) to a server its author runs.
    for key in ("authority_host", "graph_endpoint"):
        with pytest.raises(TargetError) as error:
            read_connection({**CONNECTION, key: host})
        assert str(error.value) == (
            f"entra target: {key} '{host}' must be an https URL on this machine's loopback "
            "(127.0.0.1, ::1, localhost): it exists for the Graph emulator; for a national "
            "cloud set 'cloud' instead")


def test_national_clouds_have_their_own_endpoints() -> None:
    conn = read_connection({**CONNECTION, "cloud": "usgov"})
    assert (conn.authority, conn.graph, conn.scope) == (
        "https://login.microsoftonline.us", "https://graph.microsoft.us/v1.0",
        "https://graph.microsoft.us/.default")


@pytest.mark.parametrize(("users", "problem"), [
    ("hana: a@contoso.com\nHANA: b@contoso.com", "'users' maps 'hana' twice (logins ignore "
                                                 "case); keep one line per login"),
    ("hana: a@contoso.com\nhugo: A@contoso.com", "'users' maps both 'hana' and 'hugo' to "
                                                 "'A@contoso.com'; one Entra user belongs to "
                                                 "one GitHub login"),
    ("hana = a@contoso.com", "line 1 of 'users' ('hana = a@contoso.com') is not "
                             "'login: object-id-or-UPN'"),
    ("-hana: a@contoso.com", "line 1 of 'users'"),
])
def test_the_login_map_is_unambiguous(users: str, problem: str) -> None:
    with pytest.raises(TargetError) as error:
        read_connection({**CONNECTION, "users": users})
    assert problem in str(error.value)


def test_comments_and_blank_lines_in_the_map_are_fine() -> None:
    conn = read_connection({**CONNECTION, "users": "# helpdesk\n\nHana: a@contoso.com  # EU\n"})
    assert conn.users == (("hana", "a@contoso.com"),)


def test_a_connection_that_maps_nobody_is_refused() -> None:
    with pytest.raises(TargetError, match="maps no GitHub login to an Entra user"):
        read_connection({k: v for k, v in CONNECTION.items() if k != "upn_pattern"})
    with pytest.raises(TargetError, match="is not a UPN pattern"):
        read_connection({**CONNECTION, "upn_pattern": "{login}"})
