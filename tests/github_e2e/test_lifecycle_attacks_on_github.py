"""Attacks on the lifecycle on GitHub, the way a writer would make them: their own token,
plain git pushes over HTTP to the emulator, reviews through the API.

GITHUB_TOKEN mode is the hard case: no ruleset can tell gitjit's pushes to gitjit/ledger
from a writer's (both are github-actions or a person with write access), so the ledger branch
is open to every writer and gitjit's signatures are all that stands. (With the App, the
`gitjit/**` ruleset refuses the push outright: test_lifecycle_on_github.py.)"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.cli import run
from engine.core.ledger import (
    AppliedTarget,
    Event,
    ExpiryEnforcer,
    Record,
    chain,
    commit_message,
    parse_record,
    record_path,
    to_json,
)
from engine.core.models import GrantId
from tests.github.emulator import GitHubEmulator, User
from tests.github.fixtures import github_emulator
from tests.github_e2e.test_lifecycle_on_github import REPO, T0, World

__all__ = ["github_emulator"]

GID = GrantId(f"orders-admin/bob-{T0:%Y%m%dT%H%MZ}")
GRANT = (f"grants/{GID}.yaml", "apiVersion: gitjit/v1\nkind: Grant\npolicy: orders-admin\n"
         "requester: bob\nduration: 1h\njustification: Replication lag on the orders primary\n")


@pytest.fixture
def world(github_emulator: GitHubEmulator, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield World(github_emulator, tmp_path, monkeypatch, gitjit_branches=False)


def git(world: World, who: User, cwd: Path, *args: str) -> str:
    """Plain git as ``who``, with their own token."""
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                            env={**os.environ, **world.gh.git_env(who)}, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def requested(world: World, *, approve: bool = True, method: str = "merge") -> int:
    """bob's request, approved by dave and sam (unless not), merged by sam."""
    world.gh.commit(REPO, "bob-access", dict([GRANT]), author=world.bob)
    number = world.api(world.bob).create_pull(title="access", body="", head="bob-access",
                                              base="main").number
    if approve:
        world.now += timedelta(minutes=1)
        for user in (world.dave, world.sam):
            world.api(user).get_pull(number).create_review(event="APPROVE")
        assert world.evaluate(number)[0] == 0  # the required gitjit/verdict check
    world.now += timedelta(minutes=1)
    pull = world.api(world.admin if not approve else world.sam).get_pull(number)
    assert pull.merge(merge_method=method).merged
    return number


def granted(world: World) -> list[str]:
    if not world.recording.exists():
        return []
    return sorted(json.loads(world.recording.read_text())["assignments"])


def ledger_records(world: World) -> list[Record]:
    clone = world.clone()
    names = git(world, world.app, clone, "ls-tree", "--name-only", "origin/gitjit/ledger:records")
    return [parse_record(git(world, world.app, clone, "show",
                             f"origin/gitjit/ledger:records/{name}").encode())
            for name in names.split()]


def test_a_record_pushed_with_the_writers_own_token_is_forged_and_alerted(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    actions = world.gh.github_actions()
    requested(world)
    # Before activation runs, bob pushes an 'activated' record for his grant with a year and
    # a superuser role, built with gitjit's own code, over HTTP with his own token.
    mine = world.tmp / "bob"
    git(world, world.bob, world.tmp, "clone", "--quiet", world.gh.git_url(REPO), str(mine))
    git(world, world.bob, mine, "switch", "--quiet", "--orphan", "gitjit/ledger")
    record = chain(Record(
        event=Event.ACTIVATED, grant_id=GID, policy="orders-admin", requester="bob", at=T0,
        activated_at=T0, expires_at=T0 + timedelta(days=365), engine_version="0.1.0",
        expiry_enforced_by=ExpiryEnforcer.GITJIT,
        target=AppliedTarget("recording", "rec", (("connection", "rec"),
                                                  ("role", "superuser")))), None)
    (mine / "records").mkdir()
    (mine / record_path(record)).write_bytes(to_json(record))
    git(world, world.bob, mine, "add", "records")
    git(world, world.bob, mine, "commit", "--quiet", "-m", commit_message(record))
    git(world, world.bob, mine, "push", "--quiet", "origin", "gitjit/ledger")
    forged = git(world, world.bob, mine, "rev-parse", "HEAD").strip()

    # The activate job (GITHUB_TOKEN mode) ignores it, activates from GitHub's data, alerts.
    capsys.readouterr()
    assert world.lifecycle("activate", as_=actions) == 1
    assert f"FAILED ledger.forged: {GID} (ledger commit {forged[:12]}" in capsys.readouterr().out
    assert granted(world) == [GID]
    records = ledger_records(world)
    assert [(r.event, r.code) for r in records] == [(Event.ALERT, "ledger.forged"),
                                                    (Event.ACTIVATED, "")]
    merged_at = T0 + timedelta(minutes=2)
    assert (records[1].activated_at, records[1].expires_at) == (merged_at,
                                                                merged_at + timedelta(hours=1))
    assert records[1].target is not None and ("role", "orders_admin") in records[1].target.params

    # An auditor's fresh clone: the forgery is named, and audit says so first.
    clone = world.clone()
    capsys.readouterr()
    assert run(["audit", "verify", "--repo", str(clone)]) == 1
    assert f"ledger.forged: ledger commit {forged[:12]}" in capsys.readouterr().out
    assert run(["audit", "--repo", str(clone)]) == 1
    assert capsys.readouterr().out.startswith("LEDGER NOT INTACT")


def test_a_squash_merge_whose_branch_is_gone_is_read_through_the_pull_ref(
        world: World) -> None:
    requested(world, method="squash")
    # The head branch is deleted after the merge (GitHub's "delete branch" button).
    subprocess.run(["git", "update-ref", "-d", "refs/heads/bob-access"],
                   cwd=world.gh.repo(REPO).path, check=True)
    world.now += timedelta(minutes=1)
    assert world.lifecycle("activate") == 0
    assert granted(world) == [GID]


def test_an_approval_given_after_an_admin_merge_does_not_activate(world: World) -> None:
    number = requested(world, approve=False)  # root merges with no approval (admin bypass)
    world.now += timedelta(minutes=1)
    for user in (world.dave, world.sam):  # GitHub takes reviews on merged pull requests
        world.api(user).get_pull(number).create_review(event="APPROVE")
    world.now += timedelta(minutes=1)
    assert world.lifecycle("activate") == 0
    assert granted(world) == []
    refused = [r for r in ledger_records(world) if r.event is Event.REFUSED]
    assert len(refused) == 1 and "approval" in refused[0].detail


def test_a_pull_request_gitjit_cannot_read_is_refused_after_bounded_attempts(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    requested(world)
    merge = world.api(world.dave).get_pull(1).merge_commit_sha
    for attempt in range(1, 6):
        world.gh.fail_next(f"/repos/{REPO}/commits/{merge}/pulls", 404)
        world.now += timedelta(minutes=10)
        capsys.readouterr()
        code = world.lifecycle("activate")
        out = capsys.readouterr().out
        if attempt < 5:
            assert code == 1 and f"FAILED deferred: {GID} (attempt {attempt} of 5" in out
        else:
            assert code == 0 and f"refused: {GID} (it could not be verified in 5 attempts" in out
    assert granted(world) == []
    assert [r.event for r in ledger_records(world)] == [Event.DEFERRED] * 4 + [
        Event.REFUSED, Event.ALERT]
