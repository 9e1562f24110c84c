"""The emulator's routes, one test each, over raw HTTP; every body is checked against the
githubkit model the route table names (the emulator also checks each body as it sends it)."""

from __future__ import annotations

import base64
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from tests.github import schemas
from tests.github.client import Client
from tests.github.emulator import (
    ADMIN_ROLE_ID,
    ROUTES,
    GitHubEmulator,
    Protection,
    RequiredCheck,
    User,
)
from tests.github.fixtures import github_emulator

__all__ = ["github_emulator"]

R = "/repos/acme/access"


@dataclass
class World:
    gh: GitHubEmulator
    alice: User
    bob: User
    carol: User
    app: User
    alice_api: Client
    bob_api: Client
    carol_api: Client
    app_api: Client
    head: str


@pytest.fixture
def world(github_emulator: GitHubEmulator) -> Iterator[World]:
    """acme/access with a pull request #1 from alice (branch alice/req); bob may approve, carol
    is an admin, gitjit[bot] is a GitHub App."""
    gh = github_emulator
    alice = gh.create_user("alice", emails=["alice@example.com"])
    bob = gh.create_user("bob", emails=["bob@example.com"])
    carol = gh.create_user("carol")
    app = gh.create_app("gitjit", owner="acme")
    gh.create_repo("acme/access", permissions={"carol": "admin", "bob": "write"})
    head = gh.commit(
        "acme/access",
        "alice/req",
        {"grants/db/alice.yaml": "x: 1\n"},
        author=alice,
        message="Request db access",
    )
    api = {u.login: Client(gh.url, u.token) for u in (alice, bob, carol, app)}
    api["alice"].ok(
        "POST /repos/{owner}/{repo}/pulls",
        {
            "title": "Request db",
            "head": "alice/req",
            "base": "main",
            "body": "please",
        },
        path=f"{R}/pulls",
    )
    yield World(
        gh, alice, bob, carol, app, api["alice"], api["bob"], api["carol"], api["gitjit[bot]"], head
    )


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


# -- the table itself --------------------------------------------------------------------------


def test_route_table_agrees_with_githubs_description() -> None:
    """Each route's operation, success model and documented error models are GitHub's own, as
    githubkit's generated client (from GitHub's OpenAPI description) has them."""
    described = schemas.operations(*sorted({route.operation.split("/")[0] for route in ROUTES}))
    for route in ROUTES:
        operation = described.get(route.key)
        assert operation is not None, f"{route.key} is not a GitHub operation"
        assert operation.operation_id == route.operation, route.key
        assert operation.response_model == route.model, route.key
        for status, model in route.errors.items():
            assert operation.error_models.get(status) == model, (route.key, status)


def test_every_route_has_a_model_and_a_handler() -> None:
    """No route can answer an unchecked shape: each names a model that githubkit knows."""
    keys = [route.key for route in ROUTES]
    assert len(keys) == len(set(keys))
    described = schemas.operations(*sorted({route.operation.split("/")[0] for route in ROUTES}))
    for route in ROUTES:
        if route.model is None:
            # Only where GitHub answers without a body (204), as its description says.
            assert route.status == 204 and described[route.key].response_model is None, route.key
            continue
        schemas.adapter(route.model)
        assert callable(getattr(GitHubEmulator, "h_" + route.handler)), route.key
    handlers = {name[2:] for name in dir(GitHubEmulator) if name.startswith("h_")}
    assert handlers == {route.handler for route in ROUTES}


def test_the_docs_list_every_route() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "github-emulator.md").read_text("utf-8")
    rows = re.findall(r"^\| `([A-Z]+ /[^`]*)` \| ([\w/-]+) \|", doc, re.M)
    assert rows == [(route.key, route.operation) for route in ROUTES]


def test_schema_check_rejects_undocumented_keys_and_wrong_types() -> None:
    good = {"sha": "a" * 40, "merged": True, "message": "Pull Request successfully merged"}
    schemas.check("PullRequestMergeResult", good)
    with pytest.raises(schemas.SchemaViolation, match=r"does not describe: \$\.mergd"):
        schemas.check("PullRequestMergeResult", {**good, "mergd": True})
    with pytest.raises(schemas.SchemaViolation, match="is not a valid PullRequestMergeResult"):
        schemas.check("PullRequestMergeResult", {**good, "merged": "yes please"})


