"""Kill the timers at every point (before and after each ledger record, between the closing
comment and the close, before each message), run again: nothing is told twice, every notice
is recorded once, and the expired request ends up closed."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from engine.adapters import notify
from engine.adapters.ledger import Ledger
from engine.adapters.localforge import LocalForge
from engine.core.forge import PullRequestState
from engine.core.ledger import Record
from engine.core.messages import Message
from engine.lifecycle import notices
from engine.lifecycle.context import Lifecycle
from engine.lifecycle.reconciliation import reconcile
from tests.gitrepo import GitRepoBuilder
from tests.notices.helpers import T0, Channels, NoticeWorld, hours, minutes


class Killed(BaseException):
    """Not an Exception: the run dies here, as on a killed runner (nothing catches it)."""


class Faults:
    """Kills the run at the ``at``-th passage through the point ``where``."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.at: int | None = None
        self.calls = 0
        self.fired = False

    def arm(self, at: int | None) -> None:
        self.at, self.calls, self.fired = at, 0, False

    def tick(self, what: str) -> None:
        if what != self.where:
            return
        self.calls += 1
        if self.calls == self.at:
            self.fired = True
            raise Killed(f"killed at passage {self.calls} through {what}")


class FaultyLedger(Ledger):
    faults: Faults

    def append(self, draft: Record, *, main: str | None = None) -> Record | None:
        self.faults.tick("before append")
        written = super().append(draft, main=main)
        self.faults.tick("after append")
        return written


class FaultyForge(LocalForge):
    faults: Faults

    def close_pull_request(self, number: int, *, key: str, body: str, at: datetime) -> None:
        self.faults.tick("before the comment")
        self.comment(number, key, body)
        self.faults.tick("between the comment and the close")
        super().close_pull_request(number, key=key, body=body, at=at)


POINTS = ("before append", "after append", "before a message", "before the comment",
          "between the comment and the close")


@pytest.mark.parametrize("where", POINTS)
def test_no_notice_is_told_twice_whatever_kills_the_run(
        where: str, repo: GitRepoBuilder, tmp_path: Path, channels: Channels,
        monkeypatch: pytest.MonkeyPatch) -> None:
    world = NoticeWorld(repo, tmp_path)
    number = world.ask("bob", T0)
    faults = Faults(where)

    def send(url: str, message: Message) -> bool:
        faults.tick("before a message")
        return notify.apprise_send(url, message)

    class FaultyNotifier(notify.Notifier):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            self.send = send

    monkeypatch.setattr(notices, "Notifier", FaultyNotifier)
    ledger = FaultyLedger(world.repo, signers=world.ledger.verifier.signers,
                          signer=world.signer)
    ledger.faults = faults
    forge = FaultyForge(world.repo)
    forge.faults = faults
    life = Lifecycle(world.repo, forge, ledger, "main", signer=world.signer)

    kills = 0
    for at in (T0 + minutes(5), T0 + hours(4), T0 + hours(8), T0 + hours(12), T0 + hours(24)):
        point = 1
        while True:
            faults.arm(point)
            try:
                reconcile(life, at)
            except Killed:
                kills += 1
                point += 1
                continue
            assert not faults.fired
            break
        faults.arm(None)
        assert world.reconcile(at) == 0  # and once more as the CLI, without faults

    # Every step was killed at each passage through the point until one run got past it.
    assert kills >= (1 if "comment" in where else 5)
    told = Counter(channels.all_titles())
    # At most once: a run killed after recording a notice loses that message, never repeats it.
    assert all(n == 1 for n in told.values()), told
    assert world.notice_subjects() == [
        f"request.announced:{number}", f"request.reminded:{number}:1",
        f"request.escalated:{number}", f"request.reminded:{number}:2",
        f"request.closed:{number}"]
    assert world.forge.pull_request(number).state is PullRequestState.CLOSED
    assert "closed" in world.forge.comments(number)
