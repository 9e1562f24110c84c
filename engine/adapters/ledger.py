"""The ledger on the branch ``gitjit/ledger`` of a local repository.

Written with git plumbing only (hash-object, mktree, commit-tree, update-ref): the user's
checkout, index and current branch are never touched, so the ledger can be written from any
clone, even one with uncommitted work. Each append is one commit adding one record file; the
branch moves by compare-and-swap, so two writers racing never lose or duplicate a record.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from engine.adapters.git import GitRepository, parse_ls_tree, parse_raw_diff
from engine.core.changes import REGULAR_FILE, SUBMODULE, Change, TreeEntry
from engine.core.findings import Finding
from engine.core.grants import GRANTS_DIR
from engine.core.ledger import (
    RECORDS_DIR,
    LedgerCommit,
    Record,
    RecordError,
    added_records,
    chain,
    commit_message,
    parse_record,
    read_chain,
    record_key,
    record_path,
    referenced_commits,
    to_json,
    verify_coverage,
    verify_references,
)
from engine.errors import GitError, GitjitError

LEDGER_REF = "refs/heads/gitjit/ledger"
REMOTE_LEDGER_REF = "refs/remotes/origin/gitjit/ledger"
"""Where a fresh clone holds the ledger: git clone fetches it as a remote-tracking branch."""
MAX_ATTEMPTS = 50
"""Compare-and-swap attempts before giving up; each lost race means another record landed."""
_TREE_MODE = "040000"
_RECORDS = RECORDS_DIR.rstrip("/")


@dataclass(frozen=True)
class _Snapshot:
    """The ledger at one tip: what an append builds on."""

    tip: str | None
    root: tuple[TreeEntry, ...]
    """The top-level entries of the tip's tree."""
    files: tuple[TreeEntry, ...]
    """The entries of records/ at the tip."""
    records: tuple[Record, ...]
    """The records at the tip, in file-name (that is, seq) order."""


class LedgerNotFoundError(GitjitError):
    """Neither the ledger branch nor its remote-tracking copy exists in the clone."""


def find_ledger_ref(repo: GitRepository) -> str:
    """The ref holding the ledger: the local branch, else origin's copy of it.

    A clone made by ``git clone`` has only ``origin/gitjit/ledger``. When both exist and the
    local branch is behind the remote one (a ``git fetch`` moved only the remote copy), the
    remote one is newer and wins; otherwise the local branch is the one gitjit writes to.
    """
    local = repo.ref_target(LEDGER_REF)
    remote = repo.ref_target(REMOTE_LEDGER_REF)
    if local is None and remote is None:
        raise LedgerNotFoundError(
            f"no ledger in {repo.root}: neither {LEDGER_REF} nor {REMOTE_LEDGER_REF} exists; "
            "fetch the gitjit/ledger branch (git fetch origin gitjit/ledger:gitjit/ledger)"
        )
    if local is None:
        return REMOTE_LEDGER_REF
    if remote is None or remote == local:
        return LEDGER_REF
    behind = repo.git("rev-list", "--count", f"{remote}..{local}").decode("ascii").strip()
    return REMOTE_LEDGER_REF if behind == "0" else LEDGER_REF


