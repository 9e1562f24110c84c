"""`gitjit activate --dry-run` claims a grant would apply only when its target answers.

A real PostgreSQL server (tests/targets/pg.py) and the command target: the dry run checks the
grant's settings and runs the plugin's read-only probe (connect and SELECT 1, the roles exist;
the hook program is an executable file), and names the target and the reason when it fails.
"""

from __future__ import annotations

import shutil
import socket
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from engine.cli import run
from tests.gitrepo import GitRepoBuilder
from tests.targets.pg import PgServer, create_role, is_member

ROOT = Path(__file__).resolve().parents[2]
POLICY = """\
apiVersion: gitjit/v1
kind: Policy
id: orders
description: Read and write on the orders database
target: {{provider: {provider}, connection: orders, {params}}}
requesters: [group:sre]
approvals:
  - {{from: [group:dba], count: 1}}
duration: {{default: 1h, max: 4h}}
"""
GROUPS = """\
apiVersion: gitjit/v1
kind: Groups
groups:
  sre: [{login}]
  dba: [dave]
"""
SETTINGS = """\
apiVersion: gitjit/v1
kind: Settings
connections:
  orders: {{provider: {provider}, {connection}}}
"""
GRANT = """\
apiVersion: gitjit/v1
kind: Grant
policy: orders
requester: {login}
duration: 1h
justification: Replication lag on the orders primary (INC-1234)
"""
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _merged_request(repo: GitRepoBuilder, login: str, *, provider: str, params: str,
                    connection: str) -> str:
    """An approved, merged request for policy orders; its grant id."""
    shutil.copytree(ROOT / "schemas", repo.path / "schemas")
    repo.write("policies/orders.yaml", POLICY.format(provider=provider, params=params))
    repo.write("policies/groups.yaml", GROUPS.format(login=login))
    repo.write("policies/settings.yaml", SETTINGS.format(provider=provider,
                                                         connection=connection))
    r = str(repo.path)
    assert run(["local", "keygen", "--repo", r]) == 0
    repo.commit("access configuration")
    grant_id = f"orders/{login}-{T0:%Y%m%dT%H%MZ}"
    repo.branch("request")
    repo.checkout("request")
    repo.write(f"grants/{grant_id}.yaml", GRANT.format(login=login))
    repo.commit("request orders")
    repo.checkout("main")
    assert run(["local", "open", "--as", login, "--head", "request", "--repo", r]) == 0
    assert run(["local", "review", "1", "--as", "dave", "--approve", "--repo", r,
                "--now", T0.isoformat()]) == 0
    assert run(["local", "merge", "1", "--as", "dave", "--repo", r,
                "--now", (T0 + timedelta(seconds=30)).isoformat()]) == 0
    return grant_id


def _dry_run(repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = run(["activate", "--dry-run", "--repo", str(repo.path),
                "--now", (T0 + timedelta(minutes=1)).isoformat()])
    return code, capsys.readouterr().out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nobody listens


@pytest.mark.postgres
def test_dry_run_fails_on_an_unreachable_server_and_passes_on_a_reachable_one(
        repo: GitRepoBuilder, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], uniq: str) -> None:
    login, role = f"bob-{uniq}", f"orders_rw_{uniq}"
    with pg_server.connect() as admin:
        create_role(admin, login, login=True)
        create_role(admin, role)
    grant_id = _merged_request(repo, login, provider="postgres", params=f"role: {role}",
                               connection="dsn_env: GITJIT_DRY_DSN")
    port = _closed_port()
    monkeypatch.setenv("GITJIT_DRY_DSN", psycopg.conninfo.make_conninfo(
        host="127.0.0.1", port=str(port), user="postgres", dbname="postgres",
        connect_timeout="3"))

    code, out = _dry_run(repo, capsys)

    assert code == 1
    assert (f"FAILED activate: {grant_id} (would not apply at postgres:orders(role={role}): "
            "postgres target: cannot connect (connection string from $GITJIT_DRY_DSN): ") in out
    assert str(port) in out and "would apply" not in out
    assert out.endswith("dry run: activate: 1 activation failed\n")

    monkeypatch.setenv("GITJIT_DRY_DSN", pg_server.dsn())
    code, out = _dry_run(repo, capsys)

    assert code == 0, out
    assert (f"activated: {grant_id} (2026-11-30 09:00Z until 2026-11-30 10:00Z; would apply "
            f"at postgres:orders(role={role}): connected and ran SELECT 1; role '{role}' "
            "exists)") in out
    with pg_server.connect() as admin:
        assert not is_member(admin, login, role)  # a dry run changes nothing

    # The real run does what the dry run said it would.
    assert run(["activate", "--repo", str(repo.path),
                "--now", (T0 + timedelta(minutes=1)).isoformat()]) == 0
    with pg_server.connect() as admin:
        assert is_member(admin, login, role)
    # The cluster is shared by the session's tests: end the access gitjit put there.
    assert run(["reconcile", "--repo", str(repo.path),
                "--now", (T0 + timedelta(hours=2)).isoformat()]) == 0
    with pg_server.connect() as admin:
        assert not is_member(admin, login, role)


@pytest.mark.postgres
def test_dry_run_names_a_missing_role(
        repo: GitRepoBuilder, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], uniq: str) -> None:
    login, role = f"carol-{uniq}", f"orders_gone_{uniq}"
    with pg_server.connect() as admin:
        create_role(admin, login, login=True)
    grant_id = _merged_request(repo, login, provider="postgres", params=f"role: {role}",
                               connection="dsn_env: GITJIT_DRY_DSN")
    monkeypatch.setenv("GITJIT_DRY_DSN", pg_server.dsn())

    code, out = _dry_run(repo, capsys)

    assert code == 1
    assert (f"FAILED activate: {grant_id} (would not apply at postgres:orders(role={role}): "
            f"postgres target: the granted role '{role}' does not exist in the database; "
            "create it, or fix 'role' in policy orders)") in out


def test_dry_run_checks_the_command_targets_program(
        repo: GitRepoBuilder, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hook = tmp_path / "hook.sh"
    grant_id = _merged_request(repo, "bob", provider="command", params="role: rw",
                               connection=f"command: {hook}")

    code, out = _dry_run(repo, capsys)
    assert code == 1
    assert (f"FAILED activate: {grant_id} (would not apply at command:orders(role=rw): "
            f"command target: cannot run '{hook}': not an executable file") in out

    hook.write_text("#!/bin/sh\nexit 0\n")
    code, out = _dry_run(repo, capsys)
    assert code == 1  # there, but not executable

    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    code, out = _dry_run(repo, capsys)
    assert code == 0, out
    assert f"would apply at command:orders(role=rw): {hook} is an executable file" in out
