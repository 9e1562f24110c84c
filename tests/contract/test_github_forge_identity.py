"""What the GitHub forge tells about who wrote, pushed and reviewed a pull request, and who an
account is (issue 8, items 1, 3, 4, 6), through PyGithub against the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.adapters.github import GitHubForge
from engine.core.forge import Pushers
from engine.core.models import Login, ReviewState
from tests.contract.test_github_forge import REPO, GitHubHarness
from tests.github.emulator import GitHubEmulator
from tests.github.fixtures import github_emulator

__all__ = ["github_emulator"]


@pytest.fixture
def harness(github_emulator: GitHubEmulator) -> Iterator[GitHubHarness]:
    yield GitHubHarness(github_emulator)


def open_pull(harness: GitHubHarness, branch: str = "request", base: str = "main") -> int:
    harness.branch(branch, {"notes/x.txt": "x\n"})
    return harness.forge.open_pull_request(author=Login("ana"), head_ref=branch, base=base,
                                           title="x", body="").number


def test_commits_under_unlinked_addresses_are_kept_not_skipped(harness: GitHubHarness) -> None:
    gh = harness.gh
    number = open_pull(harness)
    harness.tick()
    head = gh.commit(REPO, "request", {"notes/y.txt": "y\n"},
                     author="Someone <someone@corp.invalid>", committer=harness.users["lea"])
    pushers = harness.forge.pushers(number)
    assert pushers == Pushers(frozenset({Login("ana"), Login("lea")}),
                              (f"someone@corp.invalid (author of {head[:12]})",),
                              author_id=harness.users["ana"].id)


def test_co_authors_count_as_pushers(harness: GitHubHarness) -> None:
    gh = harness.gh
    number = open_pull(harness)
    ben = harness.users["ben"]
    gh.commit(REPO, "request", {"notes/y.txt": "y\n"}, author=harness.users["ana"], message=(
        "Pair work\n\n"
        f"Co-authored-by: Ben <{ben.id}+ben@users.noreply.github.com>\n"
        "co-authored-by: Lea <lea@example.com>\n"
        "Co-authored-by: Max <max@corp.invalid>\n"))
    harness.push(number, {"notes/z.txt": "z\n"}, Login("lea"))  # links lea@example.com
    pushers = harness.forge.pushers(number)
    assert pushers.logins == frozenset({Login("ana"), Login("ben"), Login("lea")})
    assert [u.split(" ")[0] for u in pushers.unattributed] == ["max@corp.invalid"]


def test_force_pushers_come_from_the_timeline(harness: GitHubHarness) -> None:
    number = open_pull(harness)
    base = harness.tip("main")
    # ben rewinds ana's branch with his own token: GitHub records him on the timeline.
    ben = harness.api(harness.users["ben"])
    ben.get_git_ref("heads/request").edit(base, force=True)
    assert harness.forge.pushers(number).logins == frozenset({Login("ana"), Login("ben")})


def test_reviews_carry_the_account_id_and_write_access(harness: GitHubHarness) -> None:
    gh = harness.gh
    number = open_pull(harness)
    gh.set_permission(REPO, "ben", "read")
    harness.review(number, Login("lea"), ReviewState.APPROVED)
    harness.review(number, Login("ben"), ReviewState.APPROVED)
    harness.review(number, Login("ben"), ReviewState.COMMENTED)
    reviews = harness.forge.reviews(number)
    assert [(r.reviewer, r.reviewer_id, r.can_write) for r in reviews] == [
        ("lea", harness.users["lea"].id, True),
        ("ben", harness.users["ben"].id, False),
        ("ben", harness.users["ben"].id, False),
    ]


def test_open_pull_requests_with_a_head_and_the_default_branch(harness: GitHubHarness) -> None:
    gh = harness.gh
    number = open_pull(harness)
    gh.commit(REPO, "release", {"notes/r.txt": "r\n"})
    other = harness.forge.open_pull_request(author=Login("ana"), head_ref="request",
                                            base="release", title="y", body="").number
    head = harness.forge.pull_request(number).head_sha
    shared = harness.forge.open_pull_requests_with_head(head)
    assert sorted((p.number, p.base) for p in shared) == [(number, "main"), (other, "release")]
    assert harness.forge.default_branch() == "main"
    assert harness.forge.pull_request(number).author_id == harness.users["ana"].id


def test_accounts_by_login_and_id(harness: GitHubHarness) -> None:
    gh = harness.gh
    lea = harness.users["lea"]
    assert harness.forge.user_id("lea") == lea.id
    gh.rename_user("lea", "lea-new")
    assert harness.forge.user_id("lea") is None
    assert harness.forge.login_of(lea.id) == "lea-new"
    assert harness.forge.login_of(987654) is None


def test_only_our_own_comment_is_edited(harness: GitHubHarness) -> None:
    number = open_pull(harness)
    lea = harness.api(harness.users["lea"])
    lea.get_pull(number).create_issue_comment("<!-- gitjit:plan -->\napproved, honest")
    forge = GitHubForge(REPO, harness.users["ana"].token, base_url=harness.gh.url,
                        throttle=False, retries=0, login="ana")
    forge.comment(number, "plan", "pending")
    forge.comment(number, "plan", "still pending")
    bodies = [(c.user.login, c.body) for c in lea.get_pull(number).get_issue_comments()]
    assert bodies == [("lea", "<!-- gitjit:plan -->\napproved, honest"),
                      ("ana", "<!-- gitjit:plan -->\nstill pending")]


def test_an_installation_token_names_its_bot(harness: GitHubHarness) -> None:
    forge = GitHubForge(REPO, harness.bot.token, base_url=harness.gh.url, throttle=False,
                        retries=0, login="Helper[bot]")
    assert forge.whoami() == "helper[bot]"
    calls = len(harness.gh.calls)
    forge.whoami()
    assert len(harness.gh.calls) == calls  # never asked GitHub
