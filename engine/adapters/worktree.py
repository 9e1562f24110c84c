"""The working tree on disk as a ``Tree``: what ``gitjit check`` validates before a commit.

It reports files the way git would store them (modes 100644, 100755, 120000, 160000) and
never follows a symbolic link, neither the last part of a path nor a folder on the way: a link
in the working tree must not let a grant or policy read a file outside the repository.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from engine.core.changes import (
    EXECUTABLE_FILE,
    REGULAR_FILE,
    SUBMODULE,
    SYMLINK,
    Oversized,
    TreeEntry,
)
from engine.errors import GitjitError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
# O_NONBLOCK: opening a FIFO someone left in the tree must not hang the check.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def check_path(path: str) -> None:
    """Reject a path that is not a plain repository-relative file path.

    Git trees cannot hold '.', '..', empty parts or '.git', so such a path can only be a
    mistake or an attempt to leave the repository.
    """
    parts = path.split("/")
    if (
        not path
        or "\0" in path
        or any(part in ("", ".", "..") or part.lower() == ".git" for part in parts)
    ):
        raise GitjitError(
            f"invalid path {path!r}: use a path relative to the repository root with '/' "
            "between parts and no '.', '..', '.git' or empty parts"
        )


class WorkTree:
    """A directory on disk read as a ``Tree``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"WorkTree({str(self.root)!r})"

    def entries(self, prefix: str = "") -> list[TreeEntry]:
        """Every file at or below ``prefix``, sorted; '.git' is skipped, links not followed."""
        folder = prefix.rstrip("/")
        if not folder:
            return sorted(self._walk(self.root, ""), key=lambda entry: entry.path)
        check_path(folder)
        *parents, last = folder.split("/")
        current = self.root
        for part in parents:
            current = current / part
            # A link or file on the way means git would have nothing below the prefix either.
            if not _is_real_dir(current):
                return []
        try:
            info = os.lstat(current / last)
        except FileNotFoundError:
            return []
        except NotADirectoryError:
            return []
        entry = _entry(current / last, folder, info)
        if entry is not None:
            return [entry]
        if stat.S_ISDIR(info.st_mode):
            return sorted(self._walk(current / last, folder + "/"), key=lambda e: e.path)
        return []

    def _walk(self, directory: Path, prefix: str) -> Iterator[TreeEntry]:
        with os.scandir(directory) as scan:
            items = list(scan)
        for item in items:
            if item.name == ".git":
                continue
            path = prefix + item.name
            info = item.stat(follow_symlinks=False)
            entry = _entry(Path(item.path), path, info)
            if entry is not None:
                yield entry
            elif stat.S_ISDIR(info.st_mode):
                yield from self._walk(Path(item.path), path + "/")

    def exists(self, path: str) -> bool:
        """True for a file, symlink or folder at ``path``, reached without following links."""
        check_path(path)
        try:
            dir_fd, name = self._open_parent(path)
        except GitjitError:
            return False
        try:
            os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            return False
        finally:
            os.close(dir_fd)
        return True

    def read(self, path: str) -> bytes:
        """The bytes of the regular file at ``path``; GitjitError for a link or a missing file."""
        return self.read_many([path])[path]

    def read_many(self, paths: Iterable[str], limit: int | None = None) -> dict[str, bytes]:
        """``read`` of each path, in the order given (the same contract as ``GitTree``); with
        ``limit``, a larger file's first ``limit`` + 1 bytes, as ``Oversized``.

        Files of one folder in a row share one opened folder: grants/<policy>/ is opened once
        for all its grants, not once per grant."""
        found: dict[str, bytes] = {}
        parent: str | None = None
        dir_fd = -1
        try:
            for path in dict.fromkeys(paths):
                check_path(path)
                folder, _slash, name = path.rpartition("/")
                if folder != parent:
                    if dir_fd >= 0:
                        os.close(dir_fd)
                        dir_fd = -1
                    dir_fd, name = self._open_parent(path)
                    parent = folder
                found[path] = self._read_at(dir_fd, name, path, limit)
        finally:
            if dir_fd >= 0:
                os.close(dir_fd)
        return found

    def _read_at(self, dir_fd: int, name: str, path: str, limit: int | None) -> bytes:
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            raise self._error(path, exc) from exc
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise GitjitError(f"{path}: is a folder, not a file ({self.root})")
            if not stat.S_ISREG(info.st_mode):
                raise GitjitError(
                    f"{path}: is not a regular file (a device, socket or pipe); "
                    "git can only store regular files and links"
                )
            chunks = []
            kept = 0
            cap = None if limit is None else limit + 1
            # One read for a file of the size fstat gave; more if it grew meanwhile. With a
            # limit, never more than limit + 1 bytes: enough to know the file is over it.
            want = info.st_size + 1 if cap is None else min(info.st_size + 1, cap)
            while want > 0 and (chunk := os.read(fd, want)):
                chunks.append(chunk)
                kept += len(chunk)
                want = 1 << 16 if cap is None else min(1 << 16, cap - kept)
            data = b"".join(chunks)
            if limit is not None and len(data) > limit:
                return Oversized(data, max(info.st_size, len(data)))
            return data
        finally:
            os.close(fd)

    def _open_parent(self, path: str) -> tuple[int, str]:
        """Open the folder holding ``path`` part by part, refusing any link on the way."""
        *parents, name = path.split("/")
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
        try:
            for index, part in enumerate(parents):
                try:
                    next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    raise self._error("/".join(parents[: index + 1]), exc, folder=True) from exc
                os.close(fd)
                fd = next_fd
        except BaseException:
            os.close(fd)
            raise
        return fd, name

    def _error(self, path: str, exc: OSError, *, folder: bool = False) -> GitjitError:
        if exc.errno == errno.ELOOP or (
            folder and exc.errno == errno.ENOTDIR and _is_link(self.root / path)
        ):
            return GitjitError(
                f"{path}: is a symbolic link; gitjit never follows links, "
                "replace it with a regular file"
            )
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return GitjitError(f"{path}: no such file in the working tree {self.root}")
        return GitjitError(f"{path}: cannot read: {exc.strerror}")


def _entry(full: Path, path: str, info: os.stat_result) -> TreeEntry | None:
    """The entry git would record for this file, or None for a folder to walk or to skip."""
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        return TreeEntry(path=path, mode=SYMLINK)
    if stat.S_ISREG(mode):
        # Git keeps only the owner's execute bit, like this.
        return TreeEntry(path=path, mode=EXECUTABLE_FILE if mode & stat.S_IXUSR else REGULAR_FILE)
    if stat.S_ISDIR(mode) and os.path.lexists(full / ".git"):
        # A nested repository: git records it as a gitlink and never looks inside.
        return TreeEntry(path=path, mode=SUBMODULE)
    return None


def _is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _is_link(path: Path) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False