def test_a_bad_body_fails_the_request_loudly(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    real = GitHubEmulator.j_review

    def broken(self: GitHubEmulator, review: object) -> dict[str, object]:
        body = real(self, review)  # type: ignore[arg-type]
        body["approved"] = True
        return body

    monkeypatch.setattr(GitHubEmulator, "j_review", broken)
    reply = world.bob_api.call("POST", f"{R}/pulls/1/reviews", {"event": "APPROVE"})
    assert reply.status == 500
    assert "does not describe: $.approved" in reply.body["message"]
    assert len(world.gh.schema_violations) == 1
    world.gh.schema_violations.clear()


# -- auth, rate limits, faults -----------------------------------------------------------------


def test_authentication(world: World) -> None:
    anonymous = Client(world.gh.url, None)
    reply = anonymous.call("GET", R)
    assert reply.status == 401
    assert reply.body == {
        "message": "Requires authentication",
        "documentation_url": "https://docs.github.com/rest",
    }
    assert Client(world.gh.url, "nope").call("GET", R).status == 401
    bearer = world.alice_api.call(
        "GET", R, headers={"Authorization": f"Bearer {world.alice.token}"}
    )
    assert bearer.status == 200
    body = world.alice_api.ok("GET /user", path="/user")
    assert body["login"] == "alice"


def test_rate_limit_headers_on_every_response(world: World) -> None:
    first = world.bob_api.call("GET", R)
    second = world.bob_api.call("GET", f"{R}/pulls/99")
    assert second.status == 404
    for reply in (first, second):
        assert reply.headers["X-RateLimit-Limit"] == "5000"
        assert reply.headers["X-RateLimit-Resource"] == "core"
        assert int(reply.headers["X-RateLimit-Reset"]) > 0
    assert int(first.headers["X-RateLimit-Remaining"]) == (
        int(second.headers["X-RateLimit-Remaining"]) + 1
    )


def test_queued_faults(world: World) -> None:
    world.gh.fail_next(f"{R}/pulls/1", 502, times=2)
    world.gh.fail_next(f"{R}/pulls/1", 403, retry_after=3)
    world.gh.fail_next(re.compile(r".*/reviews"), 429, rate_limited=True, reset_in=30)
    statuses = [world.bob_api.call("GET", f"{R}/pulls/1").status for _ in range(2)]
    assert statuses == [502, 502]
    secondary = world.bob_api.call("GET", f"{R}/pulls/1")
    assert secondary.status == 403
    assert secondary.headers["Retry-After"] == "3"
    assert "secondary rate limit" in secondary.body["message"]
    limited = world.bob_api.call("GET", f"{R}/pulls/1/reviews")
    assert limited.status == 429
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert world.bob_api.call("GET", f"{R}/pulls/1").status == 200
    assert world.bob_api.call("GET", f"{R}/pulls/1/reviews").status == 200


def test_other_api_versions_are_refused(world: World) -> None:
    reply = world.bob_api.call("GET", R, headers={"X-GitHub-Api-Version": "2026-03-10"})
    assert reply.status == 400
    assert "2022-11-28" in reply.body["message"]


# -- repository and pull requests --------------------------------------------------------------


def test_get_repo(world: World) -> None:
    body = world.carol_api.ok("GET /repos/{owner}/{repo}", path=R)
    assert body["full_name"] == "acme/access"
    assert body["default_branch"] == "main"
    assert body["permissions"]["admin"] is True
    assert world.bob_api.ok("GET /repos/{owner}/{repo}", path=R)["permissions"]["admin"] is False
    assert body["clone_url"] == f"{world.gh.url}/acme/access.git"  # git over HTTP


def test_create_pull_requires_an_existing_head(world: World) -> None:
    errors = world.alice_api.fails(
        "POST /repos/{owner}/{repo}/pulls",
        422,
        {"title": "x", "head": "nope", "base": "main"},
        path=f"{R}/pulls",
    )
    assert errors["errors"] == [{"resource": "PullRequest", "field": "head", "code": "invalid"}]
    duplicate = world.alice_api.fails(
        "POST /repos/{owner}/{repo}/pulls",
        422,
        {"title": "x", "head": "alice/req", "base": "main"},
        path=f"{R}/pulls",
    )
    assert duplicate["errors"][0]["message"] == "A pull request already exists for acme:alice/req."


def test_get_pull_follows_the_head_branch(world: World, tmp_path: Path) -> None:
    body = world.bob_api.ok("GET /repos/{owner}/{repo}/pulls/{pull_number}", path=f"{R}/pulls/1")
    assert (body["state"], body["merged"], body["merged_at"], body["merge_commit_sha"]) == (
        "open",
        False,
        None,
        None,
    )
    assert body["head"]["sha"] == world.head
    assert (body["head"]["ref"], body["base"]["ref"], body["user"]["login"]) == (
        "alice/req",
        "main",
        "alice",
    )
    bare = world.gh.repo("acme/access").path
    assert git("--git-dir", str(bare), "rev-parse", "refs/pull/1/head") == world.head
    # A push with plain git moves the pull request and its refs/pull/1/head.
    clone = tmp_path / "clone"
    git("clone", "--quiet", str(bare), str(clone))
    git("checkout", "--quiet", "alice/req", cwd=clone)
    (clone / "more.txt").write_text("more\n")
    git("add", "more.txt", cwd=clone)
    git("commit", "--quiet", "-m", "more", cwd=clone)
    git("push", "--quiet", "origin", "alice/req", cwd=clone)
    pushed = git("rev-parse", "HEAD", cwd=clone)
    body = world.bob_api.ok("GET /repos/{owner}/{repo}/pulls/{pull_number}", path=f"{R}/pulls/1")
    assert body["head"]["sha"] == pushed
    assert body["commits"] == 2
    assert git("--git-dir", str(bare), "rev-parse", "refs/pull/1/head") == pushed


def test_list_pulls_filters_and_paginates(world: World) -> None:
    gh = world.gh
    for n in range(2, 5):
        gh.commit("acme/access", f"b{n}", {f"f{n}": "x"}, author=world.bob)
        world.bob_api.ok(
            "POST /repos/{owner}/{repo}/pulls",
            {"title": f"pr {n}", "head": f"b{n}", "base": "main"},
            path=f"{R}/pulls",
        )
    key = "GET /repos/{owner}/{repo}/pulls"
    first = world.bob_api.call("GET", f"{R}/pulls", query={"per_page": 3})
    assert [p["number"] for p in first.body] == [4, 3, 2]
    assert first.headers["Link"] == (
        f'<{gh.url}{R}/pulls?per_page=3&page=2>; rel="next", '
        f'<{gh.url}{R}/pulls?per_page=3&page=2>; rel="last"'
    )
    second = world.bob_api.ok(key, path=f"{R}/pulls", query={"per_page": 3, "page": 2})
    assert [p["number"] for p in second] == [1]
    only = world.bob_api.ok(key, path=f"{R}/pulls", query={"head": "acme:alice/req"})
    assert [p["number"] for p in only] == [1]
    assert world.bob_api.ok(key, path=f"{R}/pulls", query={"state": "closed"}) == []


def test_pull_commits_map_emails_to_accounts(world: World) -> None:
    world.gh.commit("acme/access", "alice/req", {"b": "1"}, author=world.bob)
    world.gh.commit("acme/access", "alice/req", {"c": "1"}, author="Someone <who@example.net>")
    commits = world.bob_api.ok(
        "GET /repos/{owner}/{repo}/pulls/{pull_number}/commits", path=f"{R}/pulls/1/commits"
    )
    assert [(c["author"] or {}).get("login") for c in commits] == ["alice", "bob", None]
    assert commits[0]["sha"] == world.head
    assert commits[2]["commit"]["author"]["email"] == "who@example.net"


def test_merge_makes_a_real_merge_commit(world: World) -> None:
    merged = world.carol_api.ok(
        "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge",
        {"sha": world.head},
        path=f"{R}/pulls/1/merge",
    )
    bare = world.gh.repo("acme/access").path
    main = git("--git-dir", str(bare), "rev-parse", "refs/heads/main")
    assert merged == {"sha": main, "merged": True, "message": "Pull Request successfully merged"}
    parents = git("--git-dir", str(bare), "rev-list", "--parents", "-n1", main).split()[1:]
    assert parents[1] == world.head
    assert git("--git-dir", str(bare), "show", f"{main}:grants/db/alice.yaml") == "x: 1"
    assert git("--git-dir", str(bare), "log", "-1", "--format=%an|%cn|%s", main) == (
        "carol|GitHub|Merge pull request #1 from acme/alice/req"
    )
    pull = world.bob_api.ok("GET /repos/{owner}/{repo}/pulls/{pull_number}", path=f"{R}/pulls/1")
    assert (pull["state"], pull["merged"], pull["merge_commit_sha"]) == ("closed", True, main)
    assert pull["merged_by"]["login"] == "carol"
    assert pull["merged_at"] is not None
    again = world.carol_api.fails(
        "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge", 405, path=f"{R}/pulls/1/merge"
    )
    assert again["message"] == "Pull Request is not mergeable"


def test_merge_refuses_a_stale_head(world: World) -> None:
    body = world.carol_api.fails(
        "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge",
        409,
        {"sha": "0" * 40},
        path=f"{R}/pulls/1/merge",
    )
    assert body["message"] == "Head branch was modified. Review and try the merge again."


def test_merge_honours_the_required_check(world: World) -> None:
    gh = world.gh
    app_id = gh.user("gitjit[bot]").app.id  # type: ignore[union-attr]
    gh.protect_branch(
        "acme/access",
        "main",
        Protection(
            required_checks=(RequiredCheck("gitjit/verdict", app_id),),
            enforce_admins=False,
            required_approving_review_count=None,
        ),
    )
    key = "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge"
    refused = world.bob_api.fails(key, 405, path=f"{R}/pulls/1/merge")
    assert refused["message"] == 'Required status check "gitjit/verdict" is expected.'
    # A commit status of that name does not count: the check must come from the App.
    world.bob_api.ok(
        "POST /repos/{owner}/{repo}/statuses/{sha}",
        {"state": "success", "context": "gitjit/verdict"},
        path=f"{R}/statuses/{world.head}",
    )
    assert world.bob_api.fails(key, 405, path=f"{R}/pulls/1/merge")["message"].endswith(
        "is expected."
    )
    run = world.app_api.ok(
        "POST /repos/{owner}/{repo}/check-runs",
        {"name": "gitjit/verdict", "head_sha": world.head, "status": "in_progress"},
        path=f"{R}/check-runs",
    )
    pull = world.bob_api.ok("GET /repos/{owner}/{repo}/pulls/{pull_number}", path=f"{R}/pulls/1")
    assert pull["mergeable_state"] == "blocked"
    assert world.bob_api.fails(key, 405, path=f"{R}/pulls/1/merge")["message"] == (
        'Required status check "gitjit/verdict" is pending.'
    )
    world.app_api.ok(
        "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
        {"conclusion": "success"},
        path=f"{R}/check-runs/{run['id']}",
    )
    assert world.bob_api.ok(key, path=f"{R}/pulls/1/merge")["merged"] is True


def test_an_admin_bypasses_the_required_check_unless_enforced(world: World) -> None:
    gh = world.gh
    gh.protect_branch(
        "acme/access",
        "main",
        Protection(required_checks=(RequiredCheck("gitjit/verdict"),), enforce_admins=True),
    )
    key = "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge"
    world.carol_api.fails(key, 405, path=f"{R}/pulls/1/merge")
    gh.protect_branch(
        "acme/access",
        "main",
        Protection(required_checks=(RequiredCheck("gitjit/verdict"),), enforce_admins=False),
    )
    world.bob_api.fails(key, 405, path=f"{R}/pulls/1/merge")
    assert world.carol_api.ok(key, path=f"{R}/pulls/1/merge")["merged"] is True


def test_merge_needs_approvals_of_the_head_by_writers(world: World) -> None:
    gh = world.gh
    gh.protect_branch("acme/access", "main", Protection(required_approving_review_count=1))
    key = "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge"
    review = "POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews"
    needed = "At least 1 approving review is required by reviewers with write access."
    assert world.bob_api.fails(key, 405, path=f"{R}/pulls/1/merge")["message"] == needed
    reader = gh.create_user("reader")
    gh.set_permission("acme/access", "reader", "read")
    Client(gh.url, reader.token).ok(review, {"event": "APPROVE"}, path=f"{R}/pulls/1/reviews")
    assert world.bob_api.fails(key, 405, path=f"{R}/pulls/1/merge")["message"] == needed
    world.carol_api.ok(review, {"event": "APPROVE"}, path=f"{R}/pulls/1/reviews")
    # A push makes the approval stale: dismiss_stale_reviews counts approvals of the head only.
    gh.commit("acme/access", "alice/req", {"late": "1"}, author=world.alice)
    assert world.bob_api.fails(key, 405, path=f"{R}/pulls/1/merge")["message"] == needed
    world.carol_api.ok(review, {"event": "APPROVE"}, path=f"{R}/pulls/1/reviews")
    assert world.bob_api.ok(key, path=f"{R}/pulls/1/merge")["merged"] is True


def test_ruleset_required_check_gates_merges(world: World) -> None:
    world.gh.add_ruleset(
        "acme/access",
        "protect main",
        rules=[
            {
                "type": "required_status_checks",
                "parameters": {
                    "strict_required_status_checks_policy": False,
                    "required_status_checks": [{"context": "gitjit/verdict"}],
                },
            }
        ],
    )
    key = "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge"
    # No bypass actors: not even an admin.
    world.carol_api.fails(key, 405, path=f"{R}/pulls/1/merge")
    world.bob_api.ok(
        "POST /repos/{owner}/{repo}/statuses/{sha}",
        {"state": "success", "context": "gitjit/verdict"},
        path=f"{R}/statuses/{world.head}",
    )
    assert world.carol_api.ok(key, path=f"{R}/pulls/1/merge")["merged"] is True


def test_squash_merge_and_conflicts(world: World) -> None:
    gh = world.gh
    gh.commit("acme/access", "main", {"grants/db/alice.yaml": "x: 2\n"}, author=world.carol)
    key = "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge"
    assert world.carol_api.fails(key, 405, path=f"{R}/pulls/1/merge")["message"] == (
        "Pull Request is not mergeable"
    )
    pull = world.bob_api.ok("GET /repos/{owner}/{repo}/pulls/{pull_number}", path=f"{R}/pulls/1")
    assert (pull["mergeable"], pull["mergeable_state"]) == (False, "dirty")
    gh.commit("acme/access", "b2", {"other": "y"}, author=world.bob)
    world.bob_api.ok(
        "POST /repos/{owner}/{repo}/pulls",
        {"title": "t", "head": "b2", "base": "main"},
        path=f"{R}/pulls",
    )
    done = world.carol_api.ok(key, {"merge_method": "squash"}, path=f"{R}/pulls/2/merge")
    bare = gh.repo("acme/access").path
    assert (
        len(git("--git-dir", str(bare), "rev-list", "--parents", "-n1", done["sha"]).split()) == 2
    )


def test_commit_pulls_finds_the_merged_pull_request(world: World) -> None:
    key = "GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls"
    open_ones = world.bob_api.ok(key, path=f"{R}/commits/{world.head}/pulls")
    assert [p["number"] for p in open_ones] == [1]
    merged = world.carol_api.ok(
        "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge", path=f"{R}/pulls/1/merge"
    )
    found = world.bob_api.ok(key, path=f"{R}/commits/{merged['sha']}/pulls")
    assert [(p["number"], p["merge_commit_sha"]) for p in found] == [(1, merged["sha"])]
    initial = git("--git-dir", str(world.gh.repo("acme/access").path), "rev-parse", "main~1")
    assert world.bob_api.ok(key, path=f"{R}/commits/{initial}/pulls") == []


def test_get_commit(world: World) -> None:
    body = world.bob_api.ok(
        "GET /repos/{owner}/{repo}/commits/{ref}", path=f"{R}/commits/{world.head}"
    )
    assert body["sha"] == world.head
    assert body["author"]["login"] == "alice"
    by_branch = world.bob_api.ok(
        "GET /repos/{owner}/{repo}/commits/{ref}", path=f"{R}/commits/main"
    )
    assert by_branch["commit"]["message"] == "Initial commit"


# -- reviews -----------------------------------------------------------------------------------


def test_reviews_paginate_with_githubs_link_header(world: World) -> None:
    gh = world.gh
    reviewers = [gh.create_user(f"r{n}") for n in range(5)]
    for reviewer in reviewers:
        Client(gh.url, reviewer.token).ok(
            "POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
            {"event": "APPROVE"},
            path=f"{R}/pulls/1/reviews",
        )
    key = "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews"
    seen = []
    for page in (1, 2, 3):
        reply = world.bob_api.call(
            "GET", f"{R}/pulls/1/reviews", query={"per_page": 2, "page": page}
        )
        schemas.check("list[PullRequestReview]", reply.body, what=key)
        seen += [r["user"]["login"] for r in reply.body]
        link = f"{gh.url}{R}/pulls/1/reviews?per_page=2&page="
        expected = {
            1: f'<{link}2>; rel="next", <{link}3>; rel="last"',
            2: f'<{link}1>; rel="prev", <{link}3>; rel="next", <{link}3>; rel="last", '
            f'<{link}1>; rel="first"',
            3: f'<{link}2>; rel="prev", <{link}1>; rel="first"',
        }[page]
        assert reply.headers["Link"] == expected
    assert seen == ["r0", "r1", "r2", "r3", "r4"]


def test_create_review(world: World) -> None:
    key = "POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews"
    review = world.bob_api.ok(key, {"event": "APPROVE", "body": "ok"}, path=f"{R}/pulls/1/reviews")
    assert (review["state"], review["commit_id"], review["user"]["login"]) == (
        "APPROVED",
        world.head,
        "bob",
    )
    assert review["author_association"] == "COLLABORATOR"
    old = git("--git-dir", str(world.gh.repo("acme/access").path), "rev-parse", "main")
    on_old = world.carol_api.ok(
        key,
        {"event": "REQUEST_CHANGES", "body": "no", "commit_id": old},
        path=f"{R}/pulls/1/reviews",
    )
    assert (on_old["state"], on_old["commit_id"]) == ("CHANGES_REQUESTED", old)
    missing_body = world.carol_api.fails(
        key, 422, {"event": "COMMENT"}, path=f"{R}/pulls/1/reviews"
    )
    assert missing_body["errors"] == ["Review Can not comment without a body"]


def test_the_author_cannot_approve_their_own_pull_request(world: World) -> None:
    body = world.alice_api.fails(
        "POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
        422,
        {"event": "APPROVE"},
        path=f"{R}/pulls/1/reviews",
    )
    assert body == {
        "message": "Unprocessable Entity",
        "errors": ["Can not approve your own pull request"],
        "documentation_url": "https://docs.github.com/rest",
    }


def test_github_actions_may_approve_only_when_allowed(world: World) -> None:
    actions = Client(world.gh.url, world.gh.github_actions().token)
    key = "POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews"
    body = actions.fails(key, 422, {"event": "APPROVE"}, path=f"{R}/pulls/1/reviews")
    assert body["errors"] == ["GitHub Actions is not permitted to approve pull requests."]
    world.gh.set_workflow_permissions("acme/access", can_approve=True)
    assert (
        actions.ok(key, {"event": "APPROVE"}, path=f"{R}/pulls/1/reviews")["user"]["type"] == "Bot"
    )


def test_dismiss_review(world: World) -> None:
    review = world.bob_api.ok(
        "POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews",
        {"event": "APPROVE"},
        path=f"{R}/pulls/1/reviews",
    )
    key = "PUT /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/dismissals"
    dismissed = world.carol_api.ok(
        key, {"message": "stale"}, path=f"{R}/pulls/1/reviews/{review['id']}/dismissals"
    )
    assert dismissed["state"] == "DISMISSED"
    again = world.carol_api.fails(
        key, 422, {"message": "stale"}, path=f"{R}/pulls/1/reviews/{review['id']}/dismissals"
    )
    assert again["errors"] == ["Can not dismiss a dismissed pull request review"]


def test_request_reviewers(world: World) -> None:
    gh = world.gh
    gh.create_team("acme", "approvers", members=["bob"])
    key = "POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"
    body = world.alice_api.ok(
        key,
        {"reviewers": ["bob"], "team_reviewers": ["approvers"]},
        path=f"{R}/pulls/1/requested_reviewers",
    )
    assert [u["login"] for u in body["requested_reviewers"]] == ["bob"]
    assert [t["slug"] for t in body["requested_teams"]] == ["approvers"]
    own = world.alice_api.fails(
        key, 422, {"reviewers": ["alice"]}, path=f"{R}/pulls/1/requested_reviewers"
    )
    assert own["message"] == "Review cannot be requested from pull request author."
    stranger = world.alice_api.fails(
        key, 422, {"reviewers": ["nobody"]}, path=f"{R}/pulls/1/requested_reviewers"
    )
    assert stranger["message"].startswith("Reviews may only be requested from collaborators.")


# -- comments ----------------------------------------------------------------------------------


def test_comments_create_list_update(world: World) -> None:
    created = world.app_api.ok(
        "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
        {"body": "plan v1"},
        path=f"{R}/issues/1/comments",
    )
    assert created["performed_via_github_app"]["slug"] == "gitjit"
    listed = world.bob_api.ok(
        "GET /repos/{owner}/{repo}/issues/{issue_number}/comments", path=f"{R}/issues/1/comments"
    )
    assert [c["body"] for c in listed] == ["plan v1"]
    updated = world.app_api.ok(
        "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}",
        {"body": "plan v2"},
        path=f"{R}/issues/comments/{created['id']}",
    )
    assert (updated["id"], updated["body"]) == (created["id"], "plan v2")
    world.alice_api.fails(
        "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
        404,
        {"body": "x"},
        path=f"{R}/issues/9/comments",
    )


# -- checks and statuses -----------------------------------------------------------------------


def test_check_runs_need_a_github_app(world: World) -> None:
    body = world.bob_api.fails(
        "POST /repos/{owner}/{repo}/check-runs",
        403,
        {"name": "v", "head_sha": world.head},
        path=f"{R}/check-runs",
    )
    assert body["message"] == "You must authenticate via a GitHub App."


def test_check_runs_create_update_list(world: World) -> None:
    create = "POST /repos/{owner}/{repo}/check-runs"
    first = world.app_api.ok(
        create,
        {
            "name": "gitjit/verdict",
            "head_sha": world.head,
            "conclusion": "failure",
            "output": {"title": "Denied", "summary": "no"},
        },
        path=f"{R}/check-runs",
    )
    assert (first["status"], first["conclusion"], first["app"]["slug"]) == (
        "completed",
        "failure",
        "gitjit",
    )
    assert [p["number"] for p in first["pull_requests"]] == [1]
    second = world.app_api.ok(
        create,
        {"name": "gitjit/verdict", "head_sha": world.head, "status": "in_progress"},
        path=f"{R}/check-runs",
    )
    world.app_api.ok(
        "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
        {
            "status": "completed",
            "conclusion": "success",
            "output": {"title": "Approved", "summary": "ok", "text": "details"},
        },
        path=f"{R}/check-runs/{second['id']}",
    )
    key = "GET /repos/{owner}/{repo}/commits/{ref}/check-runs"
    latest = world.bob_api.ok(key, path=f"{R}/commits/{world.head}/check-runs")
    assert [(r["id"], r["conclusion"]) for r in latest["check_runs"]] == [(second["id"], "success")]
    every = world.bob_api.ok(
        key, path=f"{R}/commits/{world.head}/check-runs", query={"filter": "all"}
    )
    assert every["total_count"] == 2
    forbidden = Client(world.gh.url, world.gh.github_actions().token).fails(
        "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
        403,
        {"conclusion": "success"},
        path=f"{R}/check-runs/{second['id']}",
    )
    assert forbidden["message"] == "Resource not accessible by integration"


def test_statuses_and_the_combined_status(world: World) -> None:
    create = "POST /repos/{owner}/{repo}/statuses/{sha}"
    combined = "GET /repos/{owner}/{repo}/commits/{ref}/status"
    assert world.bob_api.ok(combined, path=f"{R}/commits/{world.head}/status")["state"] == "pending"
    actions = Client(world.gh.url, world.gh.github_actions().token)
    status = actions.ok(
        create,
        {"state": "failure", "context": "gitjit/verdict", "description": "Denied"},
        path=f"{R}/statuses/{world.head}",
    )
    assert status["creator"]["login"] == "github-actions[bot]"
    actions.ok(
        create, {"state": "success", "context": "gitjit/verdict"}, path=f"{R}/statuses/{world.head}"
    )
    actions.ok(create, {"state": "success", "context": "other"}, path=f"{R}/statuses/{world.head}")
    body = world.bob_api.ok(combined, path=f"{R}/commits/{world.head}/status")
    assert body["state"] == "success"
    assert sorted(s["context"] for s in body["statuses"]) == ["gitjit/verdict", "other"]
    world.gh.set_permission("acme/access", "alice", "read")
    denied = world.alice_api.fails(
        create, 403, {"state": "success"}, path=f"{R}/statuses/{world.head}"
    )
    assert denied["message"] == "Must have write access to repository."


def test_every_status_of_a_commit_with_its_creator(world: World) -> None:
    create = "POST /repos/{owner}/{repo}/statuses/{sha}"
    at = f"{R}/statuses/{world.head}"
    world.bob_api.ok(create, {"state": "success", "context": "a"}, path=at)
    world.carol_api.ok(create, {"state": "failure", "context": "a"}, path=at)
    key = "GET /repos/{owner}/{repo}/commits/{ref}/statuses"
    listed = world.alice_api.ok(key, path=f"{R}/commits/{world.head}/statuses")
    assert [(s["state"], s["creator"]["login"]) for s in listed] == [
        ("failure", "carol"),
        ("success", "bob"),
    ]


def test_repository_variables(world: World) -> None:
    key = "GET /repos/{owner}/{repo}/actions/variables/{name}"
    world.bob_api.fails(key, 404, path=f"{R}/actions/variables/GITJIT_APP_ID")
    world.gh.set_variable("acme/access", "GITJIT_APP_ID", "42")
    body = world.bob_api.ok(key, path=f"{R}/actions/variables/GITJIT_APP_ID")
    assert (body["name"], body["value"]) == ("GITJIT_APP_ID", "42")


# -- git data ----------------------------------------------------------------------------------


def test_git_data_round_trip_makes_a_ledger_commit(world: World) -> None:
    api = world.app_api
    ref = api.ok("GET /repos/{owner}/{repo}/git/ref/{ref}", path=f"{R}/git/ref/heads/main")
    parent = ref["object"]["sha"]
    commit = api.ok(
        "GET /repos/{owner}/{repo}/git/commits/{commit_sha}", path=f"{R}/git/commits/{parent}"
    )
    blob = api.ok(
        "POST /repos/{owner}/{repo}/git/blobs",
        {"content": base64.b64encode(b"event: 1\n").decode(), "encoding": "base64"},
        path=f"{R}/git/blobs",
    )
    got = api.ok(
        "GET /repos/{owner}/{repo}/git/blobs/{file_sha}", path=f"{R}/git/blobs/{blob['sha']}"
    )
    assert base64.b64decode(got["content"]) == b"event: 1\n"
    tree = api.ok(
        "POST /repos/{owner}/{repo}/git/trees",
        {
            "base_tree": commit["tree"]["sha"],
            "tree": [
                {"path": "ledger/2026.yaml", "mode": "100644", "type": "blob", "sha": blob["sha"]},
                {"path": "README.md", "mode": "100644", "type": "blob", "sha": None},
            ],
        },
        path=f"{R}/git/trees",
    )
    listed = api.ok(
        "GET /repos/{owner}/{repo}/git/trees/{tree_sha}",
        path=f"{R}/git/trees/{tree['sha']}",
        query={"recursive": 1},
    )
    assert [(e["path"], e["type"]) for e in listed["tree"]] == [
        ("ledger", "tree"),
        ("ledger/2026.yaml", "blob"),
    ]
    new = api.ok(
        "POST /repos/{owner}/{repo}/git/commits",
        {"message": "ledger: activate", "tree": tree["sha"], "parents": [parent]},
        path=f"{R}/git/commits",
    )
    assert new["author"]["name"] == "gitjit[bot]"
    moved = api.ok(
        "PATCH /repos/{owner}/{repo}/git/refs/{ref}",
        {"sha": new["sha"]},
        path=f"{R}/git/refs/heads/main",
    )
    assert moved["object"]["sha"] == new["sha"]
    bare = world.gh.repo("acme/access").path
    assert git("--git-dir", str(bare), "show", "main:ledger/2026.yaml") == "event: 1"
    content = api.ok(
        "GET /repos/{owner}/{repo}/contents/{path}",
        path=f"{R}/contents/ledger/2026.yaml",
        query={"ref": "main"},
    )
    assert base64.b64decode(content["content"]) == b"event: 1\n"
    api.fails("GET /repos/{owner}/{repo}/contents/{path}", 404, path=f"{R}/contents/README.md")


def test_ref_updates_need_force_to_rewind(world: World) -> None:
    api = world.carol_api
    main = api.ok("GET /repos/{owner}/{repo}/git/ref/{ref}", path=f"{R}/git/ref/heads/main")
    key = "PATCH /repos/{owner}/{repo}/git/refs/{ref}"
    created = api.ok(
        "POST /repos/{owner}/{repo}/git/refs",
        {"ref": "refs/heads/copy", "sha": world.head},
        path=f"{R}/git/refs",
    )
    assert created["ref"] == "refs/heads/copy"
    api.fails(
        "POST /repos/{owner}/{repo}/git/refs",
        422,
        {"ref": "refs/heads/copy", "sha": world.head},
        path=f"{R}/git/refs",
    )
    rewind = api.fails(key, 422, {"sha": main["object"]["sha"]}, path=f"{R}/git/refs/heads/copy")
    assert rewind["message"] == "Update is not a fast forward"
    forced = api.ok(
        key, {"sha": main["object"]["sha"], "force": True}, path=f"{R}/git/refs/heads/copy"
    )
    assert forced["object"]["sha"] == main["object"]["sha"]
    api.fails("GET /repos/{owner}/{repo}/git/ref/{ref}", 404, path=f"{R}/git/ref/heads/none")


# -- settings and teams ------------------------------------------------------------------------


def test_branch_protection(world: World) -> None:
    key = "GET /repos/{owner}/{repo}/branches/{branch}/protection"
    missing = world.carol_api.fails(key, 404, path=f"{R}/branches/main/protection")
    assert missing["message"] == "Branch not protected"
    world.gh.protect_branch(
        "acme/access",
        "main",
        Protection(
            required_checks=(RequiredCheck("gitjit/verdict", 7),),
            enforce_admins=True,
            bypass_users=("carol",),
        ),
    )
    body = world.carol_api.ok(key, path=f"{R}/branches/main/protection")
    assert body["required_status_checks"]["checks"] == [{"context": "gitjit/verdict", "app_id": 7}]
    assert body["enforce_admins"]["enabled"] is True
    reviews = body["required_pull_request_reviews"]
    assert reviews["dismiss_stale_reviews"] is True
    assert [u["login"] for u in reviews["bypass_pull_request_allowances"]["users"]] == ["carol"]
    world.bob_api.fails(key, 403, path=f"{R}/branches/main/protection")
    branch = world.bob_api.ok(
        "GET /repos/{owner}/{repo}/branches/{branch}", path=f"{R}/branches/main"
    )
    assert branch["protected"] is True
    world.bob_api.ok("GET /repos/{owner}/{repo}/branches/{branch}", path=f"{R}/branches/alice/req")


def test_rulesets_and_branch_rules(world: World) -> None:
    ruleset = world.gh.add_ruleset(
        "acme/access",
        "main",
        rules=[
            {
                "type": "pull_request",
                "parameters": {
                    "required_approving_review_count": 1,
                    "dismiss_stale_reviews_on_push": True,
                    "require_code_owner_review": False,
                    "require_last_push_approval": False,
                    "required_review_thread_resolution": False,
                },
            },
            {"type": "non_fast_forward"},
        ],
        bypass_actors=[
            {"actor_id": ADMIN_ROLE_ID, "actor_type": "RepositoryRole", "bypass_mode": "always"}
        ],
    )
    listed = world.carol_api.ok("GET /repos/{owner}/{repo}/rulesets", path=f"{R}/rulesets")
    assert [r["id"] for r in listed] == [ruleset.id]
    one = world.carol_api.ok(
        "GET /repos/{owner}/{repo}/rulesets/{ruleset_id}", path=f"{R}/rulesets/{ruleset.id}"
    )
    assert one["current_user_can_bypass"] == "always"
    assert one["bypass_actors"][0]["actor_type"] == "RepositoryRole"
    rules = world.bob_api.ok(
        "GET /repos/{owner}/{repo}/rules/branches/{branch}", path=f"{R}/rules/branches/main"
    )
    assert [(r["type"], r["ruleset_id"]) for r in rules] == [
        ("pull_request", ruleset.id),
        ("non_fast_forward", ruleset.id),
    ]
    assert (
        world.bob_api.ok(
            "GET /repos/{owner}/{repo}/rules/branches/{branch}",
            path=f"{R}/rules/branches/alice/req",
        )
        == []
    )


def test_workflow_permissions(world: World) -> None:
    key = "GET /repos/{owner}/{repo}/actions/permissions/workflow"
    assert world.carol_api.ok(key, path=f"{R}/actions/permissions/workflow") == {
        "default_workflow_permissions": "read",
        "can_approve_pull_request_reviews": False,
    }
    world.gh.set_workflow_permissions("acme/access", default="write", can_approve=True)
    assert world.carol_api.ok(key, path=f"{R}/actions/permissions/workflow") == {
        "default_workflow_permissions": "write",
        "can_approve_pull_request_reviews": True,
    }


def test_team_members_and_membership(world: World) -> None:
    world.gh.create_team("acme", "approvers", members=["bob", "alice"], maintainers=["carol"])
    key = "GET /orgs/{org}/teams/{team_slug}/members"
    first = world.bob_api.call("GET", "/orgs/acme/teams/approvers/members", query={"per_page": 2})
    schemas.check("list[TeamMember]", first.body)
    assert 'rel="next"' in first.headers["Link"]
    everyone = world.bob_api.ok(key, path="/orgs/acme/teams/approvers/members")
    assert [u["login"] for u in everyone] == ["bob", "alice", "carol"]
    org = world.bob_api.ok("GET /orgs/{org}", path="/orgs/acme")
    assert (org["login"], org["type"]) == ("acme", "Organization")
    team = world.bob_api.ok("GET /orgs/{org}/teams/{team_slug}", path="/orgs/acme/teams/approvers")
    assert (team["slug"], team["members_count"]) == ("approvers", 3)
    membership = world.bob_api.ok(
        "GET /orgs/{org}/teams/{team_slug}/memberships/{username}",
        path="/orgs/acme/teams/approvers/memberships/carol",
    )
    assert (membership["role"], membership["state"]) == ("maintainer", "active")
    world.bob_api.fails(
        "GET /orgs/{org}/teams/{team_slug}/memberships/{username}",
        404,
        path="/orgs/acme/teams/approvers/memberships/dave",
    )


def test_an_app_signs_in_with_a_jwt_and_manages_team_memberships(world: World) -> None:
    """The github-team target's routes: JWT -> installation -> token -> memberships."""
    gh = world.gh
    gh.create_app("teams", owner="acme", app_id=99, permissions={"members": "write"})
    installation = gh.install_app("teams", "acme")
    key = gh.app_private_key("teams")
    now = int(time.time())
    token = jwt.encode({"iat": now - 60, "exp": now + 540, "iss": "99"}, key, algorithm="RS256")
    as_app = Client(gh.url, token)
    found = as_app.ok("GET /orgs/{org}/installation", path="/orgs/acme/installation")
    assert (found["id"], found["app_id"], found["permissions"]) == (
        installation, 99, {"members": "write"})
    as_app.fails("GET /orgs/{org}/installation", 404, path="/orgs/elsewhere/installation")
    key_route = "POST /app/installations/{installation_id}/access_tokens"
    path = f"/app/installations/{installation}/access_tokens"
    as_app.fails(key_route, 422, {"permissions": {"contents": "write"}}, path=path)
    minted = as_app.ok(key_route, {}, path=path)
    # The JWT is the App itself: it reaches nothing else; the token never mints tokens.
    assert as_app.call("GET", "/orgs/acme").status == 401
    world.alice_api.fails(key_route, 401, {}, path=path)
    too_long = jwt.encode({"iat": now, "exp": now + 3600, "iss": "99"}, key, algorithm="RS256")
    assert Client(gh.url, too_long).call("GET", "/orgs/acme/installation").status == 401

    team = gh.create_team("acme", "release", maintainers=["carol"])
    gh.add_org_member("acme", "bob")
    as_install = Client(gh.url, minted["token"])
    put = "PUT /orgs/{org}/teams/{team_slug}/memberships/{username}"
    member = "/orgs/acme/teams/release/memberships/bob"
    assert as_install.ok(put, {"role": "maintainer"}, path=member) == {
        "url": f"{gh.url}{member}", "role": "maintainer", "state": "active"}
    as_install.fails(put, 422, {"role": "owner"}, path=member)
    assert as_install.ok(put, {"role": "member"}, path=member)["role"] == "member"
    org_membership = as_install.ok("GET /orgs/{org}/memberships/{username}",
                                   path="/orgs/acme/memberships/bob")
    assert (org_membership["state"], org_membership["role"]) == ("active", "member")
    as_install.fails("GET /orgs/{org}/memberships/{username}", 404,
                     path="/orgs/acme/memberships/alice")
    # alice is no organization member: GitHub invites her (pending), and she is no member yet.
    invited = as_install.ok(put, {}, path="/orgs/acme/teams/release/memberships/alice")
    assert (invited["role"], invited["state"]) == ("member", "pending")
    assert "alice" not in team.members
    # bob, a plain member, may not manage the team; carol, its maintainer, may.
    world.bob_api.fails(put, 403, {}, path="/orgs/acme/teams/release/memberships/bob")
    assert world.carol_api.call("DELETE", "/orgs/acme/teams/release/memberships/alice").status \
        == 204
    assert as_install.call("DELETE", member).status == 204
    assert as_install.call("DELETE", member).status == 404
    assert team.members == {"carol": "maintainer"} and team.pending == {}
    # An installation token lives one hour by the emulator's clock.
    gh.clock = lambda: datetime.now(UTC) + timedelta(hours=1, minutes=1)
    as_install.fails(put, 401, {}, path=member)
