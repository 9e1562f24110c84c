"""The whole lifecycle on GitHub, through PyGithub against the emulator (issue acceptance).

The requester opens the pull request with `gitjit request`; the verdict is pending and the plan
comment names the missing approvals; an approval on an older commit does not count; valid
approvals turn the verdict green; the merge activates after re-verification; reconcile after
expiry revokes and opens the removal pull request, which is approved as housekeeping and
merged; and `gitjit audit` on a clone shows it all. Each gitjit run works in its own fresh
clone, as a workflow would."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import github
import pytest

from engine.cli import run
from tests import signing
from tests.github.emulator import ADMIN_ROLE_ID, GitHubEmulator, User
from tests.github.fixtures import github_emulator
from tests.orders_access import GROUPS, policy

__all__ = ["github_emulator"]

ROOT = Path(__file__).resolve().parents[2]
REPO = "acme/access"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
POLICY = policy("recording", "rec")
SETTINGS = """\
apiVersion: gitjit/v1
kind: Settings
connections:
  rec: {{provider: recording, path: "{path}"}}
removal: pull-request
"""


def protect(gh: GitHubEmulator, app_id: int, *, gitjit_branches: bool = True) -> None:
    """The rulesets of docs/installation.md: main only through pull requests with the App's
    verdict; gitjit's branches (the ledger, removal branches) the App's alone. The admin role
    may bypass main's ruleset here, against the guide, so a test can merge without approvals
    (what activation must catch)."""
    gh.add_ruleset(REPO, "gitjit-main", rules=[
        {"type": "deletion"}, {"type": "non_fast_forward"},
        {"type": "pull_request", "parameters": {
            "required_approving_review_count": 0, "dismiss_stale_reviews_on_push": True,
            "require_code_owner_review": False, "require_last_push_approval": True,
            "required_review_thread_resolution": False}},
        {"type": "required_status_checks", "parameters": {
            "required_status_checks": [{"context": "gitjit/verdict", "integration_id": app_id}],
            "strict_required_status_checks_policy": False}}],
        bypass_actors=[{"actor_id": ADMIN_ROLE_ID, "actor_type": "RepositoryRole",
                        "bypass_mode": "always"}])
    if not gitjit_branches:
        return  # GITHUB_TOKEN mode: no ruleset can tell gitjit's pushes from a writer's
    gh.add_ruleset(REPO, "gitjit-branches", include=("refs/heads/gitjit/**",), rules=[
        {"type": "creation"}, {"type": "update"}, {"type": "deletion"},
        {"type": "non_fast_forward"}],
        bypass_actors=[{"actor_id": app_id, "actor_type": "Integration",
                        "bypass_mode": "always"}])


class World:
    def __init__(self, gh: GitHubEmulator, tmp: Path, monkeypatch: pytest.MonkeyPatch, *,
                 gitjit_branches: bool = True) -> None:
        self.gh, self.tmp, self.monkeypatch = gh, tmp, monkeypatch
        self.now = T0
        gh.clock = lambda: self.now
        self.bob = gh.create_user("bob", emails=["bob@example.com"])
        self.dave = gh.create_user("dave")
        self.sam = gh.create_user("sam")
        self.admin = gh.create_user("root")
        self.app = gh.create_app("gitjit", owner="acme")
        self.recording = tmp / "recording.json"
        files = {str(p.relative_to(ROOT)): p.read_text() for p in (ROOT / "schemas").glob("*")}
        files |= {"policies/orders-admin.yaml": POLICY, "policies/groups.yaml": GROUPS,
                  "policies/settings.yaml": SETTINGS.format(path=self.recording),
                  # The lifecycle key's public half; the jobs get the private one as a secret.
                  "policies/allowed_signers": signing.signers_line(signing.key()) + "\n"}
        gh.create_repo(REPO, initial_files=files, permissions={"root": "admin"})
        assert self.app.app is not None
        protect(gh, self.app.app.id, gitjit_branches=gitjit_branches)
        self.clones = 0

    def clone(self) -> Path:
        """A fresh clone of the repository over HTTP, as a workflow's checkout (the token is
        not kept in the clone: persist-credentials: false)."""
        self.clones += 1
        path = self.tmp / f"clone{self.clones}"
        subprocess.run(["git", "clone", "--quiet", self.gh.git_url(REPO), str(path)],
                       check=True, capture_output=True,
                       env={**os.environ, **self.gh.git_env(self.app)})
        return path

    def as_(self, user: User, kind: str = "actions") -> None:
        # Their commits too: under an address GitHub links to their account, as a requester's
        # git identity is (commits under an unlinked address cost approvals).
        email = (user.emails or [user.noreply_email])[0]
        for role in ("AUTHOR", "COMMITTER"):
            self.monkeypatch.setenv(f"GIT_{role}_NAME", user.login)
            self.monkeypatch.setenv(f"GIT_{role}_EMAIL", email)
        self.monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
        self.monkeypatch.setenv("GITHUB_API_URL", self.gh.url)
        # Where git pushes with the token (engine/adapters/remote.py), as in a workflow.
        self.monkeypatch.setenv("GITHUB_SERVER_URL", self.gh.url)
        self.monkeypatch.setenv("GITHUB_TOKEN", user.token)
        self.monkeypatch.setenv("GITJIT_TOKEN_KIND", kind)
        self.monkeypatch.setenv("GITJIT_GITHUB_THROTTLE", "0")

    def api(self, user: User) -> github.Repository.Repository:
        return github.Github(base_url=self.gh.url, auth=github.Auth.Token(user.token),
                             seconds_between_requests=0, seconds_between_writes=0,
                             retry=None).get_repo(REPO)

    def evaluate(self, number: int) -> tuple[int, str]:
        """The evaluate workflow: the default branch checked out, the head fetched as data."""
        clone = self.clone()
        subprocess.run(["git", "fetch", "--quiet", "origin",
                        f"+refs/pull/{number}/head:refs/remotes/pull/{number}/head"],
                       cwd=clone, check=True, capture_output=True,
                       env={**os.environ, **self.gh.git_env(self.app)})
        self.as_(self.app, "app")
        code = run(["check-pr", "--forge", "github", "--pr", str(number), "--repo", str(clone),
                    "--now", self.now.isoformat(), "--format", "json"])
        return code, str(clone)

    def verdict(self, number: int) -> str:
        head = self.api(self.dave).get_pull(number).head.sha
        runs = [r for r in self.api(self.dave).get_commit(head).get_check_runs()
                if r.name == "gitjit/verdict"]
        return str(runs[0].conclusion)

    def plan(self, number: int) -> str:
        bodies = [c.body for c in self.api(self.dave).get_pull(number).get_issue_comments()
                  if "gitjit:plan" in c.body]
        assert len(bodies) == 1, "one plan comment, updated in place"
        return str(bodies[0])

    def lifecycle(self, command: str, *, as_: User | None = None) -> int:
        """A lifecycle job in a fresh clone: as the App, or (``as_``) another token."""
        if as_ is None:
            self.as_(self.app, "app")
        else:
            self.as_(as_)
        # The environment secret GITJIT_SIGNING_KEY, as the workflows pass it.
        self.monkeypatch.setenv("GITJIT_SIGNING_KEY", signing.key().read_text())
        return run([command, "--forge", "github", "--repo", str(self.clone()),
                    "--now", self.now.isoformat()])


@pytest.fixture
def world(github_emulator: GitHubEmulator, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield World(github_emulator, tmp_path, monkeypatch)


def test_request_to_audit_on_github(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    # The requester opens the pull request with gitjit request.
    mine = world.clone()
    world.as_(world.bob)
    assert run(["request", "orders-admin", "--as", "bob", "--duration", "1h",
                "--justification", "Replication lag on the orders primary (INC-1234)",
                "--forge", "github", "--repo", str(mine), "--now", world.now.isoformat()]) == 0
    assert "opened pull request #1: pending" in capsys.readouterr().out
    pull = world.api(world.dave).get_pull(1)
    assert pull.user.login == "bob"
    assert {u.login for u in pull.requested_reviewers} == {"dave", "sam"}

    # Pending; the plan comment names the missing approvals (also the job summary).
    summary = world.tmp / "summary.md"
    world.monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert world.evaluate(1)[0] == 4
    assert "group:security" in summary.read_text()
    assert world.verdict(1) == "action_required"
    assert "group:dba" in world.plan(1) and "group:security" in world.plan(1)

    # dave approves, then bob pushes again: dave's approval is on an older commit.
    world.now += timedelta(minutes=5)
    world.api(world.dave).get_pull(1).create_review(event="APPROVE")
    world.api(world.sam).get_pull(1).create_review(event="APPROVE")
    branch = pull.head.ref
    world.gh.commit(REPO, branch, {"README.md": "# access\n\nA note.\n"}, author=world.bob)
    capsys.readouterr()
    assert world.evaluate(1)[0] == 1  # now also touches README: a mixed change, denied
    world.gh.commit(REPO, branch, {"README.md": None}, author=world.bob)
    assert world.evaluate(1)[0] == 4  # back to the grant alone; the approvals are stale
    assert "approval.stale" in capsys.readouterr().out

    # Fresh approvals on the current head turn the verdict green; the merge is allowed.
    world.now += timedelta(minutes=5)
    world.api(world.dave).get_pull(1).create_review(event="APPROVE")
    world.api(world.sam).get_pull(1).create_review(event="APPROVE")
    assert world.evaluate(1)[0] == 0
    assert world.verdict(1) == "success"
    merged_at = world.now
    assert world.api(world.sam).get_pull(1).merge().merged

    # Activation re-verifies from GitHub and applies; the ledger is pushed to GitHub.
    world.now += timedelta(minutes=1)
    assert world.lifecycle("activate") == 0
    assert list(json.loads(world.recording.read_text())["assignments"]) == [
        f"orders-admin/bob-{T0:%Y%m%dT%H%MZ}"]

    # After expiry: reconcile revokes and opens the removal pull request.
    world.now = merged_at + timedelta(hours=1, minutes=5)
    assert world.lifecycle("reconcile") == 0
    assert json.loads(world.recording.read_text())["assignments"] == {}
    removal = [p for p in world.api(world.dave).get_pulls(state="open")
               if p.user.login == "gitjit[bot]"]
    assert len(removal) == 1
    number = removal[0].number
    capsys.readouterr()
    assert world.evaluate(number)[0] == 0  # housekeeping: approved without review
    assert '"kind": "housekeeping"' in capsys.readouterr().out
    assert world.api(world.app).get_pull(number).merge().merged
    assert world.lifecycle("reconcile") == 0  # converged: no second removal pull request
    assert len([p for p in world.api(world.dave).get_pulls(state="open")
                if p.user.login == "gitjit[bot]"]) == 0

    # The auditor's clone, with no forge.
    clone = world.clone()
    capsys.readouterr()
    assert run(["audit", "--repo", str(clone)]) == 0
    story = capsys.readouterr().out
    for fact in ("approved by dave", "approved by sam", "pull request #1", "activated until",
                 "expired", "removed in"):
        assert fact in story, fact
    assert run(["audit", "verify", "--repo", str(clone)]) == 0


def test_admin_merge_without_approvals_is_never_activated(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    mine = world.clone()
    world.as_(world.bob)
    run(["request", "orders-admin", "--as", "bob", "--justification",
         "Replication lag on the orders primary (INC-1234)", "--forge", "github",
         "--repo", str(mine), "--now", world.now.isoformat()])
    assert world.api(world.admin).get_pull(1).merge().merged  # admin bypass, no check

    capsys.readouterr()
    # The refused grant is never applied; its file leaves main through a housekeeping pull
    # request (main takes no direct pushes), which gitjit's own verdict approves.
    assert world.lifecycle("activate") == 0
    out = capsys.readouterr().out
    assert "refused: orders-admin/bob-20261130T0900Z" in out
    assert "removal pull request: orders-admin/bob-20261130T0900Z (#2)" in out
    capsys.readouterr()
    assert world.evaluate(2)[0] == 0
    assert '"kind": "housekeeping"' in capsys.readouterr().out
    assert not world.recording.exists() or \
        json.loads(world.recording.read_text())["assignments"] == {}
    clone = world.clone()
    records = subprocess.run(["git", "ls-tree", "-r", "--name-only", "origin/gitjit/ledger"],
                             cwd=clone, capture_output=True, text=True, check=True).stdout
    assert "-refused-" in records and "-alert-" in records


def test_grant_together_with_a_workflow_change_is_denied(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    bob = world.bob
    world.gh.commit(REPO, "sneaky", {
        f"grants/orders-admin/bob-{T0:%Y%m%dT%H%MZ}.yaml":
            "apiVersion: gitjit/v1\nkind: Grant\npolicy: orders-admin\nrequester: bob\n"
            "duration: 1h\njustification: Replication lag on the orders primary\n",
        ".github/workflows/evaluate.yml": "name: nothing to see\n"}, author=bob)
    world.api(bob).create_pull(title="access", body="", head="sneaky", base="main")
    capsys.readouterr()
    assert world.evaluate(1)[0] == 1
    out = capsys.readouterr().out
    assert '"kind": "mixed"' in out and world.verdict(1) == "failure"


def test_a_writer_cannot_push_gitjits_branches(world: World) -> None:
    """The attack of issue 7: a writer appends a forged record to gitjit/ledger (or deletes an
    alert) with plain git and their own token, or squats a removal branch. The documented
    ruleset lets the App alone create and update gitjit/*: every attempt is refused with
    GitHub's message, and the ledger stays as gitjit wrote it."""
    mine = world.clone()
    world.as_(world.bob)
    run(["request", "orders-admin", "--as", "bob", "--justification",
         "Replication lag on the orders primary (INC-1234)", "--forge", "github",
         "--repo", str(mine), "--now", world.now.isoformat()])
    assert world.api(world.admin).get_pull(1).merge().merged
    world.lifecycle("activate")  # refused: the ledger now holds a refusal and an alert
    ledger = world.gh.repo(REPO).bare.resolve("refs/heads/gitjit/ledger")
    assert ledger is not None

    attacker = world.tmp / "attacker"
    env = {**os.environ, **world.gh.git_env(world.bob), "GIT_AUTHOR_NAME": "bob",
           "GIT_AUTHOR_EMAIL": "bob@example.com", "GIT_COMMITTER_NAME": "bob",
           "GIT_COMMITTER_EMAIL": "bob@example.com"}

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=attacker, env=env, capture_output=True,
                              text=True, check=False)

    subprocess.run(["git", "clone", "--quiet", world.gh.git_url(REPO), str(attacker)],
                   env=env, check=True, capture_output=True)
    git("checkout", "--quiet", "-b", "forged", "origin/gitjit/ledger")
    alert = next(p for p in git("ls-files").stdout.split() if "-alert-" in p)
    git("rm", "--quiet", alert)
    git("commit", "--quiet", "-m", "tidy up")
    appended = git("push", "origin", "HEAD:refs/heads/gitjit/ledger")
    assert "remote: error: GH013: Repository rule violations found for " \
        "refs/heads/gitjit/ledger." in appended.stderr
    assert "remote: - Cannot update this protected ref." in appended.stderr
    git("checkout", "--quiet", "--orphan", "rewritten")
    git("commit", "--quiet", "--allow-empty", "-m", "a fresh start")
    forced = git("push", "--force", "origin", "HEAD:refs/heads/gitjit/ledger")
    assert "remote: - Cannot force-push to this branch" in forced.stderr
    deleted = git("push", "origin", ":refs/heads/gitjit/ledger")
    assert "remote: - Cannot delete this branch" in deleted.stderr
    squat = git("push", "origin", "HEAD:refs/heads/gitjit/remove-expired-0123456789ab")
    assert "remote: - Cannot create ref due to creations being restricted." in squat.stderr
    # The git data API meets the same ruleset: a forged record commit made through the API
    # (a fast-forward of the ledger) cannot be moved onto the branch either.
    api = world.api(world.bob)
    tip = api.get_git_commit(ledger)
    forged = api.create_git_commit("gitjit: record activated", tip.tree, [tip])
    with pytest.raises(github.GithubException) as refused:
        api.get_git_ref("heads/gitjit/ledger").edit(forged.sha)
    assert refused.value.status == 422
    assert "Cannot update this protected ref." in str(refused.value.data)
    assert world.gh.repo(REPO).bare.resolve("refs/heads/gitjit/ledger") == ledger
    assert world.gh.repo(REPO).bare.resolve("refs/heads/gitjit/remove-expired-0123456789ab") \
        is None
