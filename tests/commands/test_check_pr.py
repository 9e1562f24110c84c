"""``gitjit check-pr``: usage errors end in exit 2 with one sentence, never a traceback.

The verdicts themselves are covered by the scenarios (tests/test_scenarios.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from engine.cli import run
from tests.gitrepo import GitRepoBuilder

GRANT_PATH = "grants/reports-read/ana-20261201T0900Z.yaml"
GRANT = """\
apiVersion: gitjit/v1
kind: Grant
policy: reports-read
requester: ana
duration: 1h
justification: Quarterly revenue report for finance
"""
REVIEW = """\
[{"id": 1, "user": {"login": "Lea", "type": "User"}, "state": "APPROVED",
  "commit_id": "%s", "submitted_at": "2026-12-01T08:00:00Z"}]
"""


@pytest.fixture
def pull_request(small_repo: GitRepoBuilder) -> GitRepoBuilder:
    return _request(small_repo)


def _request(small_repo: GitRepoBuilder) -> GitRepoBuilder:
    small_repo.branch("pr")
    small_repo.checkout("pr")
    small_repo.write(GRANT_PATH, GRANT)
    small_repo.commit("request reports-read")
    return small_repo


def check_pr(repo: GitRepoBuilder, *extra: str) -> list[str]:
    args = ["check-pr", "--repo", str(repo.path), "--base", "main", "--head", "pr",
            "--as", "ana", "--now", "2026-12-01T09:00:00Z"]
    for index in range(0, len(extra), 2):
        if extra[index] in args:
            args[args.index(extra[index]) + 1] = extra[index + 1]
        else:
            args += extra[index:index + 2]
    return args


def gitjit(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_approved_with_logins_in_any_case(pull_request: GitRepoBuilder, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    reviews = tmp_path / "reviews.json"
    reviews.write_text(REVIEW % pull_request.sha("pr"), encoding="utf-8")
    code, out, err = gitjit(check_pr(pull_request, "--as", "Ana", "--reviews",
                                     str(reviews)), capsys)
    assert (code, err) == (0, "")
    assert out == ("APPROVED: request: ana asks for reports-read for 1h\n"
                   "  counted: lea for reports-read step 1\n")


def test_pending_without_reviews(pull_request: GitRepoBuilder,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(check_pr(pull_request), capsys)
    assert (code, err) == (4, "")
    assert out.splitlines()[-1] == ("  missing: reports-read step 1 (group:leads) needs 1 more "
                                    "of 1; may approve: lea")


def test_an_unknown_head(pull_request: GitRepoBuilder,
                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(check_pr(pull_request, "--head", "pr-7"), capsys)
    assert (code, out) == (2, "")
    assert err == (f"gitjit: error: git rev-parse failed in {pull_request.path}: 'pr-7' is not "
                   "a commit in this repository; check the branch, tag or SHA (fetch it first "
                   "if the clone is shallow)\n")


def test_a_folder_that_is_no_repository(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["check-pr", "--repo", str(tmp_path / "missing"), "--base", "main",
                             "--head", "pr", "--as", "ana"], capsys)
    assert (code, out) == (2, "")
    assert err == (f"gitjit: error: {tmp_path / 'missing'} is not a directory; give the path "
                   "of a git repository\n")


def test_reviews_that_are_not_json(pull_request: GitRepoBuilder, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    reviews = tmp_path / "reviews.json"
    reviews.write_text("<html>rate limited</html>", encoding="utf-8")
    code, out, err = gitjit(check_pr(pull_request, "--reviews", str(reviews)), capsys)
    assert (code, out) == (2, "")
    assert err == (f"gitjit: error: {reviews}: not JSON (Expecting value: line 1 column 1 "
                   "(char 0)); save the reviews with 'gh api repos/OWNER/REPO/pulls/N/reviews "
                   "--paginate'\n")


def test_a_review_that_is_not_a_review(pull_request: GitRepoBuilder, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    reviews = tmp_path / "reviews.json"
    reviews.write_text('[{"state": "APPROVED"}]', encoding="utf-8")
    code, out, err = gitjit(check_pr(pull_request, "--reviews", str(reviews)), capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"gitjit: error: {reviews}[0]: not a GitHub review object")


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--now", "2026-12-01T09:00:00",
     "Invalid value for '--now': timestamp '2026-12-01T09:00:00' has no UTC offset; add Z or "
     "+HH:MM"),
    ("--as", "ana@example.com", "Invalid value for '--as': invalid login"),
    ("--pushers", "ana,not a login", "Invalid value for '--pushers': invalid login"),
    ("--format", "html", "Invalid value for '--format': 'html' is not one of"),
])
def test_bad_option_values(pull_request: GitRepoBuilder, option: str, value: str, message: str,
                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(check_pr(pull_request, option, value), capsys)
    assert (code, out) == (2, "")
    assert f"Error: {message}" in err
    assert "Traceback" not in err


def test_a_grant_id_is_used_once(small_repo: GitRepoBuilder,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A grant file re-added where one was before (GitHub's Revert button makes that) is
    denied: activation, the ledger and audit know a grant by its id (issue 7)."""
    old = "grants/reports-read/ana-20261130T0900Z.yaml"  # on main since the first commit
    content = small_repo.file(old).read_text("utf-8")
    small_repo.remove(old)
    small_repo.commit("remove the expired grant")
    small_repo.branch("pr")
    small_repo.checkout("pr")
    small_repo.write(old, content)
    small_repo.commit('Revert "remove the expired grant"')
    removal = small_repo.git("log", "-1", "--format=%H", "main", "--", old).strip()
    code, out, err = gitjit(check_pr(small_repo), capsys)
    assert (code, err) == (1, "")
    assert out == (
        "DENIED: request: ana asks for reports-read for 1h\n"
        f"  {old}: grant.id-used: grant id 'reports-read/ana-20261130T0900Z' was used before: "
        f"the default branch's history already held this file (commit {removal[:12]}); pick a "
        "new stamp: rename the file such as grants/reports-read/ana-20261201T0900Z.yaml\n")
    # With a new stamp, the same request is judged as any other.
    small_repo.git("mv", old, "grants/reports-read/ana-20261201T0900Z.yaml")
    small_repo.commit("a new stamp")
    assert gitjit(check_pr(small_repo), capsys)[0] == 4


