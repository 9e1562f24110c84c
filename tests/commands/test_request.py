"""gitjit request: the grant at its canonical path on a new branch, judged before it opens."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.adapters.git import GitRepository
from engine.adapters.localforge import LocalForge
from engine.cli import run
from tests.gitrepo import GitRepoBuilder

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-30T09:00:00+00:00"


@pytest.fixture
def access(repo: GitRepoBuilder) -> GitRepoBuilder:
    shutil.copytree(ROOT / "policies", repo.path / "policies")
    shutil.copytree(ROOT / "schemas", repo.path / "schemas")
    repo.commit("access configuration")
    return repo


def test_request_opens_a_pull_request_and_says_what_it_needs(
        access: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["request", "prod-db-admin", "--as", "bob", "--duration", "2h",
                "--ticket", "INC-1234", "--justification",
                "Replication lag on the orders primary, need pg_stat access",
                "--forge", "local", "--repo", str(access.path), "--now", NOW])
    assert code == 0
    assert capsys.readouterr().out == (
        "wrote grants/prod-db-admin/bob-20261130T0900Z.yaml on branch "
        "access/prod-db-admin/bob-20261130T0900Z\n"
        "opened pull request #1: pending\n"
        "  needs step 1 (group:dba): 1 more; may approve: dave, erin\n"
        "  needs step 2 (group:security): 1 more; may approve: sam, sue\n")
    repo = GitRepository(access.path)
    pr = LocalForge(repo).pull_request(1)
    assert (pr.author, pr.head_ref, pr.base) == ("bob", "access/prod-db-admin/bob-20261130T0900Z",
                                                 "main")
    content = repo.tree(pr.head_sha).read("grants/prod-db-admin/bob-20261130T0900Z.yaml")
    assert b"requester: bob\n" in content and b"ticket: INC-1234\n" in content
    assert repo.changes(repo.resolve("main"), pr.head_sha)[0].status == "A"


def test_a_request_that_would_be_denied_is_not_opened(
        access: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["request", "prod-db-admin", "--as", "bob", "--duration", "9h",
                "--justification", "too long a request for this policy",
                "--forge", "local", "--repo", str(access.path), "--now", NOW])
    assert code == 1
    out = capsys.readouterr().out
    assert "grant.duration-exceeds-max" in out and "request not opened" in out
    assert "access/" not in access.git("branch", "--list", "access/*")


def test_without_a_forge_the_branch_is_prepared(
        access: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["request", "prod-db-admin", "--as", "alice", "--ticket", "CHG-7",
                "--justification", "Planned index rebuild on the orders table",
                "--repo", str(access.path), "--now", NOW, "--forge", "none"])
    assert code == 0
    out = capsys.readouterr().out
    assert "next: git push origin access/prod-db-admin/alice-20261130T0900Z" in out
    assert "duration: 1h" in access.git("show", "access/prod-db-admin/alice-20261130T0900Z:"
                                        "grants/prod-db-admin/alice-20261130T0900Z.yaml")


def test_unknown_policy_is_a_usage_error(access: GitRepoBuilder,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["request", "nope", "--as", "bob", "--justification", "x" * 30,
                "--repo", str(access.path), "--now", NOW]) == 2
    assert "unknown policy 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--duration", "2 hours", "Invalid value for '--duration': invalid duration '2 hours'"),
    ("--duration", "0m", "Invalid value for '--duration': "),
    ("--start", "2026-12-01 09:00", "Invalid value for '--start': invalid time "
                                    "'2026-12-01 09:00'"),
    ("--start", "2026-12-01T09:00:00", "Invalid value for '--start': timestamp "
                                       "'2026-12-01T09:00:00' has no UTC offset"),
])
def test_a_malformed_duration_or_start_writes_nothing(
        access: GitRepoBuilder, option: str, value: str, message: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A usage error (exit 2) while the command line is read: no branch, no pull request."""
    refs = access.git("for-each-ref", "--format=%(refname)")
    code = run(["request", "prod-db-admin", "--as", "bob", "--ticket", "INC-1",
                "--justification", "Replication lag on the orders primary",
                "--repo", str(access.path), "--now", NOW, option, value])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert message in err
    assert access.git("for-each-ref", "--format=%(refname)") == refs
    assert not (access.path / ".git" / "gitjit" / "forge.json").exists()


def test_a_misspelt_policy_is_suggested(access: GitRepoBuilder,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["request", "prod-db-admn", "--as", "bob", "--justification", "x" * 30,
                "--repo", str(access.path), "--now", NOW]) == 2
    assert "unknown policy 'prod-db-admn'; did you mean 'prod-db-admin'?" in \
        capsys.readouterr().err


def test_the_old_base_spelling_still_works_and_warns(
        access: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["request", "prod-db-admin", "--as", "alice", "--ticket", "CHG-7",
                "--justification", "Planned index rebuild on the orders table",
                "--repo", str(access.path), "--now", NOW, "--forge", "none", "--base", "main"])
    out, err = capsys.readouterr()
    assert code == 0
    assert err == "gitjit: warning: --base is deprecated; use --branch\n"
    assert "next: git push origin access/prod-db-admin/alice-20261130T0900Z" in out


def _ask(access: GitRepoBuilder, *extra: str, now: str = NOW) -> int:
    return run(["request", "prod-db-admin", "--as", "bob", "--duration", "2h",
                "--justification", "Replication lag on the orders primary, need pg_stat",
                "--ticket", "INC-1234", "--repo", str(access.path), "--now", now, *extra])


def test_the_request_commit_is_the_requesters_at_the_time_given(
        access: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    assert _ask(access, "--forge", "local", now="2026-11-30T09:00:17Z") == 0
    shown = access.git("log", "-1", "--format=%an|%aI|%cn|%cI",
                       "access/prod-db-admin/bob-20261130T0900Z")
    assert shown == ("bob|2026-11-30T09:00:17+00:00|bob|2026-11-30T09:00:17+00:00\n")


def test_two_requests_in_the_same_minute_are_two_files(
        access: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    assert _ask(access, "--forge", "local", now="2026-11-30T09:00:05Z") == 0
    assert _ask(access, "--forge", "local", now="2026-11-30T09:00:42Z") == 0
    out = capsys.readouterr().out
    assert "wrote grants/prod-db-admin/bob-20261130T0900Z.yaml on branch " in out
    assert ("wrote grants/prod-db-admin/bob-20261130T090042Z.yaml on branch "
            "access/prod-db-admin/bob-20261130T090042Z\nopened pull request #2: pending") in out
    assert _ask(access, "--forge", "local", now="2026-11-30T09:00:42Z") == 2
    assert "a request grants/prod-db-admin/bob-20261130T090042Z.yaml exists already" in \
        capsys.readouterr().err


def test_a_failed_request_leaves_no_branch_behind(
        access: GitRepoBuilder, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """GitHub cannot be reached (no token here): the prepared branch is taken back."""
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)
    assert _ask(access, "--forge", "github") == 2
    assert capsys.readouterr().err.startswith("gitjit: error: ")
    assert access.git("branch", "--list", "access/*") == ""
    assert _ask(access, "--forge", "local") == 0  # and the same request can be made again
