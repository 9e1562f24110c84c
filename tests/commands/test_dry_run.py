"""Dry runs say what a real run would do, including the files it would take off the branch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.core.ledger import Event
from tests.gitrepo import GitRepoBuilder
from tests.lifecycle.world import T0, World, hours

GID = "db/bob-20261130T0900Z"


def _active(world: World) -> str:
    number, path = world.request("bob", T0)
    world.approve(number, "dave", T0)
    world.merge(number, "dave", T0)
    assert world.cli("activate", now=T0) == 0
    return path


def test_reconcile_dry_run_lists_the_file_a_real_run_removes(
        repo: GitRepoBuilder, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = World(repo, tmp_path)
    path = _active(world)
    capsys.readouterr()

    assert world.cli("reconcile", "--dry-run", now=T0 + hours(3)) == 0

    out = capsys.readouterr().out
    assert f"revoked: {GID} (expired)" in out
    assert (f"removed: {GID} ({path}: expired 2026-11-30 11:00Z; this run would revoke it and "
            "record its end; by a push to main)") in out
    assert "dry run: reconcile: 1 removed, 1 revoked" in out
    # Nothing happened: the file, the access and the ledger are as they were.
    assert world.repo.tree("main").exists(path)
    assert list(world.granted()) == [GID]
    assert [r.event for r in world.records()] == [Event.ACTIVATED]

    # The real run does what the dry run said.
    assert world.cli("reconcile", now=T0 + hours(3)) == 0
    assert not world.repo.tree("main").exists(path)


def test_reconcile_dry_run_names_a_recorded_end_whose_file_is_still_there(
        repo: GitRepoBuilder, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = World(repo, tmp_path, removal="pull-request")
    path = _active(world)
    assert world.cli("reconcile", now=T0 + hours(3)) == 0  # revoked, recorded, PR opened
    assert world.repo.tree("main").exists(path)
    capsys.readouterr()

    assert world.cli("reconcile", "--dry-run", "--format", "json", now=T0 + hours(4)) == 0

    report = json.loads(capsys.readouterr().out)
    assert report["dry_run"] is True and report["ok"] is True
    removals = [s for s in report["steps"] if s["action"] == "removed"]
    assert removals == [{"grant": GID, "action": "removed", "failed": False,
                         "detail": f"{path}: expired 2026-11-30 11:00Z; its end is recorded; "
                                   "by a pull request"}]


def test_reconcile_dry_run_removes_nothing_while_access_is_live(
        repo: GitRepoBuilder, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = World(repo, tmp_path)
    _active(world)
    capsys.readouterr()
    assert world.cli("reconcile", "--dry-run", now=T0 + hours(1)) == 0
    out = capsys.readouterr().out
    assert "removed" not in out and f"applied: {GID}" in out
