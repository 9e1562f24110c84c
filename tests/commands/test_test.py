"""``gitjit test``: policy test cases through the real CLI."""

from __future__ import annotations

import pytest

from engine.cli import run
from tests.gitrepo import GitRepoBuilder

TESTS = """\
apiVersion: gitjit/v1
kind: PolicyTest
description: reports-read approvals
cases:
  - name: a lead approves an analyst
    now: 2026-11-30T09:00:00Z
    grant:
      policy: reports-read
      requester: ana
      duration: 1h
      justification: Monthly revenue report for finance
    reviews:
      - {reviewer: lea, state: APPROVED}
    expect: {decision: approved}

  - name: a colleague of the requester is wrongly expected to approve
    now: 2026-11-30T09:00:00Z
    grant:
      policy: reports-read
      requester: ana
      duration: 1h
      justification: Monthly revenue report for finance
    reviews:
      - {reviewer: ben, state: APPROVED}
    expect: {decision: approved}
"""


def gitjit(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_failing_case_fails_the_run_and_is_named(
        small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    small_repo.write("policies/tests/reports-read.yaml", TESTS)
    code, out, err = gitjit(["test", str(small_repo.path)], capsys)
    assert (code, err) == (1, "")
    assert out == (
        "FAIL policies/tests/reports-read.yaml:16: test.failed: case 'a colleague of the "
        "requester is wrongly expected to approve': expected approved, got pending (findings: "
        "approval.missing, approval.not-eligible)\n"
        "2 tests in 1 file, 1 passed, 1 failed\n")


def test_verbose_lists_the_passing_cases_too(small_repo: GitRepoBuilder,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    small_repo.write("policies/tests/reports-read.yaml", TESTS)
    code, out, _ = gitjit(["test", "-v", str(small_repo.path / "policies" / "tests")], capsys)
    assert code == 1
    assert out.splitlines()[0] == \
        "PASS policies/tests/reports-read.yaml:5: a lead approves an analyst"
    assert out.splitlines()[-1] == "2 tests in 1 file, 1 passed, 1 failed"


def test_all_cases_pass(small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    passing = TESTS.split("\n  - name: a colleague")[0]
    small_repo.write("policies/tests/reports-read.yaml", passing)
    code, out, err = gitjit(["test", str(small_repo.path)], capsys)
    assert (code, out, err) == (0, "1 test in 1 file, 1 passed, 0 failed\n", "")


def test_no_tests_at_all_fails(small_repo: GitRepoBuilder,
                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["test", str(small_repo.path)], capsys)
    assert (code, err) == (1, "")
    assert out == ("0 tests in 0 files, 0 passed, 0 failed\n"
                   "no policy tests found: add PolicyTest files under policies/tests/\n")


def test_a_broken_configuration_stops_before_the_tests(
        small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    small_repo.write("policies/tests/reports-read.yaml", TESTS)
    small_repo.write("policies/groups.yaml", "apiVersion: gitjit/v1\nkind: Groups\ngroups: {}\n"
                     "groups: {}\n")
    code, out, err = gitjit(["test", str(small_repo.path)], capsys)
    assert (code, err) == (2, "")
    assert out.splitlines()[0] == ("policies/groups.yaml:4: yaml.duplicate-key: duplicate key "
                                   "'groups' (first at line 3); keep one")
    assert out.splitlines()[-1] == ("configuration has errors; fix them (gitjit check) before "
                                    "running policy tests")
