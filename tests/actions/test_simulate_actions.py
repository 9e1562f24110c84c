"""`gitjit simulate` runs actions against the recording target: it writes the plan down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import run

ROOT = Path(__file__).resolve().parents[2]
ACTION = "actions/prod-db-admin/bob-20261130T0900Z"
SCENARIO = f"""\
apiVersion: gitjit/v1
kind: Scenario
description: bob has one order cancelled by the cancel-order runbook
repository: {ROOT}
start: 2026-11-30T09:00:00Z
steps:
  - action: {{as: bob, policy: prod-db-admin, runbook: cancel-order, params: {{order_id: "4711"}},
             justification: Order 4711 was charged twice after a payment retry, ticket: INC-1234}}
    expect: {{verdict: pending}}
  - review: {{as: dave, state: approve}}
  - review: {{as: sam, state: approve}}
    expect: {{verdict: approved}}
  - merge: {{as: sam}}
  - activate: {{}}
    expect: {{ledger: [started {ACTION}, completed {ACTION}]}}
  - advance: 1h
  - activate: {{}}
    expect: {{ledger: []}}
"""


def test_simulate_runs_an_action_once_against_the_recording_target(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "actions.yaml"
    scenario.write_text(SCENARIO)
    assert run(["simulate", str(scenario), "--workdir", str(tmp_path / "sim")]) == 0
    out = capsys.readouterr().out
    assert f"activate   started {ACTION}; {ACTION} completed" in out
    assert "simulate: 7 steps, 4 expectations: all hold" in out
    events = json.loads((tmp_path / "sim" / "recording.json").read_text())["events"]
    assert [(e["action"], e["grant_id"]) for e in events] == [("run", ACTION)]
    plan = events[0]["plan"]
    assert plan["statements"][0]["values"] == ["4711"]
    assert plan["statements"][0]["text"] == ("UPDATE orders SET status = 'cancelled' WHERE id = "
                                             "$1 AND status = 'open'")
