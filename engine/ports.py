"""The ports: tiny protocols the commands use, implemented by adapters at the edges."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from engine.core.changes import Change, TreeEntry


class Tree(Protocol):
    """A snapshot of the repository's files: a working tree or a git revision."""

    def entries(self, prefix: str) -> list[TreeEntry]:
        """Every file below ``prefix`` (a folder like 'policies/'), recursively, sorted."""
        ...

    def read(self, path: str) -> bytes:
        """The file's bytes; raises GitjitError when missing. Symlinks are never followed."""
        ...

    def read_many(self, paths: Iterable[str]) -> dict[str, bytes]:
        """The bytes of several files at once (one git process for a revision, not one each)."""
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
