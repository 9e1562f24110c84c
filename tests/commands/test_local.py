"""``gitjit local``: a request's whole life through the CLI, one call at a time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import run
from tests.gitrepo import GitRepoBuilder

PROJECT = Path(__file__).resolve().parents[2]
GRANT_PATH = "grants/reports-read/ana-20261201T0900Z.yaml"
GRANT = """\
apiVersion: gitjit/v1
kind: Grant
policy: reports-read
requester: ana
duration: 1h
justification: Quarterly revenue report for finance
"""
PENDING = """\
PENDING: request: ana asks for reports-read for 1h
  missing: reports-read step 1 (group:leads) needs 1 more of 1; may approve: lea
"""


@pytest.fixture
def request_branch(small_repo: GitRepoBuilder) -> GitRepoBuilder:
    small_repo.branch("request/ana")
    small_repo.checkout("request/ana")
    small_repo.write(GRANT_PATH, GRANT)
    small_repo.commit("Request reports-read")
    small_repo.checkout("main")
    return small_repo


class Local:
    """Runs ``gitjit local ...`` on one repository through the real CLI."""

    def __init__(self, repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
        self.repo = repo
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = run(["local", *args, "--repo", str(self.repo.path)])
        out, err = self.capsys.readouterr()
        return code, out, err

    def opened(self) -> None:
        assert self("open", "--as", "Ana", "--head", "request/ana",
                    "--now", "2026-12-01T09:00:00Z")[0] == 0


@pytest.fixture
def local(request_branch: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> Local:
    return Local(request_branch, capsys)


def test_open_review_merge(local: Local) -> None:
    repo = local.repo
    head, base = repo.sha("request/ana"), repo.sha("main")

    assert local("open", "--as", "Ana", "--head", "request/ana", "--now",
                 "2026-12-01T09:00:00Z") == (
        0, f"opened pull request #1: ana wants to merge request/ana ({head[:12]}) into main\n",
        "")
    assert local("merge", "1", "--as", "lea", "--now", "2026-12-01T09:01:00Z") == (
        1, PENDING, "gitjit: pull request #1 was not merged: gitjit's verdict is pending "
                    "(merge with --admin to bypass it)\n")
    assert repo.sha("main") == base
    assert local("review", "1", "--as", "lea", "--approve", "--now", "2026-12-01T09:02:00Z") \
        == (0, f"review 1 on pull request #1: lea APPROVED on {head[:12]}\n"
               "APPROVED: request: ana asks for reports-read for 1h\n"
               "  counted: lea for reports-read step 1\n", "")

    code, out, err = local("merge", "1", "--as", "lea", "--now", "2026-12-01T09:03:00Z")

    merge = repo.sha("main")
    assert (code, out, err) == (
        0, f"merged pull request #1 into main as {merge[:12]} by lea\n",
        "updated your checkout of main to the merge\n")
    assert repo.git("rev-list", "--parents", "-n", "1", merge).split() == [merge, base, head]
    assert repo.git("log", "-1", "--format=%cI", merge) == "2026-12-01T09:03:00+00:00\n"
    # The checkout caught up with the merge: nothing staged would undo it.
    assert repo.git("status", "--porcelain") == ""
    assert repo.file(GRANT_PATH).read_text(encoding="utf-8") == GRANT

    assert local("show", "1", "--now", "2026-12-01T09:04:00Z") == (0, f"""\
#1 merged: Request reports-read
  author: ana
  branch: request/ana -> main
  head: {head}
  opened: 2026-12-01T09:00:00Z
  merged: {merge} at 2026-12-01T09:03:00Z by lea
reviews:
  1  2026-12-01T09:02:00Z  lea  APPROVED on {head[:12]}
pushers: ana
comments: none
verdict (configuration of {base[:12]}):
  APPROVED: request: ana asks for reports-read for 1h
    counted: lea for reports-read step 1
