"""Approvals expire at activation too, on the local forge, through the CLI (issue 8, item 2).

Activation re-judges a merged grant with the same judge() as the verdict and with ``now`` the
merge time, so an approval older than the policy's approval_max_age at the merge does not
count there either: an admin who merges a request approved days ago gets it refused."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.cli import run
from tests import signing
from tests.gitrepo import GitRepoBuilder
from tests.orders_access import GROUPS, policy

PROJECT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SETTINGS = """\
apiVersion: gitjit/v1
kind: Settings
connections:
  rec: {{provider: recording, path: "{path}"}}
"""
GRANT = """\
apiVersion: gitjit/v1
kind: Grant
policy: orders-admin
requester: bob
duration: 4h
justification: Replication lag on the orders primary (INC-1234)
"""


class Access:
    """An access repository with the local forge and a recording target."""

    def __init__(self, repo: GitRepoBuilder, tmp_path: Path,
                 capsys: pytest.CaptureFixture[str]) -> None:
        self.repo, self.capsys = repo, capsys
        self.recording = tmp_path / "recording.json"
        shutil.copytree(PROJECT / "schemas", repo.path / "schemas")
        repo.write("policies/orders-admin.yaml", policy("recording", "rec"))
        repo.write("policies/groups.yaml", GROUPS)
        repo.write("policies/settings.yaml", SETTINGS.format(path=self.recording))
        signing.install(repo.path)
        repo.commit("access configuration")

    def gitjit(self, *args: str, at: datetime) -> tuple[int, str]:
        self.capsys.readouterr()
        code = run([*args, "--repo", str(self.repo.path), "--now", at.isoformat()])
        return code, self.capsys.readouterr().out

    def request(self, at: datetime) -> int:
        """bob asks on a branch of his own and opens the pull request; its number."""
        path = f"grants/orders-admin/bob-{at:%Y%m%dT%H%MZ}.yaml"
        branch = f"request-{at:%d%H%M}"
        self.repo.branch(branch)
        self.repo.checkout(branch)
        self.repo.write(path, GRANT)
        self.repo.commit("request orders-admin")
        self.repo.checkout("main")
        code, out = self.gitjit("local", "open", "--as", "bob", "--head", branch, at=at)
        assert code == 0, out
        return int(out.split("#")[1].split(":")[0])

    def approve(self, number: int, at: datetime) -> None:
        for who in ("dave", "sam"):
            assert self.gitjit("local", "review", str(number), "--as", who, "--approve",
                               at=at)[0] == 0

    def assignments(self) -> list[str]:
        if not self.recording.exists():
            return []
        return sorted(json.loads(self.recording.read_text())["assignments"])


@pytest.fixture
def access(repo: GitRepoBuilder, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Access:
    return Access(repo, tmp_path, capsys)


def test_an_approval_older_than_the_policy_allows_at_the_merge_is_refused(
        access: Access) -> None:
    # Approved on Monday, merged on Thursday.
    number = access.request(T0)
    access.approve(number, T0 + timedelta(minutes=5))
    merge_at = T0 + timedelta(days=3)
    code, out = access.gitjit("local", "merge", str(number), "--as", "dave", at=merge_at)
    assert code == 1
    assert ("approval.expired: approval by dave ignored: given 2d23h55m ago (2026-11-30 09:05 "
            "UTC); the policy counts approvals for 1d (approval_max_age)") in out
    # An admin merges anyway; activation measures the approvals' age at the merge.
    assert access.gitjit("local", "merge", str(number), "--as", "root", "--admin",
                         at=merge_at)[0] == 0
    code, out = access.gitjit("activate", at=merge_at + timedelta(minutes=1))
    assert code == 0
    assert (f"refused: orders-admin/bob-{T0:%Y%m%dT%H%MZ} (merged while the verdict was "
            "pending: approval by dave ignored: given 2d23h55m ago") in out
    assert access.assignments() == []


def test_an_approval_young_enough_at_the_merge_still_counts_when_activation_runs_later(
        access: Access) -> None:
    # Approved, merged 23 hours later; activation only runs two hours after that, when the
    # approvals are 25 hours old: their age at the merge is what counts.
    at = T0 + timedelta(hours=1)
    number = access.request(at)
    access.approve(number, at)
    merge_at = at + timedelta(hours=23)
    assert access.gitjit("local", "merge", str(number), "--as", "dave", at=merge_at)[0] == 0
    code, out = access.gitjit("activate", at=merge_at + timedelta(hours=2))
    assert code == 0, out
    assert "refused" not in out
    assert access.assignments() == [f"orders-admin/bob-{at:%Y%m%dT%H%MZ}"]
