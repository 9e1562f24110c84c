"""A small access repository whose every file the command tests control, so whole outputs
can be asserted without depending on this project's example configuration."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests import signing
from tests.gitrepo import GitRepoBuilder, RepoFactory

PROJECT = Path(__file__).resolve().parents[2]

GROUPS = """\
apiVersion: gitjit/v1
kind: Groups
groups:
  analysts: [ana, ben]
  leads: [lea]
"""

SETTINGS = """\
apiVersion: gitjit/v1
kind: Settings
connections:
  reports:
    provider: postgres
    host: reports.internal.example.com
    dbname: reports
    user: gitjit
    password_env: GITJIT_REPORTS_PASSWORD
"""

POLICY = """\
apiVersion: gitjit/v1
kind: Policy
id: reports-read
description: Read access to the reports database
target: {provider: postgres, connection: reports, role: reports_read}
requesters: [group:analysts]
approvals:
  - {from: [group:leads], count: 1}
duration: {default: 1h, max: 2h}
"""

GRANT_PATH = "grants/reports-read/ana-20261130T0900Z.yaml"
GRANT = """\
apiVersion: gitjit/v1
kind: Grant
policy: reports-read
requester: ana
duration: 1h
justification: Monthly revenue report for finance
"""


@pytest.fixture
def small_repo(repo_factory: RepoFactory) -> GitRepoBuilder:
    """One policy (reports-read), two groups, one valid grant, this project's schemas."""
    repo = repo_factory("access")
    shutil.copytree(PROJECT / "schemas", repo.path / "schemas")
    repo.write("policies/groups.yaml", GROUPS)
    repo.write("policies/settings.yaml", SETTINGS)
    repo.write("policies/reports-read.yaml", POLICY)
    repo.write(GRANT_PATH, GRANT)
    signing.install(repo.path)  # the lifecycle key, as 'gitjit local keygen' sets it up
    repo.commit("a small access repository")
    return repo
