"""holders(): everyone holding the privilege a policy's target names, however they got it, so
reconcile can find access that no live grant backs (drift). PostgreSQL against a real server
(memberships granted by hand through psql), the command target against real hooks, the
recording target against its file."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from engine.core.models import Target
from engine.targets.base import HasHolders, Holder, TargetError
from engine.targets.command import CommandTarget
from engine.targets.postgres import PostgresTarget, login_role_name
from engine.targets.recording import RecordingTarget
from engine.targets.registry import create_target
from tests.targets.pg import Conn, PgServer, assignment, create_role, find_bin


def psql(server: PgServer, statement: str) -> None:
    """Run ``statement`` as a person at a terminal would: psql, as the superuser."""
    result = subprocess.run([find_bin("psql"), "--no-psqlrc", "-v", "ON_ERROR_STOP=1",
                             "-d", server.dsn(), "-c", statement],
                            capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr


def seen(holders: list[Holder]) -> list[tuple[str, str | None, str, dict[str, str]]]:
    return [(h.principal, h.login, h.privilege, dict(h.details)) for h in holders]


def target(role: str) -> Target:
    return Target("postgres", (("connection", "orders-test"), ("role", role)))


def test_postgres_holders_come_from_the_catalog_however_they_were_granted(
        pg_server: PgServer, admin: Conn, dsn_env: str, uniq: str) -> None:
    role, side = f"orders_admin_{uniq}", f"side_role_{uniq}"
    alice, bob, dave, mallory = (f"{name}-{uniq}" for name in ("alice", "bob", "dave",
                                                               "mallory"))
    shouting = f"Carol-{uniq}"
    for login in (alice, bob, dave, mallory, shouting):
        create_role(admin, login, login=True)
    create_role(admin, role)
    create_role(admin, side)
    plugin = PostgresTarget({"provider": "postgres", "dsn_env": dsn_env})
    granted = assignment(alice, role, dsn_env)
    per_grant = assignment(dave, role, dsn_env, mode="login-role")
    plugin.apply(granted)
    plugin.apply(per_grant)

    # By hand, outside gitjit: directly, through another role, and to a role that only
    # resembles a login.
    psql(pg_server, f'GRANT {role} TO "{mallory}"')
    psql(pg_server, f'GRANT {role} TO {side}; GRANT {side} TO "{bob}"')
    psql(pg_server, f'GRANT {role} TO "{shouting}"')
    psql(pg_server, f'GRANT {side} TO "{mallory}"')

    dave_role = login_role_name(per_grant.grant_id, dave)
    try:
        found = seen(plugin.holders(target(role)))
    finally:
        # Roles are cluster-wide: a per-grant role left behind is in every test's list_managed.
        plugin.revoke(per_grant)
        plugin.revoke(granted)
    assert found == [
        (shouting, None, role, {"how": "directly", "can_login": "true"}),
        (alice, alice, role, {"how": "directly", "can_login": "true"}),
        (bob, bob, role, {"how": f"through {side}", "can_login": "true"}),
        (dave_role, dave, role, {"how": "directly", "can_login": "true",
                                 "grant": per_grant.grant_id}),
        (mallory, mallory, role, {"how": f"directly and through {side}", "can_login": "true"}),
        (side, None, role, {"how": "directly", "can_login": "false"}),
    ]


def test_postgres_holders_believe_the_catalog_not_gitjits_records(
        pg_server: PgServer, admin: Conn, dsn_env: str, uniq: str) -> None:
    role, alice = f"orders_admin_{uniq}", f"alice-{uniq}"
    create_role(admin, alice, login=True)
    create_role(admin, role)
    plugin = PostgresTarget({"provider": "postgres", "dsn_env": dsn_env})
    granted = assignment(alice, role, dsn_env)
    plugin.apply(granted)
    psql(pg_server, f'REVOKE {role} FROM "{alice}"')  # gitjit.managed still says applied

    assert plugin.holders(target(role)) == []
    assert [m.principal for m in plugin.list_managed() if m.privilege == role] == [alice]
    plugin.revoke(granted)


def test_postgres_holders_of_a_role_that_does_not_exist(dsn_env: str, uniq: str) -> None:
    plugin = create_target({"provider": "postgres", "dsn_env": dsn_env})
    assert isinstance(plugin, HasHolders)
    with pytest.raises(TargetError) as err:
        plugin.holders(target(f"no_such_role_{uniq}"))
    assert str(err.value) == (f"postgres target: the role 'no_such_role_{uniq}' does not exist "
                              "in the database; create it, or fix 'role' in the policy")


def test_postgres_holders_need_a_role() -> None:
    with pytest.raises(TargetError, match="the target names no 'role' whose holders to list"):
        PostgresTarget({"provider": "postgres"}).holders(Target("postgres"))


# -- command --------------------------------------------------------------------------------

HOOK = """
import json, sys
log, action = sys.argv[1], sys.argv[-1]
payload = json.load(sys.stdin)
open(log, "a").write(action + " " + json.dumps(payload, sort_keys=True) + "\\n")
if action == "holders":
    print(json.dumps([
        {"principal": "u-1", "privilege": payload["target"]["params"]["team"],
         "login": "Alice", "details": {"how": "owner"}},
        {"principal": "svc-bot", "privilege": payload["target"]["params"]["team"]}]))
