"""The ports: tiny protocols the commands use, implemented by adapters at the edges."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from engine.core.changes import Change, TreeEntry
from engine.core.forge import PullRequestInfo, Pushers
from engine.core.models import Login, Review


class Tree(Protocol):
    """A snapshot of the repository's files: a working tree or a git revision."""

    def entries(self, prefix: str) -> list[TreeEntry]:
        """Every file below ``prefix`` (a folder like 'policies/'), recursively, sorted."""
        ...

    def read(self, path: str) -> bytes:
        """The file's bytes; raises GitjitError when missing. Symlinks are never followed."""
        ...

    def read_many(self, paths: Iterable[str], limit: int | None = None) -> dict[str, bytes]:
        """The bytes of several files at once (one git process for a revision, not one each).

        With ``limit``, a larger file is never held whole: its first ``limit`` + 1 bytes come
        back as ``engine.core.changes.Oversized``, which knows the whole size."""
        ...

    def exists(self, path: str) -> bool: ...


class Repository(Protocol):
    """The git operations gitjit needs, all by machine-readable git output."""

    def resolve(self, ref: str) -> str:
        """The full commit SHA of ``ref``; GitError when unknown."""
        ...

    def merge_base(self, a: str, b: str) -> str: ...

    def changes(self, base: str, head: str) -> list[Change]:
        """``git diff --raw -z --no-renames base...head``: from the merge base to head."""
        ...

    def tree(self, rev: str) -> Tree:
        """The files of commit ``rev``, read as blobs (never checked out)."""
        ...

    def worktree(self) -> Tree:
        """The files of the working tree (as on disk)."""
        ...


class Forge(Protocol):
    """Pull requests, reviews and comments: GitHub through PyGithub, or the local forge.

    Every method reads or writes the forge's own record; nothing here is taken from files
    that a pull request could change."""

    def pull_request(self, number: int) -> PullRequestInfo:
        """One pull request; GitjitError when there is none with that number."""
        ...

    def pull_request_for_commit(self, sha: str) -> PullRequestInfo | None:
        """The merged pull request whose merge commit is ``sha``, or None (a direct push)."""
        ...

    def reviews(self, number: int) -> list[Review]:
        """Every formal review of the pull request (all pages), oldest first."""
        ...

    def pushers(self, number: int) -> Pushers:
        """Everyone who pushed or authored commits on the pull request, the author included,
        and what the forge could not tie to anyone."""
        ...

    def open_pull_request(self, *, author: Login, head_ref: str, base: str, title: str,
                          body: str) -> PullRequestInfo:
        """Open a pull request from the existing branch ``head_ref`` into ``base``."""
        ...

    def open_pull_request_for(self, head_ref: str) -> PullRequestInfo | None:
        """The open pull request from branch ``head_ref`` (by anyone), or None."""
        ...

    def comment(self, number: int, key: str, body: str) -> None:
        """Create, or update in place, the one comment of ours marked with ``key``."""
        ...

    def open_pull_requests(self, base: str) -> list[PullRequestInfo]:
        """Every open pull request into branch ``base``, by number, with when it was opened."""
        ...

    def close_pull_request(self, number: int, *, key: str, body: str, at: datetime) -> None:
        """Write (or update) our comment marked ``key``, then close the pull request without
        merging; closing one that is closed already only updates the comment. ``at`` is when
        (the local forge records it; GitHub keeps its own time)."""
        ...
