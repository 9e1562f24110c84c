"""Git over smart HTTP against the emulator, and the rules GitHub applies to pushes.

Every push here is plain git, as a given account with its own token, over HTTP: what an
attacker with write access would do. Rulesets and classic protection refuse what GitHub refuses,
in GitHub's words; bypass actors pass."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.github.client import Client
from tests.github.emulator import GitHubEmulator, Protection, User
from tests.github.fixtures import github_emulator

__all__ = ["github_emulator"]

REPO = "acme/access"
R = f"/repos/{REPO}"


def git(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    full.update({"GIT_AUTHOR_NAME": "Someone", "GIT_AUTHOR_EMAIL": "someone@example.com",
                 "GIT_COMMITTER_NAME": "Someone", "GIT_COMMITTER_EMAIL": "someone@example.com",
                 "GIT_TERMINAL_PROMPT": "0"})
    full.update(env or {})
    done = subprocess.run(["git", *args], cwd=cwd, env=full, capture_output=True, text=True,
                          check=False, timeout=60)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {done.stderr}")
    return done


class Setup:
    def __init__(self, gh: GitHubEmulator, tmp: Path) -> None:
        self.gh, self.tmp = gh, tmp
        self.mallory = gh.create_user("mallory")
        self.reader = gh.create_user("reader")
        self.admin = gh.create_user("root")
        self.app = gh.create_app("gitjit", owner="acme")
        gh.create_repo(REPO, permissions={"reader": "read", "root": "admin"})
        self.url = gh.git_url(REPO)

    def clone(self, user: User, name: str) -> Path:
        path = self.tmp / name
        git("clone", "--quiet", self.url, str(path), env=self.gh.git_env(user))
        return path

    def commit(self, clone: Path, name: str = "file.txt", text: str = "x\n") -> str:
        (clone / name).write_text(text)
        git("add", name, cwd=clone)
        git("commit", "--quiet", "-m", f"change {name}", cwd=clone)
        return git("rev-parse", "HEAD", cwd=clone).stdout.strip()

    def push(self, clone: Path, user: User, *refspecs: str) -> subprocess.CompletedProcess[str]:
        return git("push", "origin", *refspecs, cwd=clone, env=self.gh.git_env(user),
                   check=False)

    def tip(self, branch: str) -> str | None:
        return self.gh.repo(REPO).bare.resolve(f"refs/heads/{branch}")

    def app_only(self, name: str, pattern: str, *rules: str) -> None:
        assert self.app.app is not None
        self.gh.add_ruleset(REPO, name, include=(pattern,), rules=[{"type": r} for r in rules],
                            bypass_actors=[{"actor_id": self.app.app.id,
                                            "actor_type": "Integration", "bypass_mode": "always"}])


@pytest.fixture
def setup(github_emulator: GitHubEmulator, tmp_path: Path) -> Setup:
    return Setup(github_emulator, tmp_path)


def test_clone_fetch_and_push_with_a_token(setup: Setup) -> None:
    clone = setup.clone(setup.mallory, "c")
    sha = setup.commit(clone)
    done = setup.push(clone, setup.mallory, "HEAD:refs/heads/mallory/topic")
    assert done.returncode == 0, done.stderr
    assert setup.tip("mallory/topic") == sha
    pushes = [c for c in setup.gh.calls if c.path.endswith("/git-receive-pack")]
    assert [(c.status, c.login) for c in pushes] == [(200, "mallory")]


def test_no_token_bad_token_and_read_access_are_refused(setup: Setup) -> None:
    nobody = git("clone", "--quiet", setup.url, str(setup.tmp / "x"), check=False)
    assert nobody.returncode != 0
    assert "could not read Username" in nobody.stderr  # 401: git asks for credentials
    forged = User("mallory", 0, "User", "ghp_not_a_token", [])
    bad = git("clone", "--quiet", setup.url, str(setup.tmp / "y"),
              env=setup.gh.git_env(forged), check=False)
    assert bad.returncode != 0
    assert [c.status for c in setup.gh.calls] == [401, 401]

    clone = setup.clone(setup.reader, "r")  # read access fetches ...
    setup.commit(clone)
    done = setup.push(clone, setup.reader, "HEAD:refs/heads/reader/topic")
    assert done.returncode != 0  # ... but cannot push
    assert "Permission to acme/access.git denied to reader." in done.stderr
    assert setup.tip("reader/topic") is None


def test_a_ruleset_refuses_a_direct_push_in_githubs_words(setup: Setup) -> None:
    setup.gh.add_ruleset(REPO, "main", rules=[
        {"type": "pull_request", "parameters": {"required_approving_review_count": 0}},
        {"type": "non_fast_forward"}, {"type": "deletion"}])
    before = setup.tip("main")
    clone = setup.clone(setup.mallory, "c")
    setup.commit(clone)
    done = setup.push(clone, setup.mallory, "HEAD:main")
    assert done.returncode == 1
    lines = [line.rstrip() for line in done.stderr.splitlines()]
    block = lines[lines.index("remote: error: GH013: Repository rule violations found for "
                              "refs/heads/main."):]
    assert block[1].startswith("remote: Review all repository rules at ")
    assert block[1].endswith("/acme/access/rules?ref=refs%2Fheads%2Fmain")
    assert block[2:5] == ["remote:", "remote: - Changes must be made through a pull request.",
                          "remote:"]
    assert " ! [remote rejected] HEAD -> main (push declined due to repository rule " \
        "violations)" in lines
    assert setup.tip("main") == before

    # Force pushes and deletion: each rule in its own words.
    git("checkout", "--quiet", "--orphan", "rewritten", cwd=clone)
    setup.commit(clone, "other.txt")
    forced = setup.push(clone, setup.mallory, "+HEAD:main")
    assert "remote: - Cannot force-push to this branch" in forced.stderr
    deleted = setup.push(clone, setup.mallory, ":main")
    assert "remote: - Cannot delete this branch" in deleted.stderr
    assert setup.tip("main") == before


def test_the_app_alone_creates_and_updates_the_ledger(setup: Setup) -> None:
    setup.app_only("gitjit-ledger", "refs/heads/gitjit/ledger", "creation", "update",
                   "deletion", "non_fast_forward")
    setup.app_only("gitjit-namespace", "refs/heads/gitjit/*", "creation", "update", "deletion",
                   "non_fast_forward")
    clone = setup.clone(setup.mallory, "c")
    setup.commit(clone, "records.json")
    created = setup.push(clone, setup.mallory, "HEAD:refs/heads/gitjit/ledger")
    assert "remote: - Cannot create ref due to creations being restricted." in created.stderr
    assert setup.tip("gitjit/ledger") is None
    # An admin is no bypass actor either.
    assert setup.push(clone, setup.admin, "HEAD:refs/heads/gitjit/ledger").returncode == 1

    bot = setup.clone(setup.app, "bot")
    sha = setup.commit(bot, "records.json", "first\n")
    done = setup.push(bot, setup.app, "HEAD:refs/heads/gitjit/ledger")
    assert done.returncode == 0, done.stderr
    assert "remote: Bypassed rule violations for refs/heads/gitjit/ledger:" in done.stderr
    assert setup.tip("gitjit/ledger") == sha

    git("fetch", "--quiet", "origin", cwd=clone, env=setup.gh.git_env(setup.mallory))
    git("checkout", "--quiet", "-B", "ledger", "origin/gitjit/ledger", cwd=clone)
    setup.commit(clone, "forged.json")
    updated = setup.push(clone, setup.mallory, "HEAD:refs/heads/gitjit/ledger")
    assert "remote: - Cannot update this protected ref." in updated.stderr
    assert setup.tip("gitjit/ledger") == sha
    # The namespace: '*' matches one segment, as GitHub's fnmatch does.
    squat = setup.push(clone, setup.mallory, "HEAD:refs/heads/gitjit/remove-expired-0123")
    assert "creations being restricted" in squat.stderr
    assert setup.push(clone, setup.mallory, "HEAD:refs/heads/gitjitx").returncode == 0


def test_the_git_refs_api_meets_the_same_rules(setup: Setup) -> None:
    setup.app_only("gitjit-ledger", "refs/heads/gitjit/ledger", "creation", "update")
    main = setup.tip("main")
    api = Client(setup.gh.url, setup.mallory.token)
    body = api.fails("POST /repos/{owner}/{repo}/git/refs", 422,
                     {"ref": "refs/heads/gitjit/ledger", "sha": main}, path=f"{R}/git/refs")
    assert body["message"] == ("Repository rule violations found\n\nCannot create ref due to "
                               "creations being restricted.\n\n")
    Client(setup.gh.url, setup.app.token).ok(
        "POST /repos/{owner}/{repo}/git/refs", {"ref": "refs/heads/gitjit/ledger", "sha": main},
        path=f"{R}/git/refs")
    later = setup.gh.commit(REPO, "elsewhere", {"a": "b"})
    body = api.fails("PATCH /repos/{owner}/{repo}/git/refs/{ref}", 422, {"sha": later},
                     path=f"{R}/git/refs/heads/gitjit/ledger")
    assert "Cannot update this protected ref." in body["message"]


def test_classic_protection_refuses_with_gh006(setup: Setup) -> None:
    setup.gh.protect_branch(REPO, "main", Protection(enforce_admins=False))
    clone = setup.clone(setup.mallory, "c")
    setup.commit(clone)
    done = setup.push(clone, setup.mallory, "HEAD:main")
    assert "remote: error: GH006: Protected branch update failed for refs/heads/main." in \
        done.stderr
    assert "remote: - Changes must be made through a pull request." in done.stderr
    assert "(protected branch hook declined)" in done.stderr
    # An admin bypasses classic protection that does not enforce admins.
    assert setup.push(clone, setup.admin, "HEAD:main").returncode == 0


def test_pull_request_refs_cannot_be_pushed(setup: Setup) -> None:
    clone = setup.clone(setup.mallory, "c")
    setup.commit(clone)
    done = setup.push(clone, setup.mallory, "HEAD:refs/pull/1/head")
    assert done.returncode != 0 and "deny updating a hidden ref" in done.stderr


def test_reviews_on_merged_pull_requests_are_accepted(setup: Setup) -> None:
    bob = setup.gh.create_user("bob")
    setup.gh.commit(REPO, "mallory/x", {"x": "1"}, author=setup.mallory)
    api = Client(setup.gh.url, setup.mallory.token)
    api.ok("POST /repos/{owner}/{repo}/pulls", {"title": "x", "head": "mallory/x",
                                                "base": "main"}, path=f"{R}/pulls")
    api.ok("PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge", path=f"{R}/pulls/1/merge")
    late = Client(setup.gh.url, bob.token).ok(
        "POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews", {"event": "APPROVE"},
        path=f"{R}/pulls/1/reviews")
    assert late["state"] == "APPROVED"
