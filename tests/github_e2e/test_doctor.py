"""gitjit doctor against the emulator: each requirement fails with its fix, then passes; a
heartbeat posted by someone else than gitjit is ignored and reported."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import github
import pytest

from engine.cli import run
from tests.github.emulator import ADMIN_ROLE_ID, GitHubEmulator, User
from tests.github.fixtures import github_emulator

__all__ = ["github_emulator"]
REPO = "acme/access"
NOW = "2026-11-30T09:00:00+00:00"


class Repo:
    """acme/access, checked by doctor with its admin's token."""

    def __init__(self, gh: GitHubEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
        self.gh = gh
        self.admin = gh.create_user("root")
        self.mallory = gh.create_user("mallory")  # write access, like every member
        self.app = gh.create_app("gitjit", owner="acme")
        assert self.app.app is not None
        self.app_id = self.app.app.id
        gh.create_repo(REPO, permissions={"root": "admin"})
        monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        monkeypatch.setenv("GITHUB_TOKEN", self.admin.token)
        monkeypatch.setenv("GITJIT_GITHUB_THROTTLE", "0")
        monkeypatch.delenv("GITJIT_APP_ID", raising=False)

    def api(self, user: User) -> Any:
        return github.Github(base_url=self.gh.url, auth=github.Auth.Token(user.token),
                             retry=None, seconds_between_requests=0,
                             seconds_between_writes=0).get_repo(REPO)

    def only_app(self) -> list[dict[str, Any]]:
        return [{"actor_id": self.app_id, "actor_type": "Integration", "bypass_mode": "always"}]

    def main_ruleset(self, source: int | None, **pull_request: Any) -> None:
        parameters = {"required_approving_review_count": 0,
                      "dismiss_stale_reviews_on_push": True,
                      "require_last_push_approval": True,
                      "require_code_owner_review": True,
                      "required_review_thread_resolution": False, **pull_request}
        check: dict[str, Any] = {"context": "gitjit/verdict"}
        if source is not None:
            check["integration_id"] = source
        self.gh.add_ruleset(REPO, "gitjit-main", rules=[
            {"type": "deletion"}, {"type": "non_fast_forward"},
            {"type": "pull_request", "parameters": parameters},
            {"type": "required_status_checks", "parameters": {
                "required_status_checks": [check],
                "strict_required_status_checks_policy": False}}])

    def branches_ruleset(self, bypass: Sequence[Mapping[str, Any]] | None = None,
                         rules: Sequence[str] = ("creation", "update", "deletion",
                                                 "non_fast_forward")) -> None:
        self.gh.add_ruleset(REPO, "gitjit-branches", include=("refs/heads/gitjit/**",),
                            rules=[{"type": r} for r in rules],
                            bypass_actors=self.only_app() if bypass is None else bypass)

    def beat(self, user: User) -> None:
        """Post gitjit/heartbeat on main's tip as ``user``, the way its token allows."""
        repo = self.api(user)
        tip = repo.get_branch("main").commit.sha
        if user.app is not None and user.login != "github-actions[bot]":
            repo.create_check_run(name="gitjit/heartbeat", head_sha=tip, status="completed",
                                  conclusion="success", output={
                                      "title": "reconcile succeeded",
                                      "summary": "reconcile succeeded"})
        else:
            repo.get_commit(tip).create_status(state="success", context="gitjit/heartbeat",
                                               description="reconcile succeeded")

    def as_documented(self) -> None:
        self.gh.set_variable(REPO, "GITJIT_APP_ID", str(self.app_id))
        self.main_ruleset(self.app_id)
        self.branches_ruleset()
        self.gh.set_workflow_permissions(REPO, default="read", can_approve=False)
        self.beat(self.app)


@pytest.fixture
def repo(github_emulator: GitHubEmulator, monkeypatch: pytest.MonkeyPatch) -> Repo:
    return Repo(github_emulator, monkeypatch)


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = run(["doctor", "--now", NOW, *args])
    return code, capsys.readouterr().out


def test_an_unprotected_repository_fails_with_fixes(repo: Repo,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    repo.gh.set_workflow_permissions(REPO, default="write", can_approve=True)
    code, out = doctor(capsys)
    assert code == 1
    for failure in ("FAIL changes reach the default branch only through pull requests",
                    "FAIL the check gitjit/verdict is required",
                    "FAIL the most recent push must be approved by someone else",
                    "FAIL GitHub Actions may not approve pull requests (allowed)",
                    "FAIL the default GITHUB_TOKEN is read-only (default: write)",
                    "FAIL reconcile succeeded within the last 30 minutes (last success: never",
                    "     fix: Settings > Actions > General > Workflow permissions: 'Read "
                    "repository contents'."):
        assert failure in out, failure
    assert out.rstrip().endswith("requirements met")


def test_a_repository_set_up_as_documented_passes(repo: Repo,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    repo.as_documented()
    code, out = doctor(capsys, "--now", repo.gh.now().isoformat())
    assert code == 0, out
    assert "ok   only the gitjit App creates and updates gitjit/ledger" in out
    assert "ok   only the gitjit App creates and updates gitjit/*" in out
    assert f"counted: a check run of the gitjit App (id {repo.app_id})" in out


def test_github_token_mode_says_the_ledger_cannot_be_protected(
        repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.main_ruleset(15368)
    repo.branches_ruleset(bypass=[])
    repo.gh.set_workflow_permissions(REPO, default="read", can_approve=False)
    repo.beat(repo.gh.github_actions())
    code, out = doctor(capsys, "--now", repo.gh.now().isoformat())
    assert code == 1
    assert ("FAIL only gitjit can write gitjit/ledger and gitjit/* (GITHUB_TOKEN mode: the "
            "workflows write as github-actions[bot], which every workflow of the repository "
            "acts as, so no ruleset can tell gitjit from anyone with write access; anyone who "
            "can push can push the ledger, and gitjit's signatures are its only protection)"
            ) in out
    assert "ok   reconcile succeeded within the last 30 minutes" in out
    assert "counted: a commit status by github-actions[bot]" in out


def test_removal_push_fails_where_main_requires_pull_requests(
        repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.as_documented()
    repo.gh.commit(REPO, "main", {"policies/settings.yaml":
                                  "apiVersion: gitjit/v1\nkind: Settings\nremoval: push\n"})
    repo.beat(repo.app)
    code, out = doctor(capsys, "--now", repo.gh.now().isoformat())
    assert code == 1
    assert ("FAIL gitjit's removals can reach the default branch (removal: push, but main "
            "requires pull requests: every direct push is refused)") in out
    assert "     fix: Set 'removal: pull-request' in policies/settings.yaml" in out


@pytest.mark.parametrize(("bypass", "rules", "problem"), [
    ([], ("creation", "update", "deletion", "non_fast_forward"),
     "the gitjit App itself may not create it"),
    ("admin", ("creation", "update", "deletion", "non_fast_forward"),
     f"RepositoryRole {ADMIN_ROLE_ID} may create it besides the App"),
    (None, ("deletion", "non_fast_forward"), "anyone with write access may update it"),
    (None, ("creation", "update"), "anyone with write access may force-push it"),
])
def test_gitjit_branches_must_be_the_apps_alone(
        repo: Repo, capsys: pytest.CaptureFixture[str], bypass: Any,
        rules: tuple[str, ...], problem: str) -> None:
    repo.gh.set_variable(REPO, "GITJIT_APP_ID", str(repo.app_id))
    repo.main_ruleset(repo.app_id)
    if bypass == "admin":
        bypass = [*repo.only_app(), {"actor_id": ADMIN_ROLE_ID, "actor_type": "RepositoryRole",
                                     "bypass_mode": "always"}]
    repo.branches_ruleset(bypass, rules)
    code, out = doctor(capsys)
    assert code == 1
    for name in ("gitjit/ledger", "gitjit/*"):
        line = next(line for line in out.splitlines()
                    if line.startswith(f"FAIL only the gitjit App creates and updates {name},"))
        assert problem in line, line


def test_a_heartbeat_posted_by_someone_else_is_ignored_and_reported(
        repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    """The attack: reconcile no longer runs (every run fails), and a writer keeps the
    heartbeat green with their own token, then with a workflow's GITHUB_TOKEN."""
    repo.gh.set_variable(REPO, "GITJIT_APP_ID", str(repo.app_id))
    repo.beat(repo.mallory)
    repo.beat(repo.gh.github_actions())
    code, out = doctor(capsys, "--now", repo.gh.now().isoformat())
    assert code == 1
    assert "FAIL reconcile succeeded within the last 30 minutes (last success: never" in out
    assert ("FAIL nobody but gitjit posts gitjit/heartbeat (ignored, posted by "
            "github-actions[bot] (commit status), mallory (commit status))") in out

    repo.beat(repo.app)  # gitjit's own heartbeat counts; the forgeries are still reported
    code, out = doctor(capsys, "--now", repo.gh.now().isoformat(), "--format", "json")
    assert '"requirement": "reconcile succeeded within the last 30 minutes",\n      ' \
        '"passed": true' in out
    assert "mallory (commit status)" in out


def test_in_token_mode_only_github_actions_beats(repo: Repo,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    repo.beat(repo.mallory)
    code, out = doctor(capsys, "--now", repo.gh.now().isoformat())
    assert "FAIL reconcile succeeded within the last 30 minutes (last success: never" in out
    assert "ignored, posted by mallory (commit status)" in out