""", "")
    assert local("list") == (
        0, "#1    merged  ana          request/ana -> main  Request reports-read\n", "")


def test_show_open_pull_request_as_json(local: Local) -> None:
    local.opened()
    assert local("review", "1", "--as", "ben", "--comment", "--body", "Why?",
                 "--now", "2026-12-01T09:01:00Z")[0] == 0
    code, out, err = local("show", "1", "--format", "json", "--now", "2026-12-01T09:02:00Z")
    assert (code, err) == (0, "")
    shown = json.loads(out)
    assert shown["verdict"]["decision"] == "pending"
    del shown["verdict"]
    head = local.repo.sha("request/ana")
    assert shown == {
        "version": 1, "number": 1, "state": "open", "author": "ana",
        "title": "Request reports-read", "body": "", "base": "main",
        "head_ref": "request/ana", "head_sha": head, "opened_at": "2026-12-01T09:00:00Z",
        "merge_sha": None, "merged_at": None, "merged_by": None, "closed_at": None,
        "reviews": [{"id": 1, "reviewer": "ben", "state": "COMMENTED", "commit": head,
                     "submitted_at": "2026-12-01T09:01:00Z", "is_bot": False, "body": "Why?"}],
        "pushers": ["ana"], "comments": {}}


def test_a_pushers_approval_does_not_let_it_merge(local: Local) -> None:
    local.opened()
    assert local("push", "1", "--as", "lea") == (
        0, "pull request #1: recorded a push by lea; their approvals no longer count\n", "")
    local("review", "1", "--as", "lea", "--approve", "--now", "2026-12-01T09:01:00Z")
    code, out, _err = local("merge", "1", "--as", "lea", "--now", "2026-12-01T09:02:00Z")
    assert code == 1
    assert out.startswith("PENDING: request: ana asks for reports-read for 1h\n")


def test_a_bots_approval_does_not_count(local: Local) -> None:
    local.opened()
    assert local("review", "1", "--as", "lea", "--bot", "--approve", "--now",
                 "2026-12-01T09:01:00Z")[1].startswith("review 1 on pull request #1: lea (bot) "
                                                       "APPROVED on ")
    assert local("merge", "1", "--as", "lea", "--now", "2026-12-01T09:02:00Z")[0] == 1


def test_admin_merges_without_a_verdict(local: Local) -> None:
    local.opened()
    code, out, _err = local("merge", "1", "--as", "root", "--admin", "--now",
                            "2026-12-01T09:01:00Z")
    assert (code, out) == (0, f"merged pull request #1 into main as "
                              f"{local.repo.sha('main')[:12]} by root (admin: gitjit's verdict "
                              "was not required)\n")


def test_close(local: Local) -> None:
    local.opened()
    assert local("close", "1", "--now", "2026-12-01T09:01:00Z") == (
        0, "closed pull request #1\n", "")
    code, out, _err = local("show", "1")
    assert code == 0
    assert "  closed: 2026-12-01T09:01:00Z\n" in out
    assert out.endswith("verdict: none (the pull request is closed)\n")
    assert local("merge", "1", "--as", "lea") == (
        2, "", "gitjit: error: pull request #1 is closed: only open pull requests can be "
               "merged\n")


@pytest.mark.parametrize(("args", "message"), [
    (["review", "1", "--as", "lea"],
     "gitjit: error: give exactly one of --approve, --request-changes, --comment, --dismiss "
     "(got 0)\n"),
    (["review", "1", "--as", "lea", "--approve", "--dismiss"],
     "gitjit: error: give exactly one of --approve, --request-changes, --comment, --dismiss "
     "(got 2)\n"),
    (["show", "2"], "gitjit: error: there is no pull request #2 in the local forge (numbers 1 "
                    "to 1 exist); see 'gitjit local list'\n"),
    (["open", "--as", "ana", "--head", "nope"],
     "gitjit: error: branch 'nope' does not exist in {repo}: create and commit to it first "
     "(git switch -c BRANCH)\n"),
])
def test_errors_exit_2_with_one_sentence(local: Local, args: list[str], message: str) -> None:
    local.opened()
    assert local(*args) == (2, "", message.format(repo=local.repo.path))


def test_bad_login_is_a_usage_error(local: Local) -> None:
    code, out, err = local("open", "--as", "ana_b", "--head", "request/ana")
    assert (code, out) == (2, "")
    assert "Invalid value for '--as': invalid login 'ana_b'" in err


def test_empty_list(local: Local) -> None:
    assert local("list") == (0, "no pull requests yet; open one with 'gitjit local open'\n", "")
    assert json.loads(local("list", "--format", "json")[1]) == {"version": 1,
                                                                "pull_requests": []}


def test_state_survives_separate_processes(local: Local) -> None:
    local.opened()
    local("review", "1", "--as", "lea", "--approve", "--now", "2026-12-01T09:01:00Z")
    result = subprocess.run(
        [sys.executable, "-m", "engine", "local", "merge", "1", "--as", "lea", "--now",
         "2026-12-01T09:02:00Z", "--repo", str(local.repo.path)],
        cwd=PROJECT, capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout) == (
        0, f"merged pull request #1 into main as {local.repo.sha('main')[:12]} by lea\n")
    code, out, _err = local("list", "--format", "json")
    assert code == 0
    [pull] = json.loads(out)["pull_requests"]
    assert (pull["state"], pull["merged_at"], pull["reviews"][0]["reviewer"]) == (
        "merged", "2026-12-01T09:02:00Z", "lea")


def test_a_hand_edited_forge_file_is_an_error_with_file_and_field_not_a_traceback(
        local: Local) -> None:
    local.opened()
    state_path = local.repo.path / ".git" / "gitjit" / "forge.json"
    state = json.loads(state_path.read_text(encoding="utf-8"))
    del state["pull_requests"]["1"]["reviews"]
    state_path.write_text(json.dumps(state), encoding="utf-8")

    for args in (["list"], ["show", "1"], ["review", "1", "--as", "lea", "--approve"]):
        code, out, err = local(*args)
        assert (code, out) == (2, "")
        assert err == (f"gitjit: error: the local forge's state {state_path} is damaged: "
                       'pull_requests["1"]: lacks reviews; fix that entry (docs/local-forge.md '
                       "describes the file) or delete the file to start with no pull "
                       "requests\n")


def test_a_local_change_in_the_way_keeps_the_merge_out_of_the_files_and_says_what_to_run(
        local: Local) -> None:
    repo = local.repo
    base = repo.sha("main")
    local.opened()
    local("review", "1", "--as", "lea", "--approve", "--now", "2026-12-01T09:02:00Z")
    repo.write(GRANT_PATH, "my own notes\n")  # an untracked file where the merge adds one

    code, _, err = local("merge", "1", "--as", "lea", "--now", "2026-12-01T09:03:00Z")

    assert code == 0
    assert err.startswith("note: main is checked out here and your local changes kept the "
                          "merge out of your files (")
    assert err.endswith(f"); commit or stash them, then run: git read-tree -m -u {base} main\n")
    assert repo.file(GRANT_PATH).read_text(encoding="utf-8") == "my own notes\n"
    repo.remove(GRANT_PATH)
    repo.git("read-tree", "-m", "-u", base, "main")  # the advice works once the way is clear
    assert repo.git("status", "--porcelain") == ""
