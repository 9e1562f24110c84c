"""gitjit's lifecycle key in tests: one ed25519 key per test process, installed into each
repository that runs activate or reconcile the way `gitjit local keygen` does (the private key
under the git directory, its public half in policies/allowed_signers).

An attacker's key is made the same way: a key that is not listed signs nothing gitjit trusts.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from engine.adapters.ledger import Ledger
from engine.adapters.signing import CommitSigner, allowed_signers_line, generate_key
from engine.core.signers import parse_allowed_signers

SIGNERS = "policies/allowed_signers"


@cache
def _folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="gitjit-test-keys-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


@cache
def key(name: str = "gitjit") -> Path:
    """A private key file (made once per process); ``name`` tells keys apart."""
    path = _folder() / name
    generate_key(path, comment=name)
    return path


def signers_line(private: Path) -> str:
    key_type, blob = private.with_name(private.name + ".pub").read_text().split()[:2]
    return allowed_signers_line(key_type, blob)


def git_dir(repo: Path) -> Path:
    raw = subprocess.run(["git", "rev-parse", "--absolute-git-dir"], cwd=repo, check=True,
                         capture_output=True, text=True).stdout.strip()
    return Path(raw)


def install(repo: Path, private: Path | None = None, *, list_it: bool = True) -> Path:
    """Give the repository ``private`` (default: the gitjit test key) as its local lifecycle
    key, and list it in the working tree's policies/allowed_signers (the caller commits)."""
    private = private or key()
    target = git_dir(repo) / "gitjit" / "signing_key"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(private, target)
    target.chmod(0o600)
    if list_it:
        signers = repo / SIGNERS
        signers.parent.mkdir(parents=True, exist_ok=True)
        signers.write_text(signers_line(private) + "\n", encoding="ascii")
    return target


def ledger(repo: Path) -> Ledger:
    """The repository's ledger as gitjit reads and writes it with the test key."""
    from engine.adapters.git import GitRepository

    private = key()
    signers, _ = parse_allowed_signers(signers_line(private).encode() + b"\n")
    return Ledger(GitRepository(repo), signers=signers, signer=CommitSigner(private))
