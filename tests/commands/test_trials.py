"""Offline trials: a run that tells nobody (``--no-notify``), in the world of
tests/lifecycle/test_notify.py (a policy that notifies a channel)."""

from __future__ import annotations

import pytest

from tests.lifecycle.test_notify import ENV, http, world  # noqa: F401 - the fixtures
from tests.lifecycle.world import T0, World, hours
from tests.receivers import HttpReceiver

GID = "db/bob-20261130T0900Z"


def test_no_notify_tells_nobody_but_activates_and_revokes(
        world: World, http: HttpReceiver,  # noqa: F811 - the fixtures
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV, http.url)
    number, _ = world.request("bob", T0)
    world.approve(number, "dave", T0 + hours(0.1))
    world.merge(number, "dave", T0 + hours(0.2))

    assert world.cli("activate", "--no-notify", now=T0 + hours(0.25)) == 0
    out = capsys.readouterr().out
    assert f"activated: {GID}" in out and "notified" not in out
    assert world.cli("reconcile", "--no-notify", now=T0 + hours(3)) == 0
    assert "notified" not in capsys.readouterr().out

    assert http.received == []


def test_a_removal_brings_the_checked_out_branch_along(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811 - the fixture
    """Left at the old tip, the checkout would stage the removed grant back: 'git commit -a'
    after reconcile would re-add it."""
    number, path = world.request("bob", T0)
    world.approve(number, "dave", T0 + hours(0.1))
    world.merge(number, "dave", T0 + hours(0.2))
    assert world.cli("activate", "--no-notify", now=T0 + hours(0.25)) == 0
    capsys.readouterr()

    assert world.cli("reconcile", "--no-notify", now=T0 + hours(3)) == 0

    assert capsys.readouterr().err == "updated your checkout of main to the removal\n"
    builder = world.builder
    assert not builder.file(path).exists()
    assert builder.git("status", "--porcelain") == ""
    builder.git("commit", "--quiet", "--allow-empty", "-am", "an ordinary commit")
    assert path not in builder.git("ls-tree", "-r", "--name-only", "main")
