"""The command functions behind `gitjit activate` and `gitjit reconcile`."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.adapters import progress
from engine.adapters.git import GitRepository
from engine.adapters.ledger import Ledger
from engine.adapters.localforge import LocalForge
from engine.adapters.remote import PublishedLedger, Remote
from engine.adapters.signing import find_signer
from engine.commands.forges import github_from_env
from engine.lifecycle.activation import activate
from engine.lifecycle.context import Lifecycle
from engine.lifecycle.reconciliation import reconcile


@dataclass(frozen=True)
class LifecycleOptions:
    repo: Path
    branch: str
    now: datetime
    dry_run: bool
    format: str
    forge: str = "local"
    notify: bool = True
    """False: no channel is told (a trial); records and targets are as without it."""


def lifecycle_for(options: LifecycleOptions) -> Lifecycle:
    repo = GitRepository(options.repo)
    signer = find_signer(repo)
    if options.forge == "github":
        # A workflow's clone: read what was fetched, publish every write by lease.
        remote = Remote(repo)
        return Lifecycle(repo, github_from_env(), PublishedLedger(repo, remote),
                         options.branch, remote=remote, signer=signer)
    return Lifecycle(repo, LocalForge(repo), Ledger(repo), options.branch, signer=signer)


def run_activate(options: LifecycleOptions) -> int:
    life = lifecycle_for(options)
    before = _tip(life, options)
    with progress.task("activate", enabled=options.format == "text") as bar:
        report = activate(life, options.now, dry_run=options.dry_run, notify=options.notify,
                          bar=bar)
    print(report.render(options.format), end="")
    _catch_up(life, options, before)
    return 1 if report.failures else 0


def run_reconcile(options: LifecycleOptions) -> int:
    life = lifecycle_for(options)
    before = _tip(life, options)
    with progress.task("reconcile", enabled=options.format == "text") as bar:
        report = reconcile(life, options.now, dry_run=options.dry_run, notify=options.notify,
                           bar=bar)
    print(report.render(options.format), end="")
    _catch_up(life, options, before)
    return 1 if report.failures else 0


def _tip(life: Lifecycle, options: LifecycleOptions) -> str | None:
    return life.repo.ref_target(f"refs/heads/{options.branch}")


def _catch_up(life: Lifecycle, options: LifecycleOptions, before: str | None) -> None:
    """Offline, a removal commit moves the default branch under a checkout of it: bring the
    checkout along, so that an ordinary commit cannot re-add a removed grant."""
    if options.forge != "local" or options.dry_run or before is None:
        return
    after = _tip(life, options)
    if after == before or not LocalForge(life.repo).checked_out(options.branch):
        return
    from engine.commands.local import catch_up

    print(catch_up(life.repo, options.branch, before, "removal"), file=sys.stderr)