def test_a_verdict_starts_a_handful_of_git_processes(
        small_repo: GitRepoBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """One object reader for every tree and blob, and no listing of grants/: the verdict
    costs the same few processes however many grants the repository holds (issue 14)."""
    for index in range(30):
        small_repo.write(f"grants/reports-read/ben-20261101T{index:04d}Z.yaml",
                         GRANT.replace("ana", "ben"))
    small_repo.commit("more grants")
    pull_request = _request(small_repo)
    started: list[list[str]] = []

    class CountingPopen(subprocess.Popen[bytes]):
        def __init__(self, args: list[str], **kwargs: Any) -> None:
            started.append(args)
            super().__init__(args, **kwargs)

    reviews = tmp_path / "reviews.json"
    reviews.write_text(REVIEW % pull_request.sha("pr"), encoding="utf-8")
    monkeypatch.setattr(subprocess, "Popen", CountingPopen)
    code, out, _ = gitjit(check_pr(pull_request, "--reviews", str(reviews)), capsys)
    assert (code, out.splitlines()[0]) == (0, "APPROVED: request: ana asks for reports-read "
                                              "for 1h")
    assert sorted(args[1] for args in started) == [
        "cat-file", "diff", "log", "log", "rev-parse", "rev-parse", "rev-parse"]


def test_the_old_author_spelling_still_works_and_warns(
        pull_request: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    args = check_pr(pull_request)
    args[args.index("--as")] = "--author"
    code, out, err = gitjit(args, capsys)
    assert code == 4
    assert out.startswith("PENDING: request: ana asks for reports-read for 1h\n")
    assert err == "gitjit: warning: --author is deprecated; use --as\n"
    assert "--author" not in gitjit(["check-pr", "--help"], capsys)[1]


def test_the_old_and_the_new_spelling_at_once_is_a_usage_error(
        pull_request: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(check_pr(pull_request, "--author", "ben"), capsys)
    assert (code, out) == (2, "")
    assert "Error: --author and --as are the same option; give --as only" in err


def test_a_pull_request_of_the_local_forge_by_number(
        pull_request: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    """--pr N reads base, head, author, reviews and pushers from the default (local) forge."""
    repo = str(pull_request.path)
    pull_request.checkout("main")
    assert run(["local", "open", "--repo", repo, "--as", "ana", "--head", "pr",
                "--now", "2026-12-01T08:00:00Z"]) == 0
    capsys.readouterr()
    command = ["check-pr", "--repo", repo, "--pr", "1", "--now", "2026-12-01T09:00:00Z"]
    code, out, err = gitjit(command, capsys)
    assert (code, err) == (4, "")
    assert out.startswith("PENDING: request: ana asks for reports-read for 1h\n")
    assert run(["local", "review", "1", "--repo", repo, "--as", "lea", "--approve",
                "--now", "2026-12-01T08:30:00Z"]) == 0
    capsys.readouterr()
    assert gitjit(command, capsys)[:2] == (
        0, "APPROVED: request: ana asks for reports-read for 1h\n"
           "  counted: lea for reports-read step 1\n")
    code, out, err = gitjit([*command, "--forge", "none"], capsys)
    assert (code, out) == (2, "")
    assert "--pr N reads the pull request from a forge" in err


def test_reviews_saved_by_gh_api_paginate_as_concatenated_pages(
        pull_request: GitRepoBuilder, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`gh api .../reviews --paginate` writes one array per page, back to back."""
    sha = pull_request.sha("pr")
    reviews = tmp_path / "reviews.json"
    reviews.write_text(
        f'[{{"id": 1, "user": {{"login": "ben", "type": "User"}}, "state": "COMMENTED", '
        f'"commit_id": "{sha}", "submitted_at": "2026-12-01T07:00:00Z"}}]'
        + (REVIEW % sha).strip() + "\n", encoding="utf-8")
    code, out, err = gitjit(check_pr(pull_request, "--reviews", str(reviews)), capsys)
    assert (code, err) == (0, "")
    assert out.startswith("APPROVED: ")


def test_concatenated_objects_are_not_pages(pull_request: GitRepoBuilder, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    reviews = tmp_path / "reviews.json"
    reviews.write_text('{"state": "APPROVED"}\n{"state": "APPROVED"}\n', encoding="utf-8")
    code, out, err = gitjit(check_pr(pull_request, "--reviews", str(reviews)), capsys)
    assert (code, out) == (2, "")
    assert err == f"gitjit: error: {reviews}: expected a JSON array of reviews\n"
