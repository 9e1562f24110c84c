"""gitjit simulate and gitjit demo, through the real CLI, against real throwaway repositories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from engine.cli import run
from tests.packaging import build_wheel, copy_sources

PROJECT = Path(__file__).resolve().parents[2]
DOC_SCENARIOS = sorted((PROJECT / "docs" / "scenarios").glob("*.yaml"))

RELINQUISH = """\
apiVersion: gitjit/v1
kind: Scenario
description: rita's request, with one wrong expectation
start: "2026-11-30T14:00:00Z"
repository: {repository}
steps:
  - request:
      as: rita
      policy: github-release-team
      duration: 2h
      justification: Tag and publish release 4.2.0
    expect: {{verdict: pending}}
  - merge: {{as: rita}}
    expect: {{merged: "true"}}
"""


def test_there_are_example_scenarios() -> None:
    assert [p.name for p in DOC_SCENARIOS] == ["break-glass.yaml", "happy-path.yaml",
                                              "relinquish.yaml"]


@pytest.mark.parametrize("path", DOC_SCENARIOS, ids=lambda p: p.stem)
def test_documented_scenarios_hold(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["simulate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "FAILED" not in out
    assert out.splitlines()[-1].endswith("expectations: all hold")


def test_a_wrong_expectation_fails_with_exit_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "wrong.yaml"
    scenario.write_text(RELINQUISH.format(repository=PROJECT))

    assert run(["simulate", str(scenario)]) == 1

    lines = capsys.readouterr().out.splitlines()
    assert lines[2:] == [
        "14:00  request    rita asks github-release-team for 2h (PR #1): approved "
        "(auto-approved)  [FAILED]",
        "       FAILED: expected verdict pending, got approved",
        "14:00  merge      rita merges PR #1: merged -- verdict approved (auto-approved)",
        "       ok: merged true",
        "simulate: 2 steps, 2 expectations: FAILED at step 1",
    ]


def test_json_output_has_every_step_with_its_result(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "wrong.yaml"
    scenario.write_text(RELINQUISH.format(repository=PROJECT))

    assert run(["simulate", str(scenario), "--format", "json"]) == 1

    report = json.loads(capsys.readouterr().out)
    assert (report["ok"], report["start"]) == (False, "2026-11-30T14:00:00Z")
    first, second = report["steps"]
    assert first["expectations"] == [
        {"key": "verdict", "expected": "pending", "actual": "approved", "ok": False}]
    assert first["result"] == {
        "pull_request": 1, "verdict": "approved", "missing": [], "findings": ["approval.auto"],
        "merged": None, "active": [], "ledger": [], "removed": [], "failures": []}
    assert (second["action"], second["line"], second["result"]["merged"]) == ("merge", 13, True)


def test_a_malformed_scenario_exits_2_with_file_and_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: gitjit/v1\nkind: Scenario\ndescription: bad\n"
        "start: '2026-11-30T09:00:00Z'\nsteps:\n  - advance: 2 hours\n  - activate: {}\n")
    monkeypatch.chdir(tmp_path)

    assert run(["simulate", "bad.yaml"]) == 2

    assert capsys.readouterr().out.splitlines() == [
        "bad.yaml:6: schema.invalid: $.steps[0].advance: '2 hours' is not a duration; write a "
        "duration such as 30m, 2h, 1h30m, 1d or PT2H (no months or years)",
        "the scenario cannot run: 1 problem",
    ]


def test_a_step_that_cannot_run_names_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(RELINQUISH.format(repository=PROJECT).replace(
        "merge: {as: rita}", "merge: {pr: \"7\", as: rita}"))

    assert run(["simulate", str(scenario)]) == 2

    assert capsys.readouterr().err == (
        f"gitjit: error: {scenario}:13: step 2 (merge): there is no pull request #7 in the local "
        "forge (numbers 1 to 1 exist); see 'gitjit local list'\n")


def test_a_repository_without_policies_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(RELINQUISH.format(repository="elsewhere"))
    assert run(["simulate", str(scenario)]) == 2
    assert capsys.readouterr().out.splitlines()[0] == (
        f"{scenario}:5: config.missing: repository 'elsewhere' ({tmp_path / 'elsewhere'}) has "
        "no policies/ folder; give the path of an access repository, relative to the scenario "
        "file")


def test_demo_tells_the_whole_story(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workdir = tmp_path / "demo"

    assert run(["demo", "--workdir", str(workdir)]) == 0

    out = capsys.readouterr().out
    for line in [
        "09:00  request    bob asks prod-db-admin for 2h (PR #1): pending -- step 1 (group:dba) "
        "needs 1 more, step 2 (group:security) needs 1 more",
        "09:10  review     dave approves PR #1: pending -- step 2 (group:security) needs 1 more",
        "       ok: findings [approval.stale]",
        "09:20  merge      sue merges PR #1: merged -- verdict approved",
        "09:20  activate   activated prod-db-admin/bob-20261130T0900Z until 11:20",
        "09:30  merge      root merges PR #2 as admin: merged, bypassing gitjit's verdict "
        "(pending -- step 1 (group:dba) needs 1 more, step 2 (group:security) needs 1 more)",
        "09:30  merge      dave merges PR #3: merged -- verdict approved (housekeeping)",
        "11:30  reconcile  revoked prod-db-admin/bob-20261130T0900Z (expired); opened removal "
        "pull request #4 for 1 expired grant file",
        "simulate: 18 steps, 26 expectations: all hold",
        "  2 grants: 2 ended, 0 not ended",
        f"  gitjit audit --repo {workdir / 'repo'}               every grant's lifecycle",
    ]:
        assert line in out.splitlines()
    assert "09:30  activate   refused prod-db-admin/carol-20261130T0930Z: merged while the " \
        "verdict was pending" in out
    assert "opened removal pull request #3 for 1 refused grant file" in out
    assert "FAILED" not in out
    # What it leaves behind is a real access repository that the other commands read.
    assert run(["audit", "verify", "--repo", str(workdir / "repo")]) == 0
    assert "4 records, intact" in capsys.readouterr().out


def test_workdir_must_be_new_or_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    assert run(["demo", "--workdir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"gitjit: error: --workdir {tmp_path} is not an empty folder; give a new or empty one\n")


def test_the_wheel_ships_the_demo_and_its_configuration(tmp_path: Path) -> None:
    # Build from a copy so the test never writes into the working tree.
    source = copy_sources(tmp_path / "src")
    out = tmp_path / "wheel"
    wheel = build_wheel(source, out)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    examples = {f"engine/examples/{p.relative_to(PROJECT).as_posix()}"
                for p in (PROJECT / "policies").rglob("*.yaml")}
    assert examples <= names
    assert {"engine/scenarios/demo.yaml", "engine/schemas/scenario.schema.json"} <= names

    # Installed from the wheel, from another folder, with no git identity configured.
    env = {"PYTHONPATH": str(tmp_path / "site"), "PATH": os.environ["PATH"],
           "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", "demo"],
        capture_output=True, text=True, cwd=tmp_path, env=env, check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert "simulate: 18 steps, 26 expectations: all hold" in result.stdout


def test_the_documented_output_is_real(capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    doc = (PROJECT / "docs" / "simulate.md").read_text("utf-8")
    marker = "<!-- simulate-output: docs/scenarios/relinquish.yaml -->\n```\n"
    documented = doc.split(marker, 1)[1].split("```", 1)[0].splitlines()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    scenario = (PROJECT / "docs" / "scenarios" / "relinquish.yaml").read_text("utf-8")
    assert example == "apiVersion:" + scenario.split("apiVersion:", 1)[1]  # minus the comment
    monkeypatch.chdir(PROJECT)

    assert run(["simulate", "docs/scenarios/relinquish.yaml"]) == 0

    actual = capsys.readouterr().out.splitlines()
    # The second line names this machine's folders.
    assert actual[:1] + actual[2:] == documented[:1] + documented[2:]
