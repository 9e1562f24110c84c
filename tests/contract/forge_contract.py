"""The contract every ``Forge`` implementation keeps, as reusable tests.

A test module subclasses ``ForgeContract`` and provides a ``harness`` fixture: a fresh forge on
a repository whose base branch ``main`` holds one commit, plus the moves that a forge's users
make (commit to a branch, push, review, merge). The local forge runs it in
tests/contract/test_local_forge.py; the GitHub forge runs the same class against a scratch
repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Protocol

import pytest

from engine.core.forge import PullRequestInfo, PullRequestState, Pushers
from engine.core.models import Login, ReviewState
from engine.errors import GitjitError
from engine.ports import Forge

BASE = "main"


class ForgeHarness(Protocol):
    """A forge under test and the people and moves the contract needs."""

    @property
    def forge(self) -> Forge: ...

    @property
    def author(self) -> Login:
        """Who opens the pull requests."""
        ...

    @property
    def others(self) -> tuple[Login, Login]:
        """Two more people (reviewers, pushers), neither of them the author."""
        ...

    def branch(self, name: str, files: Mapping[str, str]) -> str:
        """Create ``name`` from main with one commit (by the author) writing ``files``; its SHA."""
        ...

    def push(self, number: int, files: Mapping[str, str], login: Login) -> str:
        """``login`` pushes a new commit writing ``files`` to the pull request's branch."""
        ...

    def direct_push(self, files: Mapping[str, str]) -> str:
        """A commit pushed straight to main, bypassing pull requests; its SHA."""
        ...

    def review(self, number: int, reviewer: Login, state: ReviewState, *,
               commit: str | None = None, bot: bool = False) -> None:
        """Submit a review (on the current head unless ``commit``), later than any before."""
        ...

    def bot_login(self, reviewer: Login) -> str:
        """Who a review by ``reviewer`` with ``bot=True`` shows as: the same login where the
        forge flags bots per review, the App's '<slug>[bot]' account on GitHub."""
        ...

    def merge(self, number: int, merged_by: Login) -> PullRequestInfo:
        """Merge with a merge commit, later than any review before."""
        ...

    def tip(self, branch: str) -> str: ...

    def parents(self, sha: str) -> list[str]: ...

    def comments(self, number: int) -> dict[str, str]:
        """Our comments on the pull request by key."""
        ...


