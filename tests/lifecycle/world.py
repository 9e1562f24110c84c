"""A small access repository with a local forge and a recording target, for lifecycle tests."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engine.adapters.git import GitRepository
from engine.adapters.ledger import Ledger
from engine.adapters.localforge import LocalForge
from engine.adapters.signing import find_signer
from engine.cli import run
from engine.commands.repository import read_signers
from engine.core.ledger import Record
from engine.core.models import Login, ReviewState
from engine.lifecycle.context import Lifecycle
from tests import signing
from tests.gitrepo import GitRepoBuilder

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime.fromisoformat("2026-11-30T09:00:00+00:00")

POLICY = """\
apiVersion: gitjit/v1
kind: Policy
id: {id}
description: Test access
target: {{provider: recording, connection: rec, role: {role}}}
requesters: [group:sre]
approvals:
  - {{from: [group:dba], count: 1}}
duration: {{default: 1h, max: 4h}}
"""
GROUPS = """\
apiVersion: gitjit/v1
kind: Groups
groups:
  sre: [alice, bob]
  dba: [dave, erin]
"""
SETTINGS = """\
apiVersion: gitjit/v1
kind: Settings
connections:
  rec: {{provider: recording, path: "{path}"}}
removal: {removal}
"""
GRANT = """\
apiVersion: gitjit/v1
kind: Grant
policy: {policy}
requester: {requester}
duration: {duration}
justification: Investigating a replication lag incident on the orders database
"""


class World:
    """The repository, its forge and ledger, and the recording target's file."""

    def __init__(self, builder: GitRepoBuilder, tmp: Path, removal: str = "push",
                 roles: dict[str, str] | None = None, settings: str = "",
                 policy_extra: str = "") -> None:
        self.builder = builder
        self.recording = tmp / "recording.json"
        shutil.copytree(ROOT / "schemas", builder.path / "schemas")
        for policy, role in (roles or {"db": "admin"}).items():
            builder.write(f"policies/{policy}.yaml",
                          POLICY.format(id=policy, role=role) + policy_extra)
        builder.write("policies/groups.yaml", GROUPS)
        builder.write("policies/settings.yaml",
                      SETTINGS.format(path=self.recording, removal=removal) + settings)
        signing.install(builder.path)
        builder.commit("access configuration")
        self.repo = GitRepository(builder.path)
        self.forge = LocalForge(self.repo)
        self.signer = find_signer(self.repo)
        self.ledger = Ledger(self.repo, signers=read_signers(self.repo.tree("main")),
                             signer=self.signer)

    def lifecycle(self) -> Lifecycle:
        return Lifecycle(self.repo, self.forge, self.ledger, "main", signer=self.signer)

    def request(self, requester: str, at: datetime, *, policy: str = "db",
                duration: str = "2h", extra: str = "") -> tuple[int, str]:
        """The requester adds a grant on a branch and opens a pull request; ``extra``: more
        lines of the grant (extends, break_glass ...)."""
        path = f"grants/{policy}/{requester}-{at:%Y%m%dT%H%MZ}.yaml"
        branch = f"request-{requester}-{at:%H%M}-{policy}"
        self.builder.branch(branch, "main")
        self.builder.checkout(branch)
        self.builder.write(path, GRANT.format(policy=policy, requester=requester,
                                              duration=duration) + extra)
        self.builder.commit(f"request {policy}")
        self.builder.checkout("main")
        pr = self.forge.open_pull_request(author=Login(requester), head_ref=branch,
                                          base="main", title=f"request {policy}", body="")
        return pr.number, path

    def approve(self, number: int, reviewer: str, at: datetime) -> None:
        self.forge.submit_review(number, reviewer, ReviewState.APPROVED, at=at)

    def merge(self, number: int, by: str, at: datetime) -> str:
        merged = self.forge.merge(number, by, at=at)
        assert merged.merge_sha is not None
        self.sync()
        return merged.merge_sha

    def sync(self) -> None:
        """The forge and gitjit move main with plumbing; bring the checkout along."""
        self.builder.git("reset", "--quiet", "--hard", "main")

    def granted(self) -> dict[str, Any]:
        if not self.recording.exists():
            return {}
        state: dict[str, Any] = json.loads(self.recording.read_text())["assignments"]
        return state

    def events(self) -> list[tuple[str, str]]:
        if not self.recording.exists():
            return []
        return [(e["action"], e["grant_id"])
                for e in json.loads(self.recording.read_text())["events"]]

    def records(self) -> list[Record]:
        return self.ledger.records()

    def cli(self, *args: str, now: datetime) -> int:
        return run([*args, "--repo", str(self.builder.path), "--now", now.isoformat()])


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
