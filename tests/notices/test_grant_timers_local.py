"""A scheduled grant told as scheduled at its merge and as started when its access really
starts; a grant's coming end told to its requester with the command that extends it; the
watchdog telling the security channel of a stalled reconcile; all through the CLI with --now
on the local forge, each told once however often it runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gitrepo import GitRepoBuilder
from tests.notices.helpers import T0, Channels, NoticeWorld, hours, minutes, payload

GID = "db/bob-20261130T0900Z"


@pytest.fixture
def world(repo: GitRepoBuilder, tmp_path: Path) -> NoticeWorld:
    return NoticeWorld(repo, tmp_path)


def test_a_scheduled_grant_is_told_at_its_merge_and_when_it_starts(
        world: NoticeWorld, channels: Channels) -> None:
    start = T0 + hours(2)
    number = world.ask("bob", T0, extra=("--start", start.isoformat()))
    world.review(number, "dave", T0 + minutes(10))
    world.merge_cli(number, "dave", T0 + minutes(20))
    first = channels.count()

    assert world.gitjit("activate", now=T0 + minutes(25)) == 0
    scheduled = channels.to("ops")[-1]
    assert scheduled["title"] == f"gitjit: scheduled {GID}"
    assert scheduled["message"].startswith(
        f"**Grant {GID} was scheduled.** Its access starts at 2026-11-30 11:00 UTC and ends "
        "at 2026-11-30 13:00 UTC.")
    assert world.granted() == {}

    assert world.reconcile(T0 + hours(2) - minutes(1)) == 0
    assert channels.count() == first + 1
    assert world.reconcile(T0 + hours(2)) == 0
    assert world.reconcile(T0 + hours(2) + minutes(10)) == 0
    assert list(world.granted()) == [GID]
    started = f"gitjit: started {GID}"
    assert channels.all_titles()[first + 1:] == [("ops", started), ("bob", started)]
    assert channels.to("bob")[-1]["message"].startswith(
        f"**Grant {GID} is active now.** Scheduled at its merge, its access started at "
        "2026-11-30 11:00 UTC and ends at 2026-11-30 13:00 UTC.")
    assert payload(channels.to("bob")[-1])["type"] == "access.started"
    assert world.notice_subjects()[-1] == f"access.started:{GID}"


def test_a_grant_that_is_live_at_once_gets_no_start_notice(
        world: NoticeWorld, channels: Channels) -> None:
    number = world.ask("bob", T0)
    world.review(number, "dave", T0 + minutes(10))
    world.merge_cli(number, "dave", T0 + minutes(20))
    world.gitjit("activate", now=T0 + minutes(25))
    assert world.reconcile(T0 + minutes(30)) == 0
    assert f"gitjit: started {GID}" not in [t for _, t in channels.all_titles()]


def test_the_requester_hears_before_the_end_how_to_extend(
        world: NoticeWorld, channels: Channels) -> None:
    number = world.ask("bob", T0)
    world.review(number, "dave", T0 + minutes(10))
    world.merge_cli(number, "dave", T0 + minutes(20))  # active 09:20 until 11:20
    world.gitjit("activate", now=T0 + minutes(25))
    before = channels.count()

    assert world.reconcile(T0 + hours(2) - minutes(11)) == 0  # 10:49: 31 minutes left
    assert channels.count() == before
    assert world.reconcile(T0 + hours(2) - minutes(10)) == 0  # 10:50: 30 minutes left
    assert world.reconcile(T0 + hours(2)) == 0
    # The requester only: the policy does not ask for its channels (notify_channels).
    assert channels.all_titles()[before:] == [("bob", f"gitjit: ends soon {GID}")]
    body = channels.to("bob")[-1]["message"]
    assert body.startswith(f"**Grant {GID} ends at 2026-11-30 11:20 UTC, in 30m.** To keep the "
                           "access, request an extension now")
    assert (f"- extend: gitjit request db --as bob --extends {GID} --duration 2h "
            "--justification WHY\n") in body
    assert world.notice_subjects()[-1] == f"access.expiring:{GID}"

    # At the end it expires as always, and nothing more about its end is sent.
    assert world.reconcile(T0 + hours(2.5)) == 0
    assert channels.all_titles()[-1] == ("ops", f"gitjit: expired {GID}")
    assert [t for _, t in channels.all_titles()].count(f"gitjit: ends soon {GID}") == 1


def test_expiring_can_tell_the_policy_channels_too(repo: GitRepoBuilder, tmp_path: Path,
                                                   channels: Channels) -> None:
    world = NoticeWorld(repo, tmp_path, timers="notify: [ops]\n"
                        "expiring: {before: 1h, notify_channels: 'true'}\n")
    number = world.ask("alice", T0)  # alice has no personal channel
    world.review(number, "dave", T0 + minutes(10))
    world.merge_cli(number, "dave", T0 + minutes(20))
    world.gitjit("activate", now=T0 + minutes(25))
    assert world.reconcile(T0 + hours(1.5)) == 0
    assert channels.all_titles()[-1] == ("ops", "gitjit: ends soon db/alice-20261130T0900Z")


def test_the_watchdog_tells_the_security_channel_of_a_stalled_reconcile(
        world: NoticeWorld, channels: Channels, capsys: pytest.CaptureFixture[str]) -> None:
    # Never a successful reconcile: stalled from the start.
    assert world.gitjit("watchdog", now=T0) == 1
    assert channels.all_titles() == [("sec", f"gitjit: ALERT reconcile stalled in "
                                             f"{world.builder.path}")]
    assert world.reconcile(T0 + minutes(5)) == 0
    capsys.readouterr()

    assert world.gitjit("watchdog", now=T0 + hours(1)) == 0
    assert "fresh: (reconcile) (last success 2026-11-30 09:05 UTC)" in capsys.readouterr().out
    assert world.gitjit("watchdog", now=T0 + hours(1) + minutes(6)) == 1
    assert world.gitjit("watchdog", now=T0 + hours(2)) == 1  # told already: not again
    out = capsys.readouterr().out
    assert "FAILED stalled: (reconcile) (no success since 2026-11-30 09:05 UTC)" in out
    assert ("told: (reconcile) (at 2026-11-30 10:06 UTC; again from 2026-11-30 16:06 UTC "
            "while it lasts)") in out
    assert len(channels.to("sec")) == 2
    alert = channels.to("sec")[1]
    assert alert["message"].startswith(
        "**Alert: reconcile has not succeeded for 1h1m (since 2026-11-30 09:05 UTC).** Until "
        "it runs again, grants whose time is up may keep their access")
    assert payload(alert)["severity"] == "alert"

    assert world.gitjit("watchdog", now=T0 + hours(7) + minutes(6)) == 1  # the repeat
    assert len(channels.to("sec")) == 3
    assert world.reconcile(T0 + hours(7.5)) == 0
    assert world.gitjit("watchdog", now=T0 + hours(7.6)) == 0
    assert len(channels.to("sec")) == 3


def test_a_failing_reconcile_is_no_heartbeat(world: NoticeWorld, channels: Channels,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    assert world.reconcile(T0) == 0
    monkeypatch.delenv("GITJIT_TEST_OPS_URL")
    number = world.ask("bob", T0 + minutes(5))
    assert number == 1
    assert world.reconcile(T0 + minutes(30)) == 1  # the announcement to ops cannot be sent
    assert world.gitjit("watchdog", now=T0 + hours(1) + minutes(1)) == 1
    assert channels.to("sec")[-1]["message"].startswith(
        "**Alert: reconcile has not succeeded for 1h1m (since 2026-11-30 09:00 UTC).**")