class ForgeContract:
    """The tests. Subclasses define the ``harness`` fixture."""

    def open(self, harness: ForgeHarness, branch: str = "request",
             files: Mapping[str, str] | None = None) -> PullRequestInfo:
        harness.branch(branch, files or {f"notes/{branch}.txt": f"{branch}\n"})
        return harness.forge.open_pull_request(author=harness.author, head_ref=branch,
                                               base=BASE, title=f"Add {branch}",
                                               body="Why: testing")

    def test_open_pull_request(self, harness: ForgeHarness) -> None:
        base = harness.tip(BASE)
        opened = self.open(harness)
        head = harness.tip("request")
        assert opened.author == harness.author
        assert (opened.base, opened.head_ref, opened.head_sha) == (BASE, "request", head)
        assert (opened.state, opened.title, opened.body) == (PullRequestState.OPEN, "Add request",
                                                             "Why: testing")
        assert (opened.merge_sha, opened.merged_at, opened.merged_by) == (None, None, None)
        assert harness.forge.pull_request(opened.number) == opened
        assert harness.tip(BASE) == base
        second = self.open(harness, "second")
        assert second.number > opened.number

    def test_open_needs_an_existing_branch(self, harness: ForgeHarness) -> None:
        with pytest.raises(GitjitError, match="no-such-branch"):
            harness.forge.open_pull_request(author=harness.author, head_ref="no-such-branch",
                                            base=BASE, title="t", body="")

    def test_head_follows_pushes_while_open(self, harness: ForgeHarness) -> None:
        number = self.open(harness).number
        pushed = harness.push(number, {"notes/more.txt": "more\n"}, harness.author)
        assert harness.forge.pull_request(number).head_sha == pushed
        assert harness.tip("request") == pushed

    def test_reviews_oldest_first_with_commits_and_bot_flags(self,
                                                             harness: ForgeHarness) -> None:
        first, second = harness.others
        number = self.open(harness).number
        old_head = harness.forge.pull_request(number).head_sha
        harness.review(number, first, ReviewState.APPROVED)
        new_head = harness.push(number, {"notes/more.txt": "more\n"}, harness.author)
        harness.review(number, second, ReviewState.CHANGES_REQUESTED)
        harness.review(number, first, ReviewState.COMMENTED, bot=True)
        harness.review(number, second, ReviewState.APPROVED, commit=old_head)

        reviews = harness.forge.reviews(number)

        assert [(r.reviewer, r.state, r.commit, r.is_bot) for r in reviews] == [
            (first, ReviewState.APPROVED, old_head, False),
            (second, ReviewState.CHANGES_REQUESTED, new_head, False),
            (harness.bot_login(first), ReviewState.COMMENTED, new_head, True),
            (second, ReviewState.APPROVED, old_head, False),
        ]
        times = [r.submitted_at for r in reviews]
        assert all(t is not None and t.utcoffset() is not None for t in times)
        assert times == sorted(t for t in times if t is not None)
        ids = [r.id for r in reviews]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)

    def test_no_reviews_yet(self, harness: ForgeHarness) -> None:
        assert harness.forge.reviews(self.open(harness).number) == []

    def test_pushers_are_the_author_and_who_pushed(self, harness: ForgeHarness) -> None:
        pusher, _ = harness.others
        number = self.open(harness).number
        def known(pushers: Pushers) -> tuple[frozenset[Login], tuple[str, ...], int]:
            return pushers.logins, pushers.unattributed, pushers.unlisted

        assert known(harness.forge.pushers(number)) == (frozenset({harness.author}), (), 0)
        harness.push(number, {"notes/more.txt": "more\n"}, pusher)
        assert known(harness.forge.pushers(number)) == (
            frozenset({harness.author, pusher}), (), 0)

    def test_merge_makes_a_merge_commit_on_the_base(self, harness: ForgeHarness) -> None:
        merger, _ = harness.others
        number = self.open(harness).number
        head = harness.tip("request")
        # The base moved on since the branch was cut: a real merge, not a fast-forward.
        base = harness.direct_push({"notes/elsewhere.txt": "elsewhere\n"})

        merged = harness.merge(number, merger)

        assert merged.state is PullRequestState.MERGED
        assert merged.merge_sha == harness.tip(BASE)
        assert merged.merge_sha is not None
        assert harness.parents(merged.merge_sha) == [base, head]
        assert merged.head_sha == head
        assert merged.merged_by == merger
        assert merged.merged_at is not None and merged.merged_at.utcoffset() is not None
        assert harness.forge.pull_request(number) == merged

    def test_pull_request_for_commit(self, harness: ForgeHarness) -> None:
        merger, _ = harness.others
        number = self.open(harness).number
        head = harness.tip("request")
        merged = harness.merge(number, merger)
        assert merged.merge_sha is not None
        assert harness.forge.pull_request_for_commit(merged.merge_sha) == merged
        direct = harness.direct_push({"notes/direct.txt": "direct\n"})
        assert harness.forge.pull_request_for_commit(direct) is None
        assert harness.forge.pull_request_for_commit(head) is None

    def test_open_pull_request_has_no_merge_commit(self, harness: ForgeHarness) -> None:
        opened = self.open(harness)
        assert harness.forge.pull_request_for_commit(opened.head_sha) is None

    def test_comment_is_updated_in_place(self, harness: ForgeHarness) -> None:
        number = self.open(harness).number
        harness.forge.comment(number, "gitjit-verdict", "pending: needs lea")
        harness.forge.comment(number, "gitjit-other", "other")
        harness.forge.comment(number, "gitjit-verdict", "approved")
        assert harness.comments(number) == {"gitjit-verdict": "approved",
                                            "gitjit-other": "other"}

    def test_open_pull_requests_into_a_base(self, harness: ForgeHarness) -> None:
        first = self.open(harness)
        second = self.open(harness, "second")
        merged = self.open(harness, "merged")
        harness.merge(merged.number, harness.others[0])
        harness.branch("side", {"notes/side.txt": "side\n"})
        harness.branch("into-side", {"notes/into-side.txt": "x\n"})
        harness.forge.open_pull_request(author=harness.author, head_ref="into-side",
                                        base="side", title="not into main", body="")
        listed = harness.forge.open_pull_requests(BASE)
        assert [p.number for p in listed] == [first.number, second.number]
        assert all(p.state is PullRequestState.OPEN and p.base == BASE for p in listed)
        assert [(p.author, p.head_ref) for p in listed] == [(harness.author, "request"),
                                                             (harness.author, "second")]
        # When each was opened, as the forge says (the same as reading it alone).
        assert [p.opened_at for p in listed] == [
            harness.forge.pull_request(p.number).opened_at for p in listed]

    def test_close_pull_request_with_a_comment(self, harness: ForgeHarness) -> None:
        opened = self.open(harness)
        other = self.open(harness, "other")
        at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        harness.forge.close_pull_request(opened.number, key="gitjit-closed",
                                         body="closed: waited too long", at=at)
        closed = harness.forge.pull_request(opened.number)
        assert closed.state is PullRequestState.CLOSED
        assert closed.merge_sha is None and closed.head_sha == opened.head_sha
        assert harness.comments(opened.number) == {"gitjit-closed": "closed: waited too long"}
        assert [p.number for p in harness.forge.open_pull_requests(BASE)] == [other.number]
        # Again (a rerun after a crash): the comment is updated in place, nothing else moves.
        harness.forge.close_pull_request(opened.number, key="gitjit-closed",
                                         body="closed: waited too long (again)", at=at)
        assert harness.forge.pull_request(opened.number).state is PullRequestState.CLOSED
        assert harness.comments(opened.number) == {
            "gitjit-closed": "closed: waited too long (again)"}

    def test_unknown_pull_request(self, harness: ForgeHarness) -> None:
        self.open(harness)
        forge = harness.forge
        for call in (forge.pull_request, forge.reviews, forge.pushers):
            with pytest.raises(GitjitError, match="#9999"):
                call(9999)
        with pytest.raises(GitjitError, match="#9999"):
            forge.comment(9999, "gitjit-verdict", "body")
