"""gitjit watchdog: tell the security channels when reconcile has stopped succeeding.

It runs apart from reconcile (its own scheduled workflow) and reads what reconcile leaves
behind after each fully successful run: on GitHub the ``gitjit/heartbeat`` that gitjit posts
on the default branch (counted only when gitjit posted it, as `gitjit doctor` counts it), in a
local repository the local forge's heartbeat. When the last success is older than
``watchdog.after`` (settings; default 1h), the channels of ``watchdog.notify`` (default: the
``alerts`` channels) are told, again every ``watchdog.repeat`` (default 6h) while it lasts.

What it told is marked before it is sent, so a rerun does not tell twice: on GitHub a failing
``gitjit/watchdog`` check run (App mode) or commit status (GITHUB_TOKEN mode) on the default
branch's tip, which everyone sees; locally, in the local forge's state. It needs no signing
key and writes no ledger record.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from engine.adapters.git import GitRepository
from engine.adapters.github import GitHubForge
from engine.adapters.localforge import LocalForge
from engine.adapters.notify import Notifier
from engine.commands.forges import github_from_env, verdict_as_check_run
from engine.commands.repository import read_config, require_config
from engine.core import messages
from engine.core.doctor import HEARTBEAT, is_genuine
from engine.core.notices import watchdog_due
from engine.errors import UsageError
from engine.lifecycle.context import Report

WATCHDOG = "gitjit/watchdog"
"""The check run (or commit status) that marks a watchdog alert on GitHub."""
LOOKBACK = 20
"""First-parent commits of the default branch searched for the last heartbeat: reconcile
marks the tip it ran on, and the branch may have moved since."""
RECONCILE = "(reconcile)"


@dataclass(frozen=True)
class WatchdogOptions:
    repo: Path
    branch: str
    now: datetime
    forge: str
    app_id: int | None
    format: str


class Heartbeats(Protocol):
    """Where reconcile's successes and the watchdog's alerts are marked."""

    def last_success(self) -> datetime | None: ...

    def last_alert(self) -> datetime | None: ...

    def mark_alert(self, at: datetime, title: str, summary: str) -> None: ...


class LocalHeartbeats:
    def __init__(self, forge: LocalForge) -> None:
        self.forge = forge

    def last_success(self) -> datetime | None:
        return self.forge.last_heartbeat()

    def last_alert(self) -> datetime | None:
        return self.forge.last_watchdog_alert()

    def mark_alert(self, at: datetime, title: str, summary: str) -> None:
        self.forge.record_watchdog_alert(at)


class GitHubHeartbeats:
    """The marks on the default branch's recent first-parent commits, gitjit's own only."""

    def __init__(self, forge: GitHubForge, commits: list[str], app_id: int | None) -> None:
        self.forge, self.commits, self.app_id = forge, commits, app_id

    def _last(self, name: str, *, success: bool) -> datetime | None:
        for sha in self.commits:
            times = [b.at for b in self.forge.heartbeats(sha, name)
                     if is_genuine(b, self.app_id) and b.at is not None
                     and (b.success or not success)]
            if times:
                return max(times)
        return None

    def last_success(self) -> datetime | None:
        return self._last(HEARTBEAT, success=True)

    def last_alert(self) -> datetime | None:
        return self._last(WATCHDOG, success=False)

    def mark_alert(self, at: datetime, title: str, summary: str) -> None:
        self.forge.post_mark(self.commits[0], WATCHDOG, title, summary,
                             as_check_run=self.app_id is not None)


def _app_id(options: WatchdogOptions) -> int | None:
    if options.app_id is not None:
        return options.app_id
    value = os.environ.get("GITJIT_APP_ID", "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise UsageError(f"GITJIT_APP_ID must be the App's number, not {value!r}")
    return int(value)


def run(options: WatchdogOptions) -> int:
    repo = GitRepository(options.repo)
    tip = repo.ref_target(f"refs/heads/{options.branch}")
    if tip is None:
        raise UsageError(f"the branch {options.branch!r} is not in {repo.root}; check out the "
                         "default branch first (or give --branch)")
    config = require_config(read_config(repo.tree(tip)), options.branch)
    beats: Heartbeats
    if options.forge == "github":
        app_id = _app_id(options)
        if app_id is None and verdict_as_check_run():
            raise UsageError("GITJIT_TOKEN_KIND=app needs the App's id: --app-id or "
                             "GITJIT_APP_ID")
        commits = repo.git("rev-list", "--first-parent", f"--max-count={LOOKBACK}",
                           "--end-of-options", tip, "--").decode("ascii").split()
        forge = github_from_env()
        beats = GitHubHeartbeats(forge, commits, app_id)
        where = forge.repository
    else:
        beats = LocalHeartbeats(LocalForge(repo))
        where = str(repo.root)
    rule = config.settings.watchdog
    report = Report("watchdog", options.now)
    last, told = beats.last_success(), beats.last_alert()
    stale, tell = watchdog_due(last, told, options.now, rule)
    seen = f"{last:%Y-%m-%d %H:%M} UTC" if last else "never (in the recent history)"
    if not stale:
        report.add(RECONCILE, "fresh", f"last success {seen}")
        print(report.render(options.format), end="")
        return 0
    report.add(RECONCILE, "stalled", f"no success since {seen}", failed=True)
    channels = rule.notify if rule.notify is not None else config.settings.alerts
    if not tell:
        assert told is not None
        report.add(RECONCILE, "told", f"at {told:%Y-%m-%d %H:%M} UTC; again from "
                   f"{told + rule.repeat:%Y-%m-%d %H:%M} UTC while it lasts")
    elif not channels:
        report.add(RECONCILE, "notify", f"nobody to tell: name channels under watchdog.notify "
                   f"or alerts in {config.settings.path}", failed=True)
    else:
        message = messages.watchdog(where, last, rule.after, options.now)
        # Marked first: a crash after it loses this alert until the next repeat, never sends
        # it twice (an external dead-man's switch covers the watchdog itself).
        beats.mark_alert(options.now, message.title, message.lead + message.rest)
        Notifier(config, report).tell(message, Notifier.shared(channels), RECONCILE)
    print(report.render(options.format), end="")
    return 1
