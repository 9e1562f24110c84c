"""The github-team target against the GitHub emulator: the App signs a JWT, finds its
installation, makes an installation token and manages team memberships with it (PyGithub's
GithubIntegration over HTTP on loopback; every reply checked against GitHub's schema)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import github
import pytest

from engine.core.models import GrantId, Login, PolicyId, Target
from engine.targets.base import Assignment, Holder, TargetError
from engine.targets.github_team import GitHubTeamTarget
from tests.github.emulator import GitHubEmulator, User
from tests.github.fixtures import github_emulator

__all__ = ["github_emulator"]

T0 = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
APP_ID = 123456
KEY_ENV = "GITJIT_TEST_APP_KEY"


class Org:
    """acme with a release team (ravi maintains it), and rita and mallory as members."""

    def __init__(self, gh: GitHubEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
        self.gh = gh
        self.bot = gh.create_app("gitjit-teams", owner="acme", app_id=APP_ID,
                                 permissions={"members": "write", "metadata": "read"})
        self.installation = gh.install_app("gitjit-teams", "acme")
        monkeypatch.setenv(KEY_ENV, gh.app_private_key("gitjit-teams"))
        self.rita = gh.create_user("rita")
        self.ravi = gh.create_user("ravi")
        self.mallory = gh.create_user("mallory")
        self.outsider = gh.create_user("olga")
        for login in ("rita", "ravi", "mallory"):
            gh.add_org_member("acme", login)
        self.team = gh.create_team("acme", "release", maintainers=["ravi"])
        self.connection = {"provider": "github-team", "app_id": str(APP_ID),
                           "private_key_env": KEY_ENV, "api_url": gh.url}
        self.target = GitHubTeamTarget(self.connection)

    def assignment(self, login: str, role: str | None = None, *,
                   policy: str = "github-release-team") -> Assignment:
        params = {"connection": "github-acme", "org": "acme", "team": "release"}
        if role:
            params["role"] = role
        return Assignment(
            grant_id=GrantId(f"{policy}/{login}-{T0:%Y%m%dT%H%MZ}"), login=Login(login),
            policy=PolicyId(policy), target=Target("github-team", tuple(sorted(params.items()))),
            connection=self.connection, activated_at=T0, expires_at=T0 + timedelta(hours=2))

    def as_user(self, user: User) -> github.Github:
        return github.Github(base_url=self.gh.url, auth=github.Auth.Token(user.token),
                             retry=None, seconds_between_requests=0, seconds_between_writes=0)


@pytest.fixture
def org(github_emulator: GitHubEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Org]:
    yield Org(github_emulator, monkeypatch)


def test_apply_adds_and_revoke_removes_the_membership_idempotently(org: Org) -> None:
    grant = org.assignment("rita")
    org.target.apply(grant)
    org.target.apply(grant)
    assert org.team.members == {"ravi": "maintainer", "rita": "member"}
    assert org.target.native_expiry(grant) is False
    org.target.revoke(grant)
    org.target.revoke(grant)
    assert org.team.members == {"ravi": "maintainer"}
    # The App went the documented way: a JWT for its installation and a token, then the API.
    calls = [(c.method, c.path) for c in org.gh.calls]
    assert ("GET", "/orgs/acme/installation") in calls
    assert ("POST", f"/app/installations/{org.installation}/access_tokens") in calls
    assert ("PUT", "/orgs/acme/teams/release/memberships/rita") in calls
    assert ("DELETE", "/orgs/acme/teams/release/memberships/rita") in calls
    assert {c.login for c in org.gh.calls if c.path.startswith("/orgs/acme/teams")} == {
        "gitjit-teams[bot]"}


def test_maintainer_role_when_asked_and_a_member_grant_never_demotes(org: Org) -> None:
    org.target.apply(org.assignment("rita", "maintainer"))
    assert org.team.members["rita"] == "maintainer"
    org.target.apply(org.assignment("rita", "member"))
    assert org.team.members["rita"] == "maintainer"
    org.target.apply(org.assignment("mallory", "member"))
    org.target.apply(org.assignment("mallory", "maintainer"))
    assert org.team.members["mallory"] == "maintainer"


def test_holders_lists_every_member_with_its_role(org: Org) -> None:
    org.target.apply(org.assignment("rita"))
    holders = org.target.holders(org.assignment("rita").target)
    assert holders == [
        Holder("ravi", Login("ravi"), "acme/release"),
        Holder("rita", Login("rita"), "acme/release"),
    ]
    assert [h.details["role"] for h in holders] == ["maintainer", "member"]
    assert org.target.list_managed() == []


def test_someone_outside_the_organization_is_never_invited(org: Org) -> None:
    with pytest.raises(TargetError) as err:
        org.target.apply(org.assignment("olga"))
    assert str(err.value) == (
        "github-team target: olga is not a member of the acme organization (not a member); "
        "gitjit adds organization members to teams but never invites anyone into the "
        "organization: an owner must add them first")
    assert "olga" not in org.team.members and "olga" not in org.team.pending


def test_an_installation_without_members_write_fails_with_the_permission_to_add(
        github_emulator: GitHubEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    gh = github_emulator
    gh.create_app("reader", owner="acme", app_id=42, permissions={"members": "read"})
    gh.install_app("reader", "acme")
    monkeypatch.setenv(KEY_ENV, gh.app_private_key("reader"))
    gh.create_user("rita")
    gh.add_org_member("acme", "rita")
    gh.create_team("acme", "release")
    target = GitHubTeamTarget({"provider": "github-team", "app_id": "42",
                               "private_key_env": KEY_ENV, "api_url": gh.url})
    grant = Assignment(
        grant_id=GrantId("github-release-team/rita-20261130T1400Z"), login=Login("rita"),
        policy=PolicyId("github-release-team"),
        target=Target("github-team", (("org", "acme"), ("team", "release"))),
        connection={}, activated_at=T0, expires_at=T0 + timedelta(hours=1))
    with pytest.raises(TargetError) as err:
        target.apply(grant)
    assert str(err.value) == (
        "github-team target: GitHub answered 403 while adding rita to acme/release as member: "
        "Resource not accessible by integration; the App's installation needs the "
        "organization permission members: write")


def test_a_missing_key_or_a_wrong_key_says_what_to_fix_and_never_shows_the_key(
        org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(TargetError) as err:
        GitHubTeamTarget(org.connection).apply(org.assignment("rita"))
    assert str(err.value) == (
        f"github-team target: environment variable {KEY_ENV} (named by private_key_env) is "
        "not set; set it to the GitHub App's private key (PEM)")
    # Another App's key: GitHub (the emulator) refuses the JWT.
    org.gh.create_app("other", owner="acme", app_id=7)
    other_key = org.gh.app_private_key("other")
    monkeypatch.setenv(KEY_ENV, other_key)
    with pytest.raises(TargetError) as err:
        GitHubTeamTarget(org.connection).apply(org.assignment("rita"))
    assert str(err.value) == (
        "github-team target: GitHub answered 401 while finding App 123456's installation on "
        "acme: Bad credentials; check app_id and the private key")
    assert "PRIVATE KEY" not in str(err.value)
    monkeypatch.setenv(KEY_ENV, "not a key")
    with pytest.raises(TargetError) as err:
        GitHubTeamTarget(org.connection).apply(org.assignment("rita"))
    assert "the private key is not usable" in str(err.value)
    assert "not a key" not in str(err.value)


def test_an_org_or_team_outside_githubs_grammar_never_reaches_a_url(org: Org) -> None:
    grant = org.assignment("rita")
    bad = Assignment(grant.grant_id, grant.login, grant.policy,
                     Target("github-team", (("org", "acme"), ("team", "../../user"))),
                     grant.connection, grant.activated_at, grant.expires_at)
    with pytest.raises(TargetError, match=r"team '\.\./\.\./user' is not a GitHub team slug"):
        org.target.apply(bad)


def test_a_grantee_made_maintainer_can_add_a_friend_which_holders_reveals(org: Org) -> None:
    """The attack a maintainer grant opens: GitHub lets a team maintainer add members, so the
    grantee adds a friend with their own token. gitjit's revocation removes the grantee; the
    friend stays, and holders() shows them to reconcile's drift check (no grant backs them)."""
    grant = org.assignment("mallory", "maintainer")
    org.target.apply(grant)
    team = org.as_user(org.mallory).get_organization("acme").get_team_by_slug("release")
    org.as_user(org.mallory).requester.requestJsonAndCheck(
        "PUT", "/orgs/acme/teams/release/memberships/rita", input={"role": "maintainer"})
    assert team.slug == "release"
    org.target.revoke(grant)
    assert "mallory" not in org.team.members
    holders = {h.login: h.details["role"] for h in org.target.holders(grant.target)}
    assert holders == {"ravi": "maintainer", "rita": "maintainer"}
    # A plain member may not do the same.
    with pytest.raises(github.GithubException) as refused:
        org.as_user(org.mallory).requester.requestJsonAndCheck(
            "PUT", "/orgs/acme/teams/release/memberships/mallory", input={"role": "member"})
    assert refused.value.status == 403
