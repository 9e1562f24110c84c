"""Publishing by lease, and credentials that never touch .git/config."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

from engine.adapters.git import GitRepository
from engine.adapters.remote import Remote, credentials
from tests.gitrepo import GitRepoBuilder


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
