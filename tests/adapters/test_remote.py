"""Publishing by lease, and credentials that never touch .git/config."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest

from engine.adapters.git import GitRepository
from engine.adapters.remote import PushRefused, Remote, credentials, refusal
from tests.github.emulator import GitHubEmulator
from tests.github.fixtures import github_emulator
from tests.gitrepo import GitRepoBuilder

__all__ = ["github_emulator"]


def test_credentials_come_from_the_token_for_one_command_only() -> None:
    env = credentials({"GITHUB_TOKEN": "t0k", "GITHUB_SERVER_URL": "https://github.com"})
    assert env["GIT_CONFIG_KEY_0"] == "http.https://github.com/.extraheader"
    assert env["GIT_CONFIG_VALUE_0"] == "AUTHORIZATION: basic " + base64.b64encode(
        b"x-access-token:t0k").decode()
    assert credentials({}) == {}


def test_a_lost_race_is_redone_on_the_new_tip(repo: GitRepoBuilder, tmp_path: Path) -> None:
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(repo.path), str(bare)], check=True)
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    for clone in (mine, theirs):
        subprocess.run(["git", "clone", "--quiet", str(bare), str(clone)], check=True)
    other = GitRepoBuilder(theirs)
    other.write("theirs.txt", "x")
    other.commit("someone else first")
    remote = Remote(GitRepository(mine), environ={})
    attempts = []

    def write() -> str:
        attempts.append(1)
        if len(attempts) == 1:  # the other writer lands between our fetch and our push
            other.git("push", "--quiet", "origin", "main")
        local = GitRepoBuilder(mine)
        local.git("reset", "--quiet", "--hard", "main")
        local.write(f"mine-{len(attempts)}.txt", "y")
        return local.commit("mine")

    remote.publish("main", write)
    assert len(attempts) == 2
    log = subprocess.run(["git", "--git-dir", str(bare), "log", "--format=%s", "main"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert log[:2] == ["mine", "someone else first"]


def test_a_push_refused_by_a_ruleset_fails_at_once(github_emulator: GitHubEmulator,
                                                    tmp_path: Path) -> None:
    """GitHub's GH013 is not a lost race: one push, no retry, the ruleset's reason."""
    gh = github_emulator
    app = gh.create_app("gitjit", owner="acme")
    gh.create_repo("acme/access")
    gh.add_ruleset("acme/access", "gitjit-main", rules=[
        {"type": "pull_request", "parameters": {"required_approving_review_count": 0}}])
    before = gh.repo("acme/access").bare.resolve("refs/heads/main")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", gh.git_url("acme/access"), str(clone)],
                   check=True, env={**os.environ, **gh.git_env(app)})
    remote = Remote(GitRepository(clone),
                    environ={"GITHUB_TOKEN": app.token, "GITHUB_SERVER_URL": gh.url})
    attempts = []

    def write() -> str:
        attempts.append(1)
        local = GitRepoBuilder(clone)
        local.git("reset", "--quiet", "--hard", "main")
        local.write("removed.txt", "x")
        return local.commit("gitjit: remove a refused grant")

    with pytest.raises(PushRefused) as refused:
        remote.publish("main", write)
    assert str(refused.value) == (
        "origin refused the push of main by its rules: Changes must be made through a pull "
        "request. (a ruleset or branch protection; `gitjit doctor` says what gitjit needs)")
    assert attempts == [1]
    pushes = [c for c in gh.calls if c.method == "POST" and c.path.endswith("git-receive-pack")]
    assert len(pushes) == 1
    assert gh.repo("acme/access").bare.resolve("refs/heads/main") == before


def test_refusal_reads_the_reasons_and_ignores_races() -> None:
    assert refusal(" ! [rejected] main -> main (stale info)") is None
    assert refusal(" ! [remote rejected] main -> main (cannot lock ref 'refs/heads/main')") \
        is None
    assert refusal("remote: error: GH006: Protected branch update failed for refs/heads/x.\n"
                   "remote: \nremote: - Cannot force-push to this branch\n") == \
        "Cannot force-push to this branch"
