"""Build a real lifecycle history of N grants, fast: the repository ``gitjit activate``,
``reconcile``, ``status`` and ``audit`` would have after N grants went through request,
approval, merge, activation, expiry and removal, ten at a time.

Driving N grants through the CLI one batch at a time takes hours (issue 14: 2,000 grants in
52 minutes), so the history is written directly, in the exact shapes gitjit and the local
forge write it:

- **main**: a configuration commit, then per cycle of ten grants: the signed removal commit of
  the grants that ended (what ``reconcile`` commits with ``removal: push``: the files
  deleted, one ``Gitjit-Removed`` trailer per grant), and ten request commits, each merged by
  its own merge commit (first parent the branch, second the request, as the local forge's
  ``merge`` makes them);
- **the local forge's pull requests** (``.git/gitjit/forge.json``): one merged pull request
  per grant, approved by one DBA and one security engineer on its head before the merge;
- **the ledger** (``gitjit/ledger``): per grant an ``activated`` record (what activation
  writes: the pull request, base, head and merge, the counted reviews, the configuration's
  blobs, the window) and an ``expired`` one (what reconcile writes), made with
  engine.core.ledger's own functions (``chain``, ``record_path``, ``record_key``,
  ``index_after``), one signed commit per record holding records/, keys/ and index.json as
  ``Ledger.append`` builds them.

Trees and blobs come from one ``git fast-import`` stream; the commits are then written again
on the same trees with their final parents, the signed ones (every ledger commit and every
removal) with an SSH signature made by ``ssh-keygen -Y sign -n git``, exactly as git's
``commit-tree -S`` asks ssh-keygen for one. Signatures chain (a commit's hash covers its
parent's), so there is one ssh-keygen per signed commit: about 8 ms each.

The history ends in the state the lifecycle benchmarks start from, at ``NOW``:

- the newest batch of ten grants is merged and not yet activated (``pending``);
- the batch before it is activated and expired at ``NOW`` (``ending``): its access is still in
  the target, its end not yet recorded;
- every older grant has ended, its end recorded and its file removed.

The target is the recording target (a JSON file beside the repository), holding the access of
the ``ending`` batch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.generate import GRANT_TEMPLATE
from engine import __version__
from engine.adapters.git import scrubbed_env
from engine.adapters.signing import LOCAL_KEY, generate_key
from engine.core import trailers
from engine.core.grants import grant_id
from engine.core.ledger import (
    INDEX_PATH,
    AppliedTarget,
    CountedReview,
    Event,
    ExpiryEnforcer,
    LedgerIndex,
    Record,
    chain,
    commit_message,
    index_after,
    index_json,
    key_path,
    record_key,
    record_path,
    to_json,
)
from engine.core.models import GrantId, ReviewState

PROJECT = Path(__file__).resolve().parent.parent
_UNKNOWN = "0" * 40
"""A commit not written yet (records are drafted before main's final commits exist)."""
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
"""When the benchmarks run activate, reconcile and status."""
BATCH = 10
"""Grants per cycle: merged together, activated by one run, ended by one run."""
CYCLE = timedelta(minutes=40)
DURATION = timedelta(hours=1)
"""Every grant's duration: a batch activated in one cycle ends during the next but one."""
APPROVERS = ("dba1", "sec1")
GITJIT = ("gitjit", "gitjit@example.invalid")
"""Who gitjit's own commits name (a workflow's git identity)."""
FORGE = ("gitjit local forge", "local-forge@gitjit.invalid")
"""The local forge's committer (engine.adapters.localforge)."""
_LAST = NOW - timedelta(minutes=45)
"""When the last cycle starts: its batch was merged 35 to 44 minutes before NOW (live), the
one before 75 to 84 minutes before (expired by NOW)."""

POLICY = """\
# Generated: two approval steps, a ticket, one live grant per requester, the recording target.
apiVersion: gitjit/v1
kind: Policy
id: {id}
description: Role {role} on the orders database (generated)
target: {{provider: recording, connection: rec, role: {role}}}
requesters: [group:engineers]
approvals:
  - {{from: [group:dba], count: 1}}
  - {{from: [group:security], count: 1}}
duration: {{default: 1h, max: 4h}}
justification: {{min_length: 20}}
ticket: {{required: true, pattern: "^(INC|CHG)-[0-9]+$"}}
limits: {{max_active_per_requester: 1}}
"""
GROUPS = """\
# Generated: every engineer may request every policy.
apiVersion: gitjit/v1
kind: Groups
groups:
  engineers: [{engineers}]
  dba: [dba1, dba2]
  security: [sec1, sec2]
"""
SETTINGS = """\
apiVersion: gitjit/v1
kind: Settings
connections:
  rec: {{provider: recording, path: "{path}"}}
removal: push
"""


@dataclass(frozen=True)
class Planned:
    """One grant of the history."""

    number: int
    """Its pull request's number (1, 2, ...)."""
    path: str
    text: str
    policy: str
    requester: str
    opened: datetime
    reviewed: datetime
    merged: datetime
    batch: int

    @property
    def gid(self) -> GrantId:
        return GrantId(grant_id(self.path))

    @property
    def head_ref(self) -> str:
        return f"request/{self.gid.replace('/', '-')}"

    @property
    def title(self) -> str:
        return f"Request {self.policy} for {self.requester}"


@dataclass(frozen=True)
class Built:
    """A generated lifecycle history and what the benchmarks need to know about it."""

    repo: Path
    recording: Path
    """The recording target's file."""
    grants: int
    records: int
    now: datetime
    pending: tuple[str, ...]
    """Paths of the grants merged and not yet activated (the newest batch)."""
    ending: tuple[GrantId, ...]
    """Grants activated whose window closed by ``now``, their end not yet recorded."""
    expected: dict[GrantId, Record] = field(default_factory=dict)
    """The activated record activation should write for each pending grant (seq, prev and
    ``at`` aside): what the builder wrote for every older grant."""


def policy_id(index: int) -> str:
    return f"db-role-{index:04d}"


def requester(index: int) -> str:
    return f"dev{index:04d}"


def cycle_start(batch: int, batches: int) -> datetime:
    return _LAST - CYCLE * (batches - 1 - batch)


def plan(grants: int, policies: int, requesters: int) -> list[Planned]:
    """``grants`` grants, ten per cycle, round-robin over policies and requesters (so a
    requester never holds two at once)."""
    if grants % BATCH or grants < 3 * BATCH:
        raise ValueError(f"--grants must be a multiple of {BATCH}, at least {3 * BATCH}")
    if requesters < 2 * BATCH:
        raise ValueError(f"need at least {2 * BATCH} requesters")
    batches = grants // BATCH
    planned = []
    for index in range(grants):
        batch, slot = divmod(index, BATCH)
        start = cycle_start(batch, batches)
        who, policy = requester(index % requesters), policy_id(index % policies)
        opened = start - timedelta(minutes=20)
        ticket = f"INC-{index + 1}"
        planned.append(Planned(
            number=index + 1, path=f"grants/{policy}/{who}-{opened:%Y%m%dT%H%MZ}.yaml",
            text=GRANT_TEMPLATE.format(policy=policy, requester=who, ticket=ticket), policy=policy,
            requester=who, opened=opened,
            reviewed=start - timedelta(minutes=10) + timedelta(seconds=slot),
            merged=start + timedelta(minutes=1, seconds=30 * slot), batch=batch))
    return planned


# -- git objects ------------------------------------------------------------------------------


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(["git", *args], cwd=repo, env=scrubbed_env(), input=stdin,
                            capture_output=True, check=False)
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"git {args[0]} failed in {repo}: {message}")
    return result.stdout


