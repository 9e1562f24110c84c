"""The command functions behind `gitjit activate` and `gitjit reconcile`."""

from __future__ import annotations

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
    with progress.task("activate", enabled=options.format == "text") as bar:
        report = activate(lifecycle_for(options), options.now, dry_run=options.dry_run, bar=bar)
    print(report.render(options.format), end="")
    return 1 if report.failures else 0


def run_reconcile(options: LifecycleOptions) -> int:
    with progress.task("reconcile", enabled=options.format == "text") as bar:
        report = reconcile(lifecycle_for(options), options.now, dry_run=options.dry_run,
                           bar=bar)
    print(report.render(options.format), end="")
    return 1 if report.failures else 0