"""


def command(tmp_path: Path, code: str = HOOK) -> tuple[str, Path]:
    log = tmp_path / "calls.log"
    return shlex.join([sys.executable, "-c", code, str(log)]), log


def test_command_holders_run_the_hooks_holders_action(tmp_path: Path) -> None:
    hook, log = command(tmp_path)
    connection = {"provider": "command", "command": hook, "holders": "true", "org": "acme"}
    plugin = create_target(connection)
    assert isinstance(plugin, HasHolders)
    found = plugin.holders(Target("command", (("connection", "vault"), ("team", "admins"))))

    assert seen(found) == [("u-1", "alice", "admins", {"how": "owner"}),
                           ("svc-bot", None, "admins", {})]
    action, payload = log.read_text().split(" ", 1)
    assert action == "holders"
    assert json.loads(payload) == {
        "target": {"provider": "command", "params": {"connection": "vault", "team": "admins"}},
        "connection": connection}


def test_command_holders_run_only_where_the_connection_says_the_hook_has_them(
        tmp_path: Path) -> None:
    # An older hook might take any action it does not know for a revocation.
    hook, log = command(tmp_path)
    with pytest.raises(TargetError) as err:
        CommandTarget({"provider": "command", "command": hook}).holders(Target("command"))
    assert str(err.value) == (
        "command target: this connection's hook does not list holders (drift detection); once "
        "it implements the 'holders' action, say holders: \"true\" in its connection in "
        "policies/settings.yaml")
    assert not log.exists()


@pytest.mark.parametrize(("output", "why"), [
    ('{"principal": "x"}', "ValueError: not a JSON array"),
    ('[{"principal": "x"}]', "KeyError: 'privilege'"),
    ('[{"principal": "x", "privilege": "y", "login": "not a login"}]', "ValueError: invalid "
     "login 'not a login'"),
])
def test_command_holders_output_must_be_a_list_of_holders(tmp_path: Path, output: str,
                                                          why: str) -> None:
    hook, _ = command(tmp_path, f"print({output!r})")
    with pytest.raises(TargetError) as err:
        CommandTarget({"provider": "command", "command": hook, "holders": "true"}).holders(
            Target("command"))
    assert str(err.value).startswith(
        "command target: 'holders' must print a JSON array of objects with 'principal' and "
        "'privilege' (and optionally 'login' and 'details'); could not read its output "
        f"({why}")


# -- recording ------------------------------------------------------------------------------

def test_recording_holders_are_what_its_file_holds(tmp_path: Path) -> None:
    path = tmp_path / "recording.json"
    plugin = RecordingTarget({"provider": "recording", "path": str(path)})
    a = assignment("alice", "orders_admin", "UNUSED")
    recorded = replace(a, target=Target("recording", a.target.params))
    plugin.apply(recorded)
    # Written into the file by hand: how a test grants outside gitjit.
    state = json.loads(path.read_text())
    state["assignments"]["by-hand"] = {**state["assignments"][a.grant_id], "login": "mallory"}
    path.write_text(json.dumps(state))

    assert seen(plugin.holders(recorded.target)) == [
        ("mallory", "mallory", "orders_admin", {"recorded_as": "by-hand"}),
        ("alice", "alice", "orders_admin", {"recorded_as": a.grant_id}),
    ]
    other = Target("recording", (("connection", "orders-test"), ("role", "orders_reader")))
    assert plugin.holders(other) == []
