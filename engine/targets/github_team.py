"""GitHub team target: membership of an organization team (member or maintainer) through a
GitHub App.

Settings: the connection names the App (``app_id``, ``private_key_env``: the environment
variable holding its PEM private key) and, for GitHub Enterprise Server, ``api_url`` (default:
``$GITHUB_API_URL``, set in every Actions job, else https://api.github.com); the policy names
``org``, ``team`` (the slug) and ``role`` (``member``, the default, or ``maintainer``).

The App authenticates as itself with a short-lived JWT, finds its installation on the
organization (``GET /orgs/{org}/installation``) and makes an installation token
(``POST /app/installations/{id}/access_tokens``): PyGithub's ``GithubIntegration`` does both.
The installation needs the organization permission ``members: write`` and nothing else.

Apply adds the person to the team with the role (``PUT .../memberships/{username}``) unless
they already hold it or more; revoke removes the membership (``DELETE``). A person must
already be a member of the organization: gitjit never invites anyone into it.

GitHub keeps nothing beside a membership (no description, no tag), so gitjit's record of what
it put in place is its own ledger (a signed branch only the App may write), not the team:
``list_managed`` reports nothing, and what a team holds beyond the live grants is found by
``holders`` (drift). A team used by a gitjit policy is gitjit's: revocation removes the
membership whatever was there before the grant.

This module holds the declarations and imports no PyGithub (nor requests or PyJWT), so the
checks read them without it; the calls are in ``engine.targets.github_team_driver``, loaded
the first time the target calls GitHub.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from engine.core.models import Target
from engine.targets.base import Assignment, Holder, ManagedAssignment, TargetError

if TYPE_CHECKING:
    from engine.targets.github_team_driver import GitHubTeamDriver

DEFAULT_URL = "https://api.github.com"
ROLES = ("member", "maintainer")
LOGIN = "^[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}$"
TEAM = "^[a-z0-9][a-z0-9_.-]{0,99}$"
ENV_VAR = "^[A-Za-z_][A-Za-z0-9_]{0,127}$"

TARGET_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "github-team target",
    "type": "object",
    "properties": {
        "org": {"type": "string", "pattern": LOGIN,
                "description": "The organization that owns the team, e.g. acme."},
        "team": {"type": "string", "pattern": TEAM,
                 "description": "The team's slug (as in its URL), e.g. release."},
        "role": {"enum": list(ROLES),
                 "description": "member (default) or maintainer: what the grant gives."},
    },
    "required": ["org", "team"],
    "additionalProperties": False,
}
CONNECTION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "github-team connection",
    "type": "object",
    "properties": {
        "app_id": {"type": "string", "pattern": "^[1-9][0-9]{0,19}$",
                   "description": "The GitHub App's id."},
        "private_key_env": {"type": "string", "pattern": ENV_VAR,
                            "description": "The environment variable holding the App's "
                                           "private key (PEM)."},
        "api_url": {"type": "string", "pattern": "^https?://[^\\s]+$",
                    "description": "The REST API's URL (GitHub Enterprise Server); default "
                                   "$GITHUB_API_URL, else https://api.github.com."},
    },
    "required": ["app_id", "private_key_env"],
    "additionalProperties": False,
}


class GitHubTeamTarget:
    """The declarations, and the protocol's methods handing over to ``GitHubTeamDriver``
    (imported, with PyGithub, the first time the target calls GitHub)."""

    name = "github-team"
    REQUIRES = ("github", "jwt", "requests")
    """What the driver imports: all of them come with gitjit itself (PyGithub)."""
    TARGET_SCHEMA = TARGET_SCHEMA
    CONNECTION_SCHEMA = CONNECTION_SCHEMA
    EXPIRY = "gitjit"

    def __init__(self, connection: Mapping[str, str]) -> None:
        self._connection = dict(connection)

    @cached_property
    def _driver(self) -> GitHubTeamDriver:
        try:
            from engine.targets.github_team_driver import GitHubTeamDriver
        except ImportError as exc:  # found by REQUIRES, yet broken (a partial install)
            raise TargetError(f"github-team target: cannot load PyGithub ({exc}); reinstall "
                              "gitjit: pip install --upgrade gitjit") from exc
        return GitHubTeamDriver(self._connection)

    # -- protocol -------------------------------------------------------------------------

    def native_expiry(self, assignment: Assignment) -> bool:
        # A team membership has no end date on GitHub: only revoke ends it.
        return False

    def apply(self, assignment: Assignment) -> None:
        self._driver.apply(assignment)

    def revoke(self, assignment: Assignment) -> None:
        self._driver.revoke(assignment)

    def list_managed(self) -> list[ManagedAssignment]:
        # Nowhere on GitHub can a membership carry a grant id; gitjit's ledger is the record
        # of what it gave (see the module docstring and docs/targets/github-team.md).
        return []

    def holders(self, target: Target) -> list[Holder]:
        return self._driver.holders(target)
