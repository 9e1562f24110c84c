"""What a pull request changes, as git reports it (``git diff --raw -z --no-renames``)."""

from __future__ import annotations

from dataclasses import dataclass

REGULAR_FILE = "100644"
EXECUTABLE_FILE = "100755"
SYMLINK = "120000"
SUBMODULE = "160000"
NO_FILE = "000000"


@dataclass(frozen=True)
class Change:
    status: str
    """git's status letter: A (added), D (deleted), M (modified), T (type changed)."""
    path: str
    old_mode: str
    new_mode: str
    old_blob: str
    new_blob: str


@dataclass(frozen=True)
class TreeEntry:
    path: str
    mode: str
    """git's mode: 100644 regular, 100755 executable, 120000 symlink, 160000 submodule."""
    blob: str = ""
    """The blob SHA when read from git; empty for a working tree."""


class Oversized(bytes):
    """The start of a file larger than a reader was allowed to keep: ``size`` is the whole
    file's. Readers given a limit keep only limit + 1 bytes of a larger file, so no cap is
    applied after a huge file is in memory; ``load`` still says how large it was."""

    size: int

    def __new__(cls, start: bytes, size: int) -> Oversized:
        made = super().__new__(cls, start)
        made.size = size
        return made
