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
from engine.core.trailers import format_removed
from tests.github.emulator import GitHubEmulator, User
from tests.github.fixtures import github_emulator
from tests.github_e2e.test_lifecycle_on_github import REPO, T0, World
from tests.targets.pg import PgServer, create_role, is_member

__all__ = ["github_emulator"]

GID = GrantId(f"orders-admin/bob-{T0:%Y%m%dT%H%MZ}")
GRANT = (f"grants/{GID}.yaml", "apiVersion: gitjit/v1\nkind: Grant\npolicy: orders-admin\n"
         "requester: bob\nduration: 1h\njustification: Replication lag on the orders primary\n")


@pytest.fixture
def world(github_emulator: GitHubEmulator, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield World(github_emulator, tmp_path, monkeypatch, gitjit_branches=False)


def git(world: World, who: User, cwd: Path, *args: str) -> str:
    """Plain git as ``who``: their own token, their own name and address on commits."""
    email = (who.emails or [who.noreply_email])[0]
    identity = {f"GIT_{role}_{part}": value for role in ("AUTHOR", "COMMITTER")
                for part, value in (("NAME", who.login), ("EMAIL", email))}
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                            env={**os.environ, **identity, **world.gh.git_env(who)},
                            check=False)
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


def test_a_removal_trailer_pushed_in_the_request_ends_nothing_in_the_audit(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    # bob's request commit, pushed with his own token, carries gitjit's removal trailer.
    mine = world.tmp / "bob"
    git(world, world.bob, world.tmp, "clone", "--quiet", world.gh.git_url(REPO), str(mine))
    git(world, world.bob, mine, "switch", "--quiet", "-c", "bob-access")
    (mine / GRANT[0]).parent.mkdir(parents=True)
    (mine / GRANT[0]).write_text(GRANT[1])
    git(world, world.bob, mine, "add", "grants")
    git(world, world.bob, mine, "commit", "--quiet", "-m",
        "access\n\n" + format_removed(GID, T0, T0))
    git(world, world.bob, mine, "push", "--quiet", "origin", "bob-access")
    number = world.api(world.bob).create_pull(title="access", body="", head="bob-access",
                                              base="main").number
    world.now += timedelta(minutes=1)
    for user in (world.dave, world.sam):
        world.api(user).get_pull(number).create_review(event="APPROVE")
    capsys.readouterr()
    assert world.evaluate(number)[0] == 0, capsys.readouterr().out
    assert world.api(world.sam).get_pull(number).merge().merged
    assert world.lifecycle("activate") == 0

    clone = world.clone()
    history = subprocess.run(["git", "log", "origin/main"], cwd=clone, capture_output=True,
                             text=True, check=True).stdout
    assert f"Gitjit-Removed: {GID}" in history  # the trailer is on main, reachable
    capsys.readouterr()
    assert run(["audit", "--repo", str(clone)]) == 0
    out = capsys.readouterr().out
    assert f"{GID}: bob asked for orders-admin" in out and "not ended" in out
    assert "expired" not in out and "removed in" not in out


def test_an_admin_merged_revocation_revokes_and_names_who_did_it(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    requested(world)
    assert world.lifecycle("activate") == 0 and granted(world) == [GID]
    # mallory deletes bob's grant, and root (an admin) merges it without any approval,
    # bypassing the ruleset.
    mallory = world.gh.create_user("mallory")
    world.gh.commit(REPO, "drop-bob", {GRANT[0]: None}, author=mallory)
    number = world.api(mallory).create_pull(title="tidy", body="", head="drop-bob",
                                            base="main").number
    world.now += timedelta(minutes=5)
    assert world.api(world.admin).get_pull(number).merge().merged

    world.now += timedelta(minutes=1)
    capsys.readouterr()
    assert world.lifecycle("reconcile") == 1
    assert granted(world) == []  # fail safe: the access goes
    alert = next(r for r in ledger_records(world) if r.code == "deletion.unapproved")
    assert f"revoked by mallory in pull request #{number}, merged by root" in alert.detail


def test_break_glass_and_extends_on_github(world: World,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    # The policy allows break-glass and bob's grant extends his own live one.
    bare = world.gh.repo(REPO).bare
    found = bare.blob_at(bare.resolve("refs/heads/main") or "", "policies/orders-admin.yaml")
    assert found is not None
    policy = bare.read_blob(found[1]).decode()
    world.gh.commit(REPO, "main", {"policies/orders-admin.yaml": policy + (
        "break_glass: {max_duration: 1h, review_within: 24h}\n")}, author=world.admin)
    world.gh.commit(REPO, "glass", {GRANT[0]: GRANT[1] + "break_glass: true\n"},
                    author=world.bob)
    number = world.api(world.bob).create_pull(title="glass", body="", head="glass",
                                              base="main").number
    assert world.evaluate(number)[0] == 0  # approved at once
    world.now += timedelta(minutes=1)
    assert world.api(world.bob).get_pull(number).merge().merged
    world.now += timedelta(minutes=1)
    assert world.lifecycle("activate") == 0
    [activated] = ledger_records(world)
    assert activated.break_glass and activated.review_by == T0 + timedelta(hours=24, minutes=1)

    later = GrantId(f"orders-admin/bob-{T0 + timedelta(minutes=30):%Y%m%dT%H%MZ}")
    world.now = T0 + timedelta(minutes=30)
    world.gh.commit(REPO, "more", {f"grants/{later}.yaml": GRANT[1] + f"extends: {GID}\n"},
                    author=world.bob)
    number = world.api(world.bob).create_pull(title="more", body="", head="more",
                                              base="main").number
    for user in (world.dave, world.sam):
        world.api(user).get_pull(number).create_review(event="APPROVE")
    assert world.evaluate(number)[0] == 0
    assert world.api(world.sam).get_pull(number).merge().merged
    world.now += timedelta(minutes=1)
    assert world.lifecycle("activate") == 0
    events = [(r.event, r.grant_id) for r in ledger_records(world)]
    assert events[-2:] == [(Event.ACTIVATED, later), (Event.SUPERSEDED, GID)]
    assert sorted(granted(world)) == sorted([GID, later])  # no gap while superseding
    world.now += timedelta(minutes=1)
    assert world.lifecycle("reconcile") == 0
    # The superseded file leaves main through gitjit's removal pull request.
    removal = [p for p in world.api(world.dave).get_pulls(state="open")
               if p.user.login == "gitjit[bot]"]
    assert len(removal) == 1
    assert world.evaluate(removal[0].number)[0] == 0


@pytest.mark.postgres
def test_a_junk_record_pushed_to_the_ledger_halts_no_revocation_in_postgresql(
        world: World, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # The policy grants a real PostgreSQL role to bob's login.
    monkeypatch.setenv("GITJIT_ATTACK_DSN", pg_server.dsn())
    with pg_server.connect() as admin:
        # The server is shared by the session, and another test may have used these names.
        admin.execute("DROP ROLE IF EXISTS bob, orders_admin")
        create_role(admin, "bob", login=True)
        create_role(admin, "orders_admin")
    try:
        _junk_record_story(world, pg_server, capsys)
    finally:  # the server is shared by the session: leave no roles behind
        with pg_server.connect() as admin:
            admin.execute("DROP ROLE IF EXISTS bob, orders_admin")


def _junk_record_story(world: World, pg_server: PgServer,
                       capsys: pytest.CaptureFixture[str]) -> None:
    bare = world.gh.repo(REPO).bare
    found = bare.blob_at(bare.resolve("refs/heads/main") or "", "policies/orders-admin.yaml")
    assert found is not None
    policy = bare.read_blob(found[1]).decode().replace("provider: recording, connection: rec",
                                                      "provider: postgres, connection: orders")
    world.gh.commit(REPO, "main", {
        "policies/orders-admin.yaml": policy,
        "policies/settings.yaml": "apiVersion: gitjit/v1\nkind: Settings\nconnections:\n"
        "  orders: {provider: postgres, dsn_env: GITJIT_ATTACK_DSN, mode: membership}\n"
        "removal: pull-request\n"}, author=world.admin)
    requested(world)
    assert world.lifecycle("activate") == 0
    with pg_server.connect() as admin:
        assert is_member(admin, "bob", "orders_admin")

    # bob pushes one file that is no record to gitjit/ledger, with his own token.
    mine = world.tmp / "bob"
    git(world, world.bob, world.tmp, "clone", "--quiet", world.gh.git_url(REPO), str(mine))
    git(world, world.bob, mine, "switch", "--quiet", "gitjit/ledger")
    (mine / "records" / "99999999-activated-x.json").write_text("{}\n")
    git(world, world.bob, mine, "add", "records")
    git(world, world.bob, mine, "commit", "--quiet", "-m", "x")
    git(world, world.bob, mine, "push", "--quiet", "origin", "gitjit/ledger")

    # After the grant's end, reconcile still revokes, and reports the junk.
    world.now += timedelta(hours=1, minutes=5)
    capsys.readouterr()
    assert world.lifecycle("reconcile") == 1
    out = capsys.readouterr().out
    assert "FAILED ledger.forged: (ledger)" in out and f"revoked: {GID} (expired)" in out
    with pg_server.connect() as admin:
        assert not is_member(admin, "bob", "orders_admin")
