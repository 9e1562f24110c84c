"""The forge contract, kept by the local forge on real throwaway repositories."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from engine.adapters.git import GitRepository
from engine.adapters.localforge import LocalForge
from engine.core.forge import PullRequestInfo
from engine.core.models import Login, ReviewState
from tests.contract.forge_contract import BASE, ForgeContract
from tests.gitrepo import GitRepoBuilder

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class LocalHarness:
    """The local forge on a builder's repository, with a clock that ticks a minute a move."""

    def __init__(self, builder: GitRepoBuilder) -> None:
        self.builder = builder
        self.repo = GitRepository(builder.path)
        self.local = LocalForge(self.repo)
        self.author = Login("ana")
        self.others = (Login("lea"), Login("ben"))
        self.now = START

    @property
    def forge(self) -> LocalForge:
        return self.local

    def tick(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now

    def _commit_on(self, branch: str, files: Mapping[str, str], message: str) -> str:
        self.builder.checkout(branch)
        try:
            for path, text in files.items():
                self.builder.write(path, text)
            return self.builder.commit(message)
        finally:
            self.builder.checkout(BASE)

    def branch(self, name: str, files: Mapping[str, str]) -> str:
        self.builder.branch(name)
        return self._commit_on(name, files, f"work on {name}")

    def push(self, number: int, files: Mapping[str, str], login: Login) -> str:
        sha = self._commit_on(self.local.pull_request(number).head_ref, files, "more work")
        self.local.record_push(number, login)
        return sha

    def direct_push(self, files: Mapping[str, str]) -> str:
        return self._commit_on(BASE, files, "straight to main")

    def review(self, number: int, reviewer: Login, state: ReviewState, *,
               commit: str | None = None, bot: bool = False) -> None:
        self.local.submit_review(number, reviewer, state, at=self.tick(), commit=commit,
                                 is_bot=bot)

    def bot_login(self, reviewer: Login) -> str:
        return reviewer

    def merge(self, number: int, merged_by: Login) -> PullRequestInfo:
        return self.local.merge(number, merged_by, at=self.tick())

    def tip(self, branch: str) -> str:
        return self.builder.sha(branch)

    def parents(self, sha: str) -> list[str]:
        return self.builder.git("rev-list", "--parents", "-n", "1", sha).split()[1:]

    def comments(self, number: int) -> dict[str, str]:
        return self.local.comments(number)


@pytest.fixture
def harness(repo: GitRepoBuilder) -> LocalHarness:
    return LocalHarness(repo)


class TestLocalForge(ForgeContract):
    """Everything in the contract, plus what only the local forge can promise exactly."""

    def test_times_are_the_ones_given(self, harness: LocalHarness) -> None:
        number = self.open(harness).number
        harness.review(number, Login("lea"), ReviewState.APPROVED)
        merged = harness.merge(number, Login("lea"))
        assert [r.submitted_at for r in harness.forge.reviews(number)] == [
            START + timedelta(minutes=1)]
        assert merged.merged_at == START + timedelta(minutes=2)
        assert merged.merge_sha is not None
        assert harness.repo.commit_time(merged.merge_sha) == START + timedelta(minutes=2)
