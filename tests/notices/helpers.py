"""A lifecycle world whose policy has every timer set and whose people have personal
channels, each channel a path on one loopback HTTP receiver (apprise's json://)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.cli import run
from engine.core.ledger import Event, Record
from tests.gitrepo import GitRepoBuilder
from tests.lifecycle.world import T0, World
from tests.receivers import HttpReceiver

__all__ = ["T0", "Channels", "NoticeWorld", "minutes", "hours"]

CHANNELS = ("ops", "sec", "bob", "dave", "erin", "sam")
POLICY_TIMERS = """\
notify: [ops]
pending:
  remind: [4h, 12h]
  escalate: {after: 8h, to: [user:sam], notify: [sec]}
expiring: {before: 30m}
"""
JUSTIFICATION = "Replication lag on the orders primary, need pg_stat access (INC-1234)"


def env_name(channel: str) -> str:
    return f"GITJIT_TEST_{channel.upper()}_URL"


def settings(extra: str = "") -> str:
    lines = ["notify:"]
    lines += [f"  {name}-hook: {{url_env: {env_name(name)}}}" for name in CHANNELS]
    lines += ["alerts: [sec-hook]", "personal:"]
    lines += [f"  {who}: {{channel: {who}-hook}}" for who in ("bob", "dave", "erin", "sam")]
    return "\n".join(lines) + "\n" + extra


def policy_timers(text: str = POLICY_TIMERS) -> str:
    return text.replace("[ops]", "[ops-hook]").replace("[sec]", "[sec-hook]")


class Channels:
    """Every channel's messages, by channel name (the path each json:// URL posts to)."""

    def __init__(self, receiver: HttpReceiver) -> None:
        self.receiver = receiver

    def url(self, channel: str) -> str:
        return self.receiver.url.rsplit("/", 1)[0] + f"/{channel}"

    def to(self, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.receiver.received if m["path"] == f"/{channel}"]

    def titles(self, channel: str) -> list[str]:
        return [str(m["title"]) for m in self.to(channel)]

    def all_titles(self) -> list[tuple[str, str]]:
        return [(str(m["path"]).lstrip("/"), str(m["title"])) for m in self.receiver.received]

    def count(self) -> int:
        return len(self.receiver.received)


@pytest.fixture
def channels(monkeypatch: pytest.MonkeyPatch) -> Iterator[Channels]:
    receiver = HttpReceiver()
    found = Channels(receiver)
    for name in CHANNELS:
        monkeypatch.setenv(env_name(name), found.url(name))
    yield found
    receiver.close()


class NoticeWorld(World):
    """The lifecycle world, driven through the CLI as a person would."""

    def __init__(self, builder: GitRepoBuilder, tmp: Path, *, timers: str = POLICY_TIMERS,
                 settings_extra: str = "") -> None:
        super().__init__(builder, tmp, policy_extra=policy_timers(timers),
                         settings=settings(settings_extra))

    def gitjit(self, *args: str, now: datetime) -> int:
        return run([*args, "--repo", str(self.builder.path), "--now", now.isoformat()])

    def ask(self, requester: str, at: datetime, *, duration: str = "2h",
            justification: str = JUSTIFICATION, extra: tuple[str, ...] = ()) -> int:
        """`gitjit request` opens the pull request on the local forge; its number."""
        before = {p.number for p in self.forge.pull_requests()}
        assert self.gitjit("request", "db", "--as", requester, "--duration", duration,
                           "--justification", justification, "--forge", "local", *extra,
                           now=at) == 0
        (number,) = {p.number for p in self.forge.pull_requests()} - before
        return number

    def review(self, number: int, reviewer: str, at: datetime) -> None:
        assert self.gitjit("local", "review", str(number), "--as", reviewer, "--approve",
                           now=at) == 0

    def merge_cli(self, number: int, by: str, at: datetime) -> None:
        assert self.gitjit("local", "merge", str(number), "--as", by, now=at) == 0
        self.sync()

    def reconcile(self, at: datetime) -> int:
        return self.gitjit("reconcile", now=at)

    def notices(self) -> list[Record]:
        return [r for r in self.records() if r.event is Event.NOTICE]

    def notice_subjects(self) -> list[str]:
        return [r.subject for r in self.notices()]


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def payload(message: dict[str, Any]) -> dict[str, Any]:
    """gitjit's own document in a json:// message."""
    document: dict[str, Any] = message["gitjit"]
    return document


def dump(messages: list[dict[str, Any]]) -> str:
    return json.dumps(messages, indent=1)