class Ledger:
    """The append-only ledger of grant state changes, kept on ``ref`` in ``repo``."""

    def __init__(self, repo: GitRepository, *, ref: str = LEDGER_REF) -> None:
        self.repo = repo
        self.ref = ref

    def __repr__(self) -> str:
        return f"Ledger({self.repo!r}, ref={self.ref!r})"

    def tip(self) -> str | None:
        """The ledger's newest commit; None while nothing has been recorded."""
        return self.repo.ref_target(self.ref)

    def records(self) -> list[Record]:
        """Every record, oldest first; RecordError if one cannot be read.

        Read from the tip's records/ folder (one ls-tree, one cat-file), which is fast at any
        size; whether history agrees with it is ``verify``'s question.
        """
        return list(self._snapshot(self.tip()).records)

    def append(self, draft: Record) -> Record | None:
        """Record a state change; None when the same change (``record_key``) is recorded.

        ``draft`` has seq 0 and no prev: the ledger numbers and chains it. When another writer
        moves the branch first, the append re-reads and retries, so a rerun or a concurrent
        reconcile converges on one record per state change.
        """
        if draft.seq != 0 or draft.prev != "":
            raise ValueError(
                f"append a draft (seq 0, prev empty), not {draft.label()}: the ledger numbers "
                "and chains records itself"
            )
        key = record_key(draft)
        for attempt in range(MAX_ATTEMPTS):
            snapshot = self._snapshot(self.tip())
            if any(record_key(record) == key for record in snapshot.records):
                return None
            record = chain(draft, snapshot.records[-1] if snapshot.records else None)
            commit = self._commit(snapshot, record)
            message = f"gitjit: {record.event} {record.grant_id}"
            if self.repo.update_ref(self.ref, commit, snapshot.tip, message=message):
                return record
            # Lost the race: another record landed. A short, growing pause spreads writers out.
            time.sleep(min(0.005 * (attempt + 1), 0.1))
        raise GitError(
            f"could not append to {self.ref} in {self.repo.root} after {MAX_ATTEMPTS} attempts: "
            "other writers kept moving it; run again when they are done"
        )

    def verify(self, default_branch: str) -> list[Finding]:
        """Every finding about the ledger's integrity and coverage, sorted.

        Walks every ledger commit: each must add exactly one record and change nothing else,
        in one straight line, with records numbered 1, 2, 3 ... and each holding the hash of
        the one before. Every commit a record names must exist here, and every grant file on
        ``default_branch`` must have been activated or refused.
        """
        commits = self._commits(self.tip())
        stored, findings = read_chain(commits)
        findings += verify_references(
            stored, self.repo.object_types(referenced_commits(stored))
        )
        grant_paths = [
            entry.path
            for entry in self.repo.tree(default_branch).entries(GRANTS_DIR)
            if entry.path.endswith(".yaml")
        ]
        findings += verify_coverage(stored, grant_paths, default_branch)
        return sorted(findings)

    # -- reading -------------------------------------------------------------------------

    def _snapshot(self, tip: str | None) -> _Snapshot:
        if tip is None:
            return _Snapshot(None, (), (), ())
        root = tuple(parse_ls_tree(self.repo.git("ls-tree", "-z", tip)))
        folder = next((entry for entry in root if entry.path == _RECORDS), None)
        if folder is None:
            return _Snapshot(tip, root, (), ())
        if folder.mode != _TREE_MODE:
            raise RecordError(
                f"{self.ref} at {tip[:12]}: records is not a folder; run 'gitjit audit verify'"
            )
        files = tuple(
            sorted(parse_ls_tree(self.repo.git("ls-tree", "-z", folder.blob)), key=_name)
        )
        odd = [entry.path for entry in files if entry.mode != REGULAR_FILE]
        if odd:
            raise RecordError(
                f"{self.ref} at {tip[:12]}: records/{odd[0]} is not a regular file; run "
                "'gitjit audit verify'"
            )
        blobs = self.repo.read_objects((entry.blob for entry in files), "blob")
        records = tuple(
            parse_record(blobs[entry.blob], source=f"{RECORDS_DIR}{entry.path} ({self.ref})")
            for entry in files
        )
        return _Snapshot(tip, root, files, records)

    def _commits(self, tip: str | None) -> list[LedgerCommit]:
        """Every ledger commit, oldest first, with what it changed and the records it added.

        Four git processes whatever the length: rev-list, cat-file (commits), diff-tree
        (each commit against the one before it), cat-file (the added records).
        """
        if tip is None:
            return []
        shas = self.repo.git("rev-list", "--first-parent", "--reverse", tip).decode().split()
        objects = self.repo.read_objects(shas, "commit")
        parsed = {sha: _parse_commit(sha, objects[sha]) for sha in shas}
        lines = [sha if i == 0 else f"{sha} {shas[i - 1]}" for i, sha in enumerate(shas)]
        raw = self.repo.git(
            "diff-tree",
            "--stdin",
            "-r",
            "-z",
            "--root",
            "--no-renames",
            "--no-abbrev",
            "--no-ext-diff",
            "--no-textconv",
            "--ignore-submodules=none",
            stdin="".join(f"{line}\n" for line in lines).encode("ascii"),
        )
        changes = _parse_diff_tree(raw)
        commits = [
            LedgerCommit(
                sha=sha,
                parents=parsed[sha][0],
                message=parsed[sha][1],
                changes=tuple(sorted(changes.get(sha, []), key=lambda c: c.path)),
            )
            for sha in shas
        ]
        wanted = {
            change.new_blob
            for commit in commits
            for change in added_records(commit)
            if change.new_mode != SUBMODULE
        }
        blobs = self.repo.read_objects(wanted, "blob")
        return [
            LedgerCommit(
                sha=commit.sha,
                parents=commit.parents,
                message=commit.message,
                changes=commit.changes,
                blobs={
                    c.new_blob: blobs[c.new_blob]
                    for c in added_records(commit)
                    if c.new_blob in blobs
                },
            )
            for commit in commits
        ]

    # -- writing -------------------------------------------------------------------------

    def _commit(self, snapshot: _Snapshot, record: Record) -> str:
        """A commit of the snapshot's tree plus the record's file, parented on its tip."""
        blob = (
            self.repo.git("hash-object", "-w", "--no-filters", "--stdin", stdin=to_json(record))
            .decode("ascii")
            .strip()
        )
        name = record_path(record).removeprefix(RECORDS_DIR)
        files = [entry for entry in snapshot.files if entry.path != name]
        files.append(TreeEntry(path=name, mode=REGULAR_FILE, blob=blob))
        folder = self._mktree(files)
        root = [entry for entry in snapshot.root if entry.path != _RECORDS]
        root.append(TreeEntry(path=_RECORDS, mode=_TREE_MODE, blob=folder))
        tree = self._mktree(root)
        parents = [snapshot.tip] if snapshot.tip else []
        return self.repo.commit_tree(tree, parents, commit_message(record))

    def _mktree(self, entries: Sequence[TreeEntry]) -> str:
        # mktree sorts the entries itself and writes only the tree object: no index involved.
        listing = b"".join(
            f"{entry.mode} {_object_type(entry.mode)} {entry.blob}\t{entry.path}\0".encode()
            for entry in entries
        )
        return self.repo.git("mktree", "-z", stdin=listing).decode("ascii").strip()


