"""The ledger on gitjit/ledger in real throwaway repositories: writing, racing, tampering."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.adapters.git import GitRepository
from engine.adapters.ledger import LEDGER_REF, Ledger
from engine.adapters.signing import CommitSigner
from engine.core.findings import Finding
from engine.core.ledger import (
    AppliedTarget,
    CountedReview,
    Event,
    ExpiryEnforcer,
    LedgerIndex,
    Record,
    commit_message,
    index_after,
    index_json,
    key_path,
    parse_index,
    parse_record,
    record_key,
    record_path,
    to_json,
)
from engine.core.models import GrantId, ReviewState
from engine.core.signers import parse_allowed_signers
from tests import signing
from tests.gitrepo import GitRepoBuilder

PROJECT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
BOB = GrantId("prod-db/bob-20260105T0900Z")
ALICE = GrantId("prod-db/alice-20260105T1000Z")
CAROL = GrantId("prod-db/carol-20260105T1100Z")


SIGNERS = parse_allowed_signers(signing.signers_line(signing.key()).encode() + b"\n")[0]
TARGET = AppliedTarget("postgres", "orders", (("connection", "orders"), ("role", "admin")))


def signed(repo: GitRepository) -> Ledger:
    """The ledger as gitjit reads and writes it: trusting the test key, signing with it."""
    return Ledger(repo, signers=SIGNERS, signer=CommitSigner(signing.key()))


def activated(repo: GitRepoBuilder, grant: GrantId = BOB, **changes: object) -> Record:
    """A draft activation whose SHAs all name real commits of ``repo``."""
    head = repo.sha("main")
    record = Record(
        event=Event.ACTIVATED,
        grant_id=grant,
        policy="prod-db",
        requester=grant.split("/")[1].split("-")[0],
        at=AT,
        pull_request=7,
        base_sha=head,
        head_sha=head,
        merge_sha=head,
        reviews=(CountedReview("dave", ReviewState.APPROVED, head, AT - timedelta(hours=1)),),
        policy_blob="e" * 40,
        groups_blob="f" * 40,
        engine_version="0.1.0",
        activated_at=AT,
        expires_at=AT + timedelta(hours=2),
        expiry_enforced_by=ExpiryEnforcer.GITJIT,
        target=TARGET,
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def expired(grant: GrantId = BOB) -> Record:
    return Record(
        event=Event.EXPIRED,
        grant_id=grant,
        policy="prod-db",
        requester=grant.split("/")[1].split("-")[0],
        at=AT + timedelta(hours=2),
        engine_version="0.1.0",
    )


def three(repo: GitRepoBuilder) -> tuple[Ledger, list[Record]]:
    """A ledger holding: 1 bob activated, 2 alice activated, 3 bob expired."""
    ledger = signed(GitRepository(repo.path))
    drafts = [activated(repo), activated(repo, ALICE), expired()]
    written = [ledger.append(d) for d in drafts]
    records = [r for r in written if r is not None]
    assert len(records) == 3
    return ledger, records


def ledger_files(repo: GitRepoBuilder) -> list[str]:
    return repo.git("ls-tree", "-r", "--name-only", LEDGER_REF).split()


def rewrite_history(repo: GitRepoBuilder, contents: Sequence[bytes], *,
                    key: Path | None = None) -> None:
    """Replace the ledger with a fresh straight line of commits, one per record given.

    What someone with push rights could do by hand: every commit well formed, trailers
    right, the index and keys built with gitjit's own code: only the records themselves tell.
    With ``key`` the commits are signed with it (an insider holding the lifecycle key, or
    another key).
    """
    index = repo.path.parent / f"{repo.path.name}-forged-index"
    env = {"GIT_INDEX_FILE": str(index)}
    repo.git("read-tree", "--empty", env=env)
    parent: str | None = None
    summary = LedgerIndex()
    for raw in contents:
        record = parse_record(raw)
        path = record_path(record)
        summary = index_after(summary, record, path, None)
        for name, content in ((path, raw), (key_path(record_key(record)), path.encode()),
                              ("index.json", index_json(summary))):
            entry = f"100644,{_hash(repo, content)},{name}"
            repo.git("update-index", "--add", "--cacheinfo", entry, env=env)
        tree = repo.git("write-tree", env=env).strip()
        args = ["commit-tree", tree, "-m", commit_message(record).rstrip("\n")]
        if parent:
            args += ["-p", parent]
        if key is not None:
            args = ["-c", "gpg.format=ssh", "-c", f"user.signingKey={key}", *args, "-S"]
        parent = repo.git(*args, env=env).strip()
    assert parent is not None
    repo.git("update-ref", LEDGER_REF, parent)


def _hash(repo: GitRepoBuilder, raw: bytes) -> str:
    result = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], cwd=repo.path, input=raw, capture_output=True,
        check=True,
    )
    return result.stdout.decode().strip()


def blob_at(repo: GitRepoBuilder, record: Record) -> bytes:
    return subprocess.run(
        ["git", "cat-file", "blob", f"{LEDGER_REF}:{record_path(record)}"], cwd=repo.path,
        capture_output=True, check=True,
    ).stdout


# -- writing and reading -----------------------------------------------------------------


def test_an_empty_ledger(repo: GitRepoBuilder) -> None:
    ledger = signed(GitRepository(repo.path))
    assert ledger.tip() is None
    assert ledger.records() == []
    assert ledger.verify("main") == []


def test_append_and_read_back_without_touching_the_checkout(repo: GitRepoBuilder) -> None:
    repo.write("notes.txt", "uncommitted work\n")
    repo.git("add", "notes.txt")
    status = repo.git("status", "--porcelain=v1")
    head = repo.sha("HEAD")

    ledger, records = three(repo)

    assert [(r.seq, r.event, r.grant_id) for r in records] == [
        (1, Event.ACTIVATED, BOB), (2, Event.ACTIVATED, ALICE), (3, Event.EXPIRED, BOB),
    ]
    assert signed(GitRepository(repo.path)).records() == records
    files = ledger_files(repo)
    assert [f for f in files if f.startswith("records/")] == [
        "records/00000001-activated-prod-db_bob-20260105T0900Z.json",
        "records/00000002-activated-prod-db_alice-20260105T1000Z.json",
        "records/00000003-expired-prod-db_bob-20260105T0900Z.json",
    ]
    # Beside the records: one key per record, and the index a run reads instead of them all.
    assert sorted(f for f in files if not f.startswith("records/")) == sorted(
        ["index.json", *(key_path(record_key(r)) for r in records)])
    index = parse_index(repo.git("cat-file", "blob", f"{LEDGER_REF}:index.json").encode())
    assert (index.seq, list(index.open)) == (3, [ALICE])
    assert ledger.find([record_key(records[2]), "revoked x/y-1"]) == {
        record_key(records[2]): records[2]}
    assert blob_at(repo, records[2]) == to_json(records[2])
    assert repo.git("log", "--format=%P|%B", LEDGER_REF).split("\n")[0] == (
        f"{repo.sha(LEDGER_REF + '~1')}|gitjit: expired prod-db/bob-20260105T0900Z"
    )
    assert repo.git("log", "-1", "--format=%(trailers)", LEDGER_REF) == (
        "Gitjit-Event: expired\nGitjit-Grant: prod-db/bob-20260105T0900Z\nGitjit-Seq: 3\n\n"
    )
    assert repo.git("rev-list", "--count", LEDGER_REF).strip() == "3"
    # The user's branch, index and working tree are as they were.
    assert repo.git("status", "--porcelain=v1") == status
    assert repo.sha("HEAD") == head
    assert repo.git("symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert ledger.verify("main") == []


def test_append_is_idempotent(repo: GitRepoBuilder) -> None:
    ledger = signed(GitRepository(repo.path))
    first = ledger.append(activated(repo))
    tip = ledger.tip()
    assert first is not None
    # A rerun after a crash: same state change, even with other times or detail.
    assert ledger.append(activated(repo, at=AT + timedelta(minutes=5))) is None
    assert ledger.tip() == tip
    assert ledger.records() == [first]


def test_append_takes_only_drafts(repo: GitRepoBuilder) -> None:
    ledger = signed(GitRepository(repo.path))
    record = ledger.append(expired())
    assert record is not None
    with pytest.raises(ValueError) as info:
        ledger.append(record)
    assert str(info.value) == (
        "append a draft (seq 0, prev empty), not record 1 (expired prod-db/bob-20260105T0900Z): "
        "the ledger numbers and chains records itself"
    )


# -- racing writers ----------------------------------------------------------------------


class Meddling(GitRepository):
    """A repository where something happens just before the first ref update."""

    def __init__(self, path: Path, meddle: Callable[[], object]) -> None:
        super().__init__(path)
        self.meddle: Callable[[], object] | None = meddle

    def update_ref(self, ref: str, new: str, old: str | None, *, message: str) -> bool:
        meddle, self.meddle = self.meddle, None
        if meddle is not None:
            meddle()
        return super().update_ref(ref, new, old, message=message)


def test_a_writer_that_loses_the_race_retries_after_the_winner(repo: GitRepoBuilder) -> None:
    other = signed(GitRepository(repo.path))
    won = []
    slow = signed(Meddling(repo.path, lambda: won.append(other.append(activated(repo, ALICE)))))

    late = slow.append(activated(repo))

    assert won[0] is not None and won[0].seq == 1
    assert late is not None and late.seq == 2
    assert other.records() == [won[0], late]
    assert other.verify("main") == []


def test_a_writer_that_loses_the_race_to_the_same_change_records_nothing(
    repo: GitRepoBuilder,
) -> None:
    other = signed(GitRepository(repo.path))
    won = []
    slow = signed(Meddling(repo.path, lambda: won.append(other.append(activated(repo)))))

    assert slow.append(activated(repo)) is None
    assert other.records() == [won[0]]


_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from engine.adapters.git import GitRepository
    from engine.adapters.ledger import Ledger
    from engine.core.ledger import Event, Record
    from engine.core.models import GrantId

    from engine.adapters.signing import CommitSigner
    from engine.core.signers import parse_allowed_signers
    from pathlib import Path

    signers = parse_allowed_signers(sys.argv[4].encode())[0]
    ledger = Ledger(GitRepository(sys.argv[1]), signers=signers,
                    signer=CommitSigner(Path(sys.argv[3])))
    for hour in range(20):
        ledger.append(Record(
            event=Event.EXPIRED, grant_id=GrantId(f"prod-db/{sys.argv[2]}-20260105T{hour:02d}00Z"),
            policy="prod-db", requester=sys.argv[2], at=datetime(2026, 1, 5, tzinfo=UTC),
            engine_version="0.1.0",
        ))
    """
)


