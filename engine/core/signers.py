"""The keys that may sign gitjit's own commits: ``policies/allowed_signers``.

Every commit gitjit writes (ledger records, removal and refusal commits) is signed with an SSH
key that only the lifecycle jobs hold. The public keys live in the control plane, in git's own
allowed-signers format (``man ssh-keygen``, section ALLOWED SIGNERS), so an auditor verifies
gitjit's commits from a clone with git alone::

    git -c gpg.ssh.allowedSignersFile=policies/allowed_signers log --show-signature gitjit/ledger

The file is reviewed like a policy: adding a key to it is granting the power to write records.
This module only parses and checks the file (pure); git and ssh-keygen do the cryptography.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from dataclasses import dataclass

from engine.core.findings import Finding

SIGNERS_PATH = "policies/allowed_signers"
MAX_SIGNERS_BYTES = 64 * 1024

# Key types ssh-keygen signs and verifies commits with (certificate authorities excluded: a CA
# line would let any certificate it issued sign records, which is not a key under review).
KEY_TYPES = frozenset({
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
})
_OPTIONS = frozenset({"namespaces", "valid-after", "valid-before"})
_PRINCIPAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")
_TIME = re.compile(r"[0-9]{8}(?:[0-9]{4}(?:[0-9]{2})?)?Z?")
_OPTION = re.compile(r'([a-z-]+)(?:="([^"]*)")?')


@dataclass(frozen=True)
class AllowedSigner:
    """One line of the file: who, under which conditions, which public key."""

    principals: tuple[str, ...]
    key_type: str
    key: str
    """The base64 public key blob."""
    options: tuple[tuple[str, str], ...]
    line: int


@dataclass(frozen=True)
class AllowedSigners:
    raw: bytes
    """The file's bytes, handed to git as gpg.ssh.allowedSignersFile."""
    signers: tuple[AllowedSigner, ...]
    path: str = SIGNERS_PATH


def parse_allowed_signers(raw: bytes, path: str = SIGNERS_PATH
                          ) -> tuple[AllowedSigners | None, list[Finding]]:
    """The signers, or None with findings; every problem is reported with its line."""
    if len(raw) > MAX_SIGNERS_BYTES:
        return None, [Finding(path, 0, "signers.invalid",
                              f"the file is {len(raw)} bytes; keep it under "
                              f"{MAX_SIGNERS_BYTES} (it lists a few public keys)")]
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None, [Finding(path, 0, "signers.invalid",
                              "the file must be plain ASCII: one 'principal key-type key' per "
                              "line, as ssh-keygen writes public keys")]
    findings: list[Finding] = []
    signers: list[AllowedSigner] = []
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        signer, problem = _parse_line(stripped, number)
        if problem:
            findings.append(Finding(path, number, "signers.invalid", problem))
        elif signer is not None:
            signers.append(signer)
    if not findings and not signers:
        findings.append(Finding(path, 0, "signers.empty",
                                "no key is listed, so no gitjit commit can be trusted; add the "
                                "lifecycle key's line ('gitjit local keygen' prints one)"))
    if findings:
        return None, findings
    return AllowedSigners(raw, tuple(signers), path), []


def _parse_line(line: str, number: int) -> tuple[AllowedSigner | None, str]:
    if "\r" in line or "\t" in line:
        return None, "use single spaces between fields (no tabs or carriage returns)"
    principals_text, _, rest = line.partition(" ")
    principals = tuple(principals_text.split(","))
    bad = [p for p in principals if not _PRINCIPAL.fullmatch(p)]
    if bad:
        return None, (f"principal {bad[0]!r} is not a name: letters, digits and . _ @ + - "
                      "(e.g. 'gitjit'); patterns such as '*' would match anyone")
    options: tuple[tuple[str, str], ...] = ()
    fields = rest.split(" ")
    if fields and fields[0] not in KEY_TYPES:
        options_text = fields.pop(0)
        parsed, problem = _parse_options(options_text)
        if problem:
            return None, problem
        options = parsed
    if len(fields) < 2 or fields[0] not in KEY_TYPES:
        got = fields[0] if fields else "nothing"
        return None, (f"expected a key type ({', '.join(sorted(KEY_TYPES))}) then the key, got "
                      f"{got!r}; copy the line of the key's .pub file after the principal")
    key_type, key = fields[0], fields[1]
    embedded = _embedded_type(key)
    if embedded is None:
        return None, "the key is not valid base64 of an SSH public key; copy it from the .pub file"
    if embedded != key_type:
        return None, f"the key is a {embedded} key but the line says {key_type}"
    return AllowedSigner(principals, key_type, key, options, number), ""


def _parse_options(text: str) -> tuple[tuple[tuple[str, str], ...], str]:
    options = []
    # Options are comma-separated; values are quoted and hold no commas in the ones we allow.
    for part in text.split(","):
        match = _OPTION.fullmatch(part)
        if match is None:
            return (), f"cannot read the option {part!r}; write name=\"value\""
        name, value = match[1], match[2]
        if name == "cert-authority":
            return (), ("cert-authority is not allowed: list the lifecycle key itself, so the "
                        "keys that may write records are the ones under review")
        if name not in _OPTIONS:
            return (), (f"unknown option {name!r}; gitjit accepts {', '.join(sorted(_OPTIONS))}")
        if value is None:
            return (), f"option {name} needs a value: {name}=\"...\""
        if name == "namespaces" and "git" not in value.split(","):
            return (), ('namespaces must include "git": commit signatures use the git '
                        "namespace, so this key could never verify a commit")
        if name in ("valid-after", "valid-before") and not _TIME.fullmatch(value):
            return (), (f"{name} must be YYYYMMDD or YYYYMMDDHHMM[SS], optionally with Z for "
                        f"UTC, got {value!r}")
        options.append((name, value))
    return tuple(options), ""


def _embedded_type(key: str) -> str | None:
    """The key type written inside the base64 blob (a length-prefixed string)."""
    try:
        blob = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(blob) < 4:
        return None
    (length,) = struct.unpack(">I", blob[:4])
    if length > 64 or len(blob) < 4 + length:
        return None
    try:
        return blob[4:4 + length].decode("ascii")
    except UnicodeDecodeError:
        return None
