"""The JSON reporter: the shape machines rely on (documented in docs/json-output.md)."""

from __future__ import annotations

import json
from typing import Any

from engine.reporters import jsonout
from tests.reporters import samples

FINDING = {"code": str, "severity": str, "path": str, "line": int, "message": str}
GRANT = {"id": str, "path": str, "policy": str, "requester": str, "duration": str,
         "justification": str, "ticket": (str, type(None)), "start": (str, type(None)),
         "extends": (str, type(None)), "break_glass": bool}
MISSING = {"policy": str, "step": int, "needed": int, "count": int, "approvers": str,
           "eligible": list}
COUNTED = {"reviewer": str, "policy": str, "step": int, "commit": str,
           "submitted_at": (str, type(None))}


def assert_shape(value: dict[str, Any], shape: dict[str, Any]) -> None:
    assert list(value) == list(shape)
    for key, kind in shape.items():
        assert isinstance(value[key], kind), (key, value[key])
        # bool is an int in Python; a count must not be a bool and a flag must be one.
        assert (kind is int) <= (not isinstance(value[key], bool)), key


def test_check_shape() -> None:
    result = json.loads(jsonout.check(samples.check_report()))
    assert_shape(result, {"version": int, "ok": bool, "summary": dict, "findings": list})
    assert result["version"] == 1
    assert result["ok"] is False
    assert result["summary"] == {"policies": 4, "grants": 3, "files": 12, "errors": 2,
                                 "warnings": 1, "notices": 0}
    for finding in result["findings"]:
        assert_shape(finding, FINDING)
    assert result["findings"][0] == {"code": "config.missing", "severity": "error", "path": "",
                                     "line": 0,
                                     "message": "policies/groups.yaml is missing; add it"}


def test_pull_request_shape() -> None:
    result = json.loads(jsonout.pull_request(samples.pending()))
    assert_shape(result, {
        "version": int, "decision": str, "kind": str, "author": str, "base": str, "head": str,
        "grant": dict, "deleted": list, "action": type(None), "break_glass": bool,
        "auto_approved": bool, "review_by": type(None), "notify": list, "findings": list,
        "missing": list, "counted": list})
    assert (result["decision"], result["kind"]) == ("pending", "request")
    assert (result["base"], result["head"]) == (samples.BASE, samples.HEAD)
    assert_shape(result["grant"], GRANT)
    assert result["grant"]["duration"] == "2h"
    assert result["grant"]["start"] == "2026-11-30T10:00:00Z"
    assert_shape(result["findings"][0], FINDING)
    assert_shape(result["missing"][0], MISSING)
    assert result["missing"][0]["eligible"] == ["dave", "erin"]
    assert_shape(result["counted"][0], COUNTED)
    assert result["counted"][0]["submitted_at"] == "2026-11-30T08:40:00Z"


def test_break_glass_has_a_review_time() -> None:
    result = json.loads(jsonout.pull_request(samples.break_glass()))
    assert (result["break_glass"], result["review_by"]) == (True, "2026-12-01T09:00:00Z")


def test_deletions_list_the_grants_with_the_grant_shape() -> None:
    result = json.loads(jsonout.pull_request(samples.revoke()))
    assert result["grant"] is None
    assert len(result["deleted"]) == 1
    assert_shape(result["deleted"][0], GRANT)


def test_output_is_one_json_document_with_a_final_newline() -> None:
    out = jsonout.pull_request(samples.pending())
    assert out.endswith("}\n")
    assert json.loads(out)
