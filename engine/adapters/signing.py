"""Signing gitjit's commits, and telling gitjit's commits from everybody else's.

gitjit signs every commit it writes (ledger records, removal and refusal commits) with git's
SSH commit signing, using a key that only the lifecycle jobs hold. Verification is git's own
(``git log --format=%G?`` with ``gpg.ssh.allowedSignersFile``) against the public keys in
``policies/allowed_signers`` on the default branch, so an auditor can repeat it from a clone
with git alone. A commit counts as gitjit's only with a good signature by a listed key: no
signature, a key not listed, a key outside its ``valid-after``/``valid-before`` window, a
broken signature, or an OpenPGP or X.509 signature are all "not gitjit's".

Where the key comes from, in order:

1. ``GITJIT_SIGNING_KEY``: the OpenSSH private key itself (a workflow passes the environment
   secret); it is written to a private temporary file for the run and removed at exit;
2. ``GITJIT_SIGNING_KEY_FILE``: the path of the private key file;
3. ``<git dir>/gitjit/signing_key``: a local repository's key (``gitjit local keygen``).
"""

from __future__ import annotations

import atexit
import base64
import functools
import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.adapters.git import GitRepository
from engine.core.signers import AllowedSigners
from engine.errors import ConfigurationError, GitError, GitjitError

KEY_ENV = "GITJIT_SIGNING_KEY"
KEY_FILE_ENV = "GITJIT_SIGNING_KEY_FILE"
LOCAL_KEY = Path("gitjit") / "signing_key"
"""Under the repository's git directory: never in the working tree, never committed."""
PRINCIPAL = "gitjit"
_PRIVATE_KEY_HEADER = "-----BEGIN OPENSSH PRIVATE KEY-----"


class SigningError(GitjitError):
    """No usable signing key, or git could not sign with it."""


@dataclass(frozen=True)
class CommitSigner:
    """Signs commits made through ``GitRepository.commit_tree`` with one SSH key."""

    key_path: Path

    def public_key(self) -> tuple[str, str]:
        """(key type, base64 key) of the key's public half."""
        return _public_key(str(self.key_path))

    def fingerprint(self) -> str:
        key_type, key = self.public_key()
        digest = hashlib.sha256(base64.b64decode(key)).digest()
        return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")

    def config(self) -> dict[str, str]:
        """git configuration for one ``commit-tree -S``, through GIT_CONFIG_* (nothing is
        written to any config file, and a user's own signing setup cannot interfere)."""
        return _config_env({
            "gpg.format": "ssh",
            "user.signingKey": str(self.key_path),
            "gpg.ssh.program": "ssh-keygen",
        })


