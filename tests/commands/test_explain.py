"""``gitjit explain``: a policy in plain words, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import run
from tests.gitrepo import GitRepoBuilder

EXPLAINED = [
    "reports-read: Read access to the reports database",
    "  grants: postgres (connection reports, role reports_read)",
    "  who may request: group analysts (ana, ben)",
    "  who must approve (every step; one person counts in one step only; never the requester "
    "or anyone who pushed to the request):",
    "    step 1: 1 of group leads (lea)",
    "  an approval counts for 1d (at the verdict and at the merge); older ones must be given "
    "again",
    "  duration: 1h by default, at most 2h; the clock starts at merge (or at 'start' if later)",
]


def gitjit(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_a_small_policy(small_repo: GitRepoBuilder,
                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["explain", "reports-read", "--repo", str(small_repo.path)], capsys)
    assert (code, err) == (0, "")
    assert out == "\n".join(EXPLAINED) + "\n"


def test_explain_in_json(small_repo: GitRepoBuilder,
                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["explain", "reports-read", "--repo", str(small_repo.path),
                             "--format", "json"], capsys)
    assert (code, err) == (0, "")
    assert json.loads(out) == {"policy": "reports-read", "lines": EXPLAINED}


def test_explain_an_unknown_policy(small_repo: GitRepoBuilder,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["explain", "reports-write", "--repo", str(small_repo.path)], capsys)
    assert (code, out) == (2, "")
    assert err == ("gitjit: error: unknown policy 'reports-write'; known policies: "
                   "reports-read\n")


def test_explain_with_a_broken_configuration(small_repo: GitRepoBuilder,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    small_repo.write("policies/groups.yaml", "apiVersion: gitjit/v1\nkind: Groups\n")
    code, out, err = gitjit(["explain", "reports-read", "--repo", str(small_repo.path)], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("gitjit: error: the configuration has errors, e.g. "
                          "policies/groups.yaml:")
    assert err.endswith("; run 'gitjit check'\n")


def test_explain_in_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing"
    code, out, err = gitjit(["explain", "reports-read", "--repo", str(missing)], capsys)
    assert (code, out, err) == (2, "", f"gitjit: error: --repo {missing}: no such directory\n")
