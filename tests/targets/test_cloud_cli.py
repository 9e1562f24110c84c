"""The bundled example policies for GitHub teams and AWS, through the CLI from request to
revocation: the pull request (local forge), approval, merge, `gitjit activate` against the
GitHub emulator or moto's server, `gitjit status` saying who enforces the expiry, the clock
passing the expiry, and `gitjit reconcile` revoking. The policy, groups and settings files are
the ones this repository ships (policies/), copied unchanged."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.adapters.git import GitRepository
from engine.adapters.ledger import Ledger
from engine.cli import run
from engine.commands.repository import read_signers
from engine.core.models import Target
from engine.targets.aws import AwsTarget
from engine.targets.github_team import GitHubTeamTarget
from tests.github.emulator import GitHubEmulator
from tests.github.fixtures import github_emulator
from tests.gitrepo import GitRepoBuilder
from tests.receivers import HttpReceiver
from tests.targets.aws import ACCOUNT, AwsWorld, aws, moto_server

__all__ = ["aws", "github_emulator", "moto_server"]

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
GRANT = """\
apiVersion: gitjit/v1
kind: Grant
policy: {policy}
requester: {login}
duration: 1h
justification: {justification}
"""


@pytest.fixture(autouse=True)
def channels(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpReceiver]:
    """The bundled settings' notification channels, all delivered to a loopback receiver."""
    receiver = HttpReceiver()
    for name in ("GITJIT_SRE_TEAMS_URL", "GITJIT_SECURITY_MAILTO_URL",
                 "GITJIT_RELEASE_SLACK_URL"):
        monkeypatch.setenv(name, receiver.url)
    yield receiver
    receiver.close()


def configure(repo: GitRepoBuilder, *policies: str, extra: dict[str, str] | None = None) -> None:
    """The access repository: the bundled policies named, groups and settings as shipped."""
    shutil.copytree(ROOT / "schemas", repo.path / "schemas")
    for name in (*(f"{p}.yaml" for p in policies), "groups.yaml", "settings.yaml"):
        repo.write(f"policies/{name}", (ROOT / "policies" / name).read_text("utf-8"))
    for path, text in (extra or {}).items():
        repo.write(path, text)
    assert run(["local", "keygen", "--repo", str(repo.path)]) == 0
    repo.commit("access configuration")


def request_and_merge(repo: GitRepoBuilder, policy: str, login: str, justification: str,
                      approver: str | None, *, ticket: str | None = None) -> str:
    """The requester's pull request, an approval (unless auto-approved), the merge at T0+30s;
    returns the grant id."""
    r = str(repo.path)
    grant_id = f"{policy}/{login}-{T0:%Y%m%dT%H%MZ}"
    repo.branch("request")
    repo.checkout("request")
    text = GRANT.format(policy=policy, login=login, justification=justification)
    repo.write(f"grants/{grant_id}.yaml", text + (f"ticket: {ticket}\n" if ticket else ""))
    repo.commit(f"request {policy}")
    repo.checkout("main")
    assert run(["local", "open", "--as", login, "--head", "request", "--repo", r]) == 0
    if approver is not None:
        assert run(["local", "review", "1", "--as", approver, "--approve", "--repo", r,
                    "--now", T0.isoformat()]) == 0
    assert run(["local", "merge", "1", "--as", approver or login, "--repo", r,
                "--now", (T0 + timedelta(seconds=30)).isoformat()]) == 0
    return grant_id


