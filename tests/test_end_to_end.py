"""The whole lifecycle through the CLI alone, against a real PostgreSQL server.

A requester opens a pull request, approvers review, it merges, `gitjit activate` really grants
the database role (a real connection uses it), the clock moves on, `gitjit reconcile` really
revokes it and terminates the open session, a removal commit lands, and `gitjit audit` on a
fresh clone tells the story with approvers and times."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from engine.cli import run
from tests.gitrepo import GitRepoBuilder
from tests.orders_access import GROUPS, policy
from tests.targets.pg import PgServer, create_role, is_alive, is_member

ROOT = Path(__file__).resolve().parents[1]
POLICY = policy("postgres", "orders")
SETTINGS = """\
apiVersion: gitjit/v1
kind: Settings
connections:
  orders: {provider: postgres, dsn_env: GITJIT_E2E_DSN, mode: membership}
"""
GRANT = """\
apiVersion: gitjit/v1
kind: Grant
policy: orders-admin
requester: bob
duration: 1h
justification: Replication lag on the orders primary (INC-1234)
"""


@pytest.mark.postgres
def test_request_to_audit_through_the_cli(
    repo: GitRepoBuilder, tmp_path: Path, pg_server: PgServer,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITJIT_E2E_DSN", pg_server.dsn())
    with pg_server.connect() as admin:
        create_role(admin, "bob", login=True)
        create_role(admin, "orders_admin")
    # The server judges sessions by the real clock, so the story runs on it.
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    shutil.copytree(ROOT / "schemas", repo.path / "schemas")
    repo.write("policies/orders-admin.yaml", POLICY)
    repo.write("policies/groups.yaml", GROUPS)
    repo.write("policies/settings.yaml", SETTINGS)
    assert run(["local", "keygen", "--repo", str(repo.path)]) == 0
    repo.commit("access configuration")
    path = f"grants/orders-admin/bob-{t0:%Y%m%dT%H%MZ}.yaml"
    grant_id = path.removeprefix("grants/").removesuffix(".yaml")
    r = repo.path

    # The requester's branch and pull request.
    repo.branch("request")
    repo.checkout("request")
    repo.write(path, GRANT)
    repo.commit("request orders-admin")
    repo.checkout("main")
    assert run(["local", "open", "--as", "bob", "--head", "request", "--repo", str(r)]) == 0

    # One approval is not enough: the gate refuses the merge and names the missing step.
    assert run(["local", "review", "1", "--as", "dave", "--approve", "--repo", str(r),
                "--now", t0.isoformat()]) == 0
    capsys.readouterr()
    assert run(["local", "merge", "1", "--as", "dave", "--repo", str(r),
                "--now", t0.isoformat()]) == 1
    assert "group:security" in capsys.readouterr().out
    assert run(["local", "review", "1", "--as", "sam", "--approve", "--repo", str(r),
                "--now", t0.isoformat()]) == 0
    merged_at = t0 + timedelta(seconds=30)
    assert run(["local", "merge", "1", "--as", "sam", "--repo", str(r),
                "--now", merged_at.isoformat()]) == 0

    # Activation: the role is really granted, and a real session uses it.
    assert run(["activate", "--repo", str(r), "--now", (t0 + timedelta(minutes=1)).isoformat()
                ]) == 0
    with pg_server.connect() as admin:
        assert is_member(admin, "bob", "orders_admin")
    session = psycopg.connect(pg_server.dsn("bob"), autocommit=True)
    session.execute(sql.SQL("SET ROLE {}").format(sql.Identifier("orders_admin")))
    assert session.execute("SELECT current_user").fetchone() == ("orders_admin",)

    # Status while live, then the clock passes the expiry and reconcile revokes.
    capsys.readouterr()
    assert run(["status", "--repo", str(r), "--now", (t0 + timedelta(minutes=30)).isoformat(),
                "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert "active" in json.dumps(status)
    after = merged_at + timedelta(hours=1, minutes=1)
    assert run(["reconcile", "--repo", str(r), "--now", after.isoformat()]) == 0
    with pg_server.connect() as admin:
        assert not is_member(admin, "bob", "orders_admin")
    assert not is_alive(session)  # the open session was terminated
    session.close()

    # The removal commit landed with its trailer.
    message = subprocess.run(["git", "log", "-1", "--format=%B", "main"], cwd=r,
                             capture_output=True, text=True, check=True).stdout
    assert f"Gitjit-Removed: {grant_id}; expired-at=" in message
    assert not (repo.git("ls-tree", "-r", "--name-only", "main", "--", "grants/")).strip()

    # The auditor's fresh clone, with no forge, tells the whole story.
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-local", str(r), str(clone)], check=True,
                   capture_output=True)
    capsys.readouterr()
    assert run(["audit", "--repo", str(clone)]) == 0
    story = capsys.readouterr().out
    assert story.index("approved by dave") < story.index("activated until") \
        < story.index("removed in")
    assert run(["audit", "--repo", str(clone), "--format", "json"]) == 0
    report = json.dumps(json.loads(capsys.readouterr().out))
    for fact in (grant_id, '"dave"', '"sam"', "Replication lag on the orders primary",
                 merged_at.strftime("%Y-%m-%dT%H:%M:%S"), "expired"):
        assert fact in report, fact
    assert run(["audit", "verify", "--repo", str(clone)]) == 0

    # A DBA grants the role by hand: no grant backs it, so reconcile reports the drift (and
    # the run fails so that someone looks), once in the ledger.
    with pg_server.connect() as admin:
        create_role(admin, "mallory", login=True)
        admin.execute("GRANT orders_admin TO mallory")
    later = after + timedelta(minutes=10)
    capsys.readouterr()
    assert run(["reconcile", "--repo", str(r), "--now", later.isoformat()]) == 1
    assert ("FAILED target.drift: (orders-admin) (mallory (mallory) holds orders_admin through "
            "connection orders with no live grant of orders-admin") in capsys.readouterr().out
    with pg_server.connect() as admin:
        assert is_member(admin, "mallory", "orders_admin")  # alert only: the policy's default
        admin.execute("DROP ROLE mallory")
