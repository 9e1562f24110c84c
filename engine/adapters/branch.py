"""Commits gitjit makes on the default branch (removal of grant files), with plumbing only.

The user's checkout, index and working tree are never touched; the branch moves by
compare-and-swap, so a concurrent push or a second gitjit run never loses a commit: when the
branch moved, the removal is rebuilt on the new tip, dropping files that are already gone."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime

from engine.adapters.git import GitRepository, parse_ls_tree
from engine.core.changes import TreeEntry
from engine.errors import GitError

TREE_MODE = "040000"
MAX_ATTEMPTS = 20


def _ls(repo: GitRepository, tree: str) -> list[TreeEntry]:
    return parse_ls_tree(repo.git("ls-tree", "-z", "--full-tree", tree))


def _mktree(repo: GitRepository, entries: Sequence[TreeEntry]) -> str:
    kinds = {TREE_MODE: "tree", "160000": "commit"}
    listing = b"".join(
        f"{e.mode} {kinds.get(e.mode, 'blob')} {e.blob}\t{e.path}\0".encode() for e in entries)
    return repo.git("mktree", "-z", stdin=listing).decode("ascii").strip()


def tree_without(repo: GitRepository, tree: str, paths: Collection[str]) -> str:
    """``tree`` with ``paths`` removed; folders left empty are removed too."""
    by_first: dict[str, list[str]] = {}
    for path in paths:
        first, _, rest = path.partition("/")
        by_first.setdefault(first, []).append(rest)
    entries = []
    for entry in _ls(repo, tree):
        if entry.path not in by_first:
            entries.append(entry)
            continue
        inner = [p for p in by_first[entry.path] if p]
        if entry.mode != TREE_MODE or not inner:
            continue  # the file itself is removed
        subtree = tree_without(repo, entry.blob, inner)
        if _ls(repo, subtree):
            entries.append(TreeEntry(entry.path, TREE_MODE, subtree))
    return _mktree(repo, entries)


def commit_removal(repo: GitRepository, branch: str, paths: Collection[str],
                   message: Callable[[list[str]], str], *, at: datetime,
                   signing: Mapping[str, str], onto: str | None = None) -> str | None:
    """Remove the ``paths`` that are still on ``branch`` in one commit; None if none are.

    ``message`` gets the paths actually removed, so its trailers name exactly those. The
    commit is dated ``at`` (the run's time), so the story in git follows the run's clock. With
    ``onto`` (a new branch name) the commit goes there instead, for a removal pull request;
    None too when that branch exists already. ``signing``: gitjit's signing key
    (``CommitSigner.config()``); every removal is signed."""
    ref = f"refs/heads/{branch}"
    for attempt in range(MAX_ATTEMPTS):
        tip = repo.ref_target(ref)
        if tip is None:
            raise GitError(f"branch {branch!r} does not exist in {repo.root}")
        if onto is not None and repo.ref_target(f"refs/heads/{onto}") is not None:
            return None
        snapshot = repo.tree(tip)
        present = sorted(p for p in paths if snapshot.exists(p))
        if not present:
            return None
        tree = tree_without(repo, f"{tip}^{{tree}}", present)
        stamp = at.isoformat()
        commit = repo.commit_tree(tree, [tip], message(present),
                                  env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp},
                                  signing=signing)
        target, old = (ref, tip) if onto is None else (f"refs/heads/{onto}", None)
        if repo.update_ref(target, commit, old, message="gitjit: remove grants"):
            return commit
        time.sleep(min(0.01 * (attempt + 1), 0.2))
    raise GitError(f"could not commit to {branch!r} in {repo.root}: the branch kept moving")


def tree_with(repo: GitRepository, tree: str | None, path: str, blob: str) -> str:
    """``tree`` (None: an empty tree) with a regular file ``blob`` at ``path``."""
    first, _, rest = path.partition("/")
    entries = [e for e in (_ls(repo, tree) if tree else []) if e.path != first]
    if not rest:
        entries.append(TreeEntry(first, "100644", blob))
    else:
        old = next((e.blob for e in (_ls(repo, tree) if tree else [])
                    if e.path == first and e.mode == TREE_MODE), None)
        entries.append(TreeEntry(first, TREE_MODE, tree_with(repo, old, rest, blob)))
    return _mktree(repo, entries)


def commit_file(repo: GitRepository, base: str, branch: str, path: str, content: bytes,
                message: str, env: Mapping[str, str] | None = None) -> str:
    """Create ``branch`` at a new commit on ``base`` that adds ``path``; GitError if the
    branch exists already (a request is never written over another). ``env``: the commit's
    author and dates (GIT_AUTHOR_NAME, GIT_AUTHOR_DATE ...)."""
    blob = repo.git("hash-object", "-w", "--stdin", stdin=content).decode("ascii").strip()
    tree = tree_with(repo, f"{base}^{{tree}}", path, blob)
    commit = repo.commit_tree(tree, [base], message, env=env)
    if not repo.update_ref(f"refs/heads/{branch}", commit, None, message="gitjit request"):
        raise GitError(f"branch {branch!r} exists already in {repo.root}; choose another")
    return commit