def test_two_processes_appending_at_once_lose_nothing(repo: GitRepoBuilder) -> None:
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(repo.path), name, str(signing.key()),
             signing.signers_line(signing.key())],
            cwd=PROJECT, env=dict(os.environ), stderr=subprocess.PIPE,
        )
        for name in ("alice", "bob")
    ]
    for writer in writers:
        _, stderr = writer.communicate(timeout=120)
        assert writer.returncode == 0, stderr.decode()

    ledger = signed(GitRepository(repo.path))
    records = ledger.records()
    assert [r.seq for r in records] == list(range(1, 41))
    assert len({r.grant_id for r in records}) == 40
    assert repo.git("rev-list", "--count", LEDGER_REF).strip() == "40"
    assert ledger.verify("main") == []


# -- tampering ---------------------------------------------------------------------------


def test_a_record_changed_by_a_later_commit(repo: GitRepoBuilder) -> None:
    ledger, records = three(repo)
    forged = replace(records[0], expires_at=AT + timedelta(days=30))
    path = record_path(records[0])
    repo.checkout("gitjit/ledger")
    repo.write(path, to_json(forged))
    tampering = repo.commit("extend bob's grant")
    repo.checkout("main")

    assert ledger.verify("main") == [
        Finding(
            path, 0, "ledger.forged",
            f"ledger commit {tampering[:12]} modifies {path} (activated "
            "prod-db/bob-20260105T0900Z), but it is not signed: gitjit ignores it (it grants, "
            "ends and hides nothing)",
        ),
    ]
    # What gitjit reads is still what it signed.
    assert ledger.records() == records
    assert [c.sha for c in ledger.state().forged] == [tampering]


