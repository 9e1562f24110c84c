"""Plumbing on the emulator's bare repositories: every object and ref it reports is real git.

The emulator never keeps a second copy of git data: refs, commits, trees and blobs are read
from and written to the bare repository, so a test that pushes with plain git and a client
that writes through the API see the same repository.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

ZERO_SHA = "0" * 40

# Any of these in the test process's environment would point git somewhere else.
_REDIRECTING = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
)


class GitError(RuntimeError):
    """A git command failed; the message has the command and git's own words."""


@dataclass(frozen=True)
class Person:
    """An author or committer line."""

    name: str
    email: str
    date: datetime


@dataclass(frozen=True)
class CommitInfo:
    """A commit object, parsed."""

    sha: str
    tree: str
    parents: tuple[str, ...]
    author: Person
    committer: Person
    message: str


@dataclass(frozen=True)
class TreeEntry:
    """One entry of a tree object."""

    mode: str
    type: str
    sha: str
    path: str
    size: int | None


def git_date(when: datetime) -> str:
    return f"@{int(when.timestamp())} +0000"


class Bare:
    """A bare repository on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def git(
        self,
        *args: str,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        full_env = {k: v for k, v in os.environ.items() if k not in _REDIRECTING}
        full_env.update(env or {})
        done = subprocess.run(
            ["git", "--git-dir", str(self.path), *args],
            input=input,
            capture_output=True,
            env=full_env,
            check=False,
        )
        if check and done.returncode != 0:
            raise GitError(
                f"git {' '.join(args)} failed ({done.returncode}) in {self.path}: "
                f"{done.stderr.decode('utf-8', 'replace').strip()}"
            )
        return done

    def out(
        self, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None
    ) -> str:
        return self.git(*args, input=input, env=env).stdout.decode("utf-8").strip()

    @classmethod
    def init(cls, path: Path, default_branch: str) -> Bare:
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(path)],
            check=True,
            capture_output=True,
        )
        return cls(path)

    # refs

    def resolve(self, ref: str) -> str | None:
        """The sha a full ref name points at, or None."""
        done = self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{}}", check=False)
        if done.returncode != 0:
            return None
        return done.stdout.decode().strip() or None

    def ref_target(self, ref: str) -> str | None:
        """The object a full ref points at (not peeled), or None."""
        done = self.git("show-ref", "--verify", "--hash", ref, check=False)
        return done.stdout.decode().strip() if done.returncode == 0 else None

    def commit_of(self, name: str) -> str | None:
        """A commit named by a sha (full or abbreviated), a branch or a tag; None if none."""
        for candidate in (f"refs/heads/{name}", f"refs/tags/{name}", name):
            done = self.git(
                "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", check=False
            )
            if done.returncode == 0:
                return done.stdout.decode().strip()
        return None

    def refs(self, prefix: str = "refs/") -> dict[str, str]:
        listing = self.out("for-each-ref", "--format=%(refname) %(objectname)", prefix)
        return dict(line.split(" ", 1) for line in listing.splitlines() if line)

    def update_ref(self, ref: str, new: str, old: str | None = None) -> None:
        """Move a ref; with ``old`` only if it still points there (compare and swap)."""
        args = ["update-ref", ref, new]
        if old is not None:
            args.append(old)
        self.git(*args)

    def object_type(self, sha: str) -> str | None:
        done = self.git("cat-file", "-t", sha, check=False)
        return done.stdout.decode().strip() if done.returncode == 0 else None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return (
            self.git("merge-base", "--is-ancestor", ancestor, descendant, check=False).returncode
            == 0
        )

    # objects

    def write_blob(self, content: bytes) -> str:
        return self.out("hash-object", "-w", "--stdin", input=content)

    def read_blob(self, sha: str) -> bytes:
        return self.git("cat-file", "blob", sha).stdout

    def blob_size(self, sha: str) -> int:
        return int(self.out("cat-file", "-s", sha))

    def read_commit(self, sha: str) -> CommitInfo:
        raw = self.git("cat-file", "commit", sha).stdout.decode("utf-8", "replace")
        header, _, message = raw.partition("\n\n")
        tree = ""
        parents: list[str] = []
        people: dict[str, Person] = {}
        for line in header.splitlines():
            key, _, value = line.partition(" ")
            if key == "tree":
                tree = value
            elif key == "parent":
                parents.append(value)
            elif key in ("author", "committer"):
                name, _, rest = value.partition(" <")
                email, _, stamp = rest.partition("> ")
                seconds, _, offset = stamp.partition(" ")
                sign = -1 if offset.startswith("-") else 1
                minutes = sign * (int(offset[1:3]) * 60 + int(offset[3:5])) if offset else 0
                zone = timezone(timedelta(minutes=minutes))
                people[key] = Person(name, email, datetime.fromtimestamp(int(seconds), zone))
        return CommitInfo(sha, tree, tuple(parents), people["author"], people["committer"], message)

    def tree_entries(self, sha: str, *, recursive: bool = False) -> list[TreeEntry]:
        args = ["ls-tree", "-z", "--long"]
        if recursive:
            args += ["-r", "-t"]
        raw = self.git(*args, sha).stdout.decode("utf-8")
        entries: list[TreeEntry] = []
        for record in raw.split("\0"):
            if not record:
                continue
            meta, _, path = record.partition("\t")
            mode, kind, object_sha, size = meta.split()
            entries.append(
                TreeEntry(mode, kind, object_sha, path, None if size == "-" else int(size))
            )
        return entries

    def tree_of(self, commit: str) -> str:
        return self.out("rev-parse", f"{commit}^{{tree}}")

    def blob_at(self, commit: str, path: str) -> tuple[str, str] | None:
        """(mode, blob sha) of ``path`` in ``commit``, None if absent or not a file."""
        raw = self.git("ls-tree", "-z", commit, "--", path, check=False).stdout.decode()
        for record in raw.split("\0"):
            meta, _, found = record.partition("\t")
            if found == path:
                mode, kind, sha = meta.split()
                return (mode, sha) if kind == "blob" else None
        return None

    def build_tree(
        self, base_tree: str | None, changes: Sequence[tuple[str, str, str | None]]
    ) -> str:
        """``base_tree`` (or the empty tree) with (path, mode, blob sha) changes applied.

        A None sha deletes the path."""
        with tempfile.TemporaryDirectory() as scratch:
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            if base_tree:
                self.git("read-tree", base_tree, env=env)
            else:
                self.git("read-tree", "--empty", env=env)
            # --index-info works without a work tree; mode 0 removes the path.
            lines = "".join(
                f"{'0' if sha is None else mode} {sha or ZERO_SHA}\t{path}\n"
                for path, mode, sha in changes
            )
            if lines:
                self.git("update-index", "--index-info", input=lines.encode("utf-8"), env=env)
            return self.out("write-tree", env=env)

    def commit_tree(
        self, tree: str, parents: Sequence[str], message: str, author: Person, committer: Person
    ) -> str:
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        env = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_AUTHOR_DATE": git_date(author.date),
            "GIT_COMMITTER_NAME": committer.name,
            "GIT_COMMITTER_EMAIL": committer.email,
            "GIT_COMMITTER_DATE": git_date(committer.date),
        }
        return self.out(*args, input=message.encode("utf-8"), env=env)

    def merge_tree(self, base: str, head: str) -> str | None:
        """The tree of merging ``head`` into ``base``, or None on conflict (git merge-tree)."""
        done = self.git("merge-tree", "--write-tree", "--no-messages", base, head, check=False)
        if done.returncode == 1:
            return None
        if done.returncode != 0:
            raise GitError(f"git merge-tree failed in {self.path}: {done.stderr.decode().strip()}")
        return done.stdout.decode().splitlines()[0].strip()

    def rev_list(self, *args: str) -> list[str]:
        return self.out("rev-list", *args).split()

    def numstat(self, base: str, head: str) -> tuple[int, int, int]:
        """(additions, deletions, changed files) of head against its merge base with base."""
        raw = self.out("diff", "--numstat", f"{base}...{head}")
        added = deleted = files = 0
        for line in raw.splitlines():
            plus, minus, _ = line.split("\t", 2)
            files += 1
            added += int(plus) if plus.isdigit() else 0
            deleted += int(minus) if minus.isdigit() else 0
        return added, deleted, files
