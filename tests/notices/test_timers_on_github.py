"""The timers on GitHub, through PyGithub against the emulator, each run in a fresh clone as
the workflows do: a request announced, reminded at its time and not before, escalated once,
closed with its comment after waiting too long; a scheduled grant's start and a grant's coming
end; and the watchdog's alert after a stalled reconcile, marked on the default branch so a
rerun tells nobody twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.cli import run
from tests.github.emulator import GitHubEmulator
from tests.github.fixtures import github_emulator
from tests.github_e2e.test_lifecycle_on_github import REPO, T0, World
from tests.notices.helpers import Channels, env_name, payload

__all__ = ["github_emulator"]

GID = "orders-admin/bob-20261130T0900Z"
TIMERS = """\
notify: [ops-hook]
pending:
  remind: [4h]
  escalate: {after: 8h, notify: [sec-hook]}
expiring: {before: 30m}
"""


class TimerWorld(World):
    def __init__(self, gh: GitHubEmulator, tmp: Path, monkeypatch: pytest.MonkeyPatch,
                 channels: Channels) -> None:
        super().__init__(gh, tmp, monkeypatch)
        self.channels = channels
        bare = self.gh.repo(REPO).bare
        settings = bare.git("show", "main:policies/settings.yaml").stdout.decode()
        policy = bare.git("show", "main:policies/orders-admin.yaml").stdout.decode()
        hooks = "".join(f"  {name}-hook: {{url_env: {env_name(name)}}}\n"
                        for name in ("ops", "sec", "bob", "dave", "sam"))
        people = "".join(f"  {who}: {{channel: {who}-hook}}\n" for who in ("bob", "dave", "sam"))
        gh.commit(REPO, "main", {
            "policies/settings.yaml": settings + "notify:\n" + hooks + "alerts: [sec-hook]\n"
                                      "personal:\n" + people,
            "policies/orders-admin.yaml": policy + TIMERS})
        assert self.app.app is not None
        monkeypatch.setenv("GITJIT_APP_ID", str(self.app.app.id))

    def ask(self, *extra: str) -> None:
        mine = self.clone()
        self.as_(self.bob)
        assert run(["request", "orders-admin", "--as", "bob", "--duration", "2h",
                    "--justification", "Replication lag on the orders primary (INC-1234)",
                    "--forge", "github", "--repo", str(mine), "--now", self.now.isoformat(),
                    *extra]) == 0

    def watchdog(self) -> int:
        self.as_(self.app, "app")
        return run(["watchdog", "--forge", "github", "--repo", str(self.clone()),
                    "--now", self.now.isoformat()])


@pytest.fixture
def world(github_emulator: GitHubEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          channels: Channels) -> Iterator[TimerWorld]:
    yield TimerWorld(github_emulator, tmp_path, monkeypatch, channels)


def test_a_request_on_github_is_announced_reminded_escalated_and_closed(
        world: TimerWorld, channels: Channels) -> None:
    world.ask()
    url = world.api(world.dave).get_pull(1).html_url

    world.now = T0 + timedelta(minutes=5)
    assert world.lifecycle("reconcile") == 0
    assert world.lifecycle("reconcile") == 0
    announced = f"gitjit: new request {GID}"
    assert channels.all_titles() == [("ops", announced), ("dave", announced),
                                     ("sam", announced)]
    document = payload(channels.to("ops")[0])
    assert (document["url"], document["pull_request"]) == (url, 1)
    assert f"[Open pull request #1]({url})" in channels.to("ops")[0]["message"]

    world.now = T0 + timedelta(hours=4) - timedelta(minutes=1)
    assert world.lifecycle("reconcile") == 0
    assert channels.count() == 3
    world.now = T0 + timedelta(hours=4)
    assert world.lifecycle("reconcile") == 0
    assert world.lifecycle("reconcile") == 0
    reminder = f"gitjit: reminder 1 of 1: {GID}"
    assert channels.all_titles()[3:] == [("dave", reminder), ("sam", reminder),
                                         ("ops", reminder)]

    world.now = T0 + timedelta(hours=8)
    assert world.lifecycle("reconcile") == 0
    assert world.lifecycle("reconcile") == 0
    assert channels.all_titles()[6:] == [("sec", f"gitjit: escalated: {GID}")]

    world.now = T0 + timedelta(hours=24)
    assert world.lifecycle("reconcile") == 0
    assert world.lifecycle("reconcile") == 0
    pull = world.api(world.dave).get_pull(1)
    assert pull.state == "closed" and not pull.merged
    comments = [c for c in pull.get_issue_comments() if c.user.login == "gitjit[bot]"
                and "gitjit:closed" in c.body]
    assert len(comments) == 1
    assert "### gitjit closed this request" in comments[0].body
    assert "It waited longer than **1d** for approval" in comments[0].body
    assert channels.all_titles()[7:] == [("ops", f"gitjit: request closed {GID}"),
                                         ("bob", f"gitjit: request closed {GID}")]
    # bob reopens it to get round the expiry: it is closed again, nobody is told twice.
    world.api(world.bob).get_pull(1).edit(state="open")
    world.now = T0 + timedelta(hours=25)
    assert world.lifecycle("reconcile") == 0
    assert world.api(world.dave).get_pull(1).state == "closed"
    assert max(Counter(channels.all_titles()).values()) == 1


def test_a_scheduled_grant_on_github_starts_and_ends_with_notices(
        world: TimerWorld, channels: Channels) -> None:
    world.ask("--start", (T0 + timedelta(hours=2)).isoformat())
    world.now = T0 + timedelta(minutes=10)
    for who in (world.dave, world.sam):
        world.api(who).get_pull(1).create_review(event="APPROVE")
    assert world.evaluate(1)[0] == 0
    assert world.api(world.sam).get_pull(1).merge().merged
    world.now = T0 + timedelta(minutes=15)
    assert world.lifecycle("activate") == 0
    assert channels.to("ops")[-1]["title"] == f"gitjit: scheduled {GID}"

    world.now = T0 + timedelta(hours=2)
    assert world.lifecycle("reconcile") == 0
    assert world.lifecycle("reconcile") == 0
    started = [t for t in channels.all_titles() if t[1] == f"gitjit: started {GID}"]
    assert started == [("ops", f"gitjit: started {GID}"), ("bob", f"gitjit: started {GID}")]

    world.now = T0 + timedelta(hours=3, minutes=29)
    assert world.lifecycle("reconcile") == 0
    assert not [t for t in channels.all_titles() if "ends soon" in t[1]]
    world.now = T0 + timedelta(hours=3, minutes=30)
    assert world.lifecycle("reconcile") == 0
    assert world.lifecycle("reconcile") == 0
    assert [t for t in channels.all_titles() if "ends soon" in t[1]] == [
        ("bob", f"gitjit: ends soon {GID}")]


def test_the_watchdog_on_github_tells_the_security_channel_once(
        world: TimerWorld, channels: Channels) -> None:
    # reconcile's heartbeat, as its workflow posts it after a successful run.
    tip = world.api(world.app).get_branch("main").commit.sha
    world.api(world.app).create_check_run(name="gitjit/heartbeat", head_sha=tip,
                                          status="completed", conclusion="success")
    # Someone else's "heartbeat", or "watchdog already told", counts for nothing.
    world.api(world.dave).get_commit(tip).create_status(state="success",
                                                        context="gitjit/heartbeat")
    world.api(world.dave).get_commit(tip).create_status(state="failure",
                                                        context="gitjit/watchdog")
    world.now = T0 + timedelta(minutes=50)
    assert world.watchdog() == 0
    assert channels.count() == 0

    world.now = T0 + timedelta(hours=1, minutes=5)
    assert world.watchdog() == 1
    assert world.watchdog() == 1  # a rerun: told already
    assert channels.all_titles() == [("sec", f"gitjit: ALERT reconcile stalled in {REPO}")]
    assert channels.to("sec")[0]["message"].startswith(
        "**Alert: reconcile has not succeeded for 1h5m (since 2026-11-30 09:00 UTC).**")
    marks = [r for r in world.api(world.dave).get_commit(tip).get_check_runs()
             if r.name == "gitjit/watchdog"]
    assert [(m.conclusion, m.app.slug) for m in marks] == [("failure", "gitjit")]

    world.now = T0 + timedelta(hours=7, minutes=5)
    assert world.watchdog() == 1
    assert len(channels.to("sec")) == 2