def test_a_record_signed_by_another_key_is_forged(repo: GitRepoBuilder) -> None:
    ledger, records = three(repo)
    forged = replace(records[0], expires_at=AT + timedelta(days=30))
    rewrite_history(repo, [to_json(forged)], key=signing.key("mallory"))

    findings = ledger.verify("main")
    assert [f.code for f in findings] == ["ledger.forged"]
    assert "signed by a key that policies/allowed_signers does not list" in findings[0].message
    assert ledger.records() == []


def test_a_record_rewritten_in_history(repo: GitRepoBuilder) -> None:
    ledger, records = three(repo)
    forged = replace(records[1], expires_at=AT + timedelta(days=30))
    rewrite_history(repo, [to_json(records[0]), to_json(forged), to_json(records[2])],
                    key=signing.key())

    assert ledger.verify("main") == [
        Finding(
            record_path(records[1]), 0, "ledger.rewritten",
            "ledger record 2 (activated prod-db/alice-20260105T1000Z) is not the record that "
            "record 3 (expired prod-db/bob-20260105T0900Z) was chained to (its hash differs "
            "from the prev that record 3 holds): record 2 was rewritten",
        )
    ]


def test_a_record_removed_from_history(repo: GitRepoBuilder) -> None:
    ledger, records = three(repo)
    rewrite_history(repo, [to_json(records[0]), to_json(records[2])], key=signing.key())

    assert ledger.verify("main") == [
        Finding(
            record_path(records[2]), 0, "ledger.seq-gap",
            "ledger record 2 is missing before record 3 (expired prod-db/bob-20260105T0900Z): "
            "records were removed from the ledger's history",
        )
    ]


