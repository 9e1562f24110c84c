"""The forge contract, kept by the GitHub forge through PyGithub against the emulator."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

import github
import pytest

from engine.adapters.github import GitHubForge
from engine.core.forge import PullRequestInfo
from engine.core.models import Login, ReviewState
from tests.contract.forge_contract import BASE, ForgeContract
from tests.github.emulator import GitHubEmulator, User
from tests.github.fixtures import github_emulator

__all__ = ["github_emulator"]
REPO = "acme/access"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EVENTS = {ReviewState.APPROVED: "APPROVE", ReviewState.CHANGES_REQUESTED: "REQUEST_CHANGES",
          ReviewState.COMMENTED: "COMMENT"}


class GitHubHarness:
    """The emulator's repository, its people, and a clock that ticks a minute a move."""

    def __init__(self, gh: GitHubEmulator) -> None:
        self.gh = gh
        self.now = START
        gh.clock = lambda: self.now
        self.users = {login: gh.create_user(login, emails=[f"{login}@example.com"])
                      for login in ("ana", "lea", "ben")}
        self.bot = gh.create_app("helper", owner="acme")
        gh.create_repo(REPO)
        self.author = Login("ana")
        self.others = (Login("lea"), Login("ben"))
        self.github = GitHubForge(REPO, self.users["ana"].token, base_url=gh.url,
                                  throttle=False, retries=0)

    @property
    def forge(self) -> GitHubForge:
        return self.github

    def api(self, user: User) -> github.Repository.Repository:
        return github.Github(base_url=self.gh.url, auth=github.Auth.Token(user.token),
                             retry=None, seconds_between_requests=0,
                             seconds_between_writes=0).get_repo(REPO)

    def tick(self) -> None:
        self.now += timedelta(minutes=1)

    def branch(self, name: str, files: Mapping[str, str]) -> str:
        self.tick()
        return self.gh.commit(REPO, name, files, author=self.users["ana"])

    def push(self, number: int, files: Mapping[str, str], login: Login) -> str:
        self.tick()
        head_ref = self.forge.pull_request(number).head_ref
        return self.gh.commit(REPO, head_ref, files, author=self.users[login])

    def direct_push(self, files: Mapping[str, str]) -> str:
        self.tick()
        return self.gh.commit(REPO, BASE, files, author=self.users["ben"])

    def review(self, number: int, reviewer: Login, state: ReviewState, *,
               commit: str | None = None, bot: bool = False) -> None:
        self.tick()
        who = self.bot if bot else self.users[reviewer]
        repo = self.api(who)
        pull = repo.get_pull(number)
        if commit:
            pull.create_review(commit=repo.get_commit(commit), event=EVENTS[state],
                               body="review")
        else:
            pull.create_review(event=EVENTS[state], body="review")

    def bot_login(self, reviewer: Login) -> str:
        # On GitHub a bot is its own account, so the contract's bot review comes from the App.
        return "helper[bot]"

    def merge(self, number: int, merged_by: Login) -> PullRequestInfo:
        self.tick()
        self.api(self.users[merged_by]).get_pull(number).merge(merge_method="merge")
        return self.forge.pull_request(number)

    def tip(self, branch: str) -> str:
        sha = self.gh.repo(REPO).bare.resolve(f"refs/heads/{branch}")
        assert sha is not None
        return sha

    def parents(self, sha: str) -> list[str]:
        return [p.sha for p in self.api(self.users["ana"]).get_git_commit(sha).parents]

    def comments(self, number: int) -> dict[str, str]:
        found = {}
        for comment in self.api(self.users["ana"]).get_pull(number).get_issue_comments():
            match = re.match(r"<!-- gitjit:(\S+) -->\n(.*)", comment.body, re.S)
            if match:
                found[match[1]] = match[2]
        return found


@pytest.fixture
def harness(github_emulator: GitHubEmulator) -> Iterator[GitHubHarness]:
    yield GitHubHarness(github_emulator)


class TestGitHubForge(ForgeContract):
    pass


def test_all_pages_of_reviews_are_read(harness: GitHubHarness) -> None:
    forge = GitHubForge(REPO, harness.users["ana"].token, base_url=harness.gh.url,
                        throttle=False, retries=0, per_page=2)
    harness.branch("request", {"notes/x.txt": "x\n"})
    number = forge.open_pull_request(author=Login("ana"), head_ref="request", base=BASE,
                                     title="x", body="").number
    for _ in range(3):
        harness.review(number, Login("lea"), ReviewState.COMMENTED)
        harness.review(number, Login("ben"), ReviewState.COMMENTED)
    assert len(forge.reviews(number)) == 6


def test_transient_failures_are_retried(harness: GitHubHarness) -> None:
    forge = GitHubForge(REPO, harness.users["ana"].token, base_url=harness.gh.url,
                        throttle=False, retries=3, deadline=5)
    harness.branch("request", {"notes/x.txt": "x\n"})
    number = forge.open_pull_request(author=Login("ana"), head_ref="request", base=BASE,
                                     title="x", body="").number
    harness.gh.fail_next(f"/repos/{REPO}/pulls/{number}", 502, times=2)
    assert forge.pull_request(number).number == number


def test_failures_beyond_the_retries_say_what_happened(harness: GitHubHarness) -> None:
    forge = GitHubForge(REPO, harness.users["ana"].token, base_url=harness.gh.url,
                        throttle=False, retries=1, deadline=5)
    harness.gh.fail_next(f"/repos/{REPO}", 503, times=5)
    with pytest.raises(Exception, match="GitHub|reach") as error:
        forge.pull_request(1)
    assert "acme/access" in str(error.value) or "GitHub" in str(error.value)


def test_rate_limits_are_waited_out(harness: GitHubHarness) -> None:
    forge = GitHubForge(REPO, harness.users["ana"].token, base_url=harness.gh.url,
                        throttle=False, retries=3, deadline=5)
    harness.gh.fail_next(f"/repos/{REPO}", 403, retry_after=1)
    harness.gh.fail_next(f"/repos/{REPO}", 429, retry_after=1)
    assert forge.repo.full_name == REPO
