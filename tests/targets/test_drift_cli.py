"""Drift through the CLI against a real PostgreSQL server: a membership granted by hand is
reported (and removed where the policy says so); standing holders the policy names are not."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.adapters.git import GitRepository
from engine.adapters.ledger import Ledger
from engine.cli import run
from engine.commands.repository import read_signers
from tests.gitrepo import GitRepoBuilder
from tests.orders_access import GROUPS, policy
from tests.targets.pg import PgServer, create_role, is_member

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = """\
apiVersion: gitjit/v1
kind: Settings
connections:
  orders: {provider: postgres, dsn_env: GITJIT_DRIFT_DSN, mode: membership}
"""


@pytest.mark.postgres
def test_drift_is_removed_where_the_policy_says_and_standing_holders_stay(
        repo: GitRepoBuilder, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], uniq: str) -> None:
    role, hand, team = f"drift_admin_{uniq}", f"mallory-{uniq}", f"drift_team_{uniq}"
    monkeypatch.setenv("GITJIT_DRIFT_DSN", pg_server.dsn())
    with pg_server.connect() as admin:
        create_role(admin, role)
        create_role(admin, hand, login=True)
        create_role(admin, team)
        admin.execute(f'GRANT "{role}" TO "{hand}"')  # by hand, outside gitjit
        admin.execute(f'GRANT "{role}" TO "{team}"')  # a standing group role
    try:
        shutil.copytree(ROOT / "schemas", repo.path / "schemas")
        repo.write("policies/orders-admin.yaml", policy("postgres", "orders").replace(
            "role: orders_admin", f"role: {role}")
            + f"drift: {{action: revoke, except_holders: [{team}]}}\n")
        repo.write("policies/groups.yaml", GROUPS)
        repo.write("policies/settings.yaml", SETTINGS)
        assert run(["local", "keygen", "--repo", str(repo.path)]) == 0
        repo.commit("access configuration")

        capsys.readouterr()
        now = datetime.now(UTC).isoformat()
        assert run(["reconcile", "--repo", str(repo.path), "--now", now]) == 1
        out = capsys.readouterr().out
        assert (f"FAILED target.drift: (orders-admin) ({hand} ({hand}) holds {role} through "
                f"connection "
                f"orders with no live grant of orders-admin; removed (drift.action: revoke))"
                ) in out
        assert team not in out
        with pg_server.connect() as admin:
            assert not is_member(admin, hand, role)
            assert is_member(admin, team, role)
        git = GitRepository(repo.path)
        [alert] = Ledger(git, signers=read_signers(git.tree("main"))).records()
        assert (alert.code, alert.policy) == ("target.drift", "orders-admin")
        # Gone now: the next run finds nothing to say.
        assert run(["reconcile", "--repo", str(repo.path), "--now", now]) == 0
    finally:
        with pg_server.connect() as admin:
            admin.execute(f'DROP ROLE IF EXISTS "{hand}", "{team}", "{role}"')
