"""gitjit status on real repositories, with ledger records written as activate writes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from engine.adapters.ledger import Ledger
from engine.cli import run
from engine.core.ledger import AppliedTarget, CountedReview, Event, ExpiryEnforcer, Record
from engine.core.models import GrantId, ReviewState
from tests import signing
from tests.commands.conftest import GRANT, GRANT_PATH
from tests.gitrepo import GitRepoBuilder

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
"""When small_repo's commit (and so ana's grant) landed: tests.gitrepo.PINNED_DATE."""
ANA = GrantId("reports-read/ana-20261130T0900Z")
BEN_PATH = "grants/reports-read/ben-20260105T1000Z.yaml"
BEN = GrantId("reports-read/ben-20260105T1000Z")


def merge_request(repo: GitRepoBuilder, path: str, content: str, at: datetime) -> str:
    """A pull request branch adding ``path``, merged into main at ``at``; the merge SHA."""
    name = path.rsplit("/", 1)[1].removesuffix(".yaml")
    repo.branch(name)
    repo.checkout(name)
    repo.write(path, content)
    repo.commit(f"request {name}", date=at - timedelta(minutes=5))
    repo.checkout("main")
    return repo.merge(name, date=at)


def activated(repo: GitRepoBuilder, gid: GrantId, *, at: datetime, start: datetime,
              hours: int = 1, enforced: ExpiryEnforcer = ExpiryEnforcer.GITJIT,
              pull_request: int = 1) -> Record:
    merge = repo.sha("main")
    return Record(
        event=Event.ACTIVATED, grant_id=gid, policy="reports-read",
        requester=gid.split("/")[1].split("-")[0], at=at, pull_request=pull_request,
        base_sha=repo.sha("main~1"),
        head_sha=merge, merge_sha=merge,
        reviews=(CountedReview("lea", ReviewState.APPROVED, merge, start - timedelta(minutes=3)),),
        policy_blob="e" * 40, groups_blob="f" * 40, engine_version="0.1.0",
        activated_at=start, expires_at=start + timedelta(hours=hours),
        expiry_enforced_by=enforced,
        target=AppliedTarget("postgres", "reports", (("connection", "reports"),
                                                     ("role", "reports_read"))),
    )


def ledger(repo: GitRepoBuilder) -> Ledger:
    return signing.ledger(repo.path)


@pytest.fixture
def two_grants(small_repo: GitRepoBuilder) -> GitRepoBuilder:
    """ana's grant landed at 09:00 and was activated; ben's landed at 10:00, no verdict yet."""
    ledger(small_repo).append(activated(small_repo, ANA, at=T0 + timedelta(seconds=30), start=T0))
    merge_request(small_repo, BEN_PATH, GRANT.replace("ana", "ben"), T0 + timedelta(hours=1))
    return small_repo


def status(repo: GitRepoBuilder, *args: str) -> list[str]:
    return ["status", "--repo", str(repo.path), *args]


def test_text_output(two_grants: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(status(two_grants, "--now", "2026-01-05T09:20:10Z")) == 0
    assert capsys.readouterr().out == (
        "GRANT                            REQUESTER  POLICY        STATE                ACTIVATED"
        "             EXPIRES               REMAINING  EXPIRY BY\n"
        "reports-read/ana-20261130T0900Z  ana        reports-read  active               "
        "2026-01-05T09:00:00Z  2026-01-05T10:00:00Z  39m        gitjit\n"
        "reports-read/ben-20260105T1000Z  ben        reports-read  awaiting-activation  "
        "2026-01-05T10:00:00Z  2026-01-05T11:00:00Z  -          -\n"
        "1 active, 0 scheduled, 0 expired awaiting removal, 1 awaiting activation, "
        "0 refused awaiting removal, 0 ended awaiting removal\n"
    )


def test_expiry_is_a_fact_of_time(two_grants: GitRepoBuilder,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert run(status(two_grants, "--now", "2026-01-05T10:00:00Z", "--format", "json")) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["summary"] == {
        "active": 0, "scheduled": 0, "expired-awaiting-removal": 1, "awaiting-activation": 1,
        "refused-awaiting-removal": 0, "ended-awaiting-removal": 0,
    }
    assert document["grants"][0] == {
        "grant_id": ANA, "path": GRANT_PATH, "requester": "ana", "policy": "reports-read",
        "state": "expired-awaiting-removal", "landed_at": "2026-01-05T09:00:00Z",
        "activated_at": "2026-01-05T09:00:00Z", "expires_at": "2026-01-05T10:00:00Z",
        "remaining_seconds": None, "expiry_enforced_by": "gitjit", "pull_request": 1,
        "detail": None, "break_glass": False, "review_by": None,
    }
    assert {key: document[key] for key in ("version", "branch", "now", "ledger")} == {
        "version": 1, "branch": "main", "now": "2026-01-05T10:00:00Z",
        "ledger": "refs/heads/gitjit/ledger",
    }


def test_scheduled_refused_and_target_enforced(
    two_grants: GitRepoBuilder, capsys: pytest.CaptureFixture[str]
) -> None:
    later = T0 + timedelta(hours=5)
    ledger(two_grants).append(Record(
        event=Event.REFUSED, grant_id=BEN, policy="reports-read", requester="ben",
        at=T0 + timedelta(hours=1, minutes=1), merge_sha=two_grants.sha("main"),
        engine_version="0.1.0", detail="merged without an approval on the head commit",
    ))
    carol = GRANT.replace("ana", "ben").replace("1h", "2h")
    path = "grants/reports-read/ben-20260105T1100Z.yaml"
    merge_request(two_grants, path, carol, T0 + timedelta(hours=2))
    ledger(two_grants).append(activated(
        two_grants, GrantId("reports-read/ben-20260105T1100Z"), at=T0 + timedelta(hours=2),
        start=later, hours=2, enforced=ExpiryEnforcer.TARGET,
    ))
    assert run(status(two_grants, "--now", "2026-01-05T12:00:00Z")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[3] for line in lines[1:4]] == [
        "expired-awaiting-removal", "refused-awaiting-removal", "scheduled",
    ]
    assert lines[3].split()[4:] == ["2026-01-05T14:00:00Z", "2026-01-05T16:00:00Z", "-",
                                    "target"]
    assert lines[4:] == [
        "reports-read/ben-20260105T1000Z: refused: merged without an approval on the head "
        "commit",
        "0 active, 1 scheduled, 1 expired awaiting removal, 0 awaiting activation, "
        "1 refused awaiting removal, 0 ended awaiting removal",
    ]


def test_reads_the_branch_not_the_working_tree(
    small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]
) -> None:
    small_repo.write("grants/reports-read/ben-20260105T1000Z.yaml", GRANT.replace("ana", "ben"))
    assert run(status(small_repo, "--now", "2026-01-05T09:10:00Z")) == 0
    out = capsys.readouterr().out
    assert "ben-" not in out
    assert out.splitlines()[-2:] == [
        "note: no ledger (gitjit/ledger) in this clone, so no grant shows as activated: "
        "nothing has been activated here yet, or origin's ledger is not fetched (git fetch "
        "origin gitjit/ledger:gitjit/ledger)",
        "0 active, 0 scheduled, 0 expired awaiting removal, 1 awaiting activation, "
        "0 refused awaiting removal, 0 ended awaiting removal",
    ]


def test_no_grants(repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["status", "--repo", str(repo.path), "--now", "2026-01-05T09:10:00Z"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "no grants on main"


def test_unknown_branch_is_a_usage_error(
    small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(status(small_repo, "--branch", "nope")) == 2
    assert "'nope' is not a commit in this repository" in capsys.readouterr().err
