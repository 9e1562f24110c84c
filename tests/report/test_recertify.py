"""Recertification: one pull request per owner removing exactly the unused eligibility."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from engine.adapters.git import GitRepository
from engine.adapters.localforge import LocalForge
from engine.adapters.schemas import load_schemas
from engine.cli import run
from engine.core.config import ConfigFile, ConfigResult, build_config
from engine.core.models import Config
from engine.report.model import Unused
from engine.report.recertify import propose
from engine.report.signals import eligibility
from tests.report.history import UNTIL, History

ROOT = Path(__file__).resolve().parents[2]
GROUPS = """\
apiVersion: gitjit/v1
kind: Groups
groups:
  sre: [alice, bob, gus]
  dba:
    - dave
    - erin
"""
SETTINGS = """\
apiVersion: gitjit/v1
kind: Settings
admins: ["@acme/gitjit-admins"]
"""
DB = """\
apiVersion: gitjit/v1
kind: Policy
id: db
description: Orders database
owners: ["@acme/dba-leads"]
target: {provider: recording, role: admin}
requesters: [group:sre, user:zoe]
approvals:
  - {from: [group:dba], count: 1}
duration: {default: 1h, max: 4h}
"""
WEB = """\
apiVersion: gitjit/v1
kind: Policy
id: web
description: Web servers
owners: ["@acme/web-leads"]
target: {provider: recording, role: web}
requesters: [group:sre]
approvals:
  - {from: ["user:ann", group:dba], count: 1}
duration: {default: 1h, max: 4h}
"""
FILES = {"policies/groups.yaml": GROUPS, "policies/settings.yaml": SETTINGS,
         "policies/db.yaml": DB, "policies/web.yaml": WEB}


def _build(files: Mapping[str, bytes]) -> ConfigResult:
    schemas = load_schemas(GitRepository(ROOT).worktree())
    return build_config([ConfigFile(path, "100644", raw) for path, raw in files.items()],
                        schemas)


def _config() -> tuple[Config, dict[str, bytes]]:
    files = {path: text.encode() for path, text in FILES.items()}
    result = _build(files)
    assert result.config is not None, result.findings
    return result.config, files


def test_each_owner_gets_exactly_their_removals() -> None:
    config, files = _config()
    unused = [Unused("zoe", "db", "requester", "user:zoe"),
              Unused("ann", "web", "approver", "user:ann"),
              Unused("gus", "db", "requester", "group:sre"),
              Unused("gus", "web", "requester", "group:sre"),
              Unused("erin", "db", "approver", "group:dba")]
    proposals = {p.owner: p for p in propose(config, files, unused, _build, eligibility)}
    assert sorted(proposals) == ["@acme/dba-leads", "@acme/gitjit-admins", "@acme/web-leads"]
    db = proposals["@acme/dba-leads"]
    assert [r.describe() for r in db.removals] == [
        "remove user:zoe from the requesters of policies/db.yaml"]
    assert db.changes == {"policies/db.yaml": DB.replace("[group:sre, user:zoe]",
                                                         "[group:sre]")}
    # erin approves web too (through dba) and used that: the group stays, a person decides.
    assert [(u.login, why.split(":")[0]) for u, why in db.manual] == [
        ("erin", "group dba also makes erin approver of web, which they use")]
    web = proposals["@acme/web-leads"]
    assert web.changes == {"policies/web.yaml": WEB.replace('["user:ann", group:dba]',
                                                            "[group:dba]")}
    # gus's group sre serves two owners' policies: the admins own that change.
    admins = proposals["@acme/gitjit-admins"]
    assert admins.changes == {"policies/groups.yaml": GROUPS.replace(
        "[alice, bob, gus]", "[alice, bob]")}
    assert [r.describe() for r in admins.removals] == ["remove gus from group sre"]


def test_a_removal_that_breaks_the_configuration_is_left_to_people() -> None:
    config, files = _config()
    # Both DBAs unused: the second removal would leave db's approval step with nobody.
    unused = [Unused(login, policy, "approver", "group:dba")
              for login in ("dave", "erin") for policy in ("db", "web")]
    [proposal] = propose(config, files, unused, _build, eligibility)
    assert [r.describe() for r in proposal.removals] == ["remove dave from group dba"]
    assert proposal.changes == {"policies/groups.yaml": GROUPS.replace("    - dave\n", "")}
    assert [u.login for u, _why in proposal.manual] == ["erin", "erin"]
    assert "leaves the configuration invalid" in proposal.manual[0][1]


def test_recertify_opens_a_pull_request_the_report_then_tracks(
        planted: History, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(planted.path, repo, symlinks=True)
    before = subprocess.run(["git", "rev-parse", "main"], cwd=repo, check=True,
                            capture_output=True, text=True).stdout.strip()
    assert run(["recertify", "--repo", str(repo), "--now", UNTIL.isoformat(), "--forge",
                "local", "--format", "json"]) == 0
    [opened] = json.loads(capsys.readouterr().out)["pull_requests"]
    assert (opened["owner"], opened["branch"], opened["action"], opened["removals"]) == (
        "admins", "gitjit/recertify/admins", "opened", ["remove gus from group sre"])
    pull = LocalForge(GitRepository(repo)).pull_request(opened["pull_request"])
    assert (pull.author, pull.head_ref, pull.base) == ("gitjit[bot]", opened["branch"], "main")
    assert "| gus | db | requester | `group:sre` | remove gus from group sre |" in pull.body
    diff = subprocess.run(["git", "diff", "main", opened["branch"]], cwd=repo, check=True,
                          capture_output=True, text=True).stdout
    assert "-  sre: [alice, bob, carol, gus]\n+  sre: [alice, bob, carol]\n" in diff
    # main and the checkout are untouched; the branch sits on main's tip
    assert subprocess.run(["git", "rev-parse", "main", f"{opened['branch']}^"], cwd=repo,
                          check=True, capture_output=True, text=True).stdout.split() == [
        before, before]
    assert run(["report", "--repo", str(repo), "--until", UNTIL.isoformat(), "--forge",
                "local", "--format", "json"]) == 0
    tracked = json.loads(capsys.readouterr().out)["recertifications"]
    assert tracked == [{"branch": "gitjit/recertify/admins",
                        "pull_request": opened["pull_request"], "owner": "admins",
                        "opened_at": "2026-11-23T00:00:00Z"}]
    # A second run updates the same pull request rather than opening another.
    assert run(["recertify", "--repo", str(repo), "--now", UNTIL.isoformat(), "--forge",
                "local", "--format", "json"]) == 0
    [again] = json.loads(capsys.readouterr().out)["pull_requests"]
    assert (again["pull_request"], again["action"]) == (opened["pull_request"], "updated")
