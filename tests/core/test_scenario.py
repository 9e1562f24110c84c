"""engine.core.scenario: scenario documents into steps, and expectations against results."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.core.scenario import (
    Activate,
    Advance,
    Expect,
    Merge,
    Request,
    Result,
    Review,
    Revoke,
    Scenario,
    Step,
    check,
    parse,
)
from engine.core.schema import check_schemas
from engine.core.strictyaml import load

PROJECT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((PROJECT / "schemas" / "scenario.schema.json").read_text("utf-8"))
SCHEMAS = {"Scenario": SCHEMA}
HEAD = """\
apiVersion: gitjit/v1
kind: Scenario
description: a test
start: "2026-11-30T10:00:00+01:00"
steps:
"""


def parsed(steps: str) -> tuple[Scenario | None, list[str]]:
    scenario, findings = parse(load((HEAD + steps).encode(), "s.yaml"), SCHEMAS)
    return scenario, [f.render() for f in findings]


def test_steps_become_frozen_dataclasses() -> None:
    scenario, findings = parsed("""\
  - request: {as: bob, policy: db, duration: 2h, justification: why not, break_glass: "true"}
    expect: {verdict: pending, missing: ["2", "1"], findings: [approval.missing]}
  - review: {as: dave, state: approve}
  - merge: {pr: "1", as: root, admin: "true"}
    expect: {merged: "false", active: [], ledger: ["alert db/bob-20261130T0900Z"]}
  - advance: 1h30m
  - activate: {}
  - revoke: {as: sam, grant: db/bob-20261130T0900Z, approvers: [sue]}
