"""Attacks on the timers, made as an attacker would: a forged notice pushed to the ledger to
silence a reminder (or fake an announcement), a flood of pull requests to page approvers and
spend the forge's rate limit, a request's commit dated to dodge pending expiry."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.ledger import Event, Record
from engine.core.models import GrantId
from engine.lifecycle import notices
from tests.gitrepo import GitRepoBuilder
from tests.lifecycle.attacker import Attacker
from tests.notices.helpers import T0, Channels, NoticeWorld, hours, minutes

GID = "db/bob-20261130T0900Z"


@pytest.fixture
def world(repo: GitRepoBuilder, tmp_path: Path) -> NoticeWorld:
    return NoticeWorld(repo, tmp_path)


def test_a_forged_notice_silences_no_reminder(world: NoticeWorld, channels: Channels,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    number = world.ask("bob", T0)
    assert world.reconcile(T0 + minutes(5)) == 0
    # bob, who wants no reminder to reach the security team's attention, pushes notices of
    # the reminders and the escalation, built with gitjit's own code but not signed by it.
    mallory = Attacker(world.builder)
    previous = world.records()[-1]
    forged_shas = []
    for code, subject in (("request.reminded", f"request.reminded:{number}:1"),
                          ("request.escalated", f"request.escalated:{number}")):
        sha, previous = mallory.append_record(Record(
            event=Event.NOTICE, grant_id=GrantId(GID), policy="db", requester="bob",
            at=T0 + minutes(10), pull_request=number, engine_version="0.1.0", code=code,
            subject=subject, detail="told everyone"), previous)
        forged_shas.append(sha)

    assert world.reconcile(T0 + hours(8)) == 1  # the forgery fails the run: look at it
    out = capsys.readouterr().out
    assert f"FAILED ledger.forged: {GID} (ledger commit {forged_shas[0][:12]}" in out
    titles = [t for _, t in channels.all_titles()]
    # The forged notices are believed by nothing: the reminder (the latest due one) and the
    # escalation go out, and are recorded by gitjit itself.
    assert f"gitjit: escalated: {GID}" in titles
    assert titles.count(f"gitjit: reminder 1 of 2: {GID}") == 3
    assert [r.subject for r in world.notices()] == [
        f"request.announced:{number}", f"request.reminded:{number}:1",
        f"request.escalated:{number}"]


def test_a_flood_of_requests_is_judged_a_few_at_a_time(
        world: NoticeWorld, channels: Channels, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(notices, "MAX_JUDGED", 2)
    for at in (T0, T0 + minutes(1), T0 + minutes(2)):
        world.ask("bob", at)
    capsys.readouterr()
    assert world.reconcile(T0 + minutes(5)) == 0
    assert "more than 2 open requests: the newest wait for the next run" in \
        capsys.readouterr().out
    assert [r.pull_request for r in world.notices()] == [1, 2]
    assert world.reconcile(T0 + minutes(15)) == 0
    # Every run judges the oldest first, so the third waits until one of them is closed.
    assert [r.pull_request for r in world.notices()] == [1, 2]


def test_a_commit_dated_in_the_future_does_not_dodge_pending_expiry(
        world: NoticeWorld, channels: Channels) -> None:
    branch = "bob-request"
    world.builder.branch(branch, "main")
    world.builder.checkout(branch)
    world.builder.write(f"grants/{GID}.yaml", (
        "apiVersion: gitjit/v1\nkind: Grant\npolicy: db\nrequester: bob\nduration: 1h\n"
        "justification: Investigating a replication lag incident on the orders database\n"))
    world.builder.git("add", "-A")
    world.builder.git("commit", "-q", "-m", "from the future",
                      env={"GIT_COMMITTER_DATE": "2030-01-01T00:00:00+00:00",
                           "GIT_AUTHOR_DATE": "2030-01-01T00:00:00+00:00"})
    world.builder.checkout("main")
    assert world.gitjit("local", "open", "--as", "bob", "--head", branch, now=T0) == 0

    assert world.reconcile(T0 + hours(24)) == 0
    assert world.forge.pull_requests()[0].state.value == "closed"
    assert [r.code for r in world.notices()] == ["request.closed"]
