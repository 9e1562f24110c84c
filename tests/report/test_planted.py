"""The acceptance: a history with planted patterns is reported with exactly those findings,
and an ordinary history with none. Both are real: requests, reviews and merges in the local
forge, `gitjit activate` and `gitjit reconcile` at each moment, a signed ledger
(tests/report/history.py)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.report.history import PLANTED, History


def _json(history: History, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    assert history.report("--format", "json", *args) == 0
    return json.loads(capsys.readouterr().out)


def test_an_ordinary_history_raises_no_finding(ordinary: History,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(ordinary, capsys, "--forge", "local")
    assert report["findings"] == []
    assert report["unused_eligibility"] == []
    summary = report["summary"]
    assert (summary["requested"], summary["activated"], summary["break_glass"],
            summary["refused"], summary["alerts"]) == (22, 22, 1, 0, 0)
    assert summary["ended"] == {"expired": 22}
    assert summary["pull_requests"] == {"merged": 22}
    assert summary["revocation_worst_seconds"] == 60


def test_an_ordinary_history_offline_raises_no_finding_but_says_what_it_cannot_see(
        ordinary: History, capsys: pytest.CaptureFixture[str]) -> None:
    """Without a forge, the break-glass grant's review cannot be seen: it was reviewed in
    time, yet offline the report can only say it does not know."""
    report = _json(ordinary, capsys, "--forge", "none")
    assert [(f["code"], f["subject"]) for f in report["findings"]] == [
        ("report.break-glass-unreviewed", "db/carol-20261111T1500Z")]
    assert "no forge was given" in report["findings"][0]["message"]


def test_a_clone_whose_local_forge_was_never_used_is_read_as_offline(
        ordinary: History, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The default forge is the local one; in a clone it holds nothing (the pull requests
    lived elsewhere). That is no data, not "no reviews": the break-glass review is unknown,
    not missing."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ordinary.path), str(clone)], check=True)
    report = _json(History(clone), capsys)
    assert [(f["code"], f["subject"]) for f in report["findings"]] == [
        ("report.break-glass-unreviewed", "db/carol-20261111T1500Z")]
    assert "the local forge holds no pull requests" in report["findings"][0]["message"]
    assert report["summary"]["pull_requests"] is None


EXPECTED = [
    ("high", "report.break-glass-unreviewed", "db", "db/bob-20261118T1500Z"),
    ("high", "report.reciprocal-approvals", "", "alice<->dave"),
    ("medium", "report.fast-approval", "db", "erin"),
    ("medium", "report.late-revocation", "reporting", "reporting/erin-20261106T1400Z"),
    ("medium", "report.too-many-activations", "db", "carol"),
    ("low", "report.reused-justification", "db", "routine maintenance of the orders database"),
    ("low", "report.unused-eligibility", "db", "gus"),
]


def test_the_planted_history_reports_exactly_the_planted_patterns(
        planted: History, capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(planted, capsys, "--forge", "local")
    found = [(f["level"], f["code"], f["policy"] or "", f["subject"])
             for f in report["findings"]]
    assert found == EXPECTED
    assert sorted(code for _level, code, _policy, _subject in EXPECTED) == sorted(PLANTED)
    assert report["levels"] == {"high": 2, "medium": 3, "low": 2}
    assert report["unused_eligibility"] == [
        {"login": "gus", "policy": "db", "role": "requester", "via": "group:sre"}]


def test_each_planted_finding_names_its_evidence(planted: History,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    findings = {f["code"]: f for f in _json(planted, capsys, "--forge", "local")["findings"]}
    fast = findings["report.fast-approval"]
    assert fast["message"] == ("erin approved 3 of 5 requests within 1m of the push of the "
                               "commit they approved")
    assert fast["evidence"]["grants"] == [
        "db/bob-20261104T1600Z", "db/bob-20261112T1600Z", "db/bob-20261120T1600Z"]
    assert fast["evidence"]["notes"][0].endswith("approved 5s after the push")
    assert fast["evidence"]["times"] == [
        "2026-11-04T16:00:05Z", "2026-11-12T16:00:05Z", "2026-11-20T16:00:05Z"]
    pair = findings["report.reciprocal-approvals"]
    assert pair["message"] == ("alice approved 1 of dave's grants and dave approved 6 of "
                               "alice's")
    assert "reporting/dave-20261117T1300Z" in pair["evidence"]["grants"]
    glass = findings["report.break-glass-unreviewed"]
    assert glass["message"].startswith(
        "break-glass grant of bob, activated 2026-11-18T15:01Z, was due for review by "
        "2026-11-19T15:01Z")
    assert glass["evidence"]["pull_requests"] and glass["evidence"]["ledger_records"]
    often = findings["report.too-many-activations"]
    assert often["evidence"]["grants"] == [
        f"db/carol-20261113T{hour}30Z" for hour in ("09", "11", "13", "15")]
    late = findings["report.late-revocation"]
    assert late["evidence"]["times"] == ["2026-11-06T15:07:00Z", "2026-11-06T17:07:00Z"]
    assert findings["report.reused-justification"]["evidence"]["people"] == [
        "alice", "bob", "carol"]


def test_the_text_report_leads_with_the_summary_and_the_most_urgent(
        planted: History, capsys: pytest.CaptureFixture[str]) -> None:
    assert planted.report("--forge", "local") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("gitjit access review of main, 2026-10-24T00:00:00Z to "
                        "2026-11-23T00:00:00Z (all policies)")
    assert lines[1] == ("35 grants requested, 35 activated (2 break-glass) by 5 people, "
                        "0 refused; ended: expired 35; 0 alerts")
    assert lines[3] == ("pull requests opened (local forge): 35 merged (closed: denied or "
                        "abandoned)")
    assert lines[5] == "7 findings: 2 high, 3 medium, 2 low"
    assert lines[7].startswith("HIGH report.break-glass-unreviewed db/bob-20261118T1500Z: ")


def test_csv_has_one_row_per_finding(planted: History,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert planted.report("--forge", "local", "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["level"], r["code"], r["subject"]) for r in rows] == [
        (level, code, subject) for level, code, _policy, subject in EXPECTED]
    assert rows[2]["pull_requests"] == "#6 #19 #35"


def test_policy_keeps_one_policy(planted: History, capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(planted, capsys, "--forge", "local", "--policy", "reporting")
    assert [f["code"] for f in report["findings"]] == ["report.late-revocation"]
    assert report["policy"] == "reporting"


def test_the_charts_count_what_happened(planted: History,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    charts = _json(planted, capsys, "--forge", "local")["charts"]
    assert sum(sum(row) for row in charts["heatmap"]["counts"]) == 35
    assert {s["policy"]: sum(s["values"]) for s in charts["grants_over_time"]} == {
        "db": 27, "reporting": 8}
    assert charts["top_requesters"][0] == {"login": "carol", "activations": 11}
    assert charts["approval_latency"]["counts"][0] == 3  # erin's three rubber stamps
    assert charts["revocation_latency"]["counts"][-1] == 1  # the late one, > 1h
