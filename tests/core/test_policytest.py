"""Policy tests: each case is judged like a real pull request."""

from __future__ import annotations

from pathlib import Path

from engine.core import policytest
from engine.core.config import ConfigFile, build_config
from engine.core.decision import Outcome
from tests.core.builders import POLICY, SCHEMAS, build, doc, policy_files

PROJECT = Path(__file__).resolve().parents[2]
TEST_PATH = "policies/tests/db.yaml"

def run(cases: str, only: str | None = None) -> list[policytest.CaseResult]:
    files = policy_files(POLICY)
    files[TEST_PATH] = doc("PolicyTest", cases)
    config = build(files)
    assert [f.render() for f in config.findings] == []
    return policytest.run(config, SCHEMAS, config.tests, only)


def case(name: str, expect: str, extra: str = "", **grant: str) -> str:
    fields = {"policy": "db", "requester": "bob", "duration": "1h",
              "justification": "Replication lag on the orders primary", **grant}
    lines = "\n".join(f"      {k}: {v}" for k, v in fields.items())
    return (f"  - name: {name}\n    now: 2026-11-30T09:00:00Z\n    grant:\n{lines}\n"
            f"{extra}    expect: {expect}\n")


def cases(*items: str) -> str:
    return "cases:\n" + "".join(items)


def test_the_example_policy_tests_pass() -> None:
    files = [ConfigFile(p.relative_to(PROJECT).as_posix(), "100644", p.read_bytes())
             for p in sorted((PROJECT / "policies").rglob("*")) if p.is_file()]
    config = build_config(files, SCHEMAS)
    results = policytest.run(config, SCHEMAS, config.tests)
    assert len(results) > 20
    assert [r.failure().render() for r in results if not r.passed] == []


def test_passing_and_failing_cases() -> None:
    results = run(cases(
        case("a DBA approves", "{decision: approved}",
             "    reviews:\n      - {reviewer: dave, state: APPROVED}\n"),
        case("wrongly expects approval", "{decision: approved}"),
        case("expects a code it does not get", "{decision: pending, findings: "
             "[approval.missing, approval.stale]}"),
    ))
    assert [(r.name, r.passed) for r in results] == [
        ("a DBA approves", True), ("wrongly expects approval", False),
        ("expects a code it does not get", False)]
    assert results[1].decision.outcome is Outcome.PENDING
    assert results[1].failure().render() == (
        f"{TEST_PATH}:14: test.failed: case 'wrongly expects approval': expected approved, got "
        "pending (findings: approval.missing)")
    assert results[2].missing_codes == ("approval.stale",)
    assert results[2].failure().render() == (
        f"{TEST_PATH}:22: test.failed: case 'expects a code it does not get': expected "
        "finding(s) approval.stale not reported (findings: approval.missing)")


def test_an_expected_code_that_does_not_exist_is_named_as_a_typo() -> None:
    [result] = run(cases(case("misspelt code", "{decision: pending, findings: "
                                               "[approval.mising]}")))
    assert result.failure().message == (
        "case 'misspelt code': expected finding(s) approval.mising not reported; "
        "'approval.mising' is no finding code (did you mean 'approval.missing'? see "
        "docs/findings.md) (findings: approval.missing)")


def test_reviews_map_to_forge_reviews() -> None:
    approve = "    reviews:\n      - {reviewer: dave, state: APPROVED"
    results = run(cases(
        case("stale", "{decision: pending, findings: [approval.stale]}",
             approve + ', stale: "true"}\n'),
        case("bot", "{decision: pending, findings: [approval.bot]}",
             approve + ', bot: "true"}\n'),
        case("pusher", "{decision: pending, findings: [approval.pusher]}",
             "    pushers: [Dave]\n" + approve + "}\n"),
        case("author differs", "{decision: denied, findings: [grant.requester-not-author]}",
             "    author: alice\n"),
        case("reviews ordered by time", "{decision: approved}",
             '    reviews:\n      - {reviewer: dave, state: APPROVED, at: "2026-11-30T08:50:00Z"}\n'
             '      - {reviewer: dave, state: DISMISSED, at: "2026-11-30T08:40:00Z"}\n'),
        case("written order, a minute apart", "{decision: pending}",
             "    reviews:\n      - {reviewer: dave, state: APPROVED}\n"
             "      - {reviewer: dave, state: DISMISSED}\n"),
    ))
    assert [(r.name, r.passed) for r in results] == [
        ("stale", True), ("bot", True), ("pusher", True), ("author differs", True),
        ("reviews ordered by time", True), ("written order, a minute apart", True)]


def test_existing_grants_and_paths() -> None:
    existing = (
        "    existing:\n"
        "      - path: grants/db/bob-20261130T0700Z.yaml\n"
        "        activated_at: 2026-11-30T08:00:00Z\n"
        "        grant: {policy: db, requester: bob, duration: 2h, justification: earlier}\n"
        "    reviews:\n      - {reviewer: dave, state: APPROVED}\n")
    limited = POLICY + "limits: {max_active_per_requester: 1}\n"
    files = policy_files(limited)
    files[TEST_PATH] = doc("PolicyTest", cases(
        case("limit", "{decision: denied, findings: [grant.too-many-active]}", existing),
        case("extends", "{decision: approved}", existing,
             extends="db/bob-20261130T0700Z"),
        case("odd path", "{decision: denied, findings: [grant.path]}",
             "    path: grants/db/bob.yaml\n"),
    ))
    config = build(files)
    results = policytest.run(config, SCHEMAS, config.tests)
    assert [(r.name, r.passed) for r in results] == [
        ("limit", True), ("extends", True), ("odd path", True)]


def test_only_selects_files() -> None:
    assert len(run(cases(case("x", "{decision: pending}")), only=TEST_PATH)) == 1
    assert run(cases(case("x", "{decision: pending}")), only="policies/tests/other") == []
