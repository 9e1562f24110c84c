"""``gitjit test``: policy test cases through the real CLI."""

from __future__ import annotations

import json
from xml.etree import ElementTree

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


def test_a_repository_without_tests_passes_and_says_so(
        small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["test", str(small_repo.path)], capsys)
    assert (code, err) == (0, "")
    assert out == ("0 tests in 0 files, 0 passed, 0 failed\n"
                   "no policy tests yet: add PolicyTest files under policies/tests/ "
                   "(docs/file-formats.md#policytest)\n")
    code, out, _ = gitjit(["test", str(small_repo.path), "--format", "json"], capsys)
    assert (code, json.loads(out)) == (
        0, {"version": 1, "tests": 0, "passed": 0, "failed": 0, "cases": []})


def test_a_path_without_tests_fails(small_repo: GitRepoBuilder,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Asking for tests by path and finding none is likely a typo, never a pass."""
    small_repo.write("policies/tests/reports-read.yaml", TESTS)
    (small_repo.path / "policies" / "other").mkdir()
    code, out, _ = gitjit(["test", str(small_repo.path / "policies" / "other")], capsys)
    assert code == 1
    assert out.splitlines()[-1] == "no policy tests under policies/other"


def test_json_for_ci(small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    small_repo.write("policies/tests/reports-read.yaml", TESTS)
    code, out, err = gitjit(["test", str(small_repo.path), "--format", "json"], capsys)
    assert (code, err) == (1, "")
    assert json.loads(out) == {"version": 1, "tests": 2, "passed": 1, "failed": 1, "cases": [
        {"file": "policies/tests/reports-read.yaml", "line": 5,
         "name": "a lead approves an analyst", "expected": "approved", "got": "approved",
         "passed": True, "findings": [], "message": None},
        {"file": "policies/tests/reports-read.yaml", "line": 16,
         "name": "a colleague of the requester is wrongly expected to approve",
         "expected": "approved", "got": "pending", "passed": False,
         "findings": ["approval.missing", "approval.not-eligible"],
         "message": "case 'a colleague of the requester is wrongly expected to approve': "
                    "expected approved, got pending (findings: approval.missing, "
                    "approval.not-eligible)"}]}


def test_junit_for_ci(small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    """JUnit XML that a CI reader parses: suites per file, the failure with its finding."""
    small_repo.write("policies/tests/reports-read.yaml", TESTS.replace(
        "wrongly expected", "wrongly <expected> & \"quoted\""))
    code, out, err = gitjit(["test", str(small_repo.path), "--format", "junit"], capsys)
    assert (code, err) == (1, "")
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')
    root = ElementTree.fromstring(out.split("\n", 1)[1])
    assert (root.tag, root.get("tests"), root.get("failures")) == ("testsuites", "2", "1")
    [suite] = root
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == (
        "policies/tests/reports-read.yaml", "2", "1")
    passing, failing = suite
    assert (passing.get("name"), list(passing)) == ("a lead approves an analyst", [])
    assert failing.get("name") == ("a colleague of the requester is wrongly <expected> & "
                                   "\"quoted\" to approve")
    assert failing.get("line") == "16"
    [failure] = failing
    assert (failure.tag, failure.get("type")) == ("failure", "test.failed")
    assert failure.text is not None
    assert failure.text.startswith("policies/tests/reports-read.yaml:16: test.failed: case ")


def test_a_broken_configuration_keeps_json_stdout_clean(
        small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    small_repo.write("policies/groups.yaml", "apiVersion: gitjit/v1\nkind: Groups\n"
                     "groups: {}\ngroups: {}\n")
    code, out, err = gitjit(["test", str(small_repo.path), "--format", "junit"], capsys)
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == ("configuration has errors; fix them (gitjit check) before "
                                    "running policy tests")


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
