"""Git over smart HTTP for the emulator: ``git http-backend`` as a CGI, behind GitHub's rules.

A test (or the code under test) clones, fetches and pushes with plain git at
``{emulator.url}/{owner}/{repo}.git``, authenticated as GitHub authenticates git over HTTPS:
HTTP basic auth whose password is a token (``x-access-token:<token>``, what
``engine/adapters/remote.py`` sends as an ``http.extraheader``). Reading needs read access,
pushing needs write.

Every push goes through a ``pre-receive`` hook that asks the emulator (over loopback, with a
one-time key) whether each ref update is allowed by the repository's classic branch protection
and active rulesets (``GitHubEmulator.push_violations``). A refused push is refused whole, with
GitHub's words on the client's terminal::

    remote: error: GH013: Repository rule violations found for refs/heads/main.
    remote: Review all repository rules at https://.../acme/access/rules?ref=refs%2Fheads%2Fmain
    remote:
    remote: - Changes must be made through a pull request.
    remote:
     ! [remote rejected] main -> main (push declined due to repository rule violations)

The ref status git's receive-pack would print ("pre-receive hook declined") is rewritten in
the report-status stream to GitHub's ("push declined due to repository rule violations" for a
ruleset, "protected branch hook declined" for classic protection). ``refs/pull/*`` is hidden
from pushes, as on GitHub. The bare repository's own path stays open to the harness (a
``file://`` push there is the server's administrator and meets no rule).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

GIT_PATH = re.compile(
    r"^/(?P<owner>[^/]+)/(?P<name>[^/]+?)(?:\.git)?/"
    r"(?P<rest>info/refs|git-upload-pack|git-receive-pack)$"
)
HOOK_ROUTE = "/_emulator/pre-receive"
"""Where the pre-receive hook asks the emulator; not a GitHub route."""

RULESET_DECLINED = "push declined due to repository rule violations"
PROTECTION_DECLINED = "protected branch hook declined"

_HOOK = '''#!{python}
"""The emulator's pre-receive hook: asks the emulator whether GitHub's rules allow the push."""
import json, os, subprocess, sys, urllib.request

ZERO = "0" * 40


def git(*args):
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


updates = []
for line in sys.stdin.read().splitlines():
    old, new, ref = line.split(" ", 2)
    fast_forward = old == ZERO or new == ZERO or \\
        git("merge-base", "--is-ancestor", old, new).returncode == 0
    span = [new, "--not", "--all"] if old == ZERO else [f"{{old}}..{{new}}"]
    merges = new != ZERO and bool(git("rev-list", "--min-parents=2", *span).stdout.strip())
    updates.append({{"old": old, "new": new, "ref": ref, "fast_forward": fast_forward,
                    "merges": merges}})
request = urllib.request.Request(
    os.environ["GITHUB_EMULATOR_URL"] + "{route}", method="POST",
    data=json.dumps({{"push": os.environ["GITHUB_EMULATOR_PUSH"], "updates": updates}}).encode(),
    headers={{"Content-Type": "application/json"}})
opener = urllib.request.build_opener(urllib.request.ProxyHandler({{}}))
with opener.open(request, timeout=60) as response:
    answer = json.load(response)
sys.stderr.write(answer["message"])
sys.exit(0 if answer["allow"] else 1)
'''


@dataclass
class Push:
    """One receive-pack request in flight: who pushes where, and what the rules said."""

    repo: str
    login: str
    declined: str | None = None
    """The ref status GitHub prints when the push was refused (set by the hook's answer)."""
    messages: list[str] = field(default_factory=list)


def basic_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Basic`` header (GitHub ignores the user name)."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    _, _, password = decoded.partition(":")
    return password or None


def write_hook(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    hook = directory / "pre-receive"
    hook.write_text(_HOOK.format(python=sys.executable, route=HOOK_ROUTE), "utf-8")
    hook.chmod(0o755)


def run_backend(
    *,
    root: Path,
    hooks: Path,
    path_info: str,
    method: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    login: str,
    emulator_url: str,
    push_key: str | None,
) -> tuple[int, dict[str, str], bytes]:
    """Run ``git http-backend`` for one request; (status, headers, body) of its CGI answer."""
    # The server's environment, not the test process's git settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    config = {
        "core.hooksPath": str(hooks),
        # GitHub refuses pushes to refs/pull/* ("deny updating a hidden ref").
        "receive.hideRefs": "refs/pull",
        "http.receivepack": "true",
        "uploadpack.allowReachableSHA1InWant": "true",
    }
    env.update(
        {
            "GIT_PROJECT_ROOT": str(root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path_info,
            "REQUEST_METHOD": method,
            "QUERY_STRING": query,
            "CONTENT_TYPE": headers.get("content-type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": login,
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_CONFIG_COUNT": str(len(config)),
            "GITHUB_EMULATOR_URL": emulator_url,
        }
    )
    for index, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    if push_key is not None:
        env["GITHUB_EMULATOR_PUSH"] = push_key
    if "git-protocol" in headers:
        env["GIT_PROTOCOL"] = headers["git-protocol"]
    if "content-encoding" in headers:
        env["HTTP_CONTENT_ENCODING"] = headers["content-encoding"]
    done = subprocess.run(
        ["git", "http-backend"], input=body, capture_output=True, env=env, check=False,
        timeout=300,
    )
    raw = done.stdout
    head, sep, payload = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, payload = raw.partition(b"\n\n")
    status = 200 if done.returncode == 0 else 500
    out: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines():
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.strip().split()[0])
        elif key:
            out[key.strip()] = value.strip()
    if done.returncode != 0 and not payload:
        payload = done.stderr
    return status, out, payload


def new_push_key() -> str:
    return secrets.token_hex(16)


# -- pkt-lines: rewriting receive-pack's report-status -------------------------------------------


def _packets(data: bytes) -> list[bytes | None]:
    """pkt-lines of ``data``; None for a flush packet."""
    out: list[bytes | None] = []
    at = 0
    while at + 4 <= len(data):
        try:
            size = int(data[at : at + 4], 16)
        except ValueError:  # the pack after a push's commands
            break
        if size == 0:
            out.append(None)
            at += 4
            continue
        out.append(data[at + 4 : at + size])
        at += size
    return out


def _encode(packets: list[bytes | None]) -> bytes:
    return b"".join(b"0000" if p is None else b"%04x" % (len(p) + 4) + p for p in packets)


def _rewrite_report(report: bytes, reason: str) -> bytes:
    packets = _packets(report)
    fixed = [
        p.replace(b"pre-receive hook declined", reason.encode())
        if p is not None and p.startswith(b"ng ")
        else p
        for p in packets
    ]
    return _encode(fixed)


def rewrite_declined(response: bytes, reason: str, *, sideband: bool) -> bytes:
    """receive-pack's answer with each refused ref's status in GitHub's words."""
    if not sideband:
        return _rewrite_report(response, reason)
    packets = _packets(response)
    band1 = b"".join(p[1:] for p in packets if p is not None and p[:1] == b"\x01")
    out: list[bytes | None] = []
    placed = False
    for packet in packets:
        if packet is not None and packet[:1] == b"\x01":
            if not placed:
                fixed = _rewrite_report(band1, reason)
                out += [b"\x01" + fixed[i : i + 65515] for i in range(0, len(fixed), 65515)]
                placed = True
            continue
        out.append(packet)
    return _encode(out)


def wants_sideband(request_body: bytes) -> bool:
    """Whether the push's first command asked for side-band (its capabilities list)."""
    packets = _packets(request_body[:65536])
    first = next((p for p in packets if p is not None), b"")
    _, _, capabilities = first.partition(b"\0")
    return b"side-band" in capabilities