def _ident(who: tuple[str, str], at: datetime) -> bytes:
    return f"{who[0]} <{who[1]}> {int(at.timestamp())} +0000".encode()


class _Stream:
    """A ``git fast-import`` stream: it writes the blobs and trees; the commits it makes are
    scaffolding, written again with their final parents and signatures (``_Rewriter``)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.marks = 0

    def _data(self, raw: bytes) -> None:
        self.parts += [b"data %d\n" % len(raw), raw, b"\n"]

    def commit(self, ref: str, author: bytes, committer: bytes, message: str,
               parent: int | None, *, merge: int | None = None,
               files: Sequence[tuple[str, bytes]] = (), deletes: Sequence[str] = ()) -> int:
        self.marks += 1
        self.parts += [b"commit %s\n" % ref.encode(), b"mark :%d\n" % self.marks,
                       b"author " + author + b"\n", b"committer " + committer + b"\n"]
        self._data(message.encode())
        if parent is not None:
            self.parts.append(b"from :%d\n" % parent)
        if merge is not None:
            self.parts.append(b"merge :%d\n" % merge)
        for path in deletes:
            self.parts.append(b"D %s\n" % path.encode())
        for path, raw in files:
            self.parts.append(b"M 100644 inline %s\n" % path.encode())
            self._data(raw)
        return self.marks

    def run(self, repo: Path) -> dict[int, str]:
        """Import; the commit SHA of every mark."""
        marks = repo / ".git" / "bench-marks"
        _git(repo, "fast-import", "--quiet", "--done", f"--export-marks={marks}",
             stdin=b"".join([*self.parts, b"done\n"]))
        found = {}
        for line in marks.read_text(encoding="ascii").splitlines():
            mark, sha = line.split()
            found[int(mark[1:])] = sha
        marks.unlink()
        return found


class _Signer:
    """SSH signatures as git's ``commit-tree -S`` makes them (gpg.format ssh): the commit
    without its signature, signed by ``ssh-keygen -Y sign -n git``, in a ``gpgsig`` header."""

    def __init__(self, key: Path) -> None:
        self.key = key

    def header(self, payload: bytes) -> bytes:
        result = subprocess.run(["ssh-keygen", "-Y", "sign", "-n", "git", "-f", str(self.key)],
                                input=payload, capture_output=True, check=True)
        lines = result.stdout.decode("ascii").strip("\n").split("\n")
        return ("gpgsig " + "\n ".join(lines) + "\n").encode("ascii")


class _Rewriter:
    """Writes commit objects (loose, as git does) on trees fast-import made."""

    def __init__(self, repo: Path, signer: _Signer) -> None:
        self.objects = repo / ".git" / "objects"
        self.signer = signer
        self.reader = subprocess.Popen(["git", "cat-file", "--batch"], cwd=repo,
                                       env=scrubbed_env(), stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE)

    def read(self, sha: str) -> bytes:
        assert self.reader.stdin is not None and self.reader.stdout is not None
        self.reader.stdin.write(sha.encode() + b"\n")
        self.reader.stdin.flush()
        header = self.reader.stdout.readline().split()
        body = self.reader.stdout.read(int(header[2]) + 1)
        return body[:-1]

    def close(self) -> None:
        assert self.reader.stdin is not None and self.reader.stdout is not None
        self.reader.stdin.close()
        self.reader.wait()
        self.reader.stdout.close()

    def rewrite(self, scaffold: str, parents: Sequence[str], *, signed: bool) -> str:
        """The scaffold commit again, with ``parents`` (and a signature)."""
        raw = self.read(scaffold)
        headers, _, message = raw.partition(b"\n\n")
        lines = headers.split(b"\n")
        kept = [line for line in lines if not line.startswith(b"parent ")]
        body = b"\n".join([kept[0], *(b"parent " + p.encode() for p in parents), *kept[1:]])
        payload = body + b"\n\n" + message
        if signed:
            payload = body + b"\n" + self.signer.header(payload).rstrip(b"\n") + \
                b"\n\n" + message
        return self.write("commit", payload)

    def write(self, kind: str, body: bytes) -> str:
        raw = b"%s %d\0" % (kind.encode(), len(body)) + body
        sha = hashlib.sha1(raw).hexdigest()  # noqa: S324 - git's object name
        folder = self.objects / sha[:2]
        folder.mkdir(exist_ok=True)
        target = folder / sha[2:]
        if not target.exists():
            temp = folder / f"tmp-{sha[2:]}"
            temp.write_bytes(zlib.compress(raw, 1))
            os.replace(temp, target)
        return sha


# -- the forge ----------------------------------------------------------------------------


def _time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def forge_state(planned: Sequence[Planned], heads: dict[int, str],
                merges: dict[int, str]) -> dict[str, Any]:
    """The local forge's state (engine.adapters.localforge) after each pull request was opened,
    approved by both approvers on its head, and merged by the first."""
    records: dict[str, Any] = {}
    next_id = 1
    for grant in planned:
        reviews = []
        for offset, login in enumerate(APPROVERS):
            reviews.append({"id": next_id, "reviewer": login, "state": "APPROVED",
                            "commit": heads[grant.number],
                            "submitted_at": _time(grant.reviewed + timedelta(seconds=offset)),
                            "is_bot": False, "body": ""})
            next_id += 1
        records[str(grant.number)] = {
            "number": grant.number, "author": grant.requester, "base": "main",
            "head_ref": grant.head_ref, "head_sha": heads[grant.number], "title": grant.title,
            "body": "", "state": "merged", "opened_at": _time(grant.opened),
            "merge_sha": merges[grant.number], "merged_at": _time(grant.merged),
            "merged_by": APPROVERS[0], "closed_at": None, "reviews": reviews, "pushers": [],
            "comments": {},
        }
    return {"version": 1, "next_number": len(planned) + 1, "next_id": next_id,
            "pull_requests": records}


# -- the records ----------------------------------------------------------------------------


def activated(grant: Planned, at: datetime, *, base: str, head: str, merge: str,
              blobs: dict[str, str]) -> Record:
    """The draft activation writes for ``grant`` (engine/lifecycle/activation.py)."""
    return Record(
        event=Event.ACTIVATED, grant_id=grant.gid, policy=grant.policy,
        requester=grant.requester, at=at, pull_request=grant.number, base_sha=base,
        head_sha=head, merge_sha=merge,
        reviews=tuple(CountedReview(login, ReviewState.APPROVED, head,
                                    grant.reviewed + timedelta(seconds=offset))
                      for offset, login in enumerate(APPROVERS)),
        policy_blob=blobs[f"policies/{grant.policy}.yaml"],
        groups_blob=blobs["policies/groups.yaml"], engine_version=__version__,
        activated_at=grant.merged, expires_at=grant.merged + DURATION,
        expiry_enforced_by=ExpiryEnforcer.GITJIT,
        target=_target(grant.policy))


def expired(activation: Record, at: datetime) -> Record:
    """The draft reconcile writes when the grant's time is up (``_finish``)."""
    assert activation.expires_at is not None
    return replace(activation, seq=0, prev="", event=Event.EXPIRED, at=at, detail="",
                   subject="", engine_version=__version__,
                   ended_at=min(activation.expires_at, at))


