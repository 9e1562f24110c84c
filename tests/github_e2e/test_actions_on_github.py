"""An action on GitHub (issue 12): requested with `gitjit request --runbook` and the
requester's own token, judged by the evaluate job with the plan comment showing exactly what
runs, approved, merged, run once against a real PostgreSQL server by the activate job (each
job in a fresh clone, the ledger pushed to GitHub), and the outcome commented on the pull
request. A push after the approval leaves it stale; an admin merge without approval never
runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.cli import run
from tests import signing
from tests.actions.fixtures import Orders, orders
from tests.actions.world import POLICY
from tests.github.emulator import GitHubEmulator
from tests.github.fixtures import github_emulator
from tests.github_e2e.test_lifecycle_on_github import REPO, T0, World, protect
from tests.orders_access import GROUPS

__all__ = ["github_emulator", "orders"]
pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = """\
apiVersion: gitjit/v1
kind: Settings
connections:
  orders: {provider: postgres, dsn_env: GITJIT_ORDERS_DSN}
"""
ACTION = f"actions/orders-fix/bob-{T0:%Y%m%dT%H%MZ}"


class ActionsWorld(World):
    def __init__(self, gh: GitHubEmulator, tmp: Path, monkeypatch: pytest.MonkeyPatch,
                 orders: Orders) -> None:
        self.gh, self.tmp, self.monkeypatch = gh, tmp, monkeypatch
        self.now = T0
        gh.clock = lambda: self.now
        self.bob = gh.create_user("bob", emails=["bob@example.com"])
        self.dave = gh.create_user("dave")
        self.sam = gh.create_user("sam")
        self.admin = gh.create_user("root")
        self.app = gh.create_app("gitjit", owner="acme")
        files = {str(p.relative_to(ROOT)): p.read_text() for p in (ROOT / "schemas").glob("*")}
        files |= {"policies/orders-fix.yaml": POLICY.format(role=orders.role,
                                                            table=orders.table),
                  "policies/groups.yaml": GROUPS, "policies/settings.yaml": SETTINGS,
                  "policies/allowed_signers": signing.signers_line(signing.key()) + "\n"}
        gh.create_repo(REPO, initial_files=files, permissions={"root": "admin"})
        assert self.app.app is not None
        protect(gh, self.app.app.id)
        self.clones = 0

    def outcome(self, number: int) -> str:
        bodies = [c.body for c in self.api(self.dave).get_pull(number).get_issue_comments()
                  if "gitjit:outcome" in c.body]
        assert len(bodies) == 1, "one outcome comment"
        assert [c.user.login for c in self.api(self.dave).get_pull(number).get_issue_comments()
                if "gitjit:outcome" in c.body] == ["gitjit[bot]"]
        return str(bodies[0])

    def request(self, *args: str) -> int:
        mine = self.clone()
        self.as_(self.bob)
        return run(["request", "orders-fix", "--as", "bob", "--justification",
                    "Customer was charged twice for the order (INC-1234)", "--forge", "github",
                    "--repo", str(mine), "--now", self.now.isoformat(), *args])


@pytest.fixture
def world(github_emulator: GitHubEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          orders: Orders) -> Iterator[ActionsWorld]:
    yield ActionsWorld(github_emulator, tmp_path, monkeypatch, orders)


def test_an_action_runs_once_and_its_outcome_is_commented(
        world: ActionsWorld, orders: Orders, capsys: pytest.CaptureFixture[str]) -> None:
    assert world.request("--runbook", "cancel-order", "--param", "order_id=3",
                         "--param", "reason=charged twice") == 0
    assert "opened pull request #1: pending" in capsys.readouterr().out
    assert world.evaluate(1)[0] == 4
    plan = world.plan(1)
    assert "**What will run**" in plan
    assert f"UPDATE {orders.table} SET status = 'cancelled', note = $1" in plan
    assert '- parameter 1 = ` "charged twice" `' in plan and '- parameter 2 = ` "3" `' in plan
    assert "| row guard | at most 1 rows, else everything is rolled back |" in plan

    world.now += timedelta(minutes=5)
    world.api(world.dave).get_pull(1).create_review(event="APPROVE")
    assert world.evaluate(1)[0] == 0 and world.verdict(1) == "success"
    assert world.api(world.dave).get_pull(1).merge().merged

    world.now += timedelta(minutes=1)
    capsys.readouterr()
    assert world.lifecycle("activate") == 0
    assert f"completed: {ACTION} (1 rows" in capsys.readouterr().out
    assert [r[1] for r in orders.rows()] == ["open", "open", "cancelled", "open"]
    outcome = world.outcome(1)
    assert "### gitjit: action completed" in outcome and "| rows changed | 1 |" in outcome

    # Every later activate job (a fresh clone each) sees the sealed outcome: never twice.
    for _ in range(2):
        world.now += timedelta(minutes=5)
        assert world.lifecycle("activate") == 0
    assert orders.attempts() == 1
    world.outcome(1)  # still one comment
    clone = world.clone()
    capsys.readouterr()
    assert run(["audit", "--repo", str(clone)]) == 0
    story = capsys.readouterr().out
    assert f"{ACTION}: runbook cancel-order" in story and "completed" in story


def test_a_push_after_the_approval_leaves_it_stale_and_an_admin_merge_never_runs(
        world: ActionsWorld, orders: Orders, capsys: pytest.CaptureFixture[str]) -> None:
    assert world.request("--runbook", "cancel-order", "--param", "order_id=3",
                         "--param", "reason=charged twice") == 0
    world.now += timedelta(minutes=5)
    world.api(world.dave).get_pull(1).create_review(event="APPROVE")
    assert world.evaluate(1)[0] == 0
    # bob points the approved action at another order, with his own token.
    branch = world.api(world.dave).get_pull(1).head.ref
    path = f"{ACTION}.yaml"
    content = world.api(world.bob).get_contents(path, ref=branch)
    assert not isinstance(content, list)
    text = content.decoded_content.decode()
    world.gh.commit(REPO, branch, {path: text.replace('order_id: "3"', 'order_id: "1"')},
                    author=world.bob)
    capsys.readouterr()
    assert world.evaluate(1)[0] == 4
    assert "approval.stale" in capsys.readouterr().out
    assert world.verdict(1) == "action_required"
    # An admin merges anyway: activation re-verifies from GitHub and refuses; nothing runs.
    assert world.api(world.admin).get_pull(1).merge().merged
    world.now += timedelta(minutes=1)
    capsys.readouterr()
    assert world.lifecycle("activate") == 0
    assert f"refused: {ACTION}" in capsys.readouterr().out
    assert orders.attempts() == 0
    assert "never ran" in world.outcome(1)
