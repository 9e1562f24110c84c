"""The ledger on the branch ``gitjit/ledger`` of a local repository.

Written with git plumbing only (hash-object, mktree, commit-tree, update-ref): the user's
checkout, index and current branch are never touched, so the ledger can be written from any
clone, even one with uncommitted work. Each append is one commit adding one record file; the
branch moves by compare-and-swap, so two writers racing never lose or duplicate a record.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from engine.adapters.git import GitRepository, parse_ls_tree, parse_raw_diff
from engine.adapters.signing import (
    KEY_ENV,
    NOT_CONFIGURED,
    CommitSigner,
    SigningError,
    Verifier,
)
from engine.core.changes import REGULAR_FILE, SUBMODULE, Change, TreeEntry
from engine.core.findings import Finding
from engine.core.grants import GRANTS_DIR
from engine.core.ledger import (
    INDEX_PATH,
    KEYS_DIR,
    RECORDS_DIR,
    LedgerCommit,
    LedgerIndex,
    LedgerState,
    Record,
    RecordError,
    build_index,
    commit_message,
    index_after,
    index_json,
    is_ledger_message,
    key_path,
    parse_index,
    parse_record,
    read_chain,
    record_key,
    record_path,
    referenced_commits,
    to_json,
    verify_coverage,
    verify_index,
    verify_references,
)
from engine.core.signers import SIGNERS_PATH, AllowedSigners
from engine.errors import ConfigurationError, GitError, GitjitError

LEDGER_REF = "refs/heads/gitjit/ledger"
REMOTE_LEDGER_REF = "refs/remotes/origin/gitjit/ledger"
"""Where a fresh clone holds the ledger: git clone fetches it as a remote-tracking branch."""
MAX_ATTEMPTS = 50
"""Compare-and-swap attempts before giving up; each lost race means another record landed."""
MAX_UNTRUSTED = 1000
"""Commits of others walked back from the tip while looking for gitjit's newest one."""
MAX_DESCRIBED = 50
"""Untrusted commits whose claims are read and reported in one run."""
_TREE_MODE = "040000"
_RECORDS = RECORDS_DIR.rstrip("/")


@dataclass(frozen=True)
class _Snapshot:
    """Every record of the trusted commit (for audit and to build an index)."""

    records: tuple[Record, ...]
    """The records, in file-name (that is, seq) order."""
    unreadable: tuple[str, ...]
    """Why each file of records/ that is not a readable record was skipped."""


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
        if b"origin" not in repo.git("remote").split():
            # A repository without a remote (a trial with the local forge) has no ledger
            # elsewhere to fetch: nothing has been activated in it yet.
            raise LedgerNotFoundError(
                f"no ledger yet in {repo.root}: nothing has been activated here ("
                f"'gitjit activate' writes the first record, to {LEDGER_REF})")
        raise LedgerNotFoundError(
            f"no ledger in {repo.root}: neither {LEDGER_REF} nor {REMOTE_LEDGER_REF} exists; "
            "if origin has one, fetch it (git fetch origin gitjit/ledger:gitjit/ledger); "
            "otherwise nothing has been activated yet"
        )
    if local is None:
        return REMOTE_LEDGER_REF
    if remote is None or remote == local:
        return LEDGER_REF
    behind = repo.git("rev-list", "--count", f"{remote}..{local}").decode("ascii").strip()
    return REMOTE_LEDGER_REF if behind == "0" else LEDGER_REF


