"""Keeping gitjit's writes in step with the shared repository (GitHub mode).

In a workflow, gitjit works in a fresh clone: it reads the default branch and the ledger as
fetched, writes with plumbing as it does offline, and publishes each write with a push that
only succeeds if the remote ref is still what was fetched (``--force-with-lease``). When
another run got there first, the write is redone on the new tip (the ledger's idempotency
keys and the removal's "only files still present" make that safe)."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from engine.adapters.git import GitRepository
from engine.adapters.ledger import LEDGER_REF, Ledger
from engine.core.ledger import LedgerState, Record
from engine.errors import GitError

T = TypeVar("T")
MAX_ATTEMPTS = 10
# What a push refused by the server's rules says, as opposed to a lost race: GitHub's rulesets
# (GH013) and classic branch protection (GH006), and any other server's pre-receive hook.
_REFUSALS = ("GH013", "GH006", "repository rule violations", "protected branch hook declined",
             "pre-receive hook declined", "deny updating a hidden ref")


class PushRefused(GitError):
    """The remote's rules refused a push (a ruleset, branch protection): trying again on a
    newer tip cannot help, so the write fails at once with the remote's reasons."""


def refusal(output: str) -> str | None:
    """The reasons a refused push gives (``remote: - ...`` lines), or None when the output
    is not a refusal by the remote's rules."""
    if not any(marker in output for marker in _REFUSALS):
        return None
    reasons = []
    for line in output.splitlines():
        text = line.removeprefix("remote:").strip()
        if line.startswith("remote:") and text.startswith("- ") and text[2:] not in reasons:
            reasons.append(text[2:])
    if reasons:
        return " ".join(reasons)
    return "repository rule violations" if "GH013" in output else "refused by the remote"


def credentials(environ: Mapping[str, str]) -> dict[str, str]:
    """Git credentials for one fetch or push, from the workflow's token.

    The checkout keeps no credentials (persist-credentials: false); the token reaches git as
    an HTTP header through GIT_CONFIG_* for that one command, never written to .git/config
    and never on a command line (where other processes could read it)."""
    token, server = environ.get("GITHUB_TOKEN"), environ.get("GITHUB_SERVER_URL")
    if not token or not server:
        return {}
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode("ascii")
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"http.{server}/.extraheader",
            "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}"}


class Remote:
    """One remote of a clone: fetch a branch into the local branch, push it back by lease."""

    def __init__(self, repo: GitRepository, name: str = "origin",
                 environ: Mapping[str, str] | None = None) -> None:
        self.repo = repo
        self.name = name
        self.auth = credentials(os.environ if environ is None else environ)

    def fetch(self, branch: str) -> str | None:
        """Make the local branch equal the remote one; None when the remote has none."""
        ref = f"refs/heads/{branch}"
        result = self.repo.run("fetch", "--quiet", "--no-tags", self.name,
                               f"+{ref}:refs/remotes/{self.name}/{branch}", ok_codes=(0, 128),
                               env=self.auth)
        if result.returncode != 0:
            missing = self.repo.run("ls-remote", "--exit-code", self.name, ref,
                                    ok_codes=(0, 2), env=self.auth)
            if missing.returncode == 2:
                return None
            raise GitError(f"git fetch {self.name} {branch} failed in {self.repo.root}: "
                           f"{result.stderr.decode('utf-8', 'replace').strip()}")
        tip = self.repo.ref_target(f"refs/remotes/{self.name}/{branch}")
        if tip is not None:
            # The local branch follows the remote: gitjit's own writes are pushed at once, so
            # nothing local is lost (a checked-out branch is left to the user).
            self.repo.run("update-ref", ref, tip)
        return tip

    def fetch_pull_head(self, number: int) -> str | None:
        """Fetch a pull request's head through ``refs/pull/N/head``, which the forge keeps
        after its branch is deleted; its commit, or None when the remote has no such ref."""
        local = f"refs/gitjit/pull/{number}"
        result = self.repo.run("fetch", "--quiet", "--no-tags", self.name,
                               f"+refs/pull/{number}/head:{local}", ok_codes=(0, 128),
                               env=self.auth)
        return self.repo.ref_target(local) if result.returncode == 0 else None

    def fetch_pull_heads(self, numbers: Iterable[int]) -> dict[int, str]:
        """Fetch several pull requests' heads as data in one git fetch; their commits by
        number (one that the remote lacks is missing from the answer)."""
        wanted = sorted(set(numbers))
        if not wanted:
            return {}
        specs = [f"+refs/pull/{n}/head:refs/gitjit/pull/{n}" for n in wanted]
        result = self.repo.run("fetch", "--quiet", "--no-tags", self.name, *specs,
                               ok_codes=(0, 1, 128), env=self.auth)
        if result.returncode != 0:
            # One missing ref fails the whole fetch: fetch them one by one instead.
            heads = {n: self.fetch_pull_head(n) for n in wanted}
            return {n: sha for n, sha in heads.items() if sha is not None}
        found = {n: self.repo.ref_target(f"refs/gitjit/pull/{n}") for n in wanted}
        return {n: sha for n, sha in found.items() if sha is not None}

    def push(self, branch: str, expected: str | None) -> bool:
        """Push the local branch if the remote still holds ``expected``; False if it moved.

        Raises PushRefused when the remote's rules refuse it (GitHub's GH013 or GH006)."""
        ref = f"refs/heads/{branch}"
        lease = f"--force-with-lease={ref}:{expected or ''}"
        result = self.repo.run("push", "--quiet", "--porcelain", lease, self.name,
                               f"{ref}:{ref}", ok_codes=(0, 1), env=self.auth)
        if result.returncode == 0:
            return True
        output = result.stdout.decode("utf-8", "replace") + result.stderr.decode("utf-8",
                                                                                "replace")
        reasons = refusal(output)
        if reasons is not None:
            # Checked before the race markers: GitHub's refusal also says "[remote rejected]".
            raise PushRefused(
                f"{self.name} refused the push of {branch} by its rules: {reasons} (a ruleset "
                "or branch protection; `gitjit doctor` says what gitjit needs)")
        if "stale info" in output or "rejected" in output or "fetch first" in output:
            return False
        raise GitError(f"git push {self.name} {branch} failed in {self.repo.root}: "
                       f"{output.strip()}")

    def publish(self, branch: str, write: Callable[[], T]) -> T:
        """Fetch the branch, ``write`` to it locally, push by lease; on a race, again."""
        for _ in range(MAX_ATTEMPTS):
            before = self.fetch(branch)
            result = write()
            if self.repo.ref_target(f"refs/heads/{branch}") == before or \
                    self.push(branch, before):
                return result
        raise GitError(f"could not publish {branch} to {self.name}: other writers kept moving "
                       "it; run again")


class PublishedLedger(Ledger):
    """The ledger, appended locally and pushed to the shared repository by lease."""

    def __init__(self, repo: GitRepository, remote: Remote) -> None:
        super().__init__(repo, ref=LEDGER_REF)
        self.remote = remote
        self.remote.fetch(LEDGER_REF.removeprefix("refs/heads/"))

    def state(self) -> LedgerState:
        self.remote.fetch(LEDGER_REF.removeprefix("refs/heads/"))
        return super().state()

    def append(self, draft: Record, *, main: str | None = None) -> Record | None:
        return self.remote.publish(LEDGER_REF.removeprefix("refs/heads/"),
                                   lambda: super(PublishedLedger, self).append(draft,
                                                                               main=main))