def _target(policy: str) -> AppliedTarget:
    return AppliedTarget("recording", "rec", (("connection", "rec"), ("role", _role(policy))))


def _role(policy: str) -> str:
    return "orders_" + policy.replace("-", "_")


def removal_message(ends: Sequence[Record], paths: Sequence[str]) -> str:
    """reconcile's removal commit (``_remove_ended``)."""
    by_id = {r.grant_id: r for r in ends}
    lines = []
    for path in paths:
        record = by_id[GrantId(grant_id(path))]
        assert record.expires_at is not None
        lines.append(trailers.format_removed(record.grant_id, record.expires_at, record.at))
    return ("gitjit: remove ended grants\n\nTheir access was revoked (or is held by "
            "another live grant); the ledger records each end.\n\n" + "\n".join(lines) + "\n")


# -- building -------------------------------------------------------------------------------


def build(dest: Path, grants: int = 1000, policies: int = 20, requesters: int = 500) -> Built:
    """Write the history into ``dest`` (new or empty); the recording target's file and the
    signing key go beside it (``<dest>.recording.json``, ``<dest>.key``)."""
    dest = dest.resolve()
    if dest.exists() and any(dest.iterdir()):
        raise ValueError(f"{dest} is not empty; give a new directory")
    planned = plan(grants, policies, requesters)
    batches = grants // BATCH
    dest.mkdir(parents=True, exist_ok=True)
    _git(dest, "init", "--quiet", "--initial-branch=main")
    recording = dest.with_name(dest.name + ".recording.json")
    key = dest / ".git" / LOCAL_KEY
    signers_line = generate_key(key)

    config = [("policies/groups.yaml", GROUPS.format(
                  engineers=", ".join(requester(i) for i in range(requesters)))),
              ("policies/settings.yaml", SETTINGS.format(path=recording)),
              ("policies/allowed_signers", signers_line + "\n")]
    config += [(f"policies/{policy_id(i)}.yaml", POLICY.format(id=policy_id(i),
                                                               role=_role(policy_id(i))))
               for i in range(policies)]
    config += [(f"schemas/{path.name}", path.read_text(encoding="utf-8"))
               for path in sorted((PROJECT / "schemas").glob("*.schema.json"))]

    # Pass 1: blobs and trees, through scaffold commits.
    stream = _Stream()
    start = cycle_start(0, batches) - timedelta(days=1)
    first = stream.commit("refs/heads/main", _ident(GITJIT, start), _ident(GITJIT, start),
                          "Access configuration\n", None,
                          files=[(p, t.encode()) for p, t in config])
    order: list[tuple[str, int, tuple[int, ...]]] = [("config", first, ())]
    """(what, scaffold mark, parent marks) in the order the commits are written again."""
    tip = first
    removed_in: dict[int, int] = {}
    for batch in range(batches):
        cycle = [g for g in planned if g.batch == batch]
        when = cycle_start(batch, batches)
        requests = {}
        for grant in cycle:
            who = (grant.requester, f"{grant.requester}@example.invalid")
            requests[grant.number] = stream.commit(
                "refs/heads/bench-request", _ident(who, grant.opened), _ident(who, grant.opened),
                f"{grant.title}\n", tip, files=[(grant.path, grant.text.encode())])
            order.append((f"request {grant.number}", requests[grant.number], (tip,)))
        if batch >= 2:
            gone = [g for g in planned if g.batch == batch - 2]
            mark = stream.commit("refs/heads/main", _ident(GITJIT, when), _ident(GITJIT, when),
                                 "removal placeholder\n", tip, deletes=[g.path for g in gone])
            order.append(("removal", mark, (tip,)))
            removed_in[batch] = mark
            tip = mark
        for grant in cycle:
            merger = (APPROVERS[0], f"{APPROVERS[0]}@users.noreply.gitjit.invalid")
            mark = stream.commit(
                "refs/heads/main", _ident(merger, grant.merged), _ident(FORGE, grant.merged),
                f"Merge pull request #{grant.number} from {grant.head_ref}\n\n{grant.title}\n",
                tip, merge=requests[grant.number], files=[(grant.path, grant.text.encode())])
            order.append((f"merge {grant.number}", mark, (tip, requests[grant.number])))
            tip = mark
    scaffold = stream.run(dest)

    # Pass 2: main's commits, final, the removals signed (their messages need the records'
    # times, which are the cycles' times: known already).
    signer = _Signer(key)
    writer = _Rewriter(dest, signer)
    blobs = _config_blobs(dest, scaffold[first])
    final: dict[int, str] = {}
    heads: dict[int, str] = {}
    merges: dict[int, str] = {}
    bases: dict[int, str] = {}
    tips_after: dict[int, str] = {}
    """main's tip after each batch's merges (what the activation run of that cycle saw)."""
    tips_before: dict[int, str] = {}
    """main's tip when each cycle's reconcile ran (before its removal)."""
    activations: dict[GrantId, Record] = {}
    for grant in planned:
        if grant.batch < batches - 1:
            activations[grant.gid] = activated(
                grant, cycle_start(grant.batch, batches) + timedelta(minutes=8),
                base=_UNKNOWN, head=_UNKNOWN, merge=_UNKNOWN, blobs=blobs)
    ends: dict[int, list[Record]] = {}
    by_number = {g.number: g for g in planned}
    current = ""
    for what, mark, parents in order:
        mapped = [final[p] for p in parents]
        if what == "removal":
            batch = next(b for b, m in removed_in.items() if m == mark)
            when = cycle_start(batch, batches)
            tips_before[batch] = current
            gone = [g for g in planned if g.batch == batch - 2]
            ends[batch] = [expired(activations[g.gid], when) for g in gone]
            message = removal_message(ends[batch], sorted(g.path for g in gone))
            final[mark] = _signed_with_message(writer, scaffold[mark], mapped, message)
            current = final[mark]
            continue
        final[mark] = writer.rewrite(scaffold[mark], mapped, signed=False)
        if what.startswith("request "):
            heads[int(what.split()[1])] = final[mark]
        elif what.startswith("merge "):
            number = int(what.split()[1])
            merges[number], bases[number] = final[mark], mapped[0]
            current = final[mark]
            tips_after[by_number[number].batch] = current
        else:
            current = final[mark]
    _git(dest, "update-ref", "refs/heads/main", current)
    _git(dest, "update-ref", "-d", "refs/heads/bench-request")

    # The forge's pull requests.
    forge = dest / ".git" / "gitjit" / "forge.json"
    forge.parent.mkdir(parents=True, exist_ok=True)
    forge.write_text(json.dumps(forge_state(planned, heads, merges), indent=2, sort_keys=True)
                     + "\n", encoding="utf-8")

    # The ledger: the records in the order the runs wrote them.
    for gid, draft in list(activations.items()):
        number = next(g.number for g in planned if g.gid == gid)
        activations[gid] = replace(draft, base_sha=bases[number], head_sha=heads[number],
                                   merge_sha=merges[number],
                                   reviews=tuple(replace(r, commit=heads[number])
                                                 for r in draft.reviews))
    runs: list[tuple[str, list[Record]]] = []
    for batch in range(batches):
        cycle = [g for g in planned if g.batch == batch]
        if batch >= 2:
            gone = [g for g in planned if g.batch == batch - 2]
            when = cycle_start(batch, batches)
            runs.append((tips_before[batch], [expired(activations[g.gid], when) for g in gone]))
        if batch < batches - 1:
            runs.append((tips_after[batch], [activations[g.gid] for g in cycle]))
    records = _write_ledger(dest, writer, runs)
    writer.close()
    _git(dest, "repack", "-a", "-d", "-q")
    _git(dest, "prune", "--expire=now")
    _git(dest, "reset", "--hard", "--quiet", "main")

    pending = [g for g in planned if g.batch == batches - 1]
    ending = [g for g in planned if g.batch == batches - 2]
    _record_access(recording, [activations[g.gid] for g in ending])
    expected = {g.gid: activated(g, NOW, base=_parent(dest, merges[g.number]),
                                 head=heads[g.number], merge=merges[g.number], blobs=blobs)
                for g in pending}
    return Built(repo=dest, recording=recording, grants=grants, records=records, now=NOW,
                 pending=tuple(g.path for g in pending), ending=tuple(g.gid for g in ending),
                 expected=expected)


