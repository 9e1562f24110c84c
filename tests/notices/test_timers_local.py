"""Each timer of issue 11, driven through the CLI with --now on the local forge: the request
announced, reminded at its set times (and not before), escalated once, closed after waiting
too long; approved, denied and withdrawn requests told once; a scheduled grant's start and a
grant's coming end told once; and every rerun telling nobody again."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.forge import PullRequestState
from tests.gitrepo import GitRepoBuilder
from tests.notices.helpers import T0, Channels, NoticeWorld, hours, minutes, payload

GID = "db/bob-20261130T0900Z"


@pytest.fixture
def world(repo: GitRepoBuilder, tmp_path: Path) -> NoticeWorld:
    return NoticeWorld(repo, tmp_path)


def test_a_pending_request_is_announced_reminded_escalated_and_closed(
        world: NoticeWorld, channels: Channels, capsys: pytest.CaptureFixture[str]) -> None:
    number = world.ask("bob", T0)

    assert world.reconcile(T0 + minutes(5)) == 0
    assert world.reconcile(T0 + minutes(15)) == 0  # a rerun tells nobody again
    announced = f"gitjit: new request {GID}"
    assert channels.all_titles() == [("ops", announced), ("dave", announced),
                                     ("erin", announced)]
    body = channels.to("ops")[0]["message"]
    assert body.startswith("**bob asks for db for 2h.** It waits for 1 more from group:dba "
                           "(dave, erin).")
    assert "- may approve: 1 more from group:dba \\(dave, erin\\)" not in body
    assert "- may approve: 1 more from group:dba (dave, erin)\n" in body
    assert ("> justification, as the requester wrote it: Replication lag on the orders "
            "primary, need pg\\_stat access (INC-1234)") in body
    document = payload(channels.to("ops")[0])
    assert (document["type"], document["pull_request"], document["people"]) == (
        "request.announced", number, ["dave", "erin"])
    assert world.notice_subjects() == [f"request.announced:{number}"]
    assert f"request.announced: {GID} (told ops-hook, dave-hook for dave, " in \
        capsys.readouterr().out

    # Reminders at 4h and 12h, not a minute before.
    assert world.reconcile(T0 + hours(4) - minutes(1)) == 0
    assert channels.count() == 3
    assert world.reconcile(T0 + hours(4)) == 0
    assert world.reconcile(T0 + hours(4) + minutes(10)) == 0
    reminder = f"gitjit: reminder 1 of 2: {GID}"
    assert channels.all_titles()[3:] == [("dave", reminder), ("erin", reminder),
                                         ("ops", reminder)]
    assert channels.to("dave")[1]["message"].startswith(
        "**Reminder: bob's request for db has waited 4h for approval.** Still missing: 1 more "
        "from group:dba (dave, erin).")

    # One escalation at 8h, to sam's own channel and the security channel.
    assert world.reconcile(T0 + hours(8)) == 0
    assert world.reconcile(T0 + hours(9)) == 0
    escalated = f"gitjit: escalated: {GID}"
    assert channels.all_titles()[6:] == [("sam", escalated), ("sec", escalated)]
    assert "- escalated to: sam\n" in channels.to("sec")[0]["message"]

    assert world.reconcile(T0 + hours(12)) == 0
    assert channels.all_titles()[8:] == [("dave", f"gitjit: reminder 2 of 2: {GID}"),
                                         ("erin", f"gitjit: reminder 2 of 2: {GID}"),
                                         ("ops", f"gitjit: reminder 2 of 2: {GID}")]

    # After 24h the pull request is closed, with a comment saying how to ask again.
    assert world.reconcile(T0 + hours(24) - minutes(1)) == 0
    assert world.forge.pull_request(number).state is PullRequestState.OPEN
    assert world.reconcile(T0 + hours(24)) == 0
    assert world.reconcile(T0 + hours(25)) == 0
    assert world.forge.pull_request(number).state is PullRequestState.CLOSED
    closed = f"gitjit: request closed {GID}"
    assert channels.all_titles()[11:] == [("ops", closed), ("bob", closed)]
    assert channels.to("bob")[0]["message"].startswith(
        f"**Request {GID} was closed: it waited longer than 1d for approval.** To ask again, "
        "open a new request (a new grant file).")
    assert "- ask again: gitjit request db --as bob --duration 2h --justification WHY\n" in \
        channels.to("bob")[0]["message"]
    comment = world.forge.comments(number)["closed"]
    assert "It waited longer than **1d** for approval (`pending.expire_after` in " \
        "`policies/db.yaml`)" in comment
    assert "`gitjit request db --as bob --duration 2h --justification WHY`" in comment
    assert world.notice_subjects() == [
        f"request.announced:{number}", f"request.reminded:{number}:1",
        f"request.escalated:{number}", f"request.reminded:{number}:2",
        f"request.closed:{number}"]
    assert channels.count() == 13


def test_an_approved_request_is_told_once_and_then_activation_speaks(
        world: NoticeWorld, channels: Channels) -> None:
    number = world.ask("bob", T0)
    world.reconcile(T0 + minutes(5))
    world.review(number, "dave", T0 + minutes(20))

    assert world.reconcile(T0 + minutes(30)) == 0
    assert world.reconcile(T0 + minutes(40)) == 0
    approved = f"gitjit: request approved {GID}"
    assert channels.all_titles()[3:] == [("ops", approved), ("bob", approved)]

    # No reminder for an approved request, even at its time.
    assert world.reconcile(T0 + hours(4)) == 0
    assert channels.count() == 5
    world.merge_cli(number, "dave", T0 + hours(4.1))
    assert world.gitjit("activate", now=T0 + hours(4.2)) == 0
    assert world.reconcile(T0 + hours(4.3)) == 0
    assert channels.all_titles()[5:] == [("ops", f"gitjit: activated {GID}")]


def test_a_request_denied_after_its_announcement_is_told_once(
        world: NoticeWorld, channels: Channels) -> None:
    number = world.ask("bob", T0)
    world.reconcile(T0 + minutes(5))
    # bob pushes a longer duration than the policy allows.
    branch = world.forge.pull_request(number).head_ref
    world.builder.checkout(branch)
    text = (world.builder.path / f"grants/{GID}.yaml").read_text()
    world.builder.write(f"grants/{GID}.yaml", text.replace("duration: 2h", "duration: 48h"))
    world.builder.commit("longer")
    world.builder.checkout("main")

    assert world.reconcile(T0 + minutes(30)) == 0
    assert world.reconcile(T0 + minutes(40)) == 0
    denied = f"gitjit: request denied {GID}"
    assert channels.all_titles()[3:] == [("ops", denied), ("bob", denied)]
    body = channels.to("bob")[0]["message"]
    assert body.startswith(f"**Request {GID} is denied.** No approval can fix it")
    assert "- duration: 2d\n" in body
    assert "- reason: duration '2d' exceeds the policy maximum '4h' (policies/db.yaml)\n" in body


def test_a_withdrawn_request_is_told_once(world: NoticeWorld, channels: Channels) -> None:
    number = world.ask("bob", T0)
    world.reconcile(T0 + minutes(5))
    assert world.gitjit("local", "close", str(number), now=T0 + minutes(20)) == 0

    assert world.reconcile(T0 + minutes(30)) == 0
    assert world.reconcile(T0 + minutes(40)) == 0
    withdrawn = f"gitjit: request withdrawn {GID}"
    assert channels.all_titles()[3:] == [("ops", withdrawn), ("bob", withdrawn)]
    assert world.notice_subjects()[-1] == f"request.withdrawn:{number}"


def test_a_request_nobody_may_approve_is_not_announced(
        world: NoticeWorld, channels: Channels) -> None:
    # zoe is no eligible requester: her pull request is denied from the start.
    branch = "zoe-wants-db"
    world.builder.branch(branch, "main")
    world.builder.checkout(branch)
    world.builder.write("grants/db/zoe-20261130T0900Z.yaml", (
        "apiVersion: gitjit/v1\nkind: Grant\npolicy: db\nrequester: zoe\nduration: 1h\n"
        "justification: Investigating a replication lag incident on the orders database\n"))
    world.builder.commit("zoe asks")
    world.builder.checkout("main")
    assert world.gitjit("local", "open", "--as", "zoe", "--head", branch,
                        now=T0) == 0

    assert world.reconcile(T0 + hours(5)) == 0
    assert channels.count() == 0
    assert world.notices() == []
    # It is still closed when it has waited too long.
    assert world.reconcile(T0 + hours(24)) == 0
    assert world.forge.pull_requests()[0].state is PullRequestState.CLOSED
    # Never announced, so its channels hear nothing of it; zoe has no personal channel.
    assert channels.count() == 0



def test_a_request_naming_someone_else_writes_to_nobody(
        world: NoticeWorld, channels: Channels) -> None:
    # alice opens a pull request whose grant names bob: denied, never announced, and when it
    # is closed bob's personal channel hears nothing of it.
    branch = "alice-as-bob"
    world.builder.branch(branch, "main")
    world.builder.checkout(branch)
    world.builder.write(f"grants/{GID}.yaml", (
        "apiVersion: gitjit/v1\nkind: Grant\npolicy: db\nrequester: bob\nduration: 1h\n"
        "justification: Investigating a replication lag incident on the orders database\n"))
    world.builder.commit("alice asks as bob")
    world.builder.checkout("main")
    assert world.gitjit("local", "open", "--as", "alice", "--head", branch, now=T0) == 0
    assert world.reconcile(T0 + hours(1)) == 0
    assert world.reconcile(T0 + hours(24)) == 0
    assert world.forge.pull_requests()[0].state is PullRequestState.CLOSED
    assert channels.count() == 0