def test_two_records_swapped_in_history(repo: GitRepoBuilder) -> None:
    ledger, records = three(repo)
    rewrite_history(repo, [to_json(records[0]), to_json(records[2]), to_json(records[1])],
                    key=signing.key())

    assert ledger.verify("main") == [
        Finding(
            record_path(records[1]), 0, "ledger.seq-order",
            "ledger record 2 (activated prod-db/alice-20260105T1000Z) comes after record 3 in "
            "the ledger's history: records were reordered or a number was used twice",
        )
    ]


def test_a_record_naming_a_merge_that_does_not_exist(repo: GitRepoBuilder) -> None:
    ledger = signed(GitRepository(repo.path))
    ghost = "0123456789abcdef" * 2 + "01234567"
    record = ledger.append(activated(repo, merge_sha=ghost))
    assert record is not None

    assert ledger.verify("main") == [
        Finding(
            record_path(record), 0, "ledger.missing-commit",
            f"ledger record 1 (activated prod-db/bob-20260105T0900Z) names merge_sha {ghost}, "
            "which is no object in this repository: fetch the full history (fetch-depth: 0), "
            "or the record points at history that was rewritten or never existed",
        )
    ]


def test_a_grant_on_main_without_a_record(repo: GitRepoBuilder) -> None:
    ledger, _ = three(repo)
    for grant in (BOB, ALICE, CAROL):
        repo.write(f"grants/{grant}.yaml", "kind: Grant\n")
    repo.commit("grants landed")

    assert ledger.verify("main") == [
        Finding(
            f"grants/{CAROL}.yaml", 0, "ledger.unrecorded-grant",
            f"grant {CAROL} is on main but the ledger has no activated or refused record of it: "
            "it was never verified; run 'gitjit reconcile', and find out how it landed if "
            "reconcile has run since",
        )
    ]
