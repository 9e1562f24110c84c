"""The emulator's routes for who may approve and who an account is: repository permissions,
the pull request timeline (force pushes), accounts by login and by id, renames, and pull
request updates (closing, re-basing). Each is driven over raw HTTP and its body checked
against the route's githubkit model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.github.client import Client
from tests.github.emulator import GitHubEmulator
from tests.github.fixtures import github_emulator
from tests.github.test_emulator import R, World, world

__all__ = ["github_emulator", "world"]

PERMISSION = "GET /repos/{owner}/{repo}/collaborators/{username}/permission"
TIMELINE = "GET /repos/{owner}/{repo}/issues/{issue_number}/timeline"
BY_LOGIN = "GET /users/{username}"
BY_ID = "GET /user/{account_id}"
UPDATE = "PATCH /repos/{owner}/{repo}/pulls/{pull_number}"
REF = "PATCH /repos/{owner}/{repo}/git/refs/{ref}"


@pytest.fixture
def reader(world: World) -> Iterator[Client]:
    world.gh.create_user("rita")
    world.gh.set_permission("acme/access", "rita", "read")
    yield Client(world.gh.url, world.gh.user("rita").token)


def test_collaborator_permission_in_githubs_legacy_words(world: World, reader: Client) -> None:
    gh = world.gh
    gh.create_user("mia")
    gh.set_permission("acme/access", "mia", "maintain")
    api = world.bob_api
    assert api.ok(PERMISSION, path=f"{R}/collaborators/carol/permission")["permission"] == "admin"
    assert api.ok(PERMISSION, path=f"{R}/collaborators/bob/permission")["permission"] == "write"
    maintain = api.ok(PERMISSION, path=f"{R}/collaborators/mia/permission")
    assert (maintain["permission"], maintain["role_name"]) == ("write", "maintain")
    read = api.ok(PERMISSION, path=f"{R}/collaborators/rita/permission")
    assert (read["permission"], read["user"]["login"]) == ("read", "rita")
    # Anyone who can see the repository may ask; an unknown account is a 404.
    assert reader.ok(PERMISSION, path=f"{R}/collaborators/bob/permission")["permission"] == (
        "write"
    )
    api.fails(PERMISSION, 404, path=f"{R}/collaborators/nobody/permission")


def test_force_pushes_show_on_the_timeline_with_their_actor(world: World) -> None:
    gh = world.gh
    assert world.bob_api.ok(TIMELINE, path=f"{R}/issues/1/timeline") == []
    # A fast-forward is an ordinary push: no event.
    ahead = gh.commit("acme/access", "scratch", {"x.txt": "x\n"}, from_branch="alice/req")
    world.bob_api.ok(REF, {"sha": ahead}, path=f"{R}/git/refs/heads/alice/req")
    assert world.bob_api.ok(TIMELINE, path=f"{R}/issues/1/timeline") == []
    # bob rewrites alice's branch: a force push, by bob.
    other = gh.commit("acme/access", "rewrite", {"grants/db/alice.yaml": "x: 2\n"})
    world.bob_api.ok(REF, {"sha": other, "force": True}, path=f"{R}/git/refs/heads/alice/req")
    events = world.alice_api.ok(TIMELINE, path=f"{R}/issues/1/timeline")
    assert [(e["event"], e["actor"]["login"], e["commit_id"]) for e in events] == [
        ("head_ref_force_pushed", "bob", other)
    ]
    world.alice_api.fails(TIMELINE, 404, path=f"{R}/issues/99/timeline")


def test_accounts_by_login_and_by_id_across_a_rename(world: World) -> None:
    gh: GitHubEmulator = world.gh
    api = world.carol_api
    alice = api.ok(BY_LOGIN, path="/users/alice")
    assert (alice["login"], alice["id"], alice["type"]) == ("alice", world.alice.id, "User")
    # alice renames herself; someone else registers the freed login.
    gh.rename_user("alice", "alice-new")
    api.fails(BY_LOGIN, 404, path="/users/alice")
    impostor = gh.create_user("alice")
    assert api.ok(BY_LOGIN, path="/users/alice")["id"] == impostor.id != world.alice.id
    assert api.ok(BY_ID, path=f"/user/{world.alice.id}")["login"] == "alice-new"
    api.fails(BY_ID, 404, path="/user/999999")
    # The renamed account keeps its token, its permissions and its pull request.
    assert Client(gh.url, world.alice.token).ok("GET /user", path="/user")["login"] == "alice-new"
    pull = api.ok("GET /repos/{owner}/{repo}/pulls/{pull_number}", path=f"{R}/pulls/1")
    assert pull["user"]["login"] == "alice-new"


def test_pull_requests_close_reopen_and_change_base(world: World, reader: Client) -> None:
    gh = world.gh
    gh.commit("acme/access", "release", {"notes.txt": "n\n"})
    closed = world.alice_api.ok(UPDATE, {"state": "closed"}, path=f"{R}/pulls/1")
    assert (closed["state"], closed["merged"], closed["closed_at"] is not None) == (
        "closed",
        False,
        True,
    )
    listed = world.bob_api.ok("GET /repos/{owner}/{repo}/pulls", path=f"{R}/pulls")
    assert listed == []
    reopened = world.bob_api.ok(UPDATE, {"state": "open", "base": "release"}, path=f"{R}/pulls/1")
    assert (reopened["state"], reopened["base"]["ref"]) == ("open", "release")
    # Neither a reader who did not open it, nor a bad state or base.
    reader.fails(UPDATE, 403, {"title": "mine"}, path=f"{R}/pulls/1")
    world.bob_api.fails(UPDATE, 422, {"state": "merged"}, path=f"{R}/pulls/1")
    world.bob_api.fails(UPDATE, 422, {"base": "no-such-branch"}, path=f"{R}/pulls/1")