class Ledger:
    """The append-only ledger of grant state changes, kept on ``ref`` in ``repo``.

    Only commits gitjit signed are believed (``signers``: the allowed signers of the default
    branch). The ledger as gitjit knows it is the tree of the newest such commit on the
    branch's first-parent line; anything pushed after it by others is ``forged``: reported,
    never read as a record. gitjit appends on top of the branch as it is (it cannot rewrite
    what others pushed, and the evidence stays), but builds its tree from the trusted one, so
    whatever a forged commit added, changed or deleted is undone in the next signed commit.
    """

    def __init__(self, repo: GitRepository, *, ref: str = LEDGER_REF,
                 signers: AllowedSigners | None = None,
                 signer: CommitSigner | None = None) -> None:
        self.repo = repo
        self.ref = ref
        self.verifier = Verifier(repo, signers)
        self.signer = signer
        self.main: str | None = None

    def __repr__(self) -> str:
        return f"Ledger({self.repo!r}, ref={self.ref!r})"

    def trust(self, signers: AllowedSigners | None, signer: CommitSigner | None,
              main: str | None = None) -> None:
        """Read with ``signers`` (the default branch's allowed signers, as a run found them)
        and sign with ``signer`` from now on; ``main``: the default branch's tip the run works
        on, kept in the index of what it appends."""
        self.verifier = Verifier(self.repo, signers)
        self.signer = signer
        self.main = main

    def tip(self) -> str | None:
        """The ledger branch's newest commit, whoever made it; None while there is none."""
        return self.repo.ref_target(self.ref)

    def state(self) -> LedgerState:
        """What gitjit trusts of the ledger now, and what it does not: a fixed amount of work
        whatever the ledger's length (the index, and the open grants' records)."""
        tip = self.tip()
        if tip is None:
            return LedgerState(None, None, (), ())
        if self.verifier.signers is None:
            return LedgerState(tip, None, (), (), problem=NOT_CONFIGURED)
        trusted, forged, problem = self._trusted_tip(tip)
        index, unreadable = self._index(trusted)
        paths = {path for item in index.open.values() for path in (item.activated, item.target)}
        found = self._read_records(trusted, paths, unreadable) if trusted else {}
        opened = []
        for gid, item in sorted(index.open.items()):
            activated, current = found.get(item.activated), found.get(item.target)
            if activated is None or current is None or current.target is None:
                unreadable.append(f"{item.target} ({self.ref}): the open grant {gid} has no "
                                  "readable record of where its access is")
                continue
            opened.append((activated, current.target))
        return LedgerState(tip, trusted, tuple(self._describe(forged)), tuple(unreadable),
                           problem=problem, index=index, open=tuple(opened))

    def records(self) -> list[Record]:
        """Every trusted record, oldest first (read from the newest commit gitjit signed).
        Reads them all: for audit; a run uses ``state`` and ``find``."""
        tip = self.tip()
        trusted = self._trusted_tip(tip)[0] if tip is not None else None
        return list(self._snapshot(trusted).records)

    def find(self, keys: Iterable[str]) -> dict[str, Record]:
        """The trusted records with these idempotency keys (``record_key``), where recorded;
        a few git processes whatever the ledger's length."""
        wanted = list(dict.fromkeys(keys))
        tip = self.tip()
        trusted = self._trusted_tip(tip)[0] if tip is not None and wanted else None
        if trusted is None:
            return {}
        if not self._has(trusted, INDEX_PATH):
            # A ledger from before the index: read it all, once.
            by_key = {record_key(r): r for r in self._snapshot(trusted).records}
            return {key: by_key[key] for key in wanted if key in by_key}
        paths = self._read_paths(trusted, [key_path(key) for key in wanted])
        named = {key: raw.decode("ascii", "replace").strip()
                 for key in wanted if (raw := paths.get(key_path(key))) is not None}
        unreadable: list[str] = []
        records = self._read_records(trusted, set(named.values()), unreadable)
        return {key: records[path] for key, path in named.items() if path in records}

    def append(self, draft: Record, *, main: str | None = None) -> Record | None:
        """Record a state change; None when the same change (``record_key``) is recorded.

        ``draft`` has seq 0 and no prev: the ledger numbers and chains it. When another writer
        moves the branch first, the append re-reads and retries, so a rerun or a concurrent
        reconcile converges on one record per state change. ``main``: the default branch's
        tip the run works on, kept in the index for the next run.
        """
        if draft.seq != 0 or draft.prev != "":
            raise ValueError(
                f"append a draft (seq 0, prev empty), not {draft.label()}: the ledger numbers "
                "and chains records itself"
            )
        if self.verifier.signers is None:
            raise ConfigurationError(f"{NOT_CONFIGURED}: gitjit writes no record that nobody "
                                     "could verify; add policies/allowed_signers")
        if self.signer is None:
            raise SigningError("this run has no signing key, so it cannot write the ledger; "
                               f"set {KEY_ENV} (or run 'gitjit local keygen')")
        key = record_key(draft)
        for attempt in range(MAX_ATTEMPTS):
            tip = self.tip()
            trusted = self._trusted_tip(tip)[0] if tip is not None else None
            if trusted is not None and self.find([key]):
                return None
            index, _ = self._index(trusted)
            record = replace(draft, seq=index.seq + 1, prev=index.hash)
            commit = self._commit(trusted, index, record, tip, main or self.main)
            message = f"gitjit: {record.event} {record.grant_id}"
            if self.repo.update_ref(self.ref, commit, tip, message=message):
                return record
            # Lost the race: another record landed. A short, growing pause spreads writers out.
            time.sleep(min(0.005 * (attempt + 1), 0.1))
        raise GitError(
            f"could not append to {self.ref} in {self.repo.root} after {MAX_ATTEMPTS} attempts: "
            "other writers kept moving it; run again when they are done"
        )

    def verify(self, default_branch: str) -> list[Finding]:
        """Every finding about the ledger's integrity and coverage, sorted.

        Walks every commit on the ledger's first-parent line and checks its signature: a
        commit gitjit did not sign is ``ledger.forged``. The signed ones must each add exactly
        one record to the one signed before, numbered 1, 2, 3 ... and each holding the hash
        of the one before. Every commit a record names must exist here, and every grant file
        on ``default_branch`` must have been activated or refused.
        """
        if self.verifier.signers is None:
            return [Finding(SIGNERS_PATH, 0, "ledger.unverifiable",
                            f"{NOT_CONFIGURED}, so no record can be told from a forgery; add "
                            "the lifecycle key's public key to policies/allowed_signers")]
        commits = self._commits(self.tip())
        stored, findings = read_chain(commits)
        trusted = next((c.sha for c in reversed(commits) if not c.untrusted), None)
        if trusted is not None:
            raw = self._read_paths(trusted, [INDEX_PATH]).get(INDEX_PATH)
            try:
                index = parse_index(raw) if raw is not None else None
            except RecordError:
                index = None
            findings += verify_index(stored, index, self._keys(trusted), trusted[:12])
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

    # -- trust ---------------------------------------------------------------------------

    def _trusted_tip(self, tip: str) -> tuple[str | None, list[tuple[str, str]], str]:
        """The newest commit gitjit signed on the first-parent line from ``tip``, the commits
        after it (newest first, each with why it is not gitjit's), and a problem if the walk
        gave up. Usually the tip itself: one signature check."""
        forged: list[tuple[str, str]] = []
        skip, batch = 0, 1
        while skip < MAX_UNTRUSTED:
            shas = self.repo.git(
                "rev-list", "--first-parent", f"--max-count={batch}", f"--skip={skip}", tip
            ).decode("ascii").split()
            if not shas:
                return None, forged, ""
            why = self.verifier.why_untrusted(shas)
            messages = self.repo.read_objects([s for s in shas if not why[s]], "commit")
            for sha in shas:
                reason = why[sha]
                if not reason and not is_ledger_message(_parse_commit(sha, messages[sha])[1]):
                    reason = "it is signed by gitjit but is not a ledger commit"
                if not reason:
                    return sha, forged, ""
                forged.append((sha, reason))
            skip += len(shas)
            batch = min(batch * 4, 256)
        return None, forged, (f"none of the newest {MAX_UNTRUSTED} commits of {self.ref} is "
                              "gitjit's; nothing in it is trusted")

    def _describe(self, forged: list[tuple[str, str]]) -> list[LedgerCommit]:
        """What each untrusted commit claims (its changes against its first parent), oldest
        first; only the newest MAX_DESCRIBED are read in full."""
        if not forged:
            return []
        shown = forged[:MAX_DESCRIBED]
        objects = self.repo.read_objects([sha for sha, _ in shown], "commit")
        parsed = {sha: _parse_commit(sha, objects[sha]) for sha, _ in shown}
        lines = [sha if not parsed[sha][0] else f"{sha} {parsed[sha][0][0]}" for sha, _ in shown]
        changes = _diff_tree(self.repo, lines)
        wanted = {c.new_blob for sha, _ in shown for c in changes.get(sha, [])
                  if c.status in ("A", "M") and c.new_mode == REGULAR_FILE}
        blobs = self.repo.read_objects(wanted, "blob")
        commits = [
            LedgerCommit(sha=sha, parents=parsed[sha][0], message=parsed[sha][1],
                         changes=tuple(sorted(changes.get(sha, []), key=lambda c: c.path)),
                         blobs={c.new_blob: blobs[c.new_blob] for c in changes.get(sha, [])
                                if c.new_blob in blobs},
                         untrusted=reason)
            for sha, reason in shown
        ]
        commits.reverse()
        return commits

    # -- reading -------------------------------------------------------------------------

    def _snapshot(self, trusted: str | None) -> _Snapshot:
        """Every record in the tree of the trusted commit. A file there that does not read as
        a record is skipped and reported, never allowed to stop the run."""
        if trusted is None:
            return _Snapshot((), ())
        folder = self._folder(trusted)
        if folder is None:
            return _Snapshot((), ())
        files = tuple(sorted(parse_ls_tree(self.repo.git("ls-tree", "-z", folder)), key=_name))
        regular = [entry for entry in files if entry.mode == REGULAR_FILE]
        unreadable = [f"{RECORDS_DIR}{entry.path} ({self.ref} at {trusted[:12]}): not a "
                      "regular file" for entry in files if entry.mode != REGULAR_FILE]
        blobs = self.repo.read_objects((entry.blob for entry in regular), "blob")
        records = []
        for entry in regular:
            try:
                records.append(parse_record(
                    blobs[entry.blob], source=f"{RECORDS_DIR}{entry.path} ({self.ref})"))
            except RecordError as exc:
                unreadable.append(str(exc))
        return _Snapshot(tuple(records), tuple(unreadable))

    def _folder(self, commit: str) -> str | None:
        root = parse_ls_tree(self.repo.git("ls-tree", "-z", commit, "--", _RECORDS))
        folder = next((e for e in root if e.path == _RECORDS and e.mode == _TREE_MODE), None)
        return folder.blob if folder else None

    def _index(self, trusted: str | None) -> tuple[LedgerIndex, list[str]]:
        """The trusted commit's index; built from its records where it has none (a ledger
        written before the index existed) or where it cannot be read."""
        if trusted is None:
            return LedgerIndex(), []
        raw = self._read_paths(trusted, [INDEX_PATH]).get(INDEX_PATH)
        problems: list[str] = []
        if raw is not None:
            try:
                return parse_index(raw, source=f"{INDEX_PATH} ({self.ref} at {trusted[:12]})"), []
            except RecordError as exc:
                problems.append(f"{exc}; rebuilt from the records")
        snapshot = self._snapshot(trusted)
        return build_index(snapshot.records), problems + list(snapshot.unreadable)

    def _has(self, commit: str, path: str) -> bool:
        return self._read_paths(commit, [path]).get(path) is not None

    def _read_paths(self, commit: str, paths: Iterable[str]) -> dict[str, bytes | None]:
        """The blobs at ``paths`` of ``commit`` (None where absent), with one git process.
        Only gitjit's own paths are asked (records/, keys/, index.json: no newlines)."""
        wanted = list(dict.fromkeys(paths))
        if not wanted:
            return {}
        out = self.repo.git("cat-file", "--batch",
                            stdin="".join(f"{commit}:{path}\n" for path in wanted).encode())
        found: dict[str, bytes | None] = {}
        pos = 0
        for path in wanted:
            end = out.find(b"\n", pos)
            header = out[pos:end].decode("utf-8", "replace")
            if header.endswith(" missing"):
                found[path] = None
                pos = end + 1
                continue
            parts = header.split(" ")
            if len(parts) != 3:
                raise GitError(f"git cat-file --batch in {self.repo.root}: unexpected {header!r}")
            size = int(parts[2])
            found[path] = out[end + 1:end + 1 + size] if parts[1] == "blob" else None
            pos = end + 1 + size + 1
        return found

    def _read_records(self, commit: str, paths: Iterable[str],
                      unreadable: list[str]) -> dict[str, Record]:
        records: dict[str, Record] = {}
        for path, raw in self._read_paths(commit, paths).items():
            if raw is None:
                unreadable.append(f"{path} ({self.ref} at {commit[:12]}): missing")
                continue
            try:
                records[path] = parse_record(raw, source=f"{path} ({self.ref})")
            except RecordError as exc:
                unreadable.append(str(exc))
        return records

    def _commits(self, tip: str | None) -> list[LedgerCommit]:
        """Every commit on the ledger's first-parent line, oldest first, each with its trust,
        what it changed and the records it added.

        A trusted commit is compared with the trusted commit before it (the first one with
        nothing), an untrusted one with its first parent. A fixed number of git processes
        whatever the length (git itself runs ssh-keygen once per signed commit).
        """
        if tip is None:
            return []
        shas = self.repo.git("rev-list", "--first-parent", "--reverse", tip).decode().split()
        objects = self.repo.read_objects(shas, "commit")
        parsed = {sha: _parse_commit(sha, objects[sha]) for sha in shas}
        why = self.verifier.why_untrusted(shas)
        for sha in shas:
            if not why[sha] and not is_ledger_message(parsed[sha][1]):
                why[sha] = "it is signed by gitjit but is not a ledger commit"
        lines: list[str] = []
        first_trusted: str | None = None
        previous: str | None = None
        for sha in shas:
            if why[sha]:
                parents = parsed[sha][0]
                lines.append(f"{sha} {parents[0]}" if parents else sha)
            elif previous is None:
                first_trusted = sha
                previous = sha
            else:
                lines.append(f"{sha} {previous}")
                previous = sha
        changes = _diff_tree(self.repo, lines)
        if first_trusted is not None:
            changes[first_trusted] = _all_added(self.repo, first_trusted)
        commits = [
            LedgerCommit(sha=sha, parents=parsed[sha][0], message=parsed[sha][1],
                         changes=tuple(sorted(changes.get(sha, []), key=lambda c: c.path)),
                         untrusted=why[sha])
            for sha in shas
        ]
        wanted = {
            change.new_blob
            for commit in commits
            for change in commit.changes
            if change.status in ("A", "M") and change.new_mode == REGULAR_FILE
        }
        blobs = self.repo.read_objects(wanted, "blob")
        return [
            replace(commit, blobs={c.new_blob: blobs[c.new_blob] for c in commit.changes
                                   if c.new_blob in blobs})
            for commit in commits
        ]

    # -- writing -------------------------------------------------------------------------

    def _commit(self, trusted: str | None, index: LedgerIndex, record: Record,
                parent: str | None, main: str | None) -> str:
        """A signed commit of the trusted tree plus the record's file, its key and the new
        index, on top of ``parent`` (the branch's tip, whoever made it). Anything else in
        the trusted tree is not carried over."""
        assert self.signer is not None
        path = record_path(record)
        name = path.removeprefix(RECORDS_DIR)
        folder = self._folder(trusted) if trusted else None
        files = [e for e in (parse_ls_tree(self.repo.git("ls-tree", "-z", folder))
                             if folder else []) if e.path != name and e.mode == REGULAR_FILE]
        files.append(TreeEntry(name, REGULAR_FILE, self._blob(to_json(record))))
        keys = self._keys_tree(trusted, key_path(record_key(record)), self._blob(path.encode()))
        index_blob = self._blob(index_json(index_after(index, record, path, main)))
        tree = self._mktree([
            TreeEntry(_RECORDS, _TREE_MODE, self._mktree(files)),
            TreeEntry(KEYS_DIR.rstrip("/"), _TREE_MODE, keys),
            TreeEntry(INDEX_PATH, REGULAR_FILE, index_blob),
        ])
        parents = [parent] if parent else []
        return self.repo.commit_tree(tree, parents, commit_message(record),
                                     signing=self.signer.config())

    def _keys_tree(self, trusted: str | None, path: str, blob: str) -> str:
        """keys/ of the trusted tree with one more entry (keys/<2 hex>/<hash>)."""
        shard, name = path.removeprefix(KEYS_DIR).split("/")
        shards = {e.path: e for e in self._ls(trusted, KEYS_DIR.rstrip("/"))} if trusted else {}
        inner = [e for e in (self._ls_tree_of(shards[shard].blob) if shard in shards else [])
                 if e.path != name]
        inner.append(TreeEntry(name, REGULAR_FILE, blob))
        shards[shard] = TreeEntry(shard, _TREE_MODE, self._mktree(inner))
        return self._mktree(list(shards.values()))

    def _keys(self, commit: str) -> dict[str, bytes]:
        """Every entry under keys/ of ``commit``, with its content."""
        listing = parse_ls_tree(self.repo.git("ls-tree", "-r", "-z", "--full-tree", commit,
                                              "--", KEYS_DIR.rstrip("/")))
        blobs = self.repo.read_objects((e.blob for e in listing), "blob")
        return {e.path: blobs[e.blob] for e in listing}

    def _ls(self, commit: str | None, folder: str) -> list[TreeEntry]:
        """The entries of ``folder`` (a top-level folder) in ``commit``."""
        if commit is None:
            return []
        root = parse_ls_tree(self.repo.git("ls-tree", "-z", commit, "--", folder))
        entry = next((e for e in root if e.path == folder and e.mode == _TREE_MODE), None)
        return self._ls_tree_of(entry.blob) if entry else []

    def _ls_tree_of(self, tree: str) -> list[TreeEntry]:
        return parse_ls_tree(self.repo.git("ls-tree", "-z", tree))

    def _blob(self, content: bytes) -> str:
        return (self.repo.git("hash-object", "-w", "--no-filters", "--stdin", stdin=content)
                .decode("ascii").strip())

    def _mktree(self, entries: Sequence[TreeEntry]) -> str:
        # mktree sorts the entries itself and writes only the tree object: no index involved.
        listing = b"".join(
            f"{entry.mode} {_object_type(entry.mode)} {entry.blob}\t{entry.path}\0".encode()
            for entry in entries
        )
        return self.repo.git("mktree", "-z", stdin=listing).decode("ascii").strip()


def _diff_tree(repo: GitRepository, lines: list[str]) -> dict[str, list[Change]]:
    """``git diff-tree --stdin``: each line is a commit, optionally followed by the commit to
    compare it with (otherwise it is compared with nothing: a root commit)."""
    if not lines:
        return {}
    raw = repo.git(
        "diff-tree", "--stdin", "-r", "-z", "--root", "--no-renames", "--no-abbrev",
        "--no-ext-diff", "--no-textconv", "--ignore-submodules=none",
        stdin="".join(f"{line}\n" for line in lines).encode("ascii"),
    )
    return _parse_diff_tree(raw)


def _all_added(repo: GitRepository, sha: str) -> list[Change]:
    """Every file of commit ``sha`` as an addition (the first trusted commit's content)."""
    entries = parse_ls_tree(repo.git("ls-tree", "-r", "-z", "--full-tree", sha))
    zero = "0" * len(sha)
    return [Change(status="A", path=e.path, old_mode="000000", new_mode=e.mode,
                   old_blob=zero, new_blob=e.blob) for e in entries]


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
