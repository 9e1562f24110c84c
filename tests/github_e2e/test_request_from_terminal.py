"""`gitjit request --forge github` for a person at a terminal, against the GitHub emulator.

The repository comes from the clone's 'origin' remote (GITHUB_REPOSITORY still wins), the
token from GITHUB_TOKEN, GH_TOKEN or the GitHub CLI's 'gh auth token' (here a fake gh on PATH
that prints the person's token), and --as defaults to the token's login (GET /user).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import github
import pytest

from engine.adapters.git import GitRepository
from engine.cli import run
from engine.commands.forges import person_repository, repository_from_url
from tests.github.emulator import GitHubEmulator, User
from tests.github.fixtures import github_emulator
from tests.orders_access import GROUPS, policy

__all__ = ["github_emulator"]

ROOT = Path(__file__).resolve().parents[2]
REPO = "acme/access"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SETTINGS = """\
apiVersion: gitjit/v1
kind: Settings
connections:
  rec: {provider: recording, path: /nonexistent/recording.json}
"""
ARGS = ["request", "orders-admin", "--duration", "1h", "--justification",
        "Replication lag on the orders primary (INC-1234)", "--forge", "github",
        "--now", T0.isoformat()]


class Terminal:
    """bob's shell: a clone with his git credentials configured, the emulator as GitHub
    Enterprise Server, and no token variable."""

    def __init__(self, gh: GitHubEmulator, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.gh, self.tmp, self.monkeypatch = gh, tmp, monkeypatch
        self.bob = gh.create_user("bob", emails=["bob@example.com"])
        gh.create_user("dave")
        gh.create_user("sam")
        files = {str(p.relative_to(ROOT)): p.read_text() for p in (ROOT / "schemas").glob("*")}
        files |= {"policies/orders-admin.yaml": policy("recording", "rec"),
                  "policies/groups.yaml": GROUPS, "policies/settings.yaml": SETTINGS}
        gh.create_repo(REPO, initial_files=files)
        self.clone = tmp / "access"
        subprocess.run(["git", "clone", "--quiet", gh.git_url(REPO), str(self.clone)],
                       check=True, capture_output=True, env={**os.environ, **gh.git_env(self.bob)})
        # His own git credentials, as 'gh auth setup-git' or a credential helper would give.
        basic = base64.b64encode(f"x-access-token:{self.bob.token}".encode()).decode("ascii")
        subprocess.run(["git", "-C", str(self.clone), "config", f"http.{gh.url}/.extraheader",
                        f"AUTHORIZATION: basic {basic}"], check=True)
        for key in ("GITHUB_REPOSITORY", "GITHUB_TOKEN", "GH_TOKEN", "GITHUB_SERVER_URL",
                    "GITJIT_BOT_LOGIN"):
            monkeypatch.delenv(key, raising=False)
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        monkeypatch.setenv("GITJIT_GITHUB_THROTTLE", "0")
        for role in ("AUTHOR", "COMMITTER"):
            monkeypatch.setenv(f"GIT_{role}_NAME", "bob")
            monkeypatch.setenv(f"GIT_{role}_EMAIL", "bob@example.com")
        self.bin = tmp / "bin"
        self.bin.mkdir()
        git = shutil.which("git")
        assert git is not None
        (self.bin / "git").symlink_to(git)
        # Only git and (when installed) gh: no gh of the machine's can answer instead.
        monkeypatch.setenv("PATH", str(self.bin))

    def install_gh(self, user: User) -> Path:
        """A fake GitHub CLI that prints ``user``'s token and writes down its arguments."""
        calls = self.tmp / "gh-calls"
        gh = self.bin / "gh"
        gh.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\n"
                      f"if [ \"$1 $2\" = 'auth token' ]; then echo {user.token}; exit 0; fi\n"
                      "echo 'unknown command' >&2; exit 1\n")
        gh.chmod(0o755)
        return calls

    def api(self) -> github.Repository.Repository:
        sam = self.gh.user("sam")
        return github.Github(base_url=self.gh.url, auth=github.Auth.Token(sam.token),
                             seconds_between_requests=0, seconds_between_writes=0,
                             retry=None).get_repo(REPO)

    def request(self, *extra: str) -> int:
        return run([*ARGS, *extra, "--repo", str(self.clone)])

    def branches(self) -> list[str]:
        out = subprocess.run(["git", "-C", str(self.clone), "branch", "--format=%(refname)"],
                             check=True, capture_output=True, text=True).stdout
        return out.split()


@pytest.fixture
def terminal(github_emulator: GitHubEmulator, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Terminal]:
    yield Terminal(github_emulator, tmp_path, monkeypatch)


