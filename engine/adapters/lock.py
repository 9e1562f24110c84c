"""One lock per repository for the commands that change targets and the record.

Activate and reconcile take it, so two runs on one machine take turns instead of applying or
recording the same change twice. (Across machines, GitHub's concurrency group does the same;
the ledger's compare-and-swap and idempotency keys are the backstop either way.)"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.adapters.git import GitRepository


@contextmanager
def lifecycle_lock(repo: GitRepository) -> Iterator[None]:
    common = repo.git("rev-parse", "--git-common-dir").decode().strip()
    folder = (Path(repo.root) / common / "gitjit")
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "lifecycle.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
