"""The grantee's attacks on the PostgreSQL target, through the CLI from request to reconcile.

The same story as tests/test_end_to_end.py (a pull request, two approvals, merge, `gitjit
activate`, the clock passes the expiry, `gitjit reconcile`), but the grantee holds a superuser
role and fights the revocation from a session opened before the merge.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from engine.cli import run
from tests.gitrepo import GitRepoBuilder
from tests.targets.pg import PgServer, create_role, is_member

ROOT = Path(__file__).resolve().parents[2]
POLICY = """\
apiVersion: gitjit/v1
kind: Policy
id: orders-admin
description: Superuser on the orders database
target: {{provider: postgres, connection: orders, role: {role}}}
requesters: [group:sre]
approvals:
  - {{from: [group:dba], count: 1}}
  - {{from: [group:security], count: 1}}
duration: {{default: 1h, max: 4h}}
justification: {{min_length: 20}}
"""
GROUPS = """\
apiVersion: gitjit/v1
kind: Groups
groups:
  sre: [{login}]
  dba: [dave]
  security: [sam]
"""
SETTINGS = """\
apiVersion: gitjit/v1
kind: Settings
connections:
  orders: {provider: postgres, dsn_env: GITJIT_CLI_DSN}
"""
GRANT = """\
apiVersion: gitjit/v1
kind: Grant
policy: orders-admin
requester: {login}
duration: 1h
justification: Replication lag on the orders primary (INC-1234)
"""
TERMINATED = "terminating connection due to administrator command"


@pytest.mark.postgres
def test_a_superuser_grantee_cannot_outlive_reconcile_by_session_or_by_record(
    repo: GitRepoBuilder, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], uniq: str,
) -> None:
    login, role = f"mallory-{uniq}", f"orders_super_{uniq}"
    monkeypatch.setenv("GITJIT_CLI_DSN", pg_server.dsn())
    admin = pg_server.connect()
    create_role(admin, login, login=True)
    admin.execute(sql.SQL("CREATE ROLE {} SUPERUSER NOLOGIN").format(sql.Identifier(role)))
    # Opened before anything was requested: the session the grantee means to keep.
    early = pg_server.connect(login)
    t0 = datetime.now(UTC).replace(microsecond=0)
    shutil.copytree(ROOT / "schemas", repo.path / "schemas")
    repo.write("policies/orders-admin.yaml", POLICY.format(role=role))
    repo.write("policies/groups.yaml", GROUPS.format(login=login))
    repo.write("policies/settings.yaml", SETTINGS)
    assert run(["local", "keygen", "--repo", str(repo.path)]) == 0
    repo.commit("access configuration")
    r = str(repo.path)
    repo.branch("request")
    repo.checkout("request")
    grant_id = f"orders-admin/{login}-{t0:%Y%m%dT%H%MZ}"
    repo.write(f"grants/{grant_id}.yaml", GRANT.format(login=login))
    repo.commit("request orders-admin")
    repo.checkout("main")
    assert run(["local", "open", "--as", login, "--head", "request", "--repo", r]) == 0
    for approver in ("dave", "sam"):
        assert run(["local", "review", "1", "--as", approver, "--approve", "--repo", r,
                    "--now", t0.isoformat()]) == 0
    merged_at = t0 + timedelta(seconds=30)
    assert run(["local", "merge", "1", "--as", "sam", "--repo", r,
                "--now", merged_at.isoformat()]) == 0
    assert run(["activate", "--repo", r, "--now", (t0 + timedelta(minutes=1)).isoformat()]) == 0

    # The grantee switches the old session to the role and marks their record "held before".
    early.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    early.execute("UPDATE gitjit.managed SET held_before = true WHERE login = %s", [login])

    capsys.readouterr()
    after = merged_at + timedelta(hours=1, minutes=1)
    assert run(["reconcile", "--repo", r, "--now", after.isoformat()]) != 0
    assert (f"FAILED revoke: {grant_id} (postgres target: grant {grant_id}: gitjit's record "
            f"of this grant was not believed, because '{role}' has SUPERUSER (anyone who can "
            f"do that could have rewritten gitjit.managed): it says the login held '{role}' "
            f"before the grant") in capsys.readouterr().out
    assert not is_member(admin, login, role)
    with pytest.raises(psycopg.OperationalError, match=TERMINATED):
        early.execute("SELECT current_user")

    # The access is gone and the record corrected: the next run records the end.
    assert run(["reconcile", "--repo", r, "--now", (after + timedelta(minutes=5)).isoformat()
                ]) == 0
    assert not is_member(admin, login, role)
    admin.close()
