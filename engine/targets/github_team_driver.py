"""The GitHub team target's work, on PyGithub: what ``engine.targets.github_team`` (the
declarations, read by the checks without PyGithub) hands over the first time it calls GitHub.
The module docstring there says how the App signs in and what apply and revoke do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar

import jwt
import requests
from github import Auth, Github, GithubException, GithubIntegration, GithubRetry

from engine.core.models import Login, Target
from engine.targets.base import Assignment, Holder, TargetError, required
from engine.targets.github_team import DEFAULT_URL, LOGIN, ROLES, TEAM

T = TypeVar("T")


class GitHubTeamDriver:
    """A GitHubTeamTarget's calls to GitHub for one settings connection (see that class)."""

    def __init__(self, connection: Mapping[str, str]) -> None:
        self._connection = dict(connection)
        self._clients: dict[str, Github] = {}

    def apply(self, assignment: Assignment) -> None:
        org, team, role, login = _where(assignment)
        client = self._client(org)
        where = f"{org}/{team}"
        state = self._org_state(client, org, login)
        if state != "active":
            raise TargetError(
                f"github-team target: {login} is not a member of the {org} organization "
                f"({'invited, not yet accepted' if state == 'pending' else 'not a member'}); "
                f"gitjit adds organization members to teams but never invites anyone into "
                f"the organization: an owner must add them first")
        current = self._membership(client, org, team, login)
        if current is not None and current["state"] == "active" and (
                current["role"] == role or current["role"] == "maintainer"):
            return  # already held (a maintainer is never demoted by a member grant)
        answer = self._call(f"adding {login} to {where} as {role}",
                            lambda: client.requester.requestJsonAndCheck(
                                "PUT", _membership_url(org, team, login),
                                input={"role": role})[1])
        if answer.get("state") != "active":
            # GitHub made an invitation instead (it does for non-members): take it back.
            self._delete(client, org, team, login)
            raise TargetError(f"github-team target: GitHub made {login}'s membership of "
                              f"{where} a pending invitation; it was withdrawn. Make them a "
                              f"member of the {org} organization first")

    def revoke(self, assignment: Assignment) -> None:
        org, team, _, login = _where(assignment)
        client = self._client(org)
        if self._membership(client, org, team, login) is None:
            return
        self._delete(client, org, team, login)
        if self._membership(client, org, team, login) is not None:
            raise TargetError(f"github-team target: {login} is still a member of {org}/{team} "
                              f"after gitjit removed them; remove them by hand and check the "
                              f"team's synchronisation with an identity provider")

    def holders(self, target: Target) -> list[Holder]:
        org, team = _param(target.get("org"), "org"), _param(target.get("team"), "team")
        client = self._client(org)
        privilege = f"{org}/{team}"
        maintainers = {m.lower() for m in self._members(client, org, team, "maintainer")}
        out: list[Holder] = []
        for login in sorted({m.lower() for m in self._members(client, org, team, "all")}):
            role = "maintainer" if login in maintainers else "member"
            out.append(Holder(principal=login, login=Login(login), privilege=privilege,
                              details={"role": role}))
        return out

    # -- GitHub -----------------------------------------------------------------------------

    def _client(self, org: str) -> Github:
        """An installation client for ``org``, made once per run (PyGithub renews the token)."""
        if org in self._clients:
            return self._clients[org]
        app_id = required(self._connection, "app_id", "github-team target")
        key_env = required(self._connection, "private_key_env", "github-team target")
        key = os.environ.get(key_env, "")
        if not key.strip():
            raise TargetError(f"github-team target: environment variable {key_env} (named by "
                              f"private_key_env) is not set; set it to the GitHub App's "
                              f"private key (PEM)")
        base_url = (self._connection.get("api_url") or os.environ.get("GITHUB_API_URL")
                    or DEFAULT_URL).rstrip("/")
        kwargs: dict[str, Any] = {
            "base_url": base_url, "timeout": 30, "per_page": 100,
            "retry": GithubRetry(total=4, backoff_factor=0.5, backoff_max=15,
                                 status_forcelist=[*range(500, 600), 429]),
            "seconds_between_requests": 0, "seconds_between_writes": 0,
        }
        try:
            auth = Auth.AppAuth(app_id, key)
        except (AssertionError, ValueError) as exc:
            raise TargetError(f"github-team target: the private key in {key_env} is not "
                              f"usable: {type(exc).__name__}") from None
        integration = GithubIntegration(auth=auth, **kwargs)
        installation = self._call(f"finding App {app_id}'s installation on {org}",
                                  lambda: integration.get_org_installation(org))
        client = integration.get_github_for_installation(installation.id)
        self._clients[org] = client
        return client

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except GithubException as exc:
            raise _error(exc, what) from None
        except (OSError, requests.RequestException) as exc:
            raise TargetError(f"github-team target: cannot reach GitHub while {what}: "
                              f"{type(exc).__name__}") from None
        except (ValueError, jwt.PyJWTError) as exc:  # PyJWT or cryptography refusing the key
            raise TargetError(f"github-team target: cannot sign in as the App while {what}: "
                              f"the private key is not usable ({type(exc).__name__})") from None

    def _get(self, client: Github, url: str, what: str) -> dict[str, Any] | None:
        """A GET whose 404 means "none"."""
        try:
            _, data = client.requester.requestJsonAndCheck("GET", url)
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise _error(exc, what) from None
        except (OSError, requests.RequestException) as exc:
            raise TargetError(f"github-team target: cannot reach GitHub while {what}: "
                              f"{type(exc).__name__}") from None
        return data if isinstance(data, dict) else None

    def _org_state(self, client: Github, org: str, login: str) -> str | None:
        found = self._get(client, f"/orgs/{org}/memberships/{login}",
                          f"reading {login}'s membership of {org}")
        return None if found is None else str(found.get("state"))

    def _membership(self, client: Github, org: str, team: str,
                    login: str) -> dict[str, Any] | None:
        return self._get(client, _membership_url(org, team, login),
                         f"reading {login}'s membership of {org}/{team}")

    def _delete(self, client: Github, org: str, team: str, login: str) -> None:
        try:
            client.requester.requestJsonAndCheck("DELETE", _membership_url(org, team, login))
        except GithubException as exc:
            if exc.status != 404:  # 404: already gone, which is what revoke wants
                raise _error(exc, f"removing {login} from {org}/{team}") from None
        except (OSError, requests.RequestException) as exc:
            raise TargetError(f"github-team target: cannot reach GitHub while removing "
                              f"{login} from {org}/{team}: {type(exc).__name__}") from None

    def _members(self, client: Github, org: str, team: str, role: str) -> list[str]:
        logins: list[str] = []
        page = 1
        while True:
            params = {"role": role, "per_page": 100, "page": page}
            data = self._call(f"listing the members of {org}/{team}", partial(
                client.requester.requestJsonAndCheck, "GET",
                f"/orgs/{org}/teams/{team}/members", parameters=params))[1]
            if not isinstance(data, list):
                raise TargetError(f"github-team target: GitHub answered the members of "
                                  f"{org}/{team} with something other than a list")
            logins += [str(m["login"]) for m in data]
            if len(data) < 100:
                return logins
            page += 1


