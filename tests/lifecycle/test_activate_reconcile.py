"""Activation with re-verification, and reconcile, on a real repository and local forge."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.commands.verdict import judge
from engine.core.decision import Kind, Outcome
from engine.core.ledger import Event
from engine.core.trailers import parse
from tests.gitrepo import GitRepoBuilder
from tests.lifecycle.world import T0, World, hours


@pytest.fixture
def world(repo: GitRepoBuilder, tmp_path: Path) -> World:
    return World(repo, tmp_path)


def test_approved_merge_is_activated_applied_and_recorded(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    number, _ = world.request("bob", T0)
    world.approve(number, "dave", T0 + hours(0.1))
    merge = world.merge(number, "dave", T0 + hours(0.2))

    assert world.cli("activate", now=T0 + hours(0.25)) == 0

    assert list(world.granted()) == ["db/bob-20261130T0900Z"]
    [record] = world.records()
    assert record.event is Event.ACTIVATED
    assert (record.pull_request, record.merge_sha, record.requester) == (number, merge, "bob")
    assert [r.reviewer for r in record.reviews] == ["dave"]
    assert record.activated_at == T0 + hours(0.2)  # the merge time, not the request time
    assert record.expires_at == T0 + hours(2.2)
    assert record.policy_blob and record.groups_blob
    out = capsys.readouterr().out
    assert "activated: db/bob-20261130T0900Z" in out


def test_activate_twice_records_and_applies_once(world: World) -> None:
    number, _ = world.request("bob", T0)
    world.approve(number, "dave", T0)
    world.merge(number, "dave", T0 + hours(0.1))
    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    assert world.cli("activate", now=T0 + hours(0.3)) == 0
    assert [r.event for r in world.records()] == [Event.ACTIVATED]
    assert world.events() == [("apply", "db/bob-20261130T0900Z")]


def test_merge_without_approval_is_refused_removed_and_alerted(world: World) -> None:
    number, path = world.request("bob", T0)
    world.merge(number, "bob", T0 + hours(0.1))  # an admin merge: no gate

    assert world.cli("activate", now=T0 + hours(0.2)) == 0

    assert world.granted() == {}
    events = [(r.event, r.grant_id) for r in world.records()]
    assert events == [(Event.REFUSED, "db/bob-20261130T0900Z"),
                      (Event.ALERT, "db/bob-20261130T0900Z")]
    assert "approval" in world.records()[0].detail
    assert not world.repo.tree("main").exists(path)
    message = world.builder.git("log", "-1", "--format=%B", "main")
    assert [r.grant_id for r in parse(message)] == ["db/bob-20261130T0900Z"]


def test_approval_on_an_older_commit_is_refused_at_activation(world: World) -> None:
    number, path = world.request("bob", T0)
    world.approve(number, "dave", T0)
    world.builder.checkout(f"request-bob-{T0:%H%M}-db")
    world.builder.write("grants/db/bob-20261130T0900Z.yaml",
                        world.builder.file(path).read_text().replace("2h", "4h"))
    world.builder.commit("longer")
    world.builder.checkout("main")
    world.merge(number, "bob", T0 + hours(0.1))

    world.cli("activate", now=T0 + hours(0.2))

    assert world.granted() == {}
    assert world.records()[0].event is Event.REFUSED


def test_direct_push_is_refused(world: World) -> None:
    world.builder.write("grants/db/bob-20261130T0900Z.yaml",
                        "apiVersion: gitjit/v1\nkind: Grant\npolicy: db\nrequester: bob\n"
                        "duration: 1h\njustification: pushed straight to main, no review\n")
    world.builder.commit("sneaky")

    world.cli("activate", now=T0)

    assert world.granted() == {}
    assert "without a pull request" in world.records()[0].detail


def test_reconcile_revokes_at_expiry_records_and_removes_the_file(world: World) -> None:
    number, path = world.request("bob", T0)
    world.approve(number, "dave", T0)
    world.merge(number, "dave", T0)
    world.cli("activate", now=T0)

    assert world.cli("reconcile", now=T0 + hours(1)) == 0
    assert list(world.granted()) == ["db/bob-20261130T0900Z"]  # still live

    assert world.cli("reconcile", now=T0 + hours(2)) == 0
    assert world.granted() == {}
    assert [r.event for r in world.records()] == [Event.ACTIVATED, Event.EXPIRED]
    assert not world.repo.tree("main").exists(path)
    [removal] = parse(world.builder.git("log", "-1", "--format=%B", "main"))
    assert removal.expired_at == T0 + hours(2)
    assert removal.revoked_at == T0 + hours(2)

    assert world.cli("reconcile", now=T0 + hours(3)) == 0  # converged: nothing more
    assert [r.event for r in world.records()] == [Event.ACTIVATED, Event.EXPIRED]


def test_revocation_is_overlap_aware(world: World) -> None:
    first, _ = world.request("bob", T0, duration="1h")
    world.approve(first, "dave", T0)
    world.merge(first, "dave", T0)
    second, _ = world.request("bob", T0 + hours(0.5), duration="2h")
    world.approve(second, "erin", T0 + hours(0.5))
    world.merge(second, "erin", T0 + hours(0.5))
    world.cli("activate", now=T0 + hours(0.5))
    assert [r.event for r in world.records()] == [Event.ACTIVATED, Event.ACTIVATED]

    world.cli("reconcile", now=T0 + hours(1.5))  # first expired, second still covers bob
    assert ("revoke", "db/bob-20261130T0900Z") not in world.events()
    assert [r.event for r in world.records()][-1] is Event.EXPIRED

    world.cli("reconcile", now=T0 + hours(3))  # now both are over
    assert world.granted() == {}
    assert ("revoke", "db/bob-20261130T0900Z") in world.events()
    assert ("revoke", "db/bob-20261130T0930Z") in world.events()


def test_relinquish_by_pull_request_revokes_before_expiry(world: World) -> None:
    number, path = world.request("bob", T0)
    world.approve(number, "dave", T0)
    world.merge(number, "dave", T0)
    world.cli("activate", now=T0)
    world.sync()
    world.builder.branch("give-back", "main")
    world.builder.checkout("give-back")
    world.builder.remove(path)
    world.builder.commit("relinquish")
    world.builder.checkout("main")
    back = world.forge.open_pull_request(author="bob", head_ref="give-back",  # type: ignore[arg-type]
                                         base="main", title="relinquish", body="")
    world.merge(back.number, "bob", T0 + hours(0.5))

    world.cli("reconcile", now=T0 + hours(0.5))

    assert world.granted() == {}
    last = world.records()[-1]
    assert (last.event, last.pull_request) == (Event.RELINQUISHED, back.number)


def test_dry_run_changes_nothing(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    number, _ = world.request("bob", T0)
    world.approve(number, "dave", T0)
    world.merge(number, "dave", T0)
    assert world.cli("activate", "--dry-run", now=T0) == 0
    assert world.records() == [] and world.granted() == {}
    assert "dry run: activate: 1 activated" in capsys.readouterr().out


def test_removal_by_pull_request_is_housekeeping_and_approved(repo: GitRepoBuilder,
                                                              tmp_path: Path) -> None:
    world = World(repo, tmp_path, removal="pull-request")
    number, path = world.request("bob", T0)
    world.approve(number, "dave", T0)
    world.merge(number, "dave", T0)
    world.cli("activate", now=T0)

    assert world.cli("reconcile", now=T0 + hours(3)) == 0
    assert world.repo.tree("main").exists(path)  # main is untouched: a pull request instead
    [removal] = [pr for pr in world.forge.pull_requests() if pr.author == "gitjit"]
    verdict = judge(world.repo, world.repo.resolve("main"), removal.head_sha, removal.author,
                    [], world.forge.pushers(removal.number), T0 + hours(3))
    assert (verdict.decision.kind, verdict.decision.outcome) == (Kind.HOUSEKEEPING,
                                                                 Outcome.APPROVED)
    assert world.cli("reconcile", now=T0 + hours(4)) == 0  # no second pull request
    assert len([pr for pr in world.forge.pull_requests() if pr.author == "gitjit"]) == 1
    world.merge(removal.number, "gitjit", T0 + hours(4))
    assert not world.repo.tree("main").exists(path)
