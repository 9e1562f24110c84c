"""gitjit audit and audit verify on real repositories and on a fresh clone of them."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from engine.adapters.git import GitRepository
from engine.adapters.ledger import LEDGER_REF, REMOTE_LEDGER_REF, find_ledger_ref
from engine.cli import run
from engine.core import trailers
from engine.core.ledger import Event, Record
from tests import signing
from tests.commands.conftest import GRANT, GRANT_PATH
from tests.commands.test_status import (
    ANA,
    BEN,
    BEN_PATH,
    T0,
    activated,
    ledger,
    merge_request,
)
from tests.gitrepo import GitRepoBuilder, RepoFactory


@pytest.fixture
def history(small_repo: GitRepoBuilder) -> GitRepoBuilder:
    """ana: activated, expired, removed by reconcile's commit. ben: refused, alerted, removed."""
    repo = small_repo
    book = ledger(repo)
    book.append(activated(repo, ANA, at=T0 + timedelta(seconds=30), start=T0))
    merge = merge_request(repo, BEN_PATH, GRANT.replace("ana", "ben"), T0 + timedelta(minutes=20))
    detail = "no approval counted: lea approved an older commit"
    for event in (Event.REFUSED, Event.ALERT):
        book.append(Record(
            event=event, grant_id=BEN, policy="reports-read", requester="ben",
            at=T0 + timedelta(minutes=21), pull_request=2, merge_sha=merge,
            engine_version="0.1.0", detail=detail,
        ))
    repo.remove(BEN_PATH)
    repo.commit(f"gitjit: remove refused grant\n\n{trailers.format_refused(BEN)}\n",
                date=T0 + timedelta(minutes=22), signing_key=signing.key())
    book.append(Record(
        event=Event.EXPIRED, grant_id=ANA, policy="reports-read", requester="ana",
        at=T0 + timedelta(hours=1, seconds=40), activated_at=T0,
        expires_at=T0 + timedelta(hours=1), engine_version="0.1.0",
        ended_at=T0 + timedelta(hours=1),
    ))
    repo.remove(GRANT_PATH)
    trailer = trailers.format_removed(ANA, T0 + timedelta(hours=1),
                                      T0 + timedelta(hours=1, seconds=40))
    repo.commit(f"gitjit: remove 1 expired grant\n\n{trailer}\n",
                date=T0 + timedelta(hours=1, minutes=1), signing_key=signing.key())
    return repo


def clone(repo: GitRepoBuilder, repo_factory: RepoFactory) -> Path:
    target = repo_factory.base / "clone"
    repo.git("clone", "--quiet", str(repo.path), str(target))
    return target


def test_text_on_a_fresh_clone(history: GitRepoBuilder, repo_factory: RepoFactory,
                               capsys: pytest.CaptureFixture[str]) -> None:
    fresh = clone(history, repo_factory)
    assert not (fresh / ".git" / "refs" / "heads" / "gitjit").exists()
    assert run(["audit", "--repo", str(fresh)]) == 0
    # First-parent history, newest first: ana removed, ben removed, ben merged, ana landed.
    ana_removal, ben_removal = history.sha("main"), history.sha("main~1")
    ben_merge, ana_landed = history.sha("main~2"), history.sha("main~3")
    assert capsys.readouterr().out == (
        "reports-read/ana-20261130T0900Z: ana asked for reports-read for 1h\n"
        "  justification: Monthly revenue report for finance\n"
        f"  2026-01-05T08:57:00Z  approved by lea on {ana_landed[:12]}\n"
        f"  2026-01-05T09:00:00Z  landed in {ana_landed[:12]} (pull request #1)\n"
        "  2026-01-05T09:00:00Z  activated until 2026-01-05T10:00:00Z (expiry enforced by "
        "gitjit; verified at 2026-01-05T09:00:30Z)\n"
        "  2026-01-05T10:00:40Z  expired (40s after its end)\n"
        f"  2026-01-05T10:01:00Z  removed in {ana_removal[:12]} (expired at 2026-01-05T10:00:00Z, "
        "revoked at 2026-01-05T10:00:40Z)\n"
        "\n"
        "reports-read/ben-20260105T1000Z: ben asked for reports-read for 1h\n"
        "  justification: Monthly revenue report for finance\n"
        f"  2026-01-05T09:20:00Z  landed in {ben_merge[:12]} (pull request #2)\n"
        "  2026-01-05T09:21:00Z  alert: no approval counted: lea approved an older commit\n"
        "  2026-01-05T09:21:00Z  refused: no approval counted: lea approved an older commit\n"
        f"  2026-01-05T09:22:00Z  removed in {ben_removal[:12]}\n"
        "\n"
        "2 grants: 2 ended, 0 not ended\n"
        "revocation latency over 1 end: median 40s, worst 40s "
        "(reports-read/ana-20261130T0900Z)\n"
    )