def status_row(repo: GitRepoBuilder, grant_id: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert run(["status", "--repo", str(repo.path),
                "--now", (T0 + timedelta(minutes=30)).isoformat()]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if grant_id in line]
    assert len(rows) == 1, rows
    return rows[0]


def test_github_release_team_from_request_to_revocation(
        repo: GitRepoBuilder, github_emulator: GitHubEmulator,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    gh = github_emulator
    # The App of the github-acme connection (app_id 123456), installed on acme with
    # members: write; its key in the variable the connection names.
    gh.create_app("gitjit-teams", owner="acme", app_id=123456,
                  permissions={"members": "write", "metadata": "read"})
    gh.install_app("gitjit-teams", "acme")
    monkeypatch.setenv("GITJIT_GITHUB_APP_PRIVATE_KEY", gh.app_private_key("gitjit-teams"))
    monkeypatch.setenv("GITHUB_API_URL", gh.url)
    for login in ("alice", "ravi", "eve"):
        gh.create_user(login)
        gh.add_org_member("acme", login)
    team = gh.create_team("acme", "release")  # maintained by the organization's owners
    configure(repo, "github-release-team")
    r = str(repo.path)

    # alice is an SRE: a release manager (ravi) approves her request.
    grant_id = request_and_merge(repo, "github-release-team", "alice",
                                 "Re-run the release workflow after the runner outage", "ravi")
    assert run(["activate", "--repo", r, "--now", (T0 + timedelta(minutes=1)).isoformat()]) == 0
    assert team.members == {"alice": "member"}
    assert status_row(repo, grant_id, capsys).rstrip().endswith("gitjit")

    # Someone adds eve by hand during the grant: no grant backs her (drift, for reconcile).
    gh.add_org_member("acme", "eve")
    team.members["eve"] = "member"
    target = GitHubTeamTarget({"provider": "github-team", "app_id": "123456",
                               "private_key_env": "GITJIT_GITHUB_APP_PRIVATE_KEY"})
    holders = target.holders(Target("github-team", (("org", "acme"), ("team", "release"))))
    assert sorted(h.login or "" for h in holders) == ["alice", "eve"]

    # The clock passes the expiry: reconcile removes alice's membership, and reports eve, whom
    # no grant backs (drift: the run fails so that someone looks).
    after = T0 + timedelta(hours=1, minutes=1)
    capsys.readouterr()
    assert run(["reconcile", "--repo", r, "--now", after.isoformat()]) == 1
    out = capsys.readouterr().out
    assert f"revoked: {grant_id}" in out
    assert ("FAILED target.drift: (github-release-team) (eve (eve) holds acme/release through "
            "connection github-acme with no live grant of github-release-team") in out
    # The bundled settings remove expired files through a pull request.
    assert f"removal pull request: {grant_id} (#2)" in out
    assert team.members == {"eve": "member"}
    # Told once: a second run reports eve again, and records no second alert.
    assert run(["reconcile", "--repo", r, "--now", (after + timedelta(minutes=5)).isoformat()
                ]) == 1
    git = GitRepository(repo.path)
    records = Ledger(git, signers=read_signers(git.tree("main"))).records()
    drift = [r for r in records if r.code == "target.drift"]
    assert [(a.policy, a.requester) for a in drift] == [("github-release-team", "eve")]


def test_aws_prod_admin_from_request_to_revocation(
        repo: GitRepoBuilder, aws: AwsWorld, capsys: pytest.CaptureFixture[str]) -> None:
    bob = aws.user("bob@acme.example")
    admin = aws.permission_set("AdministratorAccess")
    configure(repo, "aws-prod-admin")
    r = str(repo.path)
    grant_id = request_and_merge(repo, "aws-prod-admin", "bob",
                                 "Rotate the compromised access keys of billing (INC-4711)",
                                 "sam", ticket="INC-4711")
    assert run(["activate", "--repo", r, "--now", (T0 + timedelta(minutes=1)).isoformat()]) == 0
    assert aws.assignments(admin) == {("USER", bob)}
    # Identity Center cannot end an assignment by itself: gitjit's reconcile does.
    assert status_row(repo, grant_id, capsys).rstrip().endswith("gitjit")

    # An assignment made by hand in the console shows among the holders (drift).
    carol = aws.user("carol@acme.example")
    aws.assign(admin, "USER", carol)
    holders = AwsTarget({"provider": "aws", "region": "eu-west-1",
                         "user_name_pattern": "{login}@acme.example"}).holders(
        Target("aws", (("account_id", ACCOUNT), ("permission_set", "AdministratorAccess"))))
    assert sorted(h.login or "" for h in holders) == ["bob", "carol"]

    after = T0 + timedelta(hours=1, minutes=1)
    capsys.readouterr()
    assert run(["reconcile", "--repo", r, "--now", after.isoformat()]) == 1  # drift: carol
    out = capsys.readouterr().out
    assert f"revoked: {grant_id}" in out
    assert "FAILED target.drift: (aws-prod-admin) (" in out and "(carol) holds" in out
    assert aws.assignments(admin) == {("USER", carol)}


IAM_POLICY = """\
# An IAM role assumable only during the grant: AWS enforces the end on aws:CurrentTime.
apiVersion: gitjit/v1
kind: Policy
id: aws-release-role
description: Assume the release role in the tooling account
target: {provider: aws, connection: acme-aws, iam_role_arn: "%s"}
requesters: [group:sre]
approvals:
  - {from: [group:security], count: 1}
duration: {default: 1h, max: 4h}
justification: {min_length: 20}
"""


def test_an_iam_role_grant_expires_natively_and_status_says_so(
        repo: GitRepoBuilder, aws: AwsWorld, capsys: pytest.CaptureFixture[str]) -> None:
    role = aws.iam_role("release")
    aws.iam_user("bob@acme.example")
    configure(repo, extra={"policies/aws-release-role.yaml": IAM_POLICY % role})
    r = str(repo.path)
    grant_id = request_and_merge(repo, "aws-release-role", "bob",
                                 "Publish the signed release artefacts", "sue")
    assert run(["activate", "--repo", r, "--now", (T0 + timedelta(minutes=1)).isoformat()]) == 0
    iam = aws.client("iam")
    name = "gitjit." + grant_id.replace("/", ".")
    document = iam.get_user_policy(UserName="bob@acme.example", PolicyName=name)
    condition = document["PolicyDocument"]["Statement"][0]["Condition"]
    assert condition["DateLessThan"] == {"aws:CurrentTime": "2026-11-30T10:00:30Z"}
    assert status_row(repo, grant_id, capsys).rstrip().endswith("target")
    capsys.readouterr()
    assert run(["status", "--repo", r, "--now", (T0 + timedelta(minutes=30)).isoformat(),
                "--format", "json"]) == 0
    assert '"target"' in json.dumps(json.loads(capsys.readouterr().out))
    assert run(["reconcile", "--repo", r,
                "--now", (T0 + timedelta(hours=1, minutes=1)).isoformat()]) == 0
    assert iam.list_user_policies(UserName="bob@acme.example")["PolicyNames"] == []
