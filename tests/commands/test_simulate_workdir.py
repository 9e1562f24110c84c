"""A kept simulation (`--workdir`) never leaves real targets configured in its repository."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import yaml

from engine.cli import run

PROJECT = Path(__file__).resolve().parents[2]
POLICY = """\
apiVersion: gitjit/v1
kind: Policy
id: deploy
description: Deploy rights through the company hook
target: {{provider: command, connection: hook, role: deployer}}
requesters: [group:sre]
approvals:
  - {{from: [group:leads], count: 1}}
duration: {{default: 1h, max: 4h}}
"""
DIRECT = """\
apiVersion: gitjit/v1
kind: Policy
id: direct
description: A hook named in the policy itself, with no connection
target: {{provider: command, command: {hook}}}
requesters: [group:sre]
approvals:
  - {{from: [group:leads], count: 1}}
duration: {{default: 1h, max: 4h}}
"""
GROUPS = """\
apiVersion: gitjit/v1
kind: Groups
groups:
  sre: [bob]
  leads: [dave]
"""
SETTINGS = """\
apiVersion: gitjit/v1
kind: Settings
connections:
  hook: {{provider: command, command: {hook}, token_env: DEPLOY_TOKEN}}
"""
SCENARIO = """\
apiVersion: gitjit/v1
kind: Scenario
description: bob deploys for an hour
start: "2026-11-30T08:00:00Z"
repository: access
steps:
  - request: {as: bob, policy: deploy, duration: 2h, justification: Ship the hotfix 4.2.1}
  - review: {as: dave, state: approve}
  - merge: {as: dave}
  - activate: {}
    expect: {active: [deploy/bob-20261130T0800Z]}
"""


def _access_repository(tmp_path: Path) -> Path:
    """A folder with policies whose targets are real (a hook that leaves a mark when run)."""
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\necho \"$1\" >> {tmp_path / 'hook-ran'}\necho '[]'\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    access = tmp_path / "access"
    shutil.copytree(PROJECT / "schemas", access / "schemas")
    (access / "policies").mkdir()
    (access / "policies" / "deploy.yaml").write_text(POLICY.format(hook=hook))
    (access / "policies" / "direct.yaml").write_text(DIRECT.format(hook=hook))
    (access / "policies" / "groups.yaml").write_text(GROUPS)
    (access / "policies" / "settings.yaml").write_text(SETTINGS.format(hook=hook))
    (tmp_path / "scenario.yaml").write_text(SCENARIO)
    return hook


def test_the_kept_repository_points_at_the_stand_in_and_never_runs_the_real_hook(
        tmp_path: Path) -> None:
    hook = _access_repository(tmp_path)
    workdir = tmp_path / "kept"

    assert run(["simulate", str(tmp_path / "scenario.yaml"), "--workdir", str(workdir)]) == 0

    kept = workdir / "repo"
    recording = str(workdir / "recording.json")
    settings = (kept / "policies" / "settings.yaml").read_text()
    assert settings.startswith("# gitjit simulate: a stand-in for the recording target")
    assert str(hook) not in settings and "DEPLOY_TOKEN" not in settings
    assert yaml.safe_load(settings)["connections"] == {
        "hook": {"provider": "recording", "path": recording},
        "simulation": {"provider": "recording", "path": recording}}
    for name, connection in (("deploy", "hook"), ("direct", "simulation")):
        target = yaml.safe_load((kept / "policies" / f"{name}.yaml").read_text())["target"]
        assert (target["provider"], target["connection"]) == ("recording", connection)
    assert run(["audit", "verify", "--repo", str(kept)]) == 0  # the ledger still verifies

    # What the "try next" hints invite: gitjit run in the kept repository, after the expiry.
    assert run(["reconcile", "--repo", str(kept), "--now", "2026-11-30T11:00:00Z"]) == 0
    assert run(["activate", "--repo", str(kept), "--now", "2026-11-30T11:00:00Z"]) == 0

    assert not (tmp_path / "hook-ran").exists()  # the real system was never reached
    events = json.loads((workdir / "recording.json").read_text())["events"]
    assert [(e["action"], e["grant_id"]) for e in events] == [
        ("apply", "deploy/bob-20261130T0800Z"), ("revoke", "deploy/bob-20261130T0800Z")]


def test_a_simulation_without_workdir_leaves_the_access_repository_alone(
        tmp_path: Path) -> None:
    hook = _access_repository(tmp_path)
    before = (tmp_path / "access" / "policies" / "settings.yaml").read_text()
    assert run(["simulate", str(tmp_path / "scenario.yaml")]) == 0
    assert (tmp_path / "access" / "policies" / "settings.yaml").read_text() == before
    assert str(hook) in before and not (tmp_path / "hook-ran").exists()


def test_the_rewrite_keeps_every_value_as_written(tmp_path: Path) -> None:
    _access_repository(tmp_path)
    policy = tmp_path / "access" / "policies" / "deploy.yaml"
    # Values YAML 1.1 would turn into numbers or booleans, were the rewrite to read them so.
    policy.write_text(policy.read_text().replace(
        "role: deployer}", "role: deployer, port: 0042, at: 09:00, on: yes}"))
    workdir = tmp_path / "kept"

    assert run(["simulate", str(tmp_path / "scenario.yaml"), "--workdir", str(workdir)]) == 0

    target = yaml.safe_load((workdir / "repo" / "policies" / "deploy.yaml").read_text())["target"]
    assert {k: target[k] for k in ("port", "at", "on")} == {"port": "0042", "at": "09:00",
                                                            "on": "yes"}
    assert run(["check", "--repo", str(workdir / "repo")]) == 0  # the stand-in is valid
