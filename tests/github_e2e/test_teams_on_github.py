"""Team principals on GitHub: an approval step `team:acme/dba` is resolved through the forge
when the verdict is given and at activation; a lookup that fails denies, naming the team."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.cli import run
from tests.github.emulator import GitHubEmulator
from tests.github.fixtures import github_emulator
from tests.github_e2e.test_lifecycle_on_github import POLICY, REPO, T0, World

__all__ = ["github_emulator"]

TEAM_POLICY = POLICY.replace(
    "  - {from: [group:dba], count: 1}\n  - {from: [group:security], count: 1}\n",
    "  - {from: [team:acme/dba], count: 1}\n")
GRANT = f"grants/orders-admin/bob-{T0:%Y%m%dT%H%MZ}.yaml"


@pytest.fixture
def world(github_emulator: GitHubEmulator, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    world = World(github_emulator, tmp_path, monkeypatch)
    assert "team:acme/dba" in TEAM_POLICY
    github_emulator.commit(REPO, "main", {"policies/orders-admin.yaml": TEAM_POLICY},
                           author=world.admin)
    github_emulator.create_team("acme", "dba", members=["dave"])
    # bob asks; dave, a member of acme/dba on GitHub (not in any group), approves.
    github_emulator.commit(REPO, "bob-access", {GRANT: (
        "apiVersion: gitjit/v1\nkind: Grant\npolicy: orders-admin\nrequester: bob\n"
        "duration: 1h\njustification: Replication lag on the orders primary\n")},
        author=world.bob)
    world.api(world.bob).create_pull(title="access", body="", head="bob-access", base="main")
    world.api(world.dave).get_pull(1).create_review(event="APPROVE")
    yield world


def test_a_team_members_approval_counts_and_the_grant_activates(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert world.evaluate(1)[0] == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["decision"] == "approved", verdict
    assert [(c["reviewer"], c["step"]) for c in verdict["counted"]] == [("dave", 1)]
    assert world.verdict(1) == "success"

    # Activation re-verifies through GitHub, team lookup included.
    assert world.api(world.sam).get_pull(1).merge().merged
    assert world.lifecycle("activate") == 0
    assert list(json.loads(world.recording.read_text())["assignments"]) == [
        f"orders-admin/bob-{T0:%Y%m%dT%H%MZ}"]


def test_a_failed_team_lookup_denies_naming_the_team(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.gh.fail_next("/orgs/acme/teams/dba/members", 404, message="Not Found")
    capsys.readouterr()
    assert world.evaluate(1)[0] == 1
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["decision"] == "denied", verdict
    assert verdict["counted"] == []
    assert [(f["code"], f["message"]) for f in verdict["findings"]] == [(
        "config.unresolved-team",
        "approval step 1 names team:acme/dba, whose members could not be looked up on "
        "GitHub; denied until the lookup succeeds (check that the team exists and that "
        "gitjit's token may read its members)")]
    assert world.verdict(1) == "failure"


def test_gitjit_request_judges_a_team_policy_with_the_lookup(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    mine = world.clone()
    world.as_(world.bob)
    capsys.readouterr()
    assert run(["request", "orders-admin", "--as", "bob", "--duration", "1h",
                "--justification", "Vacuum the orders archive by hand (CHG-77)",
                "--forge", "github", "--repo", str(mine),
                "--now", (T0 + timedelta(minutes=5)).isoformat()]) == 0
    out = capsys.readouterr().out
    assert "opened pull request #2: pending" in out
    assert "needs step 1 (team:acme/dba): 1 more; may approve: dave" in out