def _name(entry: TreeEntry) -> str:
    return entry.path


def _object_type(mode: str) -> str:
    if mode == _TREE_MODE:
        return "tree"
    if mode == SUBMODULE:
        return "commit"
    return "blob"


def _parse_commit(sha: str, raw: bytes) -> tuple[tuple[str, ...], str]:
    """The parents and message of a raw commit object."""
    headers, _blank, message = raw.partition(b"\n\n")
    parents = tuple(
        line[len(b"parent ") :].decode("ascii").strip()
        for line in headers.split(b"\n")
        if line.startswith(b"parent ")
    )
    if not headers.startswith(b"tree "):
        raise GitError(f"commit {sha} is not a well-formed commit object (run 'git fsck')")
    return parents, message.decode("utf-8", "replace")


def _parse_diff_tree(raw: bytes) -> dict[str, list[Change]]:
    """Parse ``git diff-tree --stdin -r -z`` output: a commit SHA, then its raw records.

    A commit whose diff is empty prints nothing at all. Paths are read only right after a
    ':' header, so a path that looks like a SHA is never taken for a commit.
    """
    fields = raw.split(b"\0")
    if fields and fields[-1] == b"":
        fields.pop()
    changes: dict[str, list[Change]] = {}
    current: str | None = None
    index = 0
    while index < len(fields):
        token = fields[index]
        if token.startswith(b":"):
            if current is None or index + 1 >= len(fields):
                raise GitError(f"git diff-tree printed an unexpected record: {token!r}")
            changes[current] += parse_raw_diff(token + b"\0" + fields[index + 1] + b"\0")
            index += 2
            continue
        current = token.decode("ascii", "replace").strip()
        changes.setdefault(current, [])
        index += 1
    return changes