def _error(exc: GithubException, what: str) -> TargetError:
    data = exc.data if isinstance(exc.data, dict) else {"message": exc.data}
    hint = {401: "check app_id and the private key",
            403: "the App's installation needs the organization permission members: write",
            404: "check org and team, and that the App is installed on the organization",
            }.get(exc.status, "")
    return TargetError(f"github-team target: GitHub answered {exc.status} while {what}: "
                       f"{data.get('message')}" + (f"; {hint}" if hint else ""))


def _membership_url(org: str, team: str, login: str) -> str:
    return f"/orgs/{org}/teams/{team}/memberships/{login}"


_PATTERNS = {"org": re.compile(LOGIN), "team": re.compile(TEAM)}


def _param(value: str | None, key: str) -> str:
    # org and team go into URL paths: anything outside their grammar could reach another route.
    if not value:
        raise TargetError(f"github-team target: the policy's target names no {key!r}; add "
                          f"'{key}: ...' to it")
    if not _PATTERNS[key].match(value):
        raise TargetError(f"github-team target: {key} {value!r} is not a GitHub "
                          f"{'organization name' if key == 'org' else 'team slug'}")
    return value


def _where(assignment: Assignment) -> tuple[str, str, str, str]:
    org = _param(assignment.target.get("org"), "org")
    team = _param(assignment.target.get("team"), "team")
    role = assignment.target.get("role") or "member"
    if role not in ROLES:
        raise TargetError(f"github-team target: unknown role {role!r} in policy "
                          f"{assignment.policy}; use member or maintainer")
    return org, team, role, assignment.login
