"""Real throwaway git repositories for tests, in the manner of pre-commit's ``make_repo``.

The builder runs git itself (not through engine.adapters.git) so the adapter's tests do not
depend on the code they test. It expects the environment the autouse fixtures in conftest.py
set up: a private HOME with a minimal gitconfig and a pinned author and committer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

INITIAL_FILE = "README.md"
PINNED_DATE = "2026-01-05T09:00:00+00:00"
"""The author and committer date every commit gets unless a test passes another."""

# Set by hooks and shells; any of them would make the builder's git act on another repository.
_REDIRECTING = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
)


def git_date(when: datetime | str) -> str:
    """A date git accepts unambiguously: '@<unix seconds> +0000' for a datetime."""
    if isinstance(when, str):
        return when
    if when.tzinfo is None:
        raise ValueError(f"commit dates must be timezone-aware, got {when!r}")
    return f"@{int(when.timestamp())} +0000"


class GitRepoBuilder:
    """A git repository in a temporary folder that a test shapes file by file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def init(cls, path: Path, *, initial_commit: bool = True) -> GitRepoBuilder:
        path.mkdir(parents=True, exist_ok=True)
        builder = cls(path)
        builder.git("init", "--quiet", "--initial-branch=main")
        if initial_commit:
            builder.write(INITIAL_FILE, "# test repository\n")
            builder.commit("initial commit")
        return builder

    def __repr__(self) -> str:
        return f"GitRepoBuilder({str(self.path)!r})"

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run git here; a failure fails the test with git's stderr."""
        full_env = {k: v for k, v in os.environ.items() if k not in _REDIRECTING}
        full_env.update(env or {})
        result = subprocess.run(
            ["git", *args], cwd=self.path, env=full_env, capture_output=True, check=False
        )
        if result.returncode != 0:
            raise AssertionError(
                f"git {' '.join(args)} failed in {self.path} (exit {result.returncode}):\n"
                f"{result.stderr.decode('utf-8', 'replace')}"
            )
        return result.stdout.decode("utf-8", "surrogateescape")

    def file(self, path: str) -> Path:
        return self.path / path

    def write(self, path: str, content: str | bytes, *, executable: bool = False) -> Path:
        """Write a file (bytes verbatim, text as UTF-8 without newline translation)."""
        target = self.file(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        target.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        target.chmod(0o755 if executable else 0o644)
        return target

    def symlink(self, path: str, target: str) -> Path:
        link = self.file(path)
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.is_file():
            link.unlink()
        link.symlink_to(target)
        return link

    def remove(self, path: str) -> None:
        """Delete a file, link or folder from the working tree (staged by the next commit)."""
        target = self.file(path)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()

    def gitlink(self, path: str, sha: str) -> None:
        """Stage a submodule entry (mode 160000) at ``path`` pointing at commit ``sha``."""
        # The empty folder keeps 'git add -A' from staging the gitlink's removal.
        self.file(path).mkdir(parents=True, exist_ok=True)
        self.git("update-index", "--add", "--cacheinfo", f"160000,{sha},{path}")

    def commit(
        self, message: str, *, date: datetime | str | None = None, allow_empty: bool = False,
        signing_key: Path | None = None,
    ) -> str:
        """Stage everything (additions, changes, deletions) and commit; returns the SHA.

        ``signing_key``: sign the commit with this SSH private key (git's SSH signing)."""
        env = {}
        if date is not None:
            env = {"GIT_AUTHOR_DATE": git_date(date), "GIT_COMMITTER_DATE": git_date(date)}
        self.git("add", "--all")
        args = ["commit", "--quiet", "--no-verify", "--message", message]
        if allow_empty:
            args.append("--allow-empty")
        if signing_key is not None:
            args = ["-c", "gpg.format=ssh", "-c", f"user.signingKey={signing_key}", *args, "-S"]
        self.git(*args, env=env)
        return self.sha("HEAD")

    def branch(self, name: str, start: str = "main") -> None:
        self.git("branch", "--end-of-options", name, start)

    def checkout(self, name: str) -> None:
        self.git("checkout", "--quiet", name, "--")

    def merge(
        self,
        branch: str,
        *,
        no_ff: bool = True,
        message: str | None = None,
        date: datetime | str | None = None,
    ) -> str:
        """Merge ``branch`` into the current branch; returns the new HEAD."""
        env = {}
        if date is not None:
            env = {"GIT_AUTHOR_DATE": git_date(date), "GIT_COMMITTER_DATE": git_date(date)}
        args = ["merge", "--quiet", "--no-edit", "--no-verify"]
        args.append("--no-ff" if no_ff else "--ff")
        args += ["--message", message or f"Merge branch '{branch}'", branch]
        self.git(*args, env=env)
        return self.sha("HEAD")

    def sha(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}").strip()


class RepoFactory:
    """Makes fresh repositories under one temporary folder: ``repo_factory("upstream")``."""

    def __init__(self, base: Path) -> None:
        # Canonical, so paths compare equal to what 'git rev-parse --show-toplevel' prints
        # where the temporary folder sits behind a symlink (macOS /tmp).
        self.base = base.resolve()

    def __call__(self, name: str = "repo", *, initial_commit: bool = True) -> GitRepoBuilder:
        path = self.base / name
        if path.exists():
            raise ValueError(f"{path} already exists: give each repository its own name")
        return GitRepoBuilder.init(path, initial_commit=initial_commit)