""")
    assert findings == []
    assert scenario is not None
    assert scenario.start == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert scenario.repository is None
    assert scenario.steps == (
        Step(1, "request", Request("bob", "db", "2h", "why not", break_glass=True), 6,
             Expect(verdict="pending", missing=(1, 2), findings=("approval.missing",))),
        Step(2, "review", Review("dave", "approve"), 8),
        Step(3, "merge", Merge("root", 1, admin=True), 9,
             Expect(merged=False, active=(), ledger=("alert db/bob-20261130T0900Z",))),
        Step(4, "advance", Advance(timedelta(hours=1, minutes=30), "1h30m"), 11),
        Step(5, "activate", Activate(), 12),
        Step(6, "revoke", Revoke("sam", "db/bob-20261130T0900Z", ("sue",)), 13),
    )


@pytest.mark.parametrize(("steps", "expected"), [
    ("  - merge: {as: dave}\n    advance: 1h\n",
     "s.yaml:6: schema.invalid: $.steps[0]: a step has exactly one action (request, action, "
     "review, push, merge, advance, activate, reconcile, relinquish, revoke); found merge, "
     "advance"),
    ("  - expect: {active: []}\n",
     "s.yaml:6: schema.invalid: $.steps[0]: a step has exactly one action (request, action, "
     "review, push, merge, advance, activate, reconcile, relinquish, revoke); found only "
     "expect"),
    ("  - activate: {}\n    expect: {verdict: approved}\n",
     "s.yaml:7: schema.invalid: $.steps[0].expect.verdict: an activate step has no verdict; it "
     "applies to action, merge, push, relinquish, request, review, revoke steps"),
    ("  - review: {as: dave, state: approve}\n    expect: {merged: \"true\"}\n",
     "s.yaml:7: schema.invalid: $.steps[0].expect.merged: a review step has no merged; it "
     "applies to merge, relinquish, revoke steps"),
    ("  - advance: 0m\n",
     "s.yaml:6: value.duration: $.steps[0].advance: duration '0m' is zero; write whole numbers "
     "of days, hours, minutes and seconds in that order, such as 30m, 2h, 1h30m, 1d or 1d12h, "
     "or ISO 8601 such as PT2H or P1DT2H30M (no months or years)"),
    ("  - review: {as: dave, state: approved}\n",
     "s.yaml:6: schema.invalid: $.steps[0].review.state: 'approved' is not a review state; "
     "write approve, request-changes, comment or dismiss"),
    ("  - activate: {now: x}\n",
     "s.yaml:6: schema.invalid: $.steps[0].activate: unexpected key 'now'; allowed keys: none"),
    ("  - reconcile: {}\n    expect: {ledger: [activated bob]}\n",
     "s.yaml:7: schema.invalid: $.steps[0].expect.ledger[0]: 'activated bob' is not a ledger "
     "record; write EVENT GRANT-ID, e.g. 'activated prod-db-admin/bob-20261130T0900Z' (events: "
     "activated, refused, expired, relinquished, revoked, alert), or EVENT ACTION-ID, e.g. "
     "'completed actions/prod-db-admin/bob-20261130T0900Z' (events: started, completed, "
     "failed, unknown, refused, alert)"),
])
def test_a_bad_step_is_a_finding_at_its_line(steps: str, expected: str) -> None:
    scenario, findings = parsed(steps)
    assert scenario is None
    assert findings == [expected]


def test_a_file_of_another_kind_is_not_a_scenario() -> None:
    doc = load(b"apiVersion: gitjit/v1\nkind: Policy\nid: x\n", "p.yaml")
    assert [f.render() for f in parse(doc, SCHEMAS)[1]] == [
        "p.yaml:2: schema.kind: found kind 'Policy'; a scenario file has 'kind: Scenario'"]


def test_start_needs_an_offset() -> None:
    doc = load(HEAD.replace("+01:00", "").encode() + b"  - activate: {}\n", "s.yaml")
    assert [f.render() for f in parse(doc, SCHEMAS)[1]] == [
        "s.yaml:4: schema.invalid: $.start: '2026-11-30T10:00:00' is not an RFC 3339 timestamp "
        "with an offset; write one such as 2026-11-27T09:00:00Z"]


def test_expectations_hold_or_say_what_differs() -> None:
    expect = Expect(verdict="approved", missing=(), findings=("approval.auto",), merged=True,
                    active=("a/b-20261130T0900Z",), ledger=("activated a/b-20261130T0900Z",),
                    removed=())
    result = Result(verdict="pending", missing=(2,), findings=("approval.missing", "x.y"),
                    merged=False, active=(), ledger=("activated a/b-20261130T0900Z",),
                    removed=("a/b-20261130T0900Z",))
    assert [c.render() for c in check(expect, result)] == [
        "FAILED: expected verdict approved, got pending",
        "FAILED: expected missing [], got [2]",
        "FAILED: expected findings [approval.auto], got [approval.missing, x.y]",
        "FAILED: expected merged true, got false",
        "FAILED: expected active [a/b-20261130T0900Z], got []",
        "ok: ledger [activated a/b-20261130T0900Z]",
        "FAILED: expected removed [], got [a/b-20261130T0900Z]",
    ]


def test_findings_are_a_subset_and_unchecked_keys_are_skipped() -> None:
    result = Result(verdict="approved", findings=("approval.auto", "pr.relinquish"))
    assert [c.render() for c in check(Expect(findings=("pr.relinquish",)), result)] == [
        "ok: findings [pr.relinquish]"]
    assert check(Expect(), result) == []


def test_the_scenario_schema_is_valid_and_strict() -> None:
    assert check_schemas(SCHEMAS, ("Scenario",)) == []

    def walk(node: object, where: str) -> Iterator[str]:
        if isinstance(node, dict):
            if node.get("type") == "object" and "additionalProperties" not in node:
                yield f"{where}: object without additionalProperties"
            for name, prop in node.get("properties", {}).items():
                if "description" not in prop:
                    yield f"{where}.{name}: no description"
            for key, child in node.items():
                yield from walk(child, f"{where}/{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                yield from walk(child, f"{where}[{index}]")

    assert list(walk(SCHEMA, "Scenario")) == []
    assert SCHEMA["$id"] == "https://gitjit.dev/schemas/v1/scenario.schema.json"
    assert SCHEMA["properties"]["kind"]["const"] == "Scenario"