def _signed_with_message(writer: _Rewriter, scaffold: str, parents: Sequence[str],
                         message: str) -> str:
    raw = writer.read(scaffold)
    headers, _, _ = raw.partition(b"\n\n")
    lines = [line for line in headers.split(b"\n") if not line.startswith(b"parent ")]
    body = b"\n".join([lines[0], *(b"parent " + p.encode() for p in parents), *lines[1:]])
    payload = body + b"\n\n" + message.encode()
    signature = writer.signer.header(payload).rstrip(b"\n")
    return writer.write("commit", body + b"\n" + signature + b"\n\n" + message.encode())


def _parent(repo: Path, commit: str) -> str:
    return _git(repo, "rev-parse", f"{commit}^1").decode().strip()


def _config_blobs(repo: Path, commit: str) -> dict[str, str]:
    listing = _git(repo, "ls-tree", "-r", "-z", commit, "--", "policies").split(b"\0")
    found = {}
    for line in listing:
        if line:
            info, _, path = line.partition(b"\t")
            found[path.decode()] = info.split()[2].decode()
    return found


def _write_ledger(repo: Path, writer: _Rewriter,
                  runs: Iterable[tuple[str, list[Record]]]) -> int:
    """Each run's records, in order, one signed commit each, as ``Ledger.append`` writes
    them: the record, its key, the new index (``main``: the tip that run saw)."""
    stream = _Stream()
    index = LedgerIndex()
    previous: Record | None = None
    chained: list[tuple[int, Record]] = []
    parent: int | None = None
    for main, drafts in runs:
        for draft in drafts:
            record = chain(draft, previous)
            path = record_path(record)
            index = index_after(index, record, path, main)
            stamp = _ident(GITJIT, record.at)
            parent = stream.commit(
                "refs/heads/bench-ledger", stamp, stamp, commit_message(record), parent,
                files=[(path, to_json(record)), (key_path(record_key(record)), path.encode()),
                       (INDEX_PATH, index_json(index))])
            chained.append((parent, record))
            previous = record
    scaffold = stream.run(repo)
    tip: str | None = None
    for mark, _record in chained:
        tip = writer.rewrite(scaffold[mark], [tip] if tip else [], signed=True)
    assert tip is not None
    _git(repo, "update-ref", "refs/heads/gitjit/ledger", tip)
    _git(repo, "update-ref", "-d", "refs/heads/bench-ledger")
    return len(chained)


def _record_access(recording: Path, live: Sequence[Record]) -> None:
    """The recording target's file holding ``live``'s access, written by the target itself."""
    from engine.core.models import Login, PolicyId, Settings
    from engine.lifecycle.targets import Targets

    recording.unlink(missing_ok=True)
    settings = Settings(connections={"rec": {"provider": "recording", "path": str(recording)}})
    targets = Targets(settings)
    for record in live:
        assert record.target is not None and record.activated_at and record.expires_at
        assignment = targets.assignment(record.target, PolicyId(record.policy),
                                        record.grant_id, Login(record.requester),
                                        record.activated_at, record.expires_at)
        targets.plugin(record.target).apply(assignment)


def copy_state(built: Built, into: Path) -> None:
    """Keep what a run changes outside git (the forge's state, the target's file)."""
    into.mkdir(parents=True, exist_ok=True)
    shutil.copy2(built.repo / ".git" / "gitjit" / "forge.json", into / "forge.json")
    shutil.copy2(built.recording, into / "recording.json")
