"""Grants that extend others, and break-glass grants, through activate, reconcile, status and
audit on a real repository."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from engine.cli import run
from engine.core.ledger import Event
from tests.gitrepo import GitRepoBuilder
from tests.lifecycle.world import T0, World, hours


def out_of(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert run(list(args)) == 0
    return capsys.readouterr().out


def test_extending_a_grant_ends_the_one_it_extends(
        repo: GitRepoBuilder, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = World(repo, tmp_path, policy_extra="limits: {max_active_per_requester: 1}\n")
    first, _ = world.request("bob", T0, duration="1h")
    world.approve(first, "dave", T0 + hours(0.05))
    world.merge(first, "dave", T0 + hours(0.1))
    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    old = "db/bob-20261130T0900Z"

    # bob extends it by two hours: one live grant at a time, the limit holds.
    second, _ = world.request("bob", T0 + hours(0.5), duration="2h", extra=f"extends: {old}\n")
    world.approve(second, "dave", T0 + hours(0.55))
    world.merge(second, "dave", T0 + hours(0.6))
    assert world.cli("activate", now=T0 + hours(0.7)) == 0
    new = "db/bob-20261130T0930Z"
    assert [(r.event, r.grant_id) for r in world.records()] == [
        (Event.ACTIVATED, old), (Event.ACTIVATED, new), (Event.SUPERSEDED, old)]
    assert set(world.granted()) == {old, new}  # no gap: the old access is covered
    status = out_of(capsys, "status", "--repo", str(repo.path), "--now",
                    (T0 + hours(0.8)).isoformat())
    assert f"{old}: superseded: superseded by {new}, which extends it" in status
    assert "1 active, 0 scheduled, 0 expired awaiting removal, 0 awaiting activation, " \
           "0 refused awaiting removal, 1 ended awaiting removal" in status

    # reconcile takes the superseded file off main; the access ends with the new grant.
    assert world.cli("reconcile", now=T0 + hours(0.9)) == 0
    assert not world.repo.tree("main").exists(f"grants/{old}.yaml")
    assert world.cli("reconcile", now=T0 + hours(2.7)) == 0
    assert world.granted() == {}
    audit = out_of(capsys, "audit", "--repo", str(repo.path))
    assert f"superseded: superseded by {new}" in audit


def test_a_break_glass_grant_says_so_everywhere(
        repo: GitRepoBuilder, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = World(repo, tmp_path,
                  policy_extra="break_glass: {max_duration: 1h, review_within: 24h}\n")
    number, _ = world.request("bob", T0, duration="1h", extra="break_glass: true\n")
    world.merge(number, "bob", T0 + hours(0.1))  # approved at once: no review
    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    [record] = world.records()
    assert record.break_glass and record.review_by == T0 + hours(24.1)

    status = out_of(capsys, "status", "--repo", str(repo.path), "--now",
                    (T0 + hours(0.3)).isoformat())
    assert ("db/bob-20261130T0900Z: BREAK-GLASS: its use must be reviewed by "
            "2026-12-01T09:06:00Z") in status
    audit = out_of(capsys, "audit", "--repo", str(repo.path))
    assert "BREAK-GLASS, to be reviewed by 2026-12-01T09:06:00Z" in audit
    rows = list(csv.DictReader(io.StringIO(out_of(capsys, "audit", "--repo", str(repo.path),
                                                  "--format", "csv"))))
    assert (rows[0]["break_glass"], rows[0]["review_by"]) == ("yes", "2026-12-01T09:06:00Z")


def test_revocation_latency_is_recorded_and_reported(
        repo: GitRepoBuilder, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = World(repo, tmp_path, roles={"db": "admin", "ops": "operator"})
    for requester, policy in (("bob", "db"), ("alice", "ops")):
        number, _ = world.request(requester, T0, policy=policy, duration="1h")
        world.approve(number, "dave", T0 + hours(0.05))
        world.merge(number, "dave", T0 + hours(0.1))
    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    # reconcile runs late: 15 minutes after both ends.
    assert world.cli("reconcile", now=T0 + hours(1.35)) == 0
    ends = [r for r in world.records() if r.event is Event.EXPIRED]
    assert [(r.ended_at, r.at) for r in ends] == [(T0 + hours(1.1), T0 + hours(1.35))] * 2

    audit = out_of(capsys, "audit", "--repo", str(repo.path))
    assert "expired (15m after its end)" in audit
    assert "revocation latency over 2 ends: median 15m, worst 15m (" in audit
    status = out_of(capsys, "status", "--repo", str(repo.path), "--now",
                    (T0 + hours(2)).isoformat())
    assert "revocation latency over 2 ends: median 15m, worst 15m (" in status