def test_json_shape(history: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["audit", "--repo", str(history.path), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["version"] == 1
    ana, ben = document["lifecycles"]
    landed = history.sha("main~3")
    assert ana == {
        "grant_id": ANA, "path": GRANT_PATH, "policy": "reports-read", "requester": "ana",
        "request": {"duration": "1h", "start": None,
                    "justification": "Monthly revenue report for finance", "ticket": None,
                    "extends": None, "break_glass": False},
        "landed": {"commit": landed, "at": "2026-01-05T09:00:00Z"},
        "pull_request": 1,
        "approvals": [{"reviewer": "lea", "state": "APPROVED", "commit": landed,
                       "submitted_at": "2026-01-05T08:57:00Z"}],
        "activation": {
            "verified_at": "2026-01-05T09:00:30Z", "activated_at": "2026-01-05T09:00:00Z",
            "expires_at": "2026-01-05T10:00:00Z", "expiry_enforced_by": "gitjit",
            "break_glass": False, "review_by": None,
            "base_sha": history.sha("main~4"), "head_sha": landed, "merge_sha": landed,
            "policy_blob": "e" * 40, "groups_blob": "f" * 40, "engine_version": "0.1.0",
        },
        "ended": {"how": "expired", "at": "2026-01-05T10:00:40Z", "detail": None,
                  "revocation_latency_seconds": 40},
        "removal": {"commit": history.sha("main"), "at": "2026-01-05T10:01:00Z",
                    "expired_at": "2026-01-05T10:00:00Z", "revoked_at": "2026-01-05T10:00:40Z"},
        "alerts": [],
        "ledger_records": [1, 4],
    }
    assert ben["ended"] == {"how": "refused", "at": "2026-01-05T09:21:00Z",
                            "detail": "no approval counted: lea approved an older commit",
                            "revocation_latency_seconds": None}
    assert ben["removal"] == {"commit": history.sha("main~1"), "at": "2026-01-05T09:22:00Z",
                              "expired_at": None, "revoked_at": None}
    assert ben["activation"] is None and ben["approvals"] == []
    assert ben["ledger_records"] == [2, 3]


def test_csv(history: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["audit", "--repo", str(history.path), "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == [
        "grant_id", "policy", "requester", "duration", "start", "justification", "ticket",
        "landed_commit", "landed_at", "pull_request", "approvals", "activated_at",
        "expires_at", "expiry_enforced_by", "break_glass", "review_by", "ended", "ended_at",
        "revocation_latency_seconds", "removal_commit", "removed_at", "detail",
    ]
    assert [row[0] for row in rows[1:]] == [ANA, BEN]
    assert rows[1][9:19] == ["1", "lea@2026-01-05T08:57:00Z", "2026-01-05T09:00:00Z",
                             "2026-01-05T10:00:00Z", "gitjit", "", "", "expired",
                             "2026-01-05T10:00:40Z", "40"]


def test_since_keeps_lifecycles_with_a_later_event(
    history: GitRepoBuilder, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["audit", "--repo", str(history.path), "--since", "2026-01-05T09:30:00Z",
                "--format", "json"]) == 0
    assert [g["grant_id"] for g in json.loads(capsys.readouterr().out)["lifecycles"]] == [ANA]
    assert run(["audit", "--repo", str(history.path), "--since", "2026-01-06",
                "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["lifecycles"] == []


def test_bad_since_is_a_usage_error(history: GitRepoBuilder,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["audit", "--repo", str(history.path), "--since", "yesterday"]) == 2
    assert "invalid time 'yesterday'" in capsys.readouterr().err


def test_no_ledger_yet_in_a_repository_without_a_remote(
        small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    """A trial repository has no origin whose ledger could be fetched: nothing was activated."""
    assert run(["audit", "--repo", str(small_repo.path)]) == 2
    assert run(["audit", "verify", "--repo", str(small_repo.path)]) == 2
    said = (f"gitjit: error: no ledger yet in {small_repo.path}: nothing has been activated "
            "here ('gitjit activate' writes the first record, to refs/heads/gitjit/ledger)\n")
    assert capsys.readouterr().err == said * 2


def test_no_ledger_in_a_clone_says_to_fetch_it(
        small_repo: GitRepoBuilder, repo_factory: RepoFactory,
        capsys: pytest.CaptureFixture[str]) -> None:
    fresh = clone(small_repo, repo_factory)
    assert run(["audit", "--repo", str(fresh)]) == 2
    assert capsys.readouterr().err == (
        f"gitjit: error: no ledger in {fresh}: neither refs/heads/gitjit/ledger nor "
        "refs/remotes/origin/gitjit/ledger exists; if origin has one, fetch it (git fetch "
        "origin gitjit/ledger:gitjit/ledger); otherwise nothing has been activated yet\n")


def test_verify_clean_on_a_fresh_clone(
    history: GitRepoBuilder, repo_factory: RepoFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = clone(history, repo_factory)
    assert run(["audit", "verify", "--repo", str(fresh)]) == 0
    assert capsys.readouterr().out == (
        "ledger refs/remotes/origin/gitjit/ledger: 4 records, intact; every grant on main "
        "was verified\n"
    )


def test_verify_reports_a_grant_never_verified(
    small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger(small_repo).append(activated(small_repo, ANA, at=T0, start=T0))
    merge_request(small_repo, BEN_PATH, GRANT.replace("ana", "ben"), T0 + timedelta(hours=1))
    assert run(["audit", "--repo", str(small_repo.path), "verify", "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    assert [(f["code"], f["path"]) for f in document["findings"]] == [
        ("ledger.unrecorded-grant", BEN_PATH),
    ]


def test_verify_reports_a_hand_edited_record(
    history: GitRepoBuilder, capsys: pytest.CaptureFixture[str]
) -> None:
    # Give ana's approval to someone else: a new commit on the ledger that rewrites record 1.
    name = "records/00000001-activated-reports-read_ana-20261130T0900Z.json"
    tip = history.sha("gitjit/ledger")
    raw = history.git("cat-file", "blob", f"{tip}:{name}")
    assert '"reviewer":"lea"' in raw
    forged = history.path / "forged.json"
    forged.write_text(raw.replace('"reviewer":"lea"', '"reviewer":"ana"'), encoding="ascii")
    blob = history.git("hash-object", "-w", str(forged)).strip()
    index = {"GIT_INDEX_FILE": str(history.path / ".git" / "forged-index")}
    history.git("read-tree", tip, env=index)
    history.git("update-index", "--cacheinfo", f"100644,{blob},{name}", env=index)
    tree = history.git("write-tree", env=index).strip()
    commit = history.git("commit-tree", tree, "-p", tip, "-m", "fix typo").strip()
    history.git("update-ref", "refs/heads/gitjit/ledger", commit, tip)

    assert run(["audit", "verify", "--repo", str(history.path)]) == 1
    assert capsys.readouterr().out == (
        f"{name}: ledger.forged: ledger commit {commit[:12]} modifies {name} (activated "
        "reports-read/ana-20261130T0900Z), but it is not signed: gitjit ignores it (it "
        "grants, ends and hides nothing)\n"
        "ledger refs/heads/gitjit/ledger: 1 findings\n"
    )
    # audit itself says so first, and tells the story gitjit signed: lea approved.
    assert run(["audit", "--repo", str(history.path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("LEDGER NOT INTACT: refs/heads/gitjit/ledger holds 1 problems")
    assert "approved by lea" in out and "approved by ana" not in out


def test_audit_group_help_names_verify(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["audit", "--help"]) == 0
    assert "verify  Check the ledger" in capsys.readouterr().out


def test_find_ledger_ref_prefers_a_newer_remote_copy(
    history: GitRepoBuilder, repo_factory: RepoFactory
) -> None:
    fresh = GitRepoBuilder(clone(history, repo_factory))
    repo = GitRepository(fresh.path)
    assert find_ledger_ref(repo) == REMOTE_LEDGER_REF
    fresh.git("branch", "gitjit/ledger", "origin/gitjit/ledger~1")
    assert find_ledger_ref(repo) == REMOTE_LEDGER_REF  # the local branch is behind
    fresh.git("branch", "--force", "gitjit/ledger", "origin/gitjit/ledger")
    assert find_ledger_ref(repo) == LEDGER_REF
