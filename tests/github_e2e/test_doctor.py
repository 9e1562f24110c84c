"""gitjit doctor against the emulator: each requirement fails with its fix, then passes."""

from __future__ import annotations

import pytest

from engine.cli import run
from tests.github.emulator import GitHubEmulator, Protection, RequiredCheck
from tests.github.fixtures import github_emulator

__all__ = ["github_emulator"]
REPO = "acme/access"
NOW = "2026-11-30T09:00:00+00:00"


@pytest.fixture
def gh(github_emulator: GitHubEmulator, monkeypatch: pytest.MonkeyPatch) -> GitHubEmulator:
    admin = github_emulator.create_user("root")
    github_emulator.create_repo(REPO, permissions={"root": "admin"})
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_API_URL", github_emulator.url)
    monkeypatch.setenv("GITHUB_TOKEN", admin.token)
    monkeypatch.setenv("GITJIT_GITHUB_THROTTLE", "0")
    return github_emulator


def test_an_unprotected_repository_fails_with_fixes(gh: GitHubEmulator,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    gh.set_workflow_permissions(REPO, default="write", can_approve=True)
    assert run(["doctor", "--now", NOW]) == 1
    out = capsys.readouterr().out
    for failure in ("FAIL changes reach the default branch only through pull requests",
                    "FAIL the check gitjit/verdict is required",
                    "FAIL GitHub Actions may not approve pull requests (allowed)",
                    "FAIL the default GITHUB_TOKEN is read-only (default: write)",
                    "FAIL reconcile succeeded within the last 30 minutes (last success: never)",
                    "     fix: Settings > Actions > General > Workflow permissions: 'Read "
                    "repository contents'."):
        assert failure in out, failure
    assert out.rstrip().endswith("requirements met")


def test_a_repository_set_up_as_documented_passes(gh: GitHubEmulator,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    app = gh.create_app("gitjit", owner="acme")
    assert app.app is not None
    gh.protect_branch(REPO, "main", Protection(
        required_checks=(RequiredCheck("gitjit/verdict", app.app.id),), enforce_admins=True,
        dismiss_stale_reviews=True))
    gh.commit(REPO, "gitjit/ledger", {"records/.keep": ""})
    gh.protect_branch(REPO, "gitjit/ledger", Protection(required_approving_review_count=None,
                                                        enforce_admins=True))
    gh.set_workflow_permissions(REPO, default="read", can_approve=False)
    tip = gh.repo(REPO).bare.resolve("refs/heads/main")
    assert tip is not None
    github = __import__("github")
    api = github.Github(base_url=gh.url, auth=github.Auth.Token(app.token), retry=None,
                        seconds_between_requests=0, seconds_between_writes=0).get_repo(REPO)
    api.get_commit(tip).create_status(state="success", context="gitjit/heartbeat",
                                      description="reconcile succeeded")
    code = run(["doctor", "--app-id", str(app.app.id), "--now",
                gh.now().isoformat(), "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert '"ok": true' in out
