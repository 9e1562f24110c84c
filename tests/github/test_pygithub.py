"""PyGithub against the emulator: the calls gitjit's GitHub forge makes, through ``base_url``."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import github
import pytest
from urllib3.util import Retry

from tests.github.emulator import GitHubEmulator, Protection, RequiredCheck, User
from tests.github.fixtures import github_emulator

__all__ = ["github_emulator"]


def connect(
    emulator: GitHubEmulator, user: User, *, per_page: int = 30, retry: Retry | None = None
) -> github.Github:
    """PyGithub as the tests configure it: no throttling, no retries unless asked."""
    return github.Github(
        base_url=emulator.url,
        auth=github.Auth.Token(user.token),
        retry=retry,
        per_page=per_page,
        seconds_between_requests=0,
        seconds_between_writes=0,
        timeout=10,
    )


@dataclass
class Setup:
    gh: GitHubEmulator
    alice: User
    bob: User
    carol: User
    app: User
    head: str


@pytest.fixture
def setup(github_emulator: GitHubEmulator) -> Iterator[Setup]:
    gh = github_emulator
    alice = gh.create_user("alice", emails=["alice@example.com"])
    bob = gh.create_user("bob")
    carol = gh.create_user("carol")
    app = gh.create_app("gitjit", owner="acme")
    gh.create_repo("acme/access", permissions={"carol": "admin"})
    head = gh.commit("acme/access", "alice/req", {"grants/db/alice.yaml": "x: 1\n"}, author=alice)
    yield Setup(gh, alice, bob, carol, app, head)


def test_pull_request_lifecycle(setup: Setup) -> None:
    gh = setup.gh
    repo = connect(gh, setup.alice).get_repo("acme/access")
    assert (repo.full_name, repo.default_branch) == ("acme/access", "main")
    created = repo.create_pull(title="Request db", body="please", head="alice/req", base="main")
    assert (created.number, created.user.login, created.head.sha) == (1, "alice", setup.head)

    as_bob = connect(gh, setup.bob).get_repo("acme/access")
    pull = as_bob.get_pull(1)
    assert (pull.state, pull.merged, pull.base.ref, pull.head.ref) == (
        "open",
        False,
        "main",
        "alice/req",
    )
    review = pull.create_review(event="APPROVE", body="ok")
    assert (review.state, review.commit_id, review.user.login) == ("APPROVED", setup.head, "bob")
    with pytest.raises(github.GithubException) as refused:
        created.create_review(event="APPROVE")
    assert refused.value.status == 422
    assert refused.value.data["errors"] == ["Can not approve your own pull request"]

    commits = list(pull.get_commits())
    assert [(c.sha, c.author.login) for c in commits] == [(setup.head, "alice")]

    as_carol = connect(gh, setup.carol).get_repo("acme/access")
    status = as_carol.get_pull(1).merge(sha=setup.head)
    assert status.merged is True
    merged = as_bob.get_pull(1)
    assert (merged.merged, merged.merge_commit_sha, merged.merged_by.login) == (
        True,
        status.sha,
        "carol",
    )
    assert merged.merged_at is not None

    behind = as_bob.get_commit(status.sha).get_pulls()
    assert [p.number for p in behind] == [1]
    assert [p.number for p in as_bob.get_pulls(state="closed")] == [1]


def test_every_page_of_reviews_is_read(setup: Setup) -> None:
    gh = setup.gh
    connect(gh, setup.alice).get_repo("acme/access").create_pull(
        title="t", body="", head="alice/req", base="main"
    )
    for n in range(5):
        reviewer = gh.create_user(f"r{n}")
        connect(gh, reviewer).get_repo("acme/access").get_pull(1).create_review(event="APPROVE")
    before = len(gh.calls)
    reviews = connect(gh, setup.bob, per_page=2).get_repo("acme/access").get_pull(1).get_reviews()
    assert [r.user.login for r in reviews] == ["r0", "r1", "r2", "r3", "r4"]
    pages = [c for c in gh.calls[before:] if c.path.endswith("/reviews")]
    assert len(pages) == 3
    assert reviews.totalCount == 5


def test_checks_statuses_and_the_plan_comment(setup: Setup) -> None:
    gh = setup.gh
    connect(gh, setup.alice).get_repo("acme/access").create_pull(
        title="t", body="", head="alice/req", base="main"
    )
    as_app = connect(gh, setup.app).get_repo("acme/access")
    run = as_app.create_check_run(name="gitjit/verdict", head_sha=setup.head, status="in_progress")
    run.edit(conclusion="success", output={"title": "Approved", "summary": "2 of 2 approvals"})
    assert (run.status, run.conclusion) == ("completed", "success")
    runs = as_app.get_commit(setup.head).get_check_runs()
    assert [(r.name, r.conclusion, r.app.slug) for r in runs] == [
        ("gitjit/verdict", "success", "gitjit")
    ]

    actions = connect(gh, gh.github_actions()).get_repo("acme/access")
    commit = actions.get_commit(setup.head)
    commit.create_status(
        state="pending", context="gitjit/verdict", description="1 approval missing"
    )
    assert commit.get_combined_status().state == "pending"

    pull = as_app.get_pull(1)
    comment = pull.create_issue_comment("plan v1")
    comment.edit("plan v2")
    bodies = [c.body for c in pull.get_issue_comments()]
    assert bodies == ["plan v2"]
    assert comment.body == "plan v2"


def test_ledger_commit_through_the_git_data_api(setup: Setup) -> None:
    gh = setup.gh
    repo = connect(gh, setup.app).get_repo("acme/access")
    ref = repo.get_git_ref("heads/main")
    parent = repo.get_git_commit(ref.object.sha)
    blob = repo.create_git_blob("event: activate\n", "utf-8")
    tree = repo.create_git_tree(
        [github.InputGitTreeElement("ledger/events.yaml", "100644", "blob", sha=blob.sha)],
        base_tree=parent.tree,
    )
    commit = repo.create_git_commit("ledger: activate", tree, [parent])
    ref.edit(commit.sha)
    assert repo.get_git_ref("heads/main").object.sha == commit.sha
    content = repo.get_contents("ledger/events.yaml", ref="main")
    assert not isinstance(content, list)
    assert content.decoded_content == b"event: activate\n"
    shown = subprocess.run(
        ["git", "--git-dir", str(gh.repo("acme/access").path), "show", "main:ledger/events.yaml"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert shown == "event: activate\n"
    with pytest.raises(github.GithubException) as rewind:
        ref.edit(parent.sha)
    assert rewind.value.status == 422
    ref.edit(parent.sha, force=True)


def test_protection_and_teams(setup: Setup) -> None:
    gh = setup.gh
    gh.protect_branch(
        "acme/access",
        "main",
        Protection(required_checks=(RequiredCheck("gitjit/verdict", 42),), enforce_admins=True),
    )
    gh.create_team("acme", "approvers", members=["bob", "carol"])
    client = connect(gh, setup.carol, per_page=1)
    protection = client.get_repo("acme/access").get_branch("main").get_protection()
    assert protection.enforce_admins is True
    assert [(c.context, c.app_id) for c in protection.required_status_checks.checks] == [
        ("gitjit/verdict", 42)
    ]
    assert protection.required_pull_request_reviews.dismiss_stale_reviews is True
    team = client.get_organization("acme").get_team_by_slug("approvers")
    assert [u.login for u in team.get_members()] == ["bob", "carol"]
    assert team.get_team_membership("bob").state == "active"


def test_retries_reach_the_emulator_again(setup: Setup) -> None:
    gh = setup.gh
    gh.fail_next("/repos/acme/access", 502, times=2)
    retry = Retry(total=3, backoff_factor=0, status_forcelist=[502], allowed_methods=None)
    repo = connect(gh, setup.bob, retry=retry).get_repo("acme/access")
    assert repo.full_name == "acme/access"
    assert [c.status for c in gh.calls if c.path == "/repos/acme/access"] == [502, 502, 200]