@functools.cache
def _public_key(path: str) -> tuple[str, str]:
    try:
        result = subprocess.run(["ssh-keygen", "-y", "-f", path], check=True,
                                capture_output=True, stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise SigningError("ssh-keygen is not installed; install OpenSSH's client tools "
                           "(Debian: openssh-client)") from exc
    except subprocess.CalledProcessError as exc:
        raise SigningError(f"the signing key {path} cannot be read by ssh-keygen (it must be "
                           "an OpenSSH private key without a passphrase): "
                           f"{exc.stderr.decode('utf-8', 'replace').strip()}") from exc
    fields = result.stdout.decode("ascii", "replace").split()
    return fields[0], fields[1]


def listed(signer: CommitSigner, signers: AllowedSigners) -> bool:
    """Whether the signing key is one of the allowed signers (its public half is listed)."""
    key_type, key = signer.public_key()
    return any(s.key_type == key_type and s.key == key for s in signers.signers)


def _config_env(values: Mapping[str, str]) -> dict[str, str]:
    env = {"GIT_CONFIG_COUNT": str(len(values))}
    for index, (key, value) in enumerate(values.items()):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def find_signer(repo: GitRepository,
                environ: Mapping[str, str] | None = None) -> CommitSigner | None:
    """The signing key of this run, or None when there is none (see the module's order)."""
    env = os.environ if environ is None else environ
    text = env.get(KEY_ENV, "")
    if text.strip():
        return CommitSigner(_private_copy(text))
    path = env.get(KEY_FILE_ENV, "")
    if path:
        key = Path(path)
        if not key.is_file():
            raise SigningError(f"{KEY_FILE_ENV}={path}: no such file; give the path of the "
                               "OpenSSH private key gitjit signs its commits with")
        return CommitSigner(key)
    local = local_key_path(repo)
    return CommitSigner(local) if local.is_file() else None


def require_signer(repo: GitRepository,
                   environ: Mapping[str, str] | None = None) -> CommitSigner:
    signer = find_signer(repo, environ)
    if signer is None:
        raise SigningError(
            "gitjit signs every commit it writes, and this run has no signing key: set "
            f"{KEY_ENV} (the private key, e.g. from the lifecycle environment's secret) or "
            f"{KEY_FILE_ENV}, or run 'gitjit local keygen' in a local repository"
        )
    return signer


def local_key_path(repo: GitRepository) -> Path:
    raw = repo.git("rev-parse", "--absolute-git-dir").decode("utf-8", "surrogateescape")
    return Path(raw.rstrip("\n")) / LOCAL_KEY


def _private_copy(text: str) -> Path:
    if _PRIVATE_KEY_HEADER not in text:
        raise SigningError(f"{KEY_ENV} does not hold an OpenSSH private key (it must start "
                           f"with '{_PRIVATE_KEY_HEADER}'); pass the whole key file")
    folder = Path(tempfile.mkdtemp(prefix="gitjit-key-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "signing_key"
    # Created private: ssh-keygen refuses a key file others may read.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w", encoding="ascii", newline="\n") as handle:
        handle.write(text.strip() + "\n")
    return path


def generate_key(path: Path, comment: str = PRINCIPAL) -> str:
    """Make a new ed25519 key at ``path`` (never over an existing one) and return its
    allowed-signers line."""
    if path.exists():
        raise SigningError(f"{path} exists already; gitjit never replaces a signing key (move "
                           "it away first if you mean to rotate it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
                        "-f", str(path)], check=True, capture_output=True)
    except FileNotFoundError as exc:
        raise SigningError("ssh-keygen is not installed; install OpenSSH's client tools "
                           "(Debian: openssh-client)") from exc
    except subprocess.CalledProcessError as exc:
        raise SigningError(f"ssh-keygen could not make a key at {path}: "
                           f"{exc.stderr.decode('utf-8', 'replace').strip()}") from exc
    public = path.with_name(path.name + ".pub").read_text(encoding="ascii").split()
    return allowed_signers_line(public[0], public[1])


def allowed_signers_line(key_type: str, key: str) -> str:
    return f'{PRINCIPAL} namespaces="git" {key_type} {key}'


@dataclass(frozen=True)
class Signature:
    """What git says of one commit's signature."""

    status: str
    """git's %G?: G good, B bad, U good but key unknown or not valid then, X/Y expired,
    R revoked, E cannot be checked, N none."""
    principal: str
    fingerprint: str

    @property
    def good(self) -> bool:
        return self.status == "G" and bool(self.principal)

    def why_not(self) -> str:
        """Why this commit is not gitjit's ("" when it is)."""
        if self.good:
            return ""
        key = f" ({self.fingerprint})" if self.fingerprint else ""
        return {
            "N": "it is not signed",
            "B": f"its signature is broken{key}",
            "U": f"it is signed by a key that policies/allowed_signers does not list, or not "
                 f"for that date{key}",
            "X": f"its signature has expired{key}",
            "Y": f"it is signed by an expired key{key}",
            "R": f"it is signed by a revoked key{key}",
        }.get(self.status, f"its signature cannot be checked (an OpenPGP or X.509 signature, "
                           f"or an unreadable one){key}")


NOT_CONFIGURED = "no policies/allowed_signers on the default branch says which key is gitjit's"


class Verifier:
    """Checks commits against the allowed signers of the default branch."""

    def __init__(self, repo: GitRepository, signers: AllowedSigners | None) -> None:
        self.repo = repo
        self.signers = signers
        self._file: Path | None = None
        self._cache: dict[str, Signature] = {}

    def _signers_file(self) -> Path:
        if self._file is None:
            assert self.signers is not None
            folder = Path(tempfile.mkdtemp(prefix="gitjit-signers-"))
            atexit.register(shutil.rmtree, folder, True)
            self._file = folder / "allowed_signers"
            self._file.write_bytes(self.signers.raw)
        return self._file

    def why_untrusted(self, shas: Iterable[str]) -> dict[str, str]:
        """For each commit, "" when gitjit signed it, else why it is not gitjit's."""
        wanted = list(dict.fromkeys(shas))
        if self.signers is None:
            return dict.fromkeys(wanted, NOT_CONFIGURED)
        return {sha: sig.why_not() for sha, sig in self.signatures(wanted).items()}

    def signatures(self, shas: Iterable[str]) -> dict[str, Signature]:
        """One ``git log`` for all commits (git runs ssh-keygen for each signed one)."""
        wanted = [sha for sha in dict.fromkeys(shas) if sha not in self._cache]
        if wanted:
            if self.signers is None:
                raise ConfigurationError(NOT_CONFIGURED)
            env = _config_env({
                "gpg.ssh.allowedSignersFile": str(self._signers_file()),
                "gpg.ssh.program": "ssh-keygen",
                # Only SSH signatures are gitjit's: OpenPGP and X.509 never verify.
                "gpg.program": "false",
                "gpg.x509.program": "false",
            })
            result = self.repo.run(
                "log", "--no-walk=unsorted", "--no-show-signature", "--stdin",
                "--format=%H%x1f%G?%x1f%GS%x1f%GF%x1e", env=env,
                stdin="".join(f"{sha}\n" for sha in wanted).encode("ascii"),
            )
            for line in result.stdout.decode("utf-8", "replace").split("\x1e"):
                line = line.strip("\n")
                if not line:
                    continue
                sha, status, principal, fingerprint = (line.split("\x1f") + ["", "", ""])[:4]
                self._cache[sha] = Signature(status, principal, fingerprint)
            missing = [sha for sha in wanted if sha not in self._cache]
            if missing:
                raise GitError(f"git log printed no signature line for {missing[0]} in "
                               f"{self.repo.root}")
        return {sha: self._cache[sha] for sha in dict.fromkeys(shas)}
