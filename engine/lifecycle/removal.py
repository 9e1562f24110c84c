"""Taking the files of ended or refused grants off the default branch.

Every removal commit is signed by gitjit. ``removal: push`` commits to the default branch
itself; ``removal: pull-request`` (the default on GitHub, where the default branch takes
changes only through pull requests) commits to a branch ``gitjit/remove-<digest>`` and opens
a pull request that gitjit's own verdict approves as housekeeping.

A branch of that name that gitjit did not sign is someone else's: it is never built on, and
it never stands for an open removal (pre-creating the name must not suppress the removal);
gitjit takes the next free name instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

from engine.adapters.branch import commit_removal
from engine.core.models import GrantId, Login, RemovalMode
from engine.errors import GitjitError
from engine.lifecycle.context import Lifecycle, Report, Run

GITJIT_LOGIN = Login("gitjit")
"""The author of removal pull requests on the local forge (on GitHub: the token's account)."""
MAX_NAMES = 10
"""Branch names tried for one removal before giving up (each taken one was someone else's)."""


def remove(life: Lifecycle, run: Run, report: Report, paths: Mapping[GrantId, str],
           message: Callable[[list[str]], str], *, title: str) -> None:
    """Remove ``paths`` (the ones still on the branch) as the settings say; failures are
    reported, never raised."""
    if not paths:
        return
    names = ", ".join(sorted(paths))
    if run.cannot_write:
        report.add(names, "remove", run.cannot_write, failed=True)
        return
    try:
        if life.removal(run.config) is RemovalMode.PUSH:
            commit = life.write(life.branch, lambda: commit_removal(
                life.repo, life.branch, list(paths.values()), message, at=report.now,
                signing=life.signing()))
            if commit is not None:
                report.add(names, "removed", commit[:12])
            return
        _by_pull_request(life, report, paths, message, title, names)
    except GitjitError as exc:
        report.add(names, "remove", str(exc), failed=True)


def _by_pull_request(life: Lifecycle, report: Report, paths: Mapping[GrantId, str],
                     message: Callable[[list[str]], str], title: str, names: str) -> None:
    digest = hashlib.sha256("\n".join(sorted(paths)).encode()).hexdigest()[:12]
    base = f"gitjit/remove-{digest}"
    for attempt in range(1, MAX_NAMES + 1):
        branch = base if attempt == 1 else f"{base}-{attempt}"
        tip = _branch_tip(life, branch)
        if tip is not None and life.ledger.verifier.why_untrusted([tip])[tip]:
            report.add(names, "skipped branch", f"{branch} exists but gitjit did not sign its "
                       "commit; it is someone else's and stands for nothing")
            continue
        if tip is None and _commit_onto(life, report, paths, message, branch) is None:
            return  # the files are gone already
        opened = life.forge.open_pull_request_for(branch)
        if opened is None:
            present = [p for p in paths.values() if life.repo.tree(life.branch).exists(p)]
            opened = life.forge.open_pull_request(
                author=GITJIT_LOGIN, head_ref=branch, base=life.branch, title=title,
                body=message(sorted(present)))
            report.add(names, "removal pull request", f"#{opened.number}")
        return
    report.add(names, "remove", f"every branch name from {base} to {base}-{MAX_NAMES} is taken "
               "by branches gitjit did not sign; delete them (and protect gitjit/* with a "
               "ruleset)", failed=True)


def _commit_onto(life: Lifecycle, report: Report, paths: Mapping[GrantId, str],
                 message: Callable[[list[str]], str], branch: str) -> str | None:
    def write() -> str | None:
        return commit_removal(life.repo, life.branch, list(paths.values()), message,
                              at=report.now, signing=life.signing(), onto=branch)

    return life.write(branch, write)


def _branch_tip(life: Lifecycle, branch: str) -> str | None:
    if life.remote is not None:
        return life.remote.fetch(branch)
    return life.repo.ref_target(f"refs/heads/{branch}")