def test_a_person_requests_with_gh_and_origin_and_no_as(
        terminal: Terminal, capsys: pytest.CaptureFixture[str]) -> None:
    calls = terminal.install_gh(terminal.bob)

    assert terminal.request() == 0

    assert "opened pull request #1: pending" in capsys.readouterr().out
    [pull] = terminal.api().get_pulls(state="all")
    assert pull.user.login == "bob"  # the token's login, asked of GitHub
    assert pull.head.ref.startswith("access/orders-admin/bob-")
    host = terminal.gh.url.split("//", 1)[1].split(":")[0]
    assert calls.read_text() == f"auth token --hostname {host}\n"


def test_a_token_variable_wins_over_gh(terminal: Terminal,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    dave = terminal.gh.user("dave")
    calls = terminal.install_gh(dave)  # gh would say dave
    terminal.monkeypatch.setenv("GH_TOKEN", terminal.bob.token)

    assert terminal.request() == 0

    assert "opened pull request #1" in capsys.readouterr().out
    assert not calls.exists()


def test_without_gh_or_a_token_it_says_what_to_set(
        terminal: Terminal, capsys: pytest.CaptureFixture[str]) -> None:
    assert terminal.request("--as", "bob") == 2
    err = capsys.readouterr().err
    assert ("--forge github needs a GitHub token: set GITHUB_TOKEN (or GH_TOKEN) to a token "
            "that may open pull requests, or install the GitHub CLI (gh) and run "
            "'gh auth login'") in err
    assert terminal.branches() == ["refs/heads/main"]


def test_as_someone_else_is_refused_before_anything_is_written(
        terminal: Terminal, capsys: pytest.CaptureFixture[str]) -> None:
    terminal.install_gh(terminal.bob)

    assert terminal.request("--as", "dave") == 2

    assert ("--as dave but the token belongs to bob: a request is opened by its requester"
            in capsys.readouterr().err)
    assert terminal.branches() == ["refs/heads/main"]
    assert terminal.api().get_pulls(state="all").totalCount == 0


def test_gh_without_a_login_is_a_clear_error(terminal: Terminal,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    gh = terminal.bin / "gh"
    gh.write_text("#!/bin/sh\necho 'You are not logged into any GitHub hosts. To log in, "
                  "run: gh auth login' >&2\nexit 1\n")
    gh.chmod(0o755)
    assert terminal.request() == 2
    err = capsys.readouterr().err
    assert "gave no token (You are not logged into any GitHub hosts." in err
    assert "run 'gh auth login', or set GITHUB_TOKEN" in err


def test_an_origin_off_github_is_not_taken_for_the_repository(
        terminal: Terminal, capsys: pytest.CaptureFixture[str]) -> None:
    terminal.install_gh(terminal.bob)
    subprocess.run(["git", "-C", str(terminal.clone), "remote", "set-url", "origin",
                    "https://gitlab.example.com/acme/access.git"], check=True)

    assert terminal.request() == 2

    err = capsys.readouterr().err
    assert ("cannot tell the GitHub repository from the 'origin' remote "
            "https://gitlab.example.com/acme/access.git") in err
    assert "set GITHUB_REPOSITORY=owner/name" in err


def test_github_repository_wins_over_origin(terminal: Terminal) -> None:
    subprocess.run(["git", "-C", str(terminal.clone), "remote", "set-url", "origin",
                    "git@github.com:acme/other.git"], check=True)
    repo = GitRepository(terminal.clone)
    assert person_repository(repo, {}) == "acme/other"
    assert person_repository(repo, {"GITHUB_REPOSITORY": "acme/access"}) == "acme/access"


@pytest.mark.parametrize(("url", "expected"), [
    ("https://github.com/acme/access.git", "acme/access"),
    ("https://github.com/acme/access", "acme/access"),
    ("https://bob:ghp_secret@github.com/acme/access.git", "acme/access"),
    ("git@github.com:acme/access.git", "acme/access"),
    ("github.com:acme/access", "acme/access"),
    ("ssh://git@github.com/acme/access.git", "acme/access"),
    ("ssh://git@github.com:22/acme/my.repo.git", "acme/my.repo"),
    ("https://ghe.example.com/acme/access.git", None),  # not a GitHub host here
    ("https://github.com/acme/access/tree/main", None),
    ("https://github.com/acme", None),
    ("/srv/git/access.git", None),
    ("file:///srv/git/acme/access.git", None),
    ("git@github.com:acme/...git", None),
])
def test_remote_urls(url: str, expected: str | None) -> None:
    assert repository_from_url(url, frozenset({"github.com"})) == expected


def test_an_origin_holding_a_token_is_never_printed(
        terminal: Terminal, capsys: pytest.CaptureFixture[str]) -> None:
    terminal.install_gh(terminal.bob)
    subprocess.run(["git", "-C", str(terminal.clone), "remote", "set-url", "origin",
                    "https://bob:ghp_leaked@gitlab.example.com/acme/access.git"], check=True)

    assert terminal.request() == 2

    err = capsys.readouterr().err
    assert "https://***@gitlab.example.com/acme/access.git" in err
    assert "ghp_leaked" not in err
