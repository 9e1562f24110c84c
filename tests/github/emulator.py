"""A GitHub REST API emulator for the tests: a real HTTP server on loopback over real bare repos.

What it is for: gitjit's GitHub forge (engine/adapters/github.py) talks to GitHub through
PyGithub. The tests point PyGithub's ``base_url`` at this emulator, so the whole path (HTTP,
JSON, pagination, retries, PyGithub's object model) runs for real; only GitHub's servers are
replaced. docs/github-emulator.md has the full story; in short:

- Git is real. Each repository is a bare repository on disk (``emulator.repo(...).path``);
  tests push to it with plain git, merges are real merge commits (``git merge-tree
  --write-tree`` + ``git commit-tree`` + a compare-and-swap ``update-ref``), pull requests get
  ``refs/pull/N/head``, and the git data API writes real objects.
- Shapes are GitHub's. ``ROUTES`` below names, for every route served, GitHub's operation and
  the githubkit model of its success and error bodies (API version 2022-11-28, the one GitHub
  answers PyGithub with). Every JSON body is checked against that model before it is sent
  (``check_schemas=True``, the default): a body that does not match, or that carries a key the
  schema does not describe, is answered with a 500 naming the violation and recorded in
  ``schema_violations``; the ``github_emulator`` fixture fails the test at teardown if any.
- People are registered by the harness (``create_user``, ``create_app``), each with a token;
  ``Authorization: token <t>`` or ``Bearer <t>`` picks the user, anything else is a 401.
- The harness configures what a test needs: permissions, branch protection, rulesets, the
  Actions workflow permissions, teams, and queued faults (``fail_next``) for retry tests.

Usage::

    with GitHubEmulator(tmp_path) as gh:
        alice = gh.create_user("alice")
        repo = gh.create_repo("acme/access")
        sha = gh.commit("acme/access", "alice/req", {"grants/x.yaml": "..."}, author=alice)
        g = github.Github(base_url=gh.url, auth=github.Auth.Token(alice.token), retry=None,
                          seconds_between_requests=0, seconds_between_writes=0)
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import re
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.github import githttp, schemas
from tests.github.bare import ZERO_SHA, Bare, GitError, Person

DOCS = "https://docs.github.com/rest"
WEB = "https://github.emulator.invalid"
"""Host of every ``html_url``: GitHub's web pages are not emulated, and .invalid never resolves."""

GITHUB_COMMITTER = ("GitHub", "noreply@github.com")
"""The committer of merge commits made on github.com."""

RATE_LIMIT = 5000

ADMIN_ROLE_ID = 5
"""actor_id of the repository admin role in rulesets' bypass_actors."""
REPOSITORY_ROLE_IDS = {"maintain": 2, "write": 4, "admin": ADMIN_ROLE_ID}
"""actor_id of each repository role in rulesets' bypass_actors (``RepositoryRole``)."""


# ---------------------------------------------------------------------------------------------
# The route table: every route the emulator serves, with GitHub's operation and models.


@dataclass(frozen=True)
class Route:
    """One route the emulator serves and the GitHub operation it emulates."""

    method: str
    template: str
    """GitHub's path template, exactly as in its OpenAPI description."""
    operation: str
    """GitHub's operation id (the docs page), e.g. ``pulls/get``."""
    status: int
    """The success status."""
    model: str | None
    """githubkit model expression of the success body; None for a body-less success."""
    handler: str
    """Name of the GitHubEmulator method that serves it."""
    errors: Mapping[int, str] = field(default_factory=dict)
    """Error status -> model expression, where GitHub documents one other than BasicError."""
    greedy: frozenset[str] = frozenset()
    """Path parameters that may contain '/' (refs, paths, branch names)."""

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"

    def error_model(self, status: int) -> str:
        return self.errors.get(status, "ValidationError" if status == 422 else "BasicError")

    def compile(self) -> re.Pattern[str]:
        pattern = ""
        for literal, name in re.findall(r"([^{]*)(?:\{(\w+)\})?", self.template):
            pattern += re.escape(literal)
            if name:
                pattern += f"(?P<{name}>.+)" if name in self.greedy else f"(?P<{name}>[^/]+)"
        return re.compile(pattern + "$")


_R = "/repos/{owner}/{repo}"
_REVIEW_422 = {422: "ValidationErrorSimple"}
_TIMELINE_EVENTS = (
    "LabeledIssueEvent",
    "UnlabeledIssueEvent",
    "MilestonedIssueEvent",
    "DemilestonedIssueEvent",
    "RenamedIssueEvent",
    "ReviewRequestedIssueEvent",
    "ReviewRequestRemovedIssueEvent",
    "ReviewDismissedIssueEvent",
    "LockedIssueEvent",
    "AddedToProjectIssueEvent",
    "MovedColumnInProjectIssueEvent",
    "RemovedFromProjectIssueEvent",
    "ConvertedNoteToIssueIssueEvent",
    "TimelineCommentEvent",
    "TimelineCrossReferencedEvent",
    "TimelineCommittedEvent",
    "TimelineReviewedEvent",
    "TimelineLineCommentedEvent",
    "TimelineCommitCommentedEvent",
    "TimelineAssignedIssueEvent",
    "TimelineUnassignedIssueEvent",
    "StateChangeIssueEvent",
    "IssueTypeAddedIssueEvent",
    "IssueTypeRemovedIssueEvent",
    "IssueTypeChangedIssueEvent",
    "SubIssueAddedIssueEvent",
    "SubIssueRemovedIssueEvent",
    "ParentIssueAddedIssueEvent",
    "ParentIssueRemovedIssueEvent",
    "BlockedByAddedIssueEvent",
    "BlockedByRemovedIssueEvent",
    "BlockingAddedIssueEvent",
    "BlockingRemovedIssueEvent",
    "TimelineConnectedEvent",
    "TimelineDisconnectedEvent",
)
"""The timeline's event models, in GitHub's order (issues/list-events-for-timeline)."""
_TIMELINE_MODEL = "list[Union[" + ", ".join(_TIMELINE_EVENTS) + "]]"

ROUTES: tuple[Route, ...] = (
    Route(
        "GET", "/user", "users/get-authenticated", 200, "Union[PrivateUser, PublicUser]", "get_user"
    ),
    Route("GET", _R, "repos/get", 200, "FullRepository", "get_repo"),
    Route("GET", _R + "/pulls", "pulls/list", 200, "list[PullRequestSimple]", "list_pulls"),
    Route("POST", _R + "/pulls", "pulls/create", 201, "PullRequest", "create_pull"),
    Route("GET", _R + "/pulls/{pull_number}", "pulls/get", 200, "PullRequest", "get_pull"),
    Route(
        "GET",
        _R + "/pulls/{pull_number}/commits",
        "pulls/list-commits",
        200,
        "list[Commit]",
        "list_pull_commits",
    ),
    Route(
        "PUT",
        _R + "/pulls/{pull_number}/merge",
        "pulls/merge",
        200,
        "PullRequestMergeResult",
        "merge_pull",
        errors={
            405: "ReposOwnerRepoPullsPullNumberMergePutResponse405",
            409: "ReposOwnerRepoPullsPullNumberMergePutResponse409",
        },
    ),
    Route(
        "GET",
        _R + "/pulls/{pull_number}/reviews",
        "pulls/list-reviews",
        200,
        "list[PullRequestReview]",
        "list_reviews",
    ),
    Route(
        "POST",
        _R + "/pulls/{pull_number}/reviews",
        "pulls/create-review",
        200,
        "PullRequestReview",
        "create_review",
        errors=_REVIEW_422,
    ),
    Route(
        "PUT",
        _R + "/pulls/{pull_number}/reviews/{review_id}/dismissals",
        "pulls/dismiss-review",
        200,
        "PullRequestReview",
        "dismiss_review",
        errors=_REVIEW_422,
    ),
    Route(
        "POST",
        _R + "/pulls/{pull_number}/requested_reviewers",
        "pulls/request-reviewers",
        201,
        "PullRequestSimple",
        "request_reviewers",
    ),
    Route(
        "GET",
        _R + "/issues/{issue_number}/comments",
        "issues/list-comments",
        200,
        "list[IssueComment]",
        "list_comments",
    ),
    Route(
        "POST",
        _R + "/issues/{issue_number}/comments",
        "issues/create-comment",
        201,
        "IssueComment",
        "create_comment",
    ),
    Route(
        "PATCH",
        _R + "/issues/comments/{comment_id}",
        "issues/update-comment",
        200,
        "IssueComment",
        "update_comment",
    ),
    Route("POST", _R + "/check-runs", "checks/create", 201, "CheckRun", "create_check_run"),
    Route(
        "PATCH",
        _R + "/check-runs/{check_run_id}",
        "checks/update",
        200,
        "CheckRun",
        "update_check_run",
    ),
    Route(
        "GET",
        _R + "/commits/{ref}/check-runs",
        "checks/list-for-ref",
        200,
        "ReposOwnerRepoCommitsRefCheckRunsGetResponse200",
        "list_check_runs",
    ),
    Route(
        "POST", _R + "/statuses/{sha}", "repos/create-commit-status", 201, "Status", "create_status"
    ),
    Route(
        "GET",
        _R + "/commits/{ref}/status",
        "repos/get-combined-status-for-ref",
        200,
        "CombinedCommitStatus",
        "combined_status",
    ),
    Route(
        "GET",
        _R + "/commits/{ref}/statuses",
        "repos/list-commit-statuses-for-ref",
        200,
        "list[Status]",
        "list_statuses",
    ),
    Route(
        "GET",
        _R + "/commits/{commit_sha}/pulls",
        "repos/list-pull-requests-associated-with-commit",
        200,
        "list[PullRequestSimple]",
        "commit_pulls",
    ),
    Route("GET", _R + "/commits/{ref}", "repos/get-commit", 200, "Commit", "get_commit"),
    Route(
        "GET",
        _R + "/git/ref/{ref}",
        "git/get-ref",
        200,
        "GitRef",
        "get_ref",
        greedy=frozenset({"ref"}),
    ),
    Route("POST", _R + "/git/refs", "git/create-ref", 201, "GitRef", "create_ref"),
    Route(
        "PATCH",
        _R + "/git/refs/{ref}",
        "git/update-ref",
        200,
        "GitRef",
        "update_ref",
        greedy=frozenset({"ref"}),
    ),
    Route(
        "POST",
        _R + "/git/blobs",
        "git/create-blob",
        201,
        "ShortBlob",
        "create_blob",
        errors={422: "Union[ValidationError, RepositoryRuleViolationError]"},
    ),
    Route("GET", _R + "/git/blobs/{file_sha}", "git/get-blob", 200, "Blob", "get_blob"),
    Route("POST", _R + "/git/trees", "git/create-tree", 201, "GitTree", "create_tree"),
    Route("GET", _R + "/git/trees/{tree_sha}", "git/get-tree", 200, "GitTree", "get_tree"),
    Route("POST", _R + "/git/commits", "git/create-commit", 201, "GitCommit", "create_git_commit"),
    Route(
        "GET",
        _R + "/git/commits/{commit_sha}",
        "git/get-commit",
        200,
        "GitCommit",
        "get_git_commit",
    ),
    Route(
        "GET",
        _R + "/contents/{path}",
        "repos/get-content",
        200,
        "Union[list[ContentDirectoryItems], ContentFile, ContentSymlink, ContentSubmodule]",
        "get_contents",
        greedy=frozenset({"path"}),
    ),
    Route(
        "GET",
        _R + "/branches/{branch}/protection",
        "repos/get-branch-protection",
        200,
        "BranchProtection",
        "get_protection",
        greedy=frozenset({"branch"}),
    ),
    Route(
        "GET",
        _R + "/branches/{branch}",
        "repos/get-branch",
        200,
        "BranchWithProtection",
        "get_branch",
        greedy=frozenset({"branch"}),
    ),
    Route(
        "GET",
        _R + "/rulesets",
        "repos/get-repo-rulesets",
        200,
        "list[RepositoryRuleset]",
        "list_rulesets",
    ),
    Route(
        "GET",
        _R + "/rulesets/{ruleset_id}",
        "repos/get-repo-ruleset",
        200,
        "RepositoryRuleset",
        "get_ruleset",
    ),
    Route(
        "GET",
        _R + "/rules/branches/{branch}",
        "repos/get-branch-rules",
        200,
        "list[Union[" + ", ".join(f"RepositoryRuleDetailedOneof{i}" for i in range(25)) + "]]",
        "branch_rules",
        greedy=frozenset({"branch"}),
    ),
    Route(
        "GET",
        _R + "/actions/permissions/workflow",
        "actions/get-github-actions-default-workflow-permissions-repository",
        200,
        "ActionsGetDefaultWorkflowPermissions",
        "workflow_permissions",
    ),
    Route(
        "GET",
        _R + "/actions/variables/{name}",
        "actions/get-repo-variable",
        200,
        "ActionsVariable",
        "get_variable",
    ),
    Route("GET", "/orgs/{org}", "orgs/get", 200, "OrganizationFull", "get_org"),
    Route("GET", "/orgs/{org}/teams/{team_slug}", "teams/get-by-name", 200, "TeamFull", "get_team"),
    Route(
        "GET",
        "/orgs/{org}/teams/{team_slug}/members",
        "teams/list-members-in-org",
        200,
        "list[TeamMember]",
        "team_members",
    ),
    Route(
        "GET",
        "/orgs/{org}/teams/{team_slug}/memberships/{username}",
        "teams/get-membership-for-user-in-org",
        200,
        "TeamMembership",
        "team_membership",
    ),
    # -- the github-team target: team membership writes through a GitHub App ----------------
    Route(
        "PUT",
        "/orgs/{org}/teams/{team_slug}/memberships/{username}",
        "teams/add-or-update-membership-for-user-in-org",
        200,
        "TeamMembership",
        "put_team_membership",
    ),
    Route(
        "DELETE",
        "/orgs/{org}/teams/{team_slug}/memberships/{username}",
        "teams/remove-membership-for-user-in-org",
        204,
        None,
        "delete_team_membership",
    ),
    Route(
        "GET",
        "/orgs/{org}/memberships/{username}",
        "orgs/get-membership-for-user",
        200,
        "OrgMembership",
        "org_membership",
    ),
    Route(
        "GET",
        "/orgs/{org}/installation",
        "apps/get-org-installation",
        200,
        "Installation",
        "org_installation",
    ),
    Route(
        "POST",
        "/app/installations/{installation_id}/access_tokens",
        "apps/create-installation-access-token",
        201,
        "InstallationToken",
        "installation_token",
    ),
    # -- who may approve, who pushed, who an account is, pull requests closed or re-based ----
    Route(
        "GET",
        _R + "/collaborators/{username}/permission",
        "repos/get-collaborator-permission-level",
        200,
        "RepositoryCollaboratorPermission",
        "collaborator_permission",
    ),
    Route(
        "GET",
        _R + "/issues/{issue_number}/timeline",
        "issues/list-events-for-timeline",
        200,
        _TIMELINE_MODEL,
        "timeline",
    ),
    Route(
        "GET",
        "/users/{username}",
        "users/get-by-username",
        200,
        "Union[PrivateUser, PublicUser]",
        "user_by_login",
    ),
    Route(
        "GET",
        "/user/{account_id}",
        "users/get-by-id",
        200,
        "Union[PrivateUser, PublicUser]",
        "user_by_id",
    ),
    Route("PATCH", _R + "/pulls/{pull_number}", "pulls/update", 200, "PullRequest", "update_pull"),
)
"""Every route served. Order matters where templates overlap: the first match wins."""

_JWT_HANDLERS = frozenset({"org_installation", "installation_token"})
"""The routes a GitHub App calls as itself, with a JWT; every other route needs a token."""


# ---------------------------------------------------------------------------------------------
# State. Mutable on purpose: this is a server's database, guarded by one lock.


@dataclass
class App:
    """A GitHub App; its installation token acts as the ``<slug>[bot]`` user."""

    id: int
    slug: str
    name: str
    owner: str
    permissions: dict[str, str]
    created_at: datetime
    public_key: Any = None
    """The App's public key (cryptography), once ``app_private_key`` made its key pair."""
    installations: dict[str, int] = field(default_factory=dict)
    """Account login -> installation id, for the accounts the App is installed on."""


@dataclass
class User:
    """A registered account: a person (User), an App's bot (Bot) or an Organization."""

    login: str
    id: int
    type: str
    token: str
    emails: list[str]
    app: App | None = None
    site_admin: bool = False
    name: str | None = None
    jwt: bool = False
    """A GitHub App itself, authenticated by a JWT signed with its private key: it may only
    find its installations and make installation tokens."""

    @property
    def noreply_email(self) -> str:
        return f"{self.id}+{self.login}@users.noreply.github.com"


@dataclass(frozen=True)
class RequiredCheck:
    """A required status check: a check run or commit status named ``context``."""

    context: str
    app_id: int | None = None
    """When set, only a check run from this App satisfies it (GitHub's 'expected source')."""


@dataclass
class Protection:
    """Classic branch protection, as the harness configures it."""

    required_checks: tuple[RequiredCheck, ...] = ()
    strict: bool = False
    enforce_admins: bool = False
    """False lets an admin merge past the required checks ('bypass')."""
    required_approving_review_count: int | None = 1
    """None: no pull request review requirement at all."""
    dismiss_stale_reviews: bool = True
    require_code_owner_reviews: bool = False
    require_last_push_approval: bool = False
    bypass_users: tuple[str, ...] = ()
    allow_force_pushes: bool = False
    allow_deletions: bool = False
    required_linear_history: bool = False


@dataclass
class Ruleset:
    id: int
    name: str
    enforcement: str
    target: str
    conditions: dict[str, Any]
    rules: list[dict[str, Any]]
    bypass_actors: list[dict[str, Any]]
    created_at: datetime


@dataclass
class Repo:
    id: int
    owner: User
    name: str
    bare: Bare
    default_branch: str
    created_at: datetime
    permissions: dict[str, str] = field(default_factory=dict)
    default_permission: str = "write"
    protections: dict[str, Protection] = field(default_factory=dict)
    rulesets: list[Ruleset] = field(default_factory=list)
    default_workflow_permissions: str = "read"
    can_approve_pull_request_reviews: bool = False
    private: bool = True

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"

    @property
    def path(self) -> Path:
        """The bare repository: push to it, clone it."""
        return self.bare.path


@dataclass
class Pull:
    number: int
    id: int
    repo: Repo
    user: User
    title: str
    body: str | None
    head_ref: str
    base_ref: str
    head_sha: str
    base_sha: str
    created_at: datetime
    updated_at: datetime
    draft: bool = False
    maintainer_can_modify: bool = False
    state: str = "open"
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merge_commit_sha: str | None = None
    merged_by: User | None = None
    requested_reviewers: list[str] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)


@dataclass
class Review:
    id: int
    repo: Repo
    number: int
    user: User
    body: str
    state: str
    commit_id: str
    submitted_at: datetime | None


@dataclass
class TimelineEvent:
    """An event of a pull request's timeline that the emulator records: force pushes."""

    id: int
    repo: Repo
    number: int
    event: str
    actor: User
    commit_id: str | None
    created_at: datetime


@dataclass
class Comment:
    id: int
    repo: Repo
    number: int
    user: User
    body: str
    created_at: datetime
    updated_at: datetime


@dataclass
class CheckRunData:
    id: int
    repo: Repo
    app: App
    head_sha: str
    name: str
    status: str
    conclusion: str | None
    started_at: datetime | None
    completed_at: datetime | None
    details_url: str | None
    external_id: str | None
    output: dict[str, Any]
    suite_id: int


@dataclass
class StatusData:
    id: int
    repo: Repo
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: User
    created_at: datetime


@dataclass
class Team:
    id: int
    org: User
    slug: str
    name: str
    members: dict[str, str]
    """login -> role ('member' or 'maintainer')."""
    created_at: datetime
    pending: dict[str, str] = field(default_factory=dict)
    """Invited, not yet an organization member: login -> role (not a member until accepted)."""


@dataclass
class Fault:
    """A queued failure: the next ``times`` requests matching answer ``status``."""

    path: str | re.Pattern[str]
    status: int
    times: int
    method: str | None
    retry_after: int | None
    rate_limited: bool
    reset_in: int
    message: str

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        if isinstance(self.path, re.Pattern):
            return self.path.fullmatch(path) is not None
        return self.path == path


@dataclass(frozen=True)
class Call:
    """One request the emulator answered: what a retry test counts."""

    method: str
    path: str
    status: int
    login: str | None


@dataclass(frozen=True)
class PushChange:
    """One ref update of a push, as the rules look at it."""

    creating: bool
    deleting: bool
    forced: bool
    """Not a fast-forward of the old tip."""
    merges: bool
    """It brings merge commits."""
    sha: str


@dataclass(frozen=True)
class PushCheck:
    """What GitHub's rules say about one ref update."""

    rules: tuple[str, ...] = ()
    """Active rulesets' refusals (GH013, 'push declined due to repository rule violations')."""
    protection: tuple[str, ...] = ()
    """Classic branch protection's refusals (GH006, 'protected branch hook declined')."""
    bypassed: tuple[str, ...] = ()
    """Ruleset refusals the pusher bypasses (GitHub says 'Bypassed rule violations')."""


class ApiError(Exception):
    """An error answer in GitHub's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "documentation_url": DOCS}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def field_error(resource: str, field_name: str, code: str, **extra: Any) -> dict[str, Any]:
    """One item of a 422 ``errors`` array, as GitHub sends them."""
    return {"resource": resource, "field": field_name, "code": code, **extra}


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    user: User
    route: Route


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(422, f"Invalid request.\n\n{what} is not a timestamp: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------------------


class GitHubEmulator:
    """The emulator: state, the harness API and the HTTP server (see the module docstring)."""

    def __init__(self, root: Path, *, check_schemas: bool = True) -> None:
        self.root = root
        self.check_schemas = check_schemas
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC).replace(microsecond=0)
        """What 'now' is for timestamps and merge commits; tests may replace it."""
        self.schema_violations: list[str] = []
        self.calls: list[Call] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._user_ids = itertools.count(1001)
        self._users: dict[str, User] = {}
        self._tokens: dict[str, User] = {}
        self._apps: dict[str, App] = {}
        self._repos: dict[str, Repo] = {}
        self._pulls: dict[tuple[str, int], Pull] = {}
        self._numbers: dict[str, itertools.count[int]] = {}
        self._reviews: list[Review] = []
        self._comments: list[Comment] = []
        self._check_runs: list[CheckRunData] = []
        self._statuses: list[StatusData] = []
        self._teams: dict[tuple[str, str], Team] = {}
        self._org_members: dict[str, dict[str, str]] = {}
        self._installations: dict[int, tuple[App, User]] = {}
        self._app_keys: dict[str, str] = {}
        self._token_expiry: dict[str, datetime] = {}
        self._faults: list[Fault] = []
        self._pushes: dict[str, githttp.Push] = {}
        self._variables: dict[tuple[str, str], tuple[str, datetime]] = {}
        self._timeline: list[TimelineEvent] = []
        self._usage: dict[str, int] = {}
        self._rate_reset = int(time.time()) + 3600
        self._routes = [(route, route.compile()) for route in ROUTES]
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> GitHubEmulator:
        emulator = self
        githttp.write_hook(self._hooks)

        class Handler(_Handler):
            pass

        Handler.emulator = emulator
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(
            # A short poll interval: shutdown() waits up to one interval, at every teardown.
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="github-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> GitHubEmulator:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def now(self) -> datetime:
        return self.clock()

    # -- harness: people -----------------------------------------------------------------------

    def create_user(
        self,
        login: str,
        *,
        emails: Sequence[str] = (),
        type: str = "User",
        name: str | None = None,
        site_admin: bool = False,
    ) -> User:
        """Register an account with a fresh token (``user.token``).

        Commits whose author or committer email is one of ``emails`` (or the account's
        noreply address) are attributed to it, as GitHub does with verified emails.
        """
        with self._lock:
            if login in self._users:
                raise ValueError(f"user {login!r} already exists")
            user_id = next(self._user_ids)
            user = User(
                login=login,
                id=user_id,
                type=type,
                token=f"ghp_emulator_{login}_{user_id}",
                emails=list(emails),
                site_admin=site_admin,
                name=name,
            )
            self._users[login] = user
            self._tokens[user.token] = user
            return user

    def create_app(
        self,
        slug: str,
        *,
        name: str | None = None,
        owner: str | None = None,
        permissions: Mapping[str, str] | None = None,
        app_id: int | None = None,
    ) -> User:
        """Register a GitHub App; returns its bot user, whose token is an installation token."""
        with self._lock:
            owner_user = self._users.get(owner) if owner else None
            if owner and owner_user is None:
                owner_user = self.create_user(owner, type="Organization")
            app = App(
                id=app_id if app_id is not None else next(self._ids),
                slug=slug,
                name=name or slug,
                owner=owner or slug,
                permissions=dict(
                    permissions
                    or {
                        "checks": "write",
                        "contents": "write",
                        "pull_requests": "write",
                        "statuses": "write",
                        "issues": "write",
                        "metadata": "read",
                    }
                ),
                created_at=self.now(),
            )
            self._apps[slug] = app
            bot = self.create_user(f"{slug}[bot]", type="Bot")
            bot.app = app
            bot.token = f"ghs_emulator_{slug}_{bot.id}"
            self._tokens = {t: u for t, u in self._tokens.items() if u is not bot}
            self._tokens[bot.token] = bot
            return bot

    def github_actions(self) -> User:
        """The ``github-actions[bot]`` user behind a workflow's GITHUB_TOKEN (App id 15368)."""
        with self._lock:
            existing = self._users.get("github-actions[bot]")
            if existing is not None:
                return existing
            return self.create_app("github-actions", name="GitHub Actions", app_id=15368)

    def user(self, login: str) -> User:
        return self._users[login]

    def _org(self, login: str) -> User:
        existing = self._users.get(login)
        return existing if existing is not None else self.create_user(login, type="Organization")

    def create_team(
        self, org: str, slug: str, *, members: Iterable[str] = (), maintainers: Iterable[str] = ()
    ) -> Team:
        with self._lock:
            roles = dict.fromkeys(members, "member")
            roles.update(dict.fromkeys(maintainers, "maintainer"))
            team = Team(next(self._ids), self._org(org), slug, slug, roles, self.now())
            self._teams[(org, slug)] = team
            return team

    # -- harness: repositories -----------------------------------------------------------------

    def create_repo(
        self,
        full_name: str,
        *,
        default_branch: str = "main",
        initial_files: Mapping[str, str] | None = None,
        permissions: Mapping[str, str] | None = None,
        default_permission: str = "write",
    ) -> Repo:
        """A new repository whose default branch has one commit with ``initial_files``.

        ``permissions`` maps logins to 'read', 'write' or 'admin'; registered users not listed
        get ``default_permission`` (an organization whose members may push).
        """
        with self._lock:
            owner_login, _, name = full_name.partition("/")
            owner = self._org(owner_login)
            bare = Bare.init(self.root / owner_login / f"{name}.git", default_branch)
            repo = Repo(
                id=next(self._ids),
                owner=owner,
                name=name,
                bare=bare,
                default_branch=default_branch,
                created_at=self.now(),
                permissions=dict(permissions or {}),
                default_permission=default_permission,
            )
            self._repos[full_name] = repo
            self._numbers[full_name] = itertools.count(1)
            files = {"README.md": f"# {name}\n"} if initial_files is None else initial_files
            self.commit(full_name, default_branch, files, message="Initial commit", author=owner)
            return repo

    def repo(self, full_name: str) -> Repo:
        return self._repos[full_name]

    def commit(
        self,
        full_name: str,
        branch: str,
        files: Mapping[str, str | bytes | None],
        *,
        message: str = "Change files",
        author: User | str | None = None,
        committer: User | str | None = None,
        from_branch: str | None = None,
        when: datetime | None = None,
    ) -> str:
        """Commit ``files`` (path -> content, None deletes) on ``branch``; returns the sha.

        A new branch starts at ``from_branch`` (default: the default branch). ``author`` is a
        registered user (their first email, else their noreply address) or a 'Name <email>'.
        """
        with self._lock:
            repo = self._repos[full_name]
            bare = repo.bare
            current = bare.resolve(f"refs/heads/{branch}")
            parent = current or bare.resolve(f"refs/heads/{from_branch or repo.default_branch}")
            changes: list[tuple[str, str, str | None]] = []
            for path, content in files.items():
                if content is None:
                    changes.append((path, "100644", None))
                    continue
                data = content.encode("utf-8") if isinstance(content, str) else content
                changes.append((path, "100644", bare.write_blob(data)))
            tree = bare.build_tree(bare.tree_of(parent) if parent else None, changes)
            date = when or self.now()
            who = self._person(author, date)
            sha = bare.commit_tree(
                tree,
                [parent] if parent else [],
                message,
                who,
                self._person(committer, date) if committer else who,
            )
            bare.update_ref(f"refs/heads/{branch}", sha, current or ZERO_SHA)
            return sha

    def _person(self, who: User | str | None, date: datetime) -> Person:
        if who is None:
            return Person("Test Author", "author@example.invalid", date)
        if isinstance(who, User):
            return Person(who.name or who.login, (who.emails or [who.noreply_email])[0], date)
        match = re.fullmatch(r"(.*) <(.*)>", who)
        if match is None:
            raise ValueError(f"author must be a User or 'Name <email>', got {who!r}")
        return Person(match.group(1), match.group(2), date)

    def set_permission(self, full_name: str, login: str, permission: str) -> None:
        with self._lock:
            self._repos[full_name].permissions[login] = permission

    def protect_branch(self, full_name: str, branch: str, protection: Protection) -> None:
        with self._lock:
            self._repos[full_name].protections[branch] = protection

    def add_ruleset(
        self,
        full_name: str,
        name: str,
        *,
        rules: Sequence[Mapping[str, Any]],
        enforcement: str = "active",
        include: Sequence[str] = ("~DEFAULT_BRANCH",),
        exclude: Sequence[str] = (),
        bypass_actors: Sequence[Mapping[str, Any]] = (),
    ) -> Ruleset:
        """A branch ruleset; ``rules`` in GitHub's shape, e.g. ``{"type": "pull_request",
        "parameters": {...}}``. An active ``required_status_checks`` rule gates merges."""
        with self._lock:
            ruleset = Ruleset(
                id=next(self._ids),
                name=name,
                enforcement=enforcement,
                target="branch",
                conditions={"ref_name": {"include": list(include), "exclude": list(exclude)}},
                rules=[dict(rule) for rule in rules],
                bypass_actors=[dict(actor) for actor in bypass_actors],
                created_at=self.now(),
            )
            self._repos[full_name].rulesets.append(ruleset)
            return ruleset

    def set_workflow_permissions(
        self, full_name: str, *, default: str = "read", can_approve: bool = False
    ) -> None:
        with self._lock:
            repo = self._repos[full_name]
            repo.default_workflow_permissions = default
            repo.can_approve_pull_request_reviews = can_approve

    # -- harness: faults -----------------------------------------------------------------------

    def fail_next(
        self,
        path: str | re.Pattern[str],
        status: int,
        *,
        times: int = 1,
        method: str | None = None,
        retry_after: int | None = None,
        rate_limited: bool = False,
        reset_in: int = 1,
        message: str | None = None,
    ) -> None:
        """The next ``times`` requests to ``path`` (exact, or a regex) answer ``status``.

        ``retry_after`` adds a Retry-After header (secondary rate limits); ``rate_limited``
        answers as an exhausted primary rate limit: X-RateLimit-Remaining 0 and a Reset
        ``reset_in`` seconds from now.
        """
        secondary = (
            "You have exceeded a secondary rate limit. Please wait a few minutes before you "
            "try again."
        )
        default = {
            403: "API rate limit exceeded for user." if rate_limited else secondary,
            429: "API rate limit exceeded for user.",
            502: "Server Error",
            503: "Service Unavailable",
        }.get(status, "Server Error")
        with self._lock:
            self._faults.append(
                Fault(
                    path,
                    status,
                    times,
                    method,
                    retry_after,
                    rate_limited,
                    reset_in,
                    message or default,
                )
            )

    # -- the HTTP boundary ---------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], raw_body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: (status, headers, body). Called by the HTTP handler thread."""
        parsed = urllib.parse.urlsplit(raw_path)
        path = urllib.parse.unquote(parsed.path)
        if path != "/" and path.endswith("/"):
            path = path[:-1]
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        with self._lock:
            user = self._authenticate(headers)
            route, params = self._match(method, path)
            answer = self._answer(
                method, path, parsed.query, query, headers, raw_body, user, route, params
            )
            out_headers = self._rate_headers(user, answer)
            out_headers["X-GitHub-Api-Version-Selected"] = schemas.API_VERSION
            out_headers["X-GitHub-Media-Type"] = "github.v3; format=json"
            out_headers.update(answer.headers)
            payload = b""
            if answer.body is not None:
                payload = json.dumps(answer.body).encode("utf-8")
                out_headers["Content-Type"] = "application/json; charset=utf-8"
            self.calls.append(Call(method, path, answer.status, user.login if user else None))
            return answer.status, out_headers, payload

    def _answer(
        self,
        method: str,
        path: str,
        raw_query: str,
        query: dict[str, str],
        headers: Mapping[str, str],
        raw_body: bytes,
        user: User | None,
        route: Route | None,
        params: dict[str, str],
    ) -> Answer:
        try:
            answer = self._dispatch(method, path, query, headers, raw_body, user, route, params)
        except ApiError as error:
            answer = Answer(error.status, error.body(), error.headers)
        except Exception:
            # A bug in the emulator: say so loudly rather than answer something plausible.
            detail = traceback.format_exc()
            self.schema_violations.append(f"{method} {path}: emulator error\n{detail}")
            return Answer(500, {"message": f"emulator error:\n{detail}", "documentation_url": DOCS})
        if self.check_schemas and route is not None and answer.body is not None:
            expression = (
                route.model if 200 <= answer.status < 300 else route.error_model(answer.status)
            )
            if expression is not None:
                try:
                    schemas.check(
                        expression, answer.body, what=f"{method} {path} ({answer.status})"
                    )
                except schemas.SchemaViolation as violation:
                    self.schema_violations.append(str(violation))
                    return Answer(
                        500,
                        {
                            "message": f"emulator schema violation: {violation}",
                            "documentation_url": DOCS,
                        },
                    )
        return answer

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Mapping[str, str],
        raw_body: bytes,
        user: User | None,
        route: Route | None,
        params: dict[str, str],
    ) -> Answer:
        version = headers.get("x-github-api-version")
        if version is not None and version != schemas.API_VERSION:
            raise ApiError(
                400,
                f"The emulator serves API version {schemas.API_VERSION} only, not {version!r}.",
            )
        for fault in self._faults:
            if fault.times > 0 and fault.matches(method, path):
                fault.times -= 1
                fault_headers: dict[str, str] = {}
                if fault.retry_after is not None:
                    fault_headers["Retry-After"] = str(fault.retry_after)
                if fault.rate_limited:
                    fault_headers["X-RateLimit-Remaining"] = "0"
                    fault_headers["X-RateLimit-Reset"] = str(int(time.time()) + fault.reset_in)
                raise ApiError(fault.status, fault.message, headers=fault_headers)
        if user is None:
            has_auth = "authorization" in headers
            raise ApiError(401, "Bad credentials" if has_auth else "Requires authentication")
        if route is None:
            raise ApiError(404, "Not Found")
        if user.jwt != (route.handler in _JWT_HANDLERS):
            raise ApiError(
                401,
                "A JSON web token could not be decoded"
                if route.handler in _JWT_HANDLERS
                else "This endpoint needs an installation access token, not the App's JWT.",
            )
        body: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError as exc:
                raise ApiError(400, "Problems parsing JSON") from exc
        handler: Callable[[Request], Answer] = getattr(self, "h_" + route.handler)
        return handler(Request(method, path, params, query, body, user, route))

    def _authenticate(self, headers: Mapping[str, str]) -> User | None:
        value = headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            return None
        token = token.strip()
        user = self._tokens.get(token)
        if user is None:
            return self._app_by_jwt(token)
        expiry = self._token_expiry.get(token)
        if expiry is not None and self.now() >= expiry:
            return None  # an installation token lives one hour
        return user

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route, pattern in self._routes:
            if route.method != method:
                continue
            found = pattern.match(path)
            if found is not None:
                return route, found.groupdict()
        return None, {}

    def _rate_headers(self, user: User | None, answer: Answer) -> dict[str, str]:
        key = user.token if user else "anonymous"
        used = self._usage.get(key, 0) + 1
        self._usage[key] = used
        if time.time() > self._rate_reset:
            self._rate_reset = int(time.time()) + 3600
        return {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(max(RATE_LIMIT - used, 0)),
            "X-RateLimit-Reset": str(self._rate_reset),
            "X-RateLimit-Used": str(used),
            "X-RateLimit-Resource": "core",
        }

    # -- git over HTTP, and the rules GitHub applies to pushes (tests/github/githttp.py) -------

    @property
    def _hooks(self) -> Path:
        """The pre-receive hook of pushes over HTTP (not of the harness's file:// pushes)."""
        return self.root / ".emulator-hooks"

    def git_url(self, full_name: str) -> str:
        """Where plain git clones, fetches and pushes ``full_name``: HTTP with a token."""
        return f"{self.url}/{full_name}.git"

    def git_env(self, user: User) -> dict[str, str]:
        """Environment variables for plain git acting as ``user`` over HTTP: the token as a
        basic-auth header for the emulator's URL (as engine/adapters/remote.py sends it), no
        prompt, nothing written to any config file."""
        basic = base64.b64encode(f"x-access-token:{user.token}".encode()).decode("ascii")
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.{self.url}/.extraheader",
            "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
            "GIT_TERMINAL_PROMPT": "0",
        }

    def serve_git(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """One smart-HTTP request: authenticate the token, check access, run http-backend."""
        parsed = urllib.parse.urlsplit(raw_path)
        path = urllib.parse.unquote(parsed.path)
        match = githttp.GIT_PATH.match(path)
        assert match is not None, path
        service = match["rest"]
        if service == "info/refs":
            service = urllib.parse.parse_qs(parsed.query).get("service", [""])[-1]
        plain = {"Content-Type": "text/plain; charset=utf-8"}
        push_key: str | None = None
        with self._lock:
            token = githttp.basic_token(headers.get("authorization", ""))
            user = self._tokens.get(token) if token else None
            full_name = f"{match['owner']}/{match['name']}"
            repo = self._repos.get(full_name)
            refusal: tuple[int, dict[str, str], bytes] | None = None
            if user is None:
                refusal = (
                    401,
                    {"WWW-Authenticate": 'Basic realm="GitHub"', **plain},
                    b"Invalid username or token. Password authentication is not supported "
                    b"for Git operations.\n"
                    if token
                    else b"",
                )
            elif repo is None or self._permission(repo, user) is None:
                refusal = (404, plain, b"Repository not found.\n")
            elif service not in ("git-upload-pack", "git-receive-pack"):
                refusal = (403, plain, b"Only the smart HTTP protocol is served.\n")
            elif service == "git-receive-pack" and not self._can_push(repo, user):
                refusal = (
                    403,
                    plain,
                    f"Permission to {full_name}.git denied to {user.login}.\n".encode(),
                )
            if refusal is not None:
                self.calls.append(Call(method, path, refusal[0], user.login if user else None))
                return refusal
            assert user is not None
            if match["rest"] == "git-receive-pack":
                push_key = githttp.new_push_key()
                self._pushes[push_key] = githttp.Push(full_name, user.login)
        # Not under the lock: the pre-receive hook asks the emulator over HTTP.
        try:
            status, out, payload = githttp.run_backend(
                root=self.root,
                hooks=self._hooks,
                path_info=f"/{full_name}.git/{match['rest']}",
                method=method,
                query=parsed.query,
                headers=headers,
                body=body,
                login=user.login,
                emulator_url=self.url,
                push_key=push_key,
            )
        finally:
            with self._lock:
                push = self._pushes.pop(push_key, None) if push_key else None
        if push is not None and push.declined is not None and status == 200:
            sent = gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body
            payload = githttp.rewrite_declined(
                payload, push.declined, sideband=githttp.wants_sideband(sent)
            )
        with self._lock:
            self.calls.append(Call(method, path, status, user.login))
        return status, out, payload

    def _can_push(self, repo: Repo, user: User) -> bool:
        order = ["read", "triage", "write", "maintain", "admin"]
        have = self._permission(repo, user) or "read"
        return order.index(have) >= order.index("write")

    def _api_push_rules(
        self, repo: Repo, user: User, ref: str, old: str, new: str, *, fast_forward: bool
    ) -> None:
        """The git refs API meets the same rules as a push (GitHub applies rulesets there
        too); a refusal is a 422 in the words of the merge route."""
        check = self.push_check(repo, user, ref, old, new, fast_forward=fast_forward)
        if check.rules:
            raise ApiError(
                422, "Repository rule violations found\n\n" + "\n\n".join(check.rules) + "\n\n"
            )
        if check.protection:
            raise ApiError(422, check.protection[0])

    def pre_receive(self, raw_body: bytes) -> tuple[int, dict[str, str], bytes]:
        """The pre-receive hook's question: may this push land? Answers GitHub's words."""
        data = json.loads(raw_body)
        with self._lock:
            push = self._pushes.get(str(data.get("push", "")))
            if push is None:
                return 403, {}, b'{"allow": false, "message": "unknown push"}'
            repo, user = self._repos[push.repo], self._users[push.login]
            text = ""
            declined: str | None = None
            for update in data["updates"]:
                check = self.push_check(
                    repo,
                    user,
                    update["ref"],
                    update["old"],
                    update["new"],
                    fast_forward=bool(update["fast_forward"]),
                    merges=bool(update["merges"]),
                )
                ref = update["ref"]
                if check.rules:
                    declined = githttp.RULESET_DECLINED
                    where = urllib.parse.quote(ref, safe="")
                    text += (
                        f"error: GH013: Repository rule violations found for {ref}.\n"
                        f"Review all repository rules at {WEB}/{repo.full_name}/rules?ref={where}"
                        "\n\n" + "".join(f"- {reason}\n\n" for reason in check.rules)
                    )
                elif check.protection:
                    declined = declined or githttp.PROTECTION_DECLINED
                    text += f"error: GH006: Protected branch update failed for {ref}.\n\n" + (
                        "".join(f"- {reason}\n" for reason in check.protection) + "\n"
                    )
                if check.bypassed and not check.rules and not check.protection:
                    text += f"Bypassed rule violations for {ref}:\n\n" + "".join(
                        f"- {reason}\n\n" for reason in check.bypassed
                    )
            push.declined = declined
            push.messages.append(text)
            if declined is None:
                # The push lands: a force push to a pull request's branch shows on its timeline.
                for update in data["updates"]:
                    before = None if set(update["old"]) == {"0"} else update["old"]
                    self.note_push(repo, update["ref"], before, update["new"], user)
            answer = {"allow": declined is None, "message": text}
            return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    def push_check(
        self,
        repo: Repo,
        user: User,
        ref: str,
        old: str,
        new: str,
        *,
        fast_forward: bool,
        merges: bool = False,
    ) -> PushCheck:
        """What GitHub's rules say about ``user`` moving ``ref`` from ``old`` to ``new``
        (a zero sha: created or deleted), over git or the git refs API."""
        if not ref.startswith("refs/heads/"):
            return PushCheck()
        branch = ref.removeprefix("refs/heads/")
        change = PushChange(
            creating=old == ZERO_SHA,
            deleting=new == ZERO_SHA,
            forced=old != ZERO_SHA and new != ZERO_SHA and not fast_forward,
            merges=merges,
            sha=new,
        )
        rules: list[str] = []
        bypassed: list[str] = []
        for ruleset in self._active_rulesets(repo, branch):
            into = bypassed if self._bypasses(repo, ruleset, user, push=True) else rules
            for reason in self._ruleset_reasons(repo, ruleset, change):
                if reason not in into:
                    into.append(reason)
        return PushCheck(
            tuple(rules), self._protection_reasons(repo, user, branch, change), tuple(bypassed)
        )

    def _ruleset_reasons(self, repo: Repo, ruleset: Ruleset, change: PushChange) -> list[str]:
        """Why ``ruleset`` refuses ``change``, in GitHub's words (nothing: allowed)."""
        reasons: list[str] = []
        updating = not change.creating and not change.deleting
        for rule in ruleset.rules:
            kind, parameters = rule.get("type"), rule.get("parameters") or {}
            if kind == "creation" and change.creating:
                reasons.append("Cannot create ref due to creations being restricted.")
            elif kind == "update" and updating:
                reasons.append("Cannot update this protected ref.")
            elif kind == "deletion" and change.deleting:
                reasons.append("Cannot delete this branch")
            elif kind == "non_fast_forward" and change.forced:
                reasons.append("Cannot force-push to this branch")
            elif kind == "pull_request" and updating:
                reasons.append("Changes must be made through a pull request.")
            elif kind == "required_linear_history" and change.merges:
                reasons.append("This branch must not contain merge commits.")
            elif kind == "required_status_checks" and (
                updating
                or (change.creating and not parameters.get("do_not_enforce_on_create"))
            ):
                checks = [
                    RequiredCheck(item["context"], item.get("integration_id"))
                    for item in parameters.get("required_status_checks", [])
                ]
                reasons += self._check_reasons(repo, change.sha, checks)
        return reasons

    def _check_reasons(self, repo: Repo, sha: str, checks: Sequence[RequiredCheck]) -> list[str]:
        reasons = []
        for check in checks:
            state = self._check_state(repo, sha, check)
            if state != "success":
                words = {"pending": "in progress", "failure": "failing"}.get(state, state)
                reasons.append(f'Required status check "{check.context}" is {words}.')
        return reasons

    def _protection_reasons(
        self, repo: Repo, user: User, branch: str, change: PushChange
    ) -> tuple[str, ...]:
        """Why classic branch protection refuses ``change`` (GH006), in GitHub's words."""
        protection = repo.protections.get(branch)
        if protection is None:
            return ()
        if self._permission(repo, user) == "admin" and not protection.enforce_admins:
            return ()
        reasons: list[str] = []
        updating = not change.creating and not change.deleting
        if change.forced and not protection.allow_force_pushes:
            reasons.append("Cannot force-push to this branch")
        if change.deleting and not protection.allow_deletions:
            reasons.append("Cannot delete this branch")
        if change.merges and protection.required_linear_history:
            reasons.append("This branch must not contain merge commits.")
        if updating and not change.forced:
            if (
                protection.required_approving_review_count is not None
                and user.login not in protection.bypass_users
            ):
                reasons.append("Changes must be made through a pull request.")
            else:
                reasons += self._check_reasons(repo, change.sha, protection.required_checks)
        return tuple(reasons)

    def _bypasses(self, repo: Repo, ruleset: Ruleset, user: User | None, *, push: bool) -> bool:
        """Whether ``user`` is one of ``ruleset``'s bypass actors (for a push, an actor that
        may bypass through pull requests only does not count)."""
        if user is None:
            return False
        permission = self._permission(repo, user)
        for actor in ruleset.bypass_actors:
            if push and actor.get("bypass_mode", "always") == "pull_request":
                continue
            kind, actor_id = actor.get("actor_type"), actor.get("actor_id")
            if kind == "Integration" and user.app is not None and user.app.id == actor_id:
                return True
            if kind == "RepositoryRole" and REPOSITORY_ROLE_IDS.get(permission or "") == actor_id:
                return True
            if kind == "Team" and any(
                team.id == actor_id and user.login in team.members for team in self._teams.values()
            ):
                return True
        return False

    # -- helpers for handlers ------------------------------------------------------------------

    def _repo(self, request: Request) -> Repo:
        full = f"{request.params['owner']}/{request.params['repo']}"
        repo = self._repos.get(full)
        if repo is None or self._permission(repo, request.user) is None:
            raise ApiError(404, "Not Found")
        return repo

    def _permission(self, repo: Repo, user: User) -> str | None:
        if user.login == repo.owner.login:
            return "admin"
        if user.login in repo.permissions:
            return repo.permissions[user.login]
        if user.app is not None:
            # An installation token: what the App was granted on its installation.
            return "write" if user.app.permissions.get("contents") == "write" else "read"
        return repo.default_permission

    def _require(self, repo: Repo, user: User, level: str) -> None:
        order = ["read", "triage", "write", "maintain", "admin"]
        have = self._permission(repo, user) or "none"
        if have == "none" or order.index(have) < order.index(level):
            raise ApiError(
                403,
                "Resource not accessible by integration"
                if user.app
                else f"Must have {level} access to repository.",
            )

    def _pull(self, repo: Repo, number: str) -> Pull:
        pull = self._pulls.get((repo.full_name, int(number))) if number.isdigit() else None
        if pull is None:
            raise ApiError(404, "Not Found")
        self._refresh(pull)
        return pull

    def _refresh(self, pull: Pull) -> None:
        """An open pull request follows its branches, as GitHub does on every push."""
        if pull.state != "open":
            return
        bare = pull.repo.bare
        head = bare.resolve(f"refs/heads/{pull.head_ref}")
        if head is not None and head != pull.head_sha:
            pull.head_sha = head
            bare.update_ref(f"refs/pull/{pull.number}/head", head)
        base = bare.resolve(f"refs/heads/{pull.base_ref}")
        if base is not None:
            pull.base_sha = base

    def _page(self, request: Request, items: Sequence[Any]) -> Answer:
        """One page of ``items`` with GitHub's Link header (per_page default 30, max 100)."""
        try:
            per_page = min(max(int(request.query.get("per_page", "30")), 1), 100)
            page = max(int(request.query.get("page", "1")), 1)
        except ValueError as exc:
            raise ApiError(422, "Invalid request.\n\nper_page and page must be integers.") from exc
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = list(items[(page - 1) * per_page : page * per_page])
        links: list[str] = []

        def link(number: int, rel: str) -> str:
            query = dict(request.query, per_page=str(per_page), page=str(number))
            quoted = urllib.parse.quote(request.path)
            return f'<{self.url}{quoted}?{urllib.parse.urlencode(query)}>; rel="{rel}"'

        if page > 1:
            links.append(link(page - 1, "prev"))
        if page < last:
            links.append(link(page + 1, "next"))
            links.append(link(last, "last"))
        if page > 1:
            links.append(link(1, "first"))
        headers = {"Link": ", ".join(links)} if links else {}
        return Answer(200, chunk, headers)

    def _user_by_email(self, email: str) -> User | None:
        for user in self._users.values():
            if email == user.noreply_email or email in user.emails:
                return user
        return None

    def _association(self, repo: Repo, user: User) -> str:
        if user.login == repo.owner.login:
            return "OWNER"
        if any(
            team.org is repo.owner and user.login in team.members for team in self._teams.values()
        ):
            return "MEMBER"
        if user.login in repo.permissions:
            return "COLLABORATOR"
        return "CONTRIBUTOR" if user.type == "User" else "NONE"

    def _body(self, request: Request) -> dict[str, Any]:
        if request.body is None:
            return {}
        if not isinstance(request.body, dict):
            raise ApiError(400, "Problems parsing JSON")
        return request.body

    def _commit_sha(self, repo: Repo, ref: str) -> str:
        sha = repo.bare.commit_of(ref)
        if sha is None:
            raise ApiError(422, f"No commit found for SHA: {ref}")
        return sha

    # -- JSON shapes ---------------------------------------------------------------------------

    def j_user(self, user: User) -> dict[str, Any]:
        api = f"{self.url}/users/{user.login}"
        return {
            "login": user.login,
            "id": user.id,
            "node_id": f"U_emulator{user.id}",
            "avatar_url": f"{WEB}/avatars/u/{user.id}",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{WEB}/{user.login}"
            if user.type != "Bot"
            else f"{WEB}/apps/{user.app.slug if user.app else user.login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": user.type,
            "site_admin": user.site_admin,
        }

    def j_app(self, app: App) -> dict[str, Any]:
        owner = self._users.get(app.owner)
        return {
            "id": app.id,
            "slug": app.slug,
            "node_id": f"A_emulator{app.id}",
            "owner": self.j_user(owner) if owner else self.j_user(self._org(app.owner)),
            "name": app.name,
            "description": None,
            "external_url": f"{WEB}/apps/{app.slug}",
            "html_url": f"{WEB}/apps/{app.slug}",
            "created_at": iso(app.created_at),
            "updated_at": iso(app.created_at),
            "permissions": dict(app.permissions),
            "events": [],
        }

    def _repo_urls(self, repo: Repo) -> dict[str, Any]:
        base = f"{self.url}/repos/{repo.full_name}"
        return {
            "html_url": f"{WEB}/{repo.full_name}",
            "url": base,
            "archive_url": base + "/{archive_format}{/ref}",
            "assignees_url": base + "/assignees{/user}",
            "blobs_url": base + "/git/blobs{/sha}",
            "branches_url": base + "/branches{/branch}",
            "collaborators_url": base + "/collaborators{/collaborator}",
            "comments_url": base + "/comments{/number}",
            "commits_url": base + "/commits{/sha}",
            "compare_url": base + "/compare/{base}...{head}",
            "contents_url": base + "/contents/{+path}",
            "contributors_url": base + "/contributors",
            "deployments_url": base + "/deployments",
            "downloads_url": base + "/downloads",
            "events_url": base + "/events",
            "forks_url": base + "/forks",
            "git_commits_url": base + "/git/commits{/sha}",
            "git_refs_url": base + "/git/refs{/sha}",
            "git_tags_url": base + "/git/tags{/sha}",
            "issue_comment_url": base + "/issues/comments{/number}",
            "issue_events_url": base + "/issues/events{/number}",
            "issues_url": base + "/issues{/number}",
            "keys_url": base + "/keys{/key_id}",
            "labels_url": base + "/labels{/name}",
            "languages_url": base + "/languages",
            "merges_url": base + "/merges",
            "milestones_url": base + "/milestones{/number}",
            "notifications_url": base + "/notifications{?since,all,participating}",
            "pulls_url": base + "/pulls{/number}",
            "releases_url": base + "/releases{/id}",
            "stargazers_url": base + "/stargazers",
            "statuses_url": base + "/statuses/{sha}",
            "subscribers_url": base + "/subscribers",
            "subscription_url": base + "/subscription",
            "tags_url": base + "/tags",
            "teams_url": base + "/teams",
            "trees_url": base + "/git/trees{/sha}",
            "hooks_url": base + "/hooks",
            # Real clone locations: git over HTTP with a token, as on GitHub (githttp.py).
            "git_url": self.git_url(repo.full_name),
            "ssh_url": self.git_url(repo.full_name),
            "clone_url": self.git_url(repo.full_name),
            "svn_url": f"{WEB}/{repo.full_name}",
        }

    def j_repo(self, repo: Repo, kind: str, user: User | None = None) -> dict[str, Any]:
        """A repository as FullRepository ('full'), Repository ('repository') or
        MinimalRepository ('minimal')."""
        pushed = repo.bare.resolve(f"refs/heads/{repo.default_branch}")
        body: dict[str, Any] = {
            "id": repo.id,
            "node_id": f"R_emulator{repo.id}",
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": self.j_user(repo.owner),
            "private": repo.private,
            "description": None,
            "fork": False,
            **self._repo_urls(repo),
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "forks_count": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "size": 0,
            "default_branch": repo.default_branch,
            "open_issues_count": sum(
                1 for p in self._pulls.values() if p.repo is repo and p.state == "open"
            ),
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "visibility": "private" if repo.private else "public",
            "pushed_at": iso(repo.created_at if pushed else repo.created_at),
            "created_at": iso(repo.created_at),
            "updated_at": iso(repo.created_at),
            "license": None,
            "forks": 0,
            "open_issues": 0,
            "watchers": 0,
        }
        body["open_issues"] = body["open_issues_count"]
        if kind == "repository":
            body.pop("has_discussions")
        if kind == "full":
            body["subscribers_count"] = 0
            body["network_count"] = 0
            body["allow_merge_commit"] = True
            body["allow_squash_merge"] = True
            body["allow_rebase_merge"] = False
            body["delete_branch_on_merge"] = False
            if user is not None:
                level = self._permission(repo, user) or "read"
                order = ["read", "triage", "write", "maintain", "admin"]
                have = order.index(level)
                body["permissions"] = {
                    "admin": have >= 4,
                    "maintain": have >= 3,
                    "push": have >= 2,
                    "triage": have >= 1,
                    "pull": True,
                }
        return body

    def j_team(self, team: Team) -> dict[str, Any]:
        """A Team (what PullRequestSimple lists): TeamSimple plus its parent."""
        return {**self.j_team_simple(team), "parent": None}

    def j_team_simple(self, team: Team) -> dict[str, Any]:
        url = f"{self.url}/orgs/{team.org.login}/teams/{team.slug}"
        return {
            "id": team.id,
            "node_id": f"T_emulator{team.id}",
            "url": url,
            "members_url": url + "/members{/member}",
            "name": team.name,
            "description": None,
            "permission": "pull",
            "privacy": "closed",
            "notification_setting": "notifications_enabled",
            "html_url": f"{WEB}/orgs/{team.org.login}/teams/{team.slug}",
            "repositories_url": url + "/repos",
            "slug": team.slug,
            "type": "organization",
            "organization_id": team.org.id,
        }

    def j_pull(self, pull: Pull, *, full: bool) -> dict[str, Any]:
        repo = pull.repo
        base = f"{self.url}/repos/{repo.full_name}"
        url = f"{base}/pulls/{pull.number}"
        html = f"{WEB}/{repo.full_name}/pull/{pull.number}"

        def side(ref: str, sha: str | None) -> dict[str, Any]:
            return {
                "label": f"{repo.owner.login}:{ref}",
                "ref": ref,
                "repo": self.j_repo(repo, "repository"),
                "sha": sha,
                "user": self.j_user(repo.owner),
            }

        teams = [
            t
            for (org, slug), t in self._teams.items()
            if org == repo.owner.login and slug in pull.requested_teams
        ]
        body: dict[str, Any] = {
            "url": url,
            "id": pull.id,
            "node_id": f"PR_emulator{pull.id}",
            "html_url": html,
            "diff_url": html + ".diff",
            "patch_url": html + ".patch",
            "issue_url": f"{base}/issues/{pull.number}",
            "commits_url": url + "/commits",
            "review_comments_url": url + "/comments",
            "review_comment_url": base + "/pulls/comments{/number}",
            "comments_url": f"{base}/issues/{pull.number}/comments",
            "statuses_url": f"{base}/statuses/{pull.head_sha}",
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": self.j_user(pull.user),
            "body": pull.body,
            "labels": [],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": iso(pull.created_at),
            "updated_at": iso(pull.updated_at),
            "closed_at": iso(pull.closed_at),
            "merged_at": iso(pull.merged_at),
            "merge_commit_sha": pull.merge_commit_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [
                self.j_user(self._users[login]) for login in pull.requested_reviewers
            ],
            "requested_teams": [
                self.j_team_simple(team) if full else self.j_team(team) for team in teams
            ],
            "head": side(pull.head_ref, pull.head_sha),
            "base": side(pull.base_ref, pull.base_sha),
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "issue": {"href": f"{base}/issues/{pull.number}"},
                "comments": {"href": f"{base}/issues/{pull.number}/comments"},
                "review_comments": {"href": url + "/comments"},
                "review_comment": {"href": base + "/pulls/comments{/number}"},
                "commits": {"href": url + "/commits"},
                "statuses": {"href": f"{base}/statuses/{pull.head_sha}"},
            },
            "author_association": self._association(repo, pull.user),
            "auto_merge": None,
            "draft": pull.draft,
        }
        if full:
            bare = repo.bare
            mergeable: bool | None = None
            state = "unknown"
            if pull.state == "open":
                mergeable = bare.merge_tree(pull.base_sha, pull.head_sha) is not None
                if not mergeable:
                    state = "dirty"
                elif self._merge_blockers(pull, None):
                    state = "blocked"
                else:
                    state = "clean"
            commits = self._pull_commit_shas(pull)
            added, deleted, files = bare.numstat(pull.base_sha, pull.head_sha)
            body.update(
                {
                    "merged": pull.merged_at is not None,
                    "mergeable": mergeable,
                    "rebaseable": False,
                    "mergeable_state": state,
                    "merged_by": self.j_user(pull.merged_by) if pull.merged_by else None,
                    "comments": sum(
                        1 for c in self._comments if c.repo is repo and c.number == pull.number
                    ),
                    "review_comments": 0,
                    "maintainer_can_modify": pull.maintainer_can_modify,
                    "commits": len(commits),
                    "additions": added,
                    "deletions": deleted,
                    "changed_files": files,
                }
            )
        return body

    def _pull_commit_shas(self, pull: Pull) -> list[str]:
        return pull.repo.bare.rev_list("--reverse", pull.head_sha, f"^{pull.base_sha}")

    def j_review(self, review: Review) -> dict[str, Any]:
        repo = review.repo
        pull_url = f"{self.url}/repos/{repo.full_name}/pulls/{review.number}"
        html = f"{WEB}/{repo.full_name}/pull/{review.number}#pullrequestreview-{review.id}"
        body: dict[str, Any] = {
            "id": review.id,
            "node_id": f"PRR_emulator{review.id}",
            "user": self.j_user(review.user),
            "body": review.body,
            "state": review.state,
            "html_url": html,
            "pull_request_url": pull_url,
            "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
            "commit_id": review.commit_id,
            "author_association": self._association(repo, review.user),
        }
        if review.submitted_at is not None:
            body["submitted_at"] = iso(review.submitted_at)
        return body

    def j_comment(self, comment: Comment) -> dict[str, Any]:
        repo = comment.repo
        base = f"{self.url}/repos/{repo.full_name}"
        return {
            "id": comment.id,
            "node_id": f"IC_emulator{comment.id}",
            "url": f"{base}/issues/comments/{comment.id}",
            "html_url": f"{WEB}/{repo.full_name}/pull/{comment.number}#issuecomment-{comment.id}",
            "body": comment.body,
            "user": self.j_user(comment.user),
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.updated_at),
            "issue_url": f"{base}/issues/{comment.number}",
            "author_association": self._association(repo, comment.user),
            "performed_via_github_app": self.j_app(comment.user.app) if comment.user.app else None,
        }

    def j_check_run(self, run: CheckRunData) -> dict[str, Any]:
        repo = run.repo
        url = f"{self.url}/repos/{repo.full_name}/check-runs/{run.id}"
        pulls = [
            p
            for p in self._pulls.values()
            if p.repo is repo and p.state == "open" and p.head_sha == run.head_sha
        ]
        return {
            "id": run.id,
            "head_sha": run.head_sha,
            "node_id": f"CR_emulator{run.id}",
            "external_id": run.external_id,
            "url": url,
            "html_url": f"{WEB}/{repo.full_name}/runs/{run.id}",
            "details_url": run.details_url,
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": iso(run.started_at),
            "completed_at": iso(run.completed_at),
            "output": {
                "title": run.output.get("title"),
                "summary": run.output.get("summary"),
                "text": run.output.get("text"),
                "annotations_count": len(run.output.get("annotations") or []),
                "annotations_url": url + "/annotations",
            },
            "name": run.name,
            "check_suite": {"id": run.suite_id},
            "app": self.j_app(run.app),
            "pull_requests": [
                {
                    "id": p.id,
                    "number": p.number,
                    "url": f"{self.url}/repos/{repo.full_name}/pulls/{p.number}",
                    "head": {"ref": p.head_ref, "sha": p.head_sha, "repo": self._repo_min(repo)},
                    "base": {"ref": p.base_ref, "sha": p.base_sha, "repo": self._repo_min(repo)},
                }
                for p in pulls
            ],
        }

    def _repo_min(self, repo: Repo) -> dict[str, Any]:
        return {"id": repo.id, "url": f"{self.url}/repos/{repo.full_name}", "name": repo.name}

    def j_status(self, status: StatusData, *, simple: bool = False) -> dict[str, Any]:
        repo = status.repo
        body: dict[str, Any] = {
            "url": f"{self.url}/repos/{repo.full_name}/statuses/{status.sha}",
            "avatar_url": f"{WEB}/avatars/u/{status.creator.id}",
            "id": status.id,
            "node_id": f"SC_emulator{status.id}",
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": iso(status.created_at),
            "updated_at": iso(status.created_at),
        }
        if not simple:
            body["creator"] = self.j_user(status.creator)
        return body

    def j_ref(self, repo: Repo, ref: str, sha: str) -> dict[str, Any]:
        base = f"{self.url}/repos/{repo.full_name}"
        kind = repo.bare.object_type(sha) or "commit"
        return {
            "ref": ref,
            "node_id": f"REF_emulator{repo.id}_{urllib.parse.quote(ref, safe='')}",
            "url": f"{base}/git/{urllib.parse.quote(ref)}",
            "object": {"type": kind, "sha": sha, "url": f"{base}/git/{kind}s/{sha}"},
        }

    def j_git_commit(self, repo: Repo, sha: str) -> dict[str, Any]:
        info = repo.bare.read_commit(sha)
        base = f"{self.url}/repos/{repo.full_name}"

        def person(p: Person) -> dict[str, Any]:
            return {"date": iso(p.date), "email": p.email, "name": p.name}

        return {
            "sha": sha,
            "node_id": f"C_emulator{sha}",
            "url": f"{base}/git/commits/{sha}",
            "html_url": f"{WEB}/{repo.full_name}/commit/{sha}",
            "author": person(info.author),
            "committer": person(info.committer),
            "message": info.message.removesuffix("\n"),
            "tree": {"sha": info.tree, "url": f"{base}/git/trees/{info.tree}"},
            "parents": [
                {
                    "sha": p,
                    "url": f"{base}/git/commits/{p}",
                    "html_url": f"{WEB}/{repo.full_name}/commit/{p}",
                }
                for p in info.parents
            ],
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        }

    def j_commit(self, repo: Repo, sha: str) -> dict[str, Any]:
        """A commit as the commits API shows it: git data plus GitHub accounts."""
        info = repo.bare.read_commit(sha)
        base = f"{self.url}/repos/{repo.full_name}"
        author = self._user_by_email(info.author.email)
        committer = self._user_by_email(info.committer.email)

        def git_user(p: Person) -> dict[str, Any]:
            return {"name": p.name, "email": p.email, "date": iso(p.date)}

        return {
            "url": f"{base}/commits/{sha}",
            "sha": sha,
            "node_id": f"C_emulator{sha}",
            "html_url": f"{WEB}/{repo.full_name}/commit/{sha}",
            "comments_url": f"{base}/commits/{sha}/comments",
            "commit": {
                "url": f"{base}/git/commits/{sha}",
                "author": git_user(info.author),
                "committer": git_user(info.committer),
                "message": info.message.removesuffix("\n"),
                "comment_count": 0,
                "tree": {"sha": info.tree, "url": f"{base}/git/trees/{info.tree}"},
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": None,
                },
            },
            "author": self.j_user(author) if author else None,
            "committer": self.j_user(committer) if committer else None,
            "parents": [
                {
                    "sha": p,
                    "url": f"{base}/commits/{p}",
                    "html_url": f"{WEB}/{repo.full_name}/commit/{p}",
                }
                for p in info.parents
            ],
        }

    def j_tree(self, repo: Repo, sha: str, *, recursive: bool) -> dict[str, Any]:
        base = f"{self.url}/repos/{repo.full_name}"
        items: list[dict[str, Any]] = []
        for entry in repo.bare.tree_entries(sha, recursive=recursive):
            item: dict[str, Any] = {
                "path": entry.path,
                "mode": entry.mode,
                "type": entry.type,
                "sha": entry.sha,
            }
            if entry.type == "blob":
                item["size"] = entry.size
                item["url"] = f"{base}/git/blobs/{entry.sha}"
            elif entry.type == "tree":
                item["url"] = f"{base}/git/trees/{entry.sha}"
            items.append(item)
        return {"sha": sha, "url": f"{base}/git/trees/{sha}", "truncated": False, "tree": items}

    # -- handlers: repository and user ---------------------------------------------------------

    def h_get_user(self, request: Request) -> Answer:
        user = request.user
        body = self.j_user(user)
        body.update(
            {
                "name": user.name,
                "company": None,
                "blog": "",
                "location": None,
                "email": None,
                "hireable": None,
                "bio": None,
                "public_repos": 0,
                "public_gists": 0,
                "followers": 0,
                "following": 0,
                "created_at": iso(self.now()),
                "updated_at": iso(self.now()),
            }
        )
        return Answer(200, body)

    def h_get_repo(self, request: Request) -> Answer:
        return Answer(200, self.j_repo(self._repo(request), "full", request.user))

    # -- handlers: pull requests ---------------------------------------------------------------

    def h_create_pull(self, request: Request) -> Answer:
        repo = self._repo(request)
        body = self._body(request)
        title, head, base = body.get("title"), body.get("head"), body.get("base")
        missing = [
            name
            for name, value in (("title", title), ("head", head), ("base", base))
            if not isinstance(value, str) or not value
        ]
        if missing:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[field_error("PullRequest", name, "missing_field") for name in missing],
            )
        assert isinstance(head, str) and isinstance(base, str) and isinstance(title, str)
        head_ref = head.split(":", 1)[1] if ":" in head else head
        bare = repo.bare
        head_sha = bare.resolve(f"refs/heads/{head_ref}")
        base_sha = bare.resolve(f"refs/heads/{base}")
        errors = []
        if head_sha is None:
            errors.append(field_error("PullRequest", "head", "invalid"))
        if base_sha is None:
            errors.append(field_error("PullRequest", "base", "invalid"))
        if errors:
            raise ApiError(422, "Validation Failed", errors=errors)
        assert head_sha is not None and base_sha is not None
        if bare.is_ancestor(head_sha, base_sha):
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    field_error(
                        "PullRequest",
                        "",
                        "custom",
                        message=f"No commits between {base} and {head_ref}",
                    )
                ],
            )
        for other in self._pulls.values():
            if (
                other.repo is repo
                and other.state == "open"
                and other.head_ref == head_ref
                and other.base_ref == base
            ):
                raise ApiError(
                    422,
                    "Validation Failed",
                    errors=[
                        field_error(
                            "PullRequest",
                            "",
                            "custom",
                            message="A pull request already exists for "
                            f"{repo.owner.login}:{head_ref}.",
                        )
                    ],
                )
        now = self.now()
        number = next(self._numbers[repo.full_name])
        pull = Pull(
            number=number,
            id=next(self._ids),
            repo=repo,
            user=request.user,
            title=title,
            body=body.get("body"),
            head_ref=head_ref,
            base_ref=base,
            head_sha=head_sha,
            base_sha=base_sha,
            created_at=now,
            updated_at=now,
            draft=bool(body.get("draft")),
            maintainer_can_modify=bool(body.get("maintainer_can_modify", False)),
        )
        self._pulls[(repo.full_name, number)] = pull
        bare.update_ref(f"refs/pull/{number}/head", head_sha)
        return Answer(
            201,
            self.j_pull(pull, full=True),
            {"Location": f"{self.url}/repos/{repo.full_name}/pulls/{number}"},
        )

    def h_get_pull(self, request: Request) -> Answer:
        repo = self._repo(request)
        return Answer(200, self.j_pull(self._pull(repo, request.params["pull_number"]), full=True))

    def h_list_pulls(self, request: Request) -> Answer:
        repo = self._repo(request)
        state = request.query.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise ApiError(
                422, "Validation Failed", errors=[field_error("PullRequest", "state", "invalid")]
            )
        head = request.query.get("head")
        base = request.query.get("base")
        found = []
        for pull in self._pulls.values():
            if pull.repo is not repo:
                continue
            self._refresh(pull)
            if state != "all" and pull.state != state:
                continue
            if head is not None and head != f"{repo.owner.login}:{pull.head_ref}":
                continue
            if base is not None and base != pull.base_ref:
                continue
            found.append(pull)
        descending = request.query.get("direction", "desc") == "desc"
        found.sort(key=lambda p: p.number, reverse=descending)
        page = self._page(request, found)
        page.body = [self.j_pull(p, full=False) for p in page.body]
        return page

    def h_list_pull_commits(self, request: Request) -> Answer:
        repo = self._repo(request)
        pull = self._pull(repo, request.params["pull_number"])
        page = self._page(request, self._pull_commit_shas(pull)[:250])
        page.body = [self.j_commit(repo, sha) for sha in page.body]
        return page

    def _requirements(
        self, repo: Repo, branch: str, user: User | None
    ) -> tuple[list[RequiredCheck], list[tuple[int, bool]]]:
        """What merging into ``branch`` needs and ``user`` (None: nobody) cannot bypass:
        required checks, and (approvals, count only approvals of the head) pairs."""
        checks: list[RequiredCheck] = []
        approvals: list[tuple[int, bool]] = []
        admin = user is not None and self._permission(repo, user) == "admin"
        protection = repo.protections.get(branch)
        if protection is not None and not (admin and not protection.enforce_admins):
            checks.extend(protection.required_checks)
            if protection.required_approving_review_count:
                approvals.append(
                    (protection.required_approving_review_count, protection.dismiss_stale_reviews)
                )
        for ruleset in self._active_rulesets(repo, branch):
            if self._bypasses(repo, ruleset, user, push=False):
                continue
            for rule in ruleset.rules:
                parameters = rule.get("parameters") or {}
                if rule.get("type") == "required_status_checks":
                    checks.extend(
                        RequiredCheck(item["context"], item.get("integration_id"))
                        for item in parameters.get("required_status_checks", [])
                    )
                elif rule.get("type") == "pull_request" and parameters.get(
                    "required_approving_review_count"
                ):
                    approvals.append(
                        (
                            int(parameters["required_approving_review_count"]),
                            bool(parameters.get("dismiss_stale_reviews_on_push")),
                        )
                    )
        return checks, approvals

    def _active_rulesets(self, repo: Repo, branch: str) -> list[Ruleset]:
        def matches(pattern: str) -> bool:
            if pattern == "~ALL":
                return True
            if pattern == "~DEFAULT_BRANCH":
                return branch == repo.default_branch
            # fnmatch as GitHub applies it: '*' stays within one path segment, '**' does not.
            parts = re.split(r"(\*\*|\*)", pattern.removeprefix("refs/heads/"))
            regex = "".join(
                ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part)
                for part in parts
            )
            return re.fullmatch(regex, branch) is not None

        active = []
        for ruleset in repo.rulesets:
            if ruleset.enforcement != "active":
                continue
            ref_name = ruleset.conditions.get("ref_name", {})
            if any(matches(p) for p in ref_name.get("include", [])) and not any(
                matches(p) for p in ref_name.get("exclude", [])
            ):
                active.append(ruleset)
        return active

    def _check_state(self, repo: Repo, sha: str, check: RequiredCheck) -> str:
        """'success', 'failure', 'pending' or 'expected' (nothing reported) for a check."""
        runs = [
            r
            for r in self._check_runs
            if r.repo is repo
            and r.head_sha == sha
            and r.name == check.context
            and (check.app_id is None or r.app.id == check.app_id)
        ]
        if runs:
            latest = max(runs, key=lambda r: r.id)
            if latest.status != "completed":
                return "pending"
            return (
                "success" if latest.conclusion in ("success", "neutral", "skipped") else "failure"
            )
        if check.app_id is None:
            statuses = [
                s
                for s in self._statuses
                if s.repo is repo and s.sha == sha and s.context == check.context
            ]
            if statuses:
                state = max(statuses, key=lambda s: s.id).state
                return "failure" if state == "error" else state
        return "expected"

    def _approvals(self, pull: Pull, *, head_only: bool) -> int:
        """Approvals that count: each reviewer's latest decisive review, by someone with write."""
        latest: dict[str, Review] = {}
        for review in self._reviews:
            if review.repo is pull.repo and review.number == pull.number:
                if review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                    latest[review.user.login] = review
        return sum(
            1
            for review in latest.values()
            if review.state == "APPROVED"
            and (not head_only or review.commit_id == pull.head_sha)
            and self._permission(pull.repo, review.user) in ("write", "maintain", "admin")
        )

    def _merge_blockers(self, pull: Pull, user: User | None) -> list[str]:
        """Why ``user`` (None: anyone, no bypass) may not merge now, in GitHub's words."""
        blockers = []
        checks, approvals = self._requirements(pull.repo, pull.base_ref, user)
        for needed, head_only in approvals:
            if self._approvals(pull, head_only=head_only) < needed:
                blockers.append(
                    f"At least {needed} approving review{' is' if needed == 1 else 's are'} "
                    "required by reviewers with write access."
                )
        for check in checks:
            state = self._check_state(pull.repo, pull.head_sha, check)
            if state == "expected":
                blockers.append(f'Required status check "{check.context}" is expected.')
            elif state != "success":
                blockers.append(f'Required status check "{check.context}" is {state}.')
        return blockers

    def h_merge_pull(self, request: Request) -> Answer:
        repo = self._repo(request)
        self._require(repo, request.user, "write")
        pull = self._pull(repo, request.params["pull_number"])
        body = self._body(request)
        if pull.state != "open":
            raise ApiError(405, "Pull Request is not mergeable")
        expected = body.get("sha")
        if expected is not None and expected != pull.head_sha:
            raise ApiError(409, "Head branch was modified. Review and try the merge again.")
        blockers = self._merge_blockers(pull, request.user)
        if blockers:
            # GitHub words a ruleset refusal like this, one line per failed rule.
            message = (
                blockers[0]
                if len(blockers) == 1
                else "Repository rule violations found\n\n" + "\n\n".join(blockers) + "\n\n"
            )
            raise ApiError(405, message)
        method = body.get("merge_method", "merge")
        if method not in ("merge", "squash"):
            raise ApiError(405, f"Merge method {method!r} is not allowed on this repository.")
        bare = repo.bare
        tree = bare.merge_tree(pull.base_sha, pull.head_sha)
        if tree is None:
            raise ApiError(405, "Pull Request is not mergeable")
        now = self.now()
        author = Person(
            request.user.name or request.user.login,
            (request.user.emails or [request.user.noreply_email])[0],
            now,
        )
        committer = Person(*GITHUB_COMMITTER, now)
        if method == "merge":
            title = body.get("commit_title") or (
                f"Merge pull request #{pull.number} from {repo.owner.login}/{pull.head_ref}"
            )
            parents = [pull.base_sha, pull.head_sha]
            extra = body.get("commit_message", pull.title)
        else:
            title = body.get("commit_title") or f"{pull.title} (#{pull.number})"
            parents = [pull.base_sha]
            extra = body.get("commit_message", "")
        message = f"{title}\n\n{extra}\n" if extra else f"{title}\n"
        sha = bare.commit_tree(tree, parents, message, author, committer)
        try:
            bare.update_ref(f"refs/heads/{pull.base_ref}", sha, pull.base_sha)
        except GitError as exc:
            raise ApiError(
                409, "Base branch was modified. Review and try the merge again."
            ) from exc
        pull.state = "closed"
        pull.merged_at = pull.closed_at = pull.updated_at = now
        pull.merged_by = request.user
        pull.merge_commit_sha = sha
        return Answer(
            200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}
        )

    def h_commit_pulls(self, request: Request) -> Answer:
        repo = self._repo(request)
        sha = self._commit_sha(repo, request.params["commit_sha"])
        found = []
        for pull in self._pulls.values():
            if pull.repo is not repo:
                continue
            self._refresh(pull)
            if pull.merge_commit_sha == sha or (
                pull.state == "open" and sha in self._pull_commit_shas(pull)
            ):
                found.append(pull)
        page = self._page(request, found)
        page.body = [self.j_pull(p, full=False) for p in page.body]
        return page

    def h_get_commit(self, request: Request) -> Answer:
        repo = self._repo(request)
        sha = repo.bare.commit_of(request.params["ref"])
        if sha is None:
            raise ApiError(422, f"No commit found for SHA: {request.params['ref']}")
        return Answer(200, self.j_commit(repo, sha))

    # -- handlers: reviews ---------------------------------------------------------------------

    def h_list_reviews(self, request: Request) -> Answer:
        repo = self._repo(request)
        pull = self._pull(repo, request.params["pull_number"])
        reviews = [
            r
            for r in self._reviews
            if r.repo is repo
            and r.number == pull.number
            and (r.state != "PENDING" or r.user is request.user)
        ]
        page = self._page(request, reviews)
        page.body = [self.j_review(r) for r in page.body]
        return page

    def h_create_review(self, request: Request) -> Answer:
        repo = self._repo(request)
        pull = self._pull(repo, request.params["pull_number"])
        body = self._body(request)
        event = body.get("event")
        states = {
            "APPROVE": "APPROVED",
            "REQUEST_CHANGES": "CHANGES_REQUESTED",
            "COMMENT": "COMMENTED",
            None: "PENDING",
        }
        if event not in states:
            raise ApiError(
                422,
                "Unprocessable Entity",
                errors=[f"Invalid event {event!r}: use APPROVE, REQUEST_CHANGES or COMMENT"],
            )
        text = body.get("body") or ""
        # GitHub takes reviews on closed and merged pull requests too: a late approval exists.
        if request.user is pull.user and event == "APPROVE":
            raise ApiError(
                422, "Unprocessable Entity", errors=["Can not approve your own pull request"]
            )
        if request.user is pull.user and event == "REQUEST_CHANGES":
            raise ApiError(
                422,
                "Unprocessable Entity",
                errors=["Can not request changes on your own pull request"],
            )
        if (
            event == "APPROVE"
            and request.user.login == "github-actions[bot]"
            and not repo.can_approve_pull_request_reviews
        ):
            raise ApiError(
                422,
                "Unprocessable Entity",
                errors=["GitHub Actions is not permitted to approve pull requests."],
            )
        if event in ("REQUEST_CHANGES", "COMMENT") and not text:
            raise ApiError(
                422,
                "Unprocessable Entity",
                errors=[f"Review Can not {event.lower().replace('_', ' ')} without a body"],
            )
        commit_id = body.get("commit_id") or pull.head_sha
        if repo.bare.object_type(commit_id) != "commit":
            raise ApiError(
                422,
                "Unprocessable Entity",
                errors=[f"Commit {commit_id} is not part of the pull request"],
            )
        review = Review(
            id=next(self._ids),
            repo=repo,
            number=pull.number,
            user=request.user,
            body=text,
            state=states[event],
            commit_id=commit_id,
            submitted_at=None if event is None else self.now(),
        )
        self._reviews.append(review)
        if request.user.login in pull.requested_reviewers and event is not None:
            pull.requested_reviewers.remove(request.user.login)
        return Answer(200, self.j_review(review))

    def h_dismiss_review(self, request: Request) -> Answer:
        repo = self._repo(request)
        self._require(repo, request.user, "write")
        pull = self._pull(repo, request.params["pull_number"])
        review_id = request.params["review_id"]
        review = next(
            (
                r
                for r in self._reviews
                if r.repo is repo and r.number == pull.number and str(r.id) == review_id
            ),
            None,
        )
        if review is None:
            raise ApiError(404, "Not Found")
        body = self._body(request)
        if not body.get("message"):
            raise ApiError(422, "Unprocessable Entity", errors=["message is required"])
        if review.state not in ("APPROVED", "CHANGES_REQUESTED"):
            raise ApiError(
                422,
                "Unprocessable Entity",
                errors=["Can not dismiss a " + review.state.lower() + " pull request review"],
            )
        review.state = "DISMISSED"
        return Answer(200, self.j_review(review))

    def h_request_reviewers(self, request: Request) -> Answer:
        repo = self._repo(request)
        self._require(repo, request.user, "triage")
        pull = self._pull(repo, request.params["pull_number"])
        body = self._body(request)
        logins = list(body.get("reviewers") or [])
        slugs = list(body.get("team_reviewers") or [])
        if pull.user.login in logins:
            raise ApiError(422, "Review cannot be requested from pull request author.")
        unknown = [
            login
            for login in logins
            if login not in self._users or self._permission(repo, self._users[login]) is None
        ]
        unknown += [slug for slug in slugs if (repo.owner.login, slug) not in self._teams]
        if unknown:
            raise ApiError(
                422,
                "Reviews may only be requested from collaborators. One or more of the users or "
                f"teams you specified is not a collaborator of the {repo.full_name} repository.",
            )
        for login in logins:
            if login not in pull.requested_reviewers:
                pull.requested_reviewers.append(login)
        for slug in slugs:
            if slug not in pull.requested_teams:
                pull.requested_teams.append(slug)
        return Answer(201, self.j_pull(pull, full=False))

    # -- handlers: comments --------------------------------------------------------------------

    def _issue(self, repo: Repo, number: str) -> int:
        if not number.isdigit() or (repo.full_name, int(number)) not in self._pulls:
            raise ApiError(404, "Not Found")
        return int(number)

    def h_list_comments(self, request: Request) -> Answer:
        repo = self._repo(request)
        number = self._issue(repo, request.params["issue_number"])
        comments = [c for c in self._comments if c.repo is repo and c.number == number]
        page = self._page(request, comments)
        page.body = [self.j_comment(c) for c in page.body]
        return page

    def h_create_comment(self, request: Request) -> Answer:
        repo = self._repo(request)
        number = self._issue(repo, request.params["issue_number"])
        text = self._body(request).get("body")
        if not isinstance(text, str) or not text:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[field_error("IssueComment", "body", "missing_field")],
            )
        now = self.now()
        comment = Comment(next(self._ids), repo, number, request.user, text, now, now)
        self._comments.append(comment)
        url = f"{self.url}/repos/{repo.full_name}/issues/comments/{comment.id}"
        return Answer(201, self.j_comment(comment), {"Location": url})

    def h_update_comment(self, request: Request) -> Answer:
        repo = self._repo(request)
        comment_id = request.params["comment_id"]
        comment = next(
            (c for c in self._comments if c.repo is repo and str(c.id) == comment_id), None
        )
        if comment is None:
            raise ApiError(404, "Not Found")
        if comment.user is not request.user:
            self._require(repo, request.user, "write")
        text = self._body(request).get("body")
        if not isinstance(text, str) or not text:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[field_error("IssueComment", "body", "missing_field")],
            )
        comment.body = text
        comment.updated_at = self.now()
        return Answer(200, self.j_comment(comment))

    # -- handlers: checks and statuses ---------------------------------------------------------

    def _apply_check_fields(self, run: CheckRunData, body: Mapping[str, Any]) -> None:
        for name in ("details_url", "external_id"):
            if name in body:
                setattr(run, name, body[name])
        if "name" in body:
            run.name = str(body["name"])
        if "started_at" in body:
            run.started_at = _parse_time(body["started_at"], "started_at")
        if "output" in body:
            output = dict(body["output"] or {})
            if not output.get("title") or not output.get("summary"):
                raise ApiError(
                    422,
                    'Invalid request.\n\nNo subschema in "anyOf" matched.\n'
                    "output.title and output.summary are required.",
                )
            run.output = output
        status = body.get("status")
        conclusion = body.get("conclusion")
        if status is not None:
            if status not in (
                "queued",
                "in_progress",
                "completed",
                "waiting",
                "requested",
                "pending",
            ):
                raise ApiError(422, f"Invalid request.\n\n{status!r} is not a valid status.")
            run.status = status
        if conclusion is not None:
            if conclusion not in (
                "action_required",
                "cancelled",
                "failure",
                "neutral",
                "success",
                "skipped",
                "stale",
                "timed_out",
            ):
                raise ApiError(
                    422, f"Invalid request.\n\n{conclusion!r} is not a valid conclusion."
                )
            run.conclusion = conclusion
            run.status = "completed"
        if run.status == "completed":
            if run.conclusion is None:
                raise ApiError(
                    422, "Invalid request.\n\nconclusion is required when status is completed."
                )
            run.completed_at = (
                _parse_time(body["completed_at"], "completed_at")
                if "completed_at" in body
                else run.completed_at or self.now()
            )

    def h_create_check_run(self, request: Request) -> Answer:
        repo = self._repo(request)
        app = request.user.app
        if app is None:
            raise ApiError(403, "You must authenticate via a GitHub App.")
        if app.permissions.get("checks") != "write":
            raise ApiError(403, "Resource not accessible by integration")
        body = self._body(request)
        name, head_sha = body.get("name"), body.get("head_sha")
        if not isinstance(name, str) or not name or not isinstance(head_sha, str):
            raise ApiError(422, 'Invalid request.\n\n"name" and "head_sha" are required.')
        sha = repo.bare.commit_of(head_sha)
        if sha is None or sha != head_sha:
            raise ApiError(422, "No commit found for SHA: " + head_sha)
        suite = next(
            (
                r.suite_id
                for r in self._check_runs
                if r.repo is repo and r.head_sha == sha and r.app is app
            ),
            None,
        )
        run = CheckRunData(
            id=next(self._ids),
            repo=repo,
            app=app,
            head_sha=sha,
            name=name,
            status="queued",
            conclusion=None,
            started_at=self.now(),
            completed_at=None,
            details_url=None,
            external_id=None,
            output={},
            suite_id=suite or next(self._ids),
        )
        self._apply_check_fields(run, body)
        self._check_runs.append(run)
        return Answer(201, self.j_check_run(run))

    def h_update_check_run(self, request: Request) -> Answer:
        repo = self._repo(request)
        run_id = request.params["check_run_id"]
        run = next((r for r in self._check_runs if r.repo is repo and str(r.id) == run_id), None)
        if run is None:
            raise ApiError(404, "Not Found")
        if request.user.app is not run.app:
            raise ApiError(
                403,
                "Resource not accessible by integration"
                if request.user.app
                else "You must authenticate via a GitHub App.",
            )
        self._apply_check_fields(run, self._body(request))
        return Answer(200, self.j_check_run(run))

    def h_list_check_runs(self, request: Request) -> Answer:
        repo = self._repo(request)
        sha = self._commit_sha(repo, request.params["ref"])
        runs = [r for r in self._check_runs if r.repo is repo and r.head_sha == sha]
        if "check_name" in request.query:
            runs = [r for r in runs if r.name == request.query["check_name"]]
        if "status" in request.query:
            runs = [r for r in runs if r.status == request.query["status"]]
        if "app_id" in request.query:
            runs = [r for r in runs if str(r.app.id) == request.query["app_id"]]
        if request.query.get("filter", "latest") == "latest":
            latest: dict[tuple[int, str], CheckRunData] = {}
            for run in runs:
                latest[(run.app.id, run.name)] = run
            runs = list(latest.values())
        runs.sort(key=lambda r: r.id, reverse=True)
        page = self._page(request, runs)
        page.body = {
            "total_count": len(runs),
            "check_runs": [self.j_check_run(r) for r in page.body],
        }
        return page

    def h_create_status(self, request: Request) -> Answer:
        repo = self._repo(request)
        self._require(repo, request.user, "write")
        sha = request.params["sha"]
        if repo.bare.commit_of(sha) != sha:
            raise ApiError(
                422, "Validation Failed", errors=[field_error("Status", "sha", "invalid")]
            )
        body = self._body(request)
        state = body.get("state")
        if state not in ("error", "failure", "pending", "success"):
            raise ApiError(
                422, "Validation Failed", errors=[field_error("Status", "state", "invalid")]
            )
        status = StatusData(
            id=next(self._ids),
            repo=repo,
            sha=sha,
            state=state,
            context=str(body.get("context") or "default"),
            description=body.get("description"),
            target_url=body.get("target_url"),
            creator=request.user,
            created_at=self.now(),
        )
        self._statuses.append(status)
        return Answer(201, self.j_status(status))

    def h_combined_status(self, request: Request) -> Answer:
        repo = self._repo(request)
        sha = self._commit_sha(repo, request.params["ref"])
        latest: dict[str, StatusData] = {}
        for status in self._statuses:
            if status.repo is repo and status.sha == sha:
                latest[status.context] = status
        states = [s.state for s in latest.values()]
        if any(s in ("error", "failure") for s in states):
            combined = "failure"
        elif not states or "pending" in states:
            combined = "pending"
        else:
            combined = "success"
        base = f"{self.url}/repos/{repo.full_name}"
        items = sorted(latest.values(), key=lambda s: s.id, reverse=True)
        return Answer(
            200,
            {
                "state": combined,
                "statuses": [self.j_status(s, simple=True) for s in items],
                "sha": sha,
                "total_count": len(items),
                "repository": self.j_repo(repo, "minimal"),
                "commit_url": f"{base}/commits/{sha}",
                "url": f"{base}/commits/{sha}/status",
            },
        )

    def h_list_statuses(self, request: Request) -> Answer:
        repo = self._repo(request)
        sha = self._commit_sha(repo, request.params["ref"])
        # Newest first, every status (not only the latest per context), with its creator.
        items = [s for s in reversed(self._statuses) if s.repo is repo and s.sha == sha]
        page = self._page(request, items)
        page.body = [self.j_status(s) for s in page.body]
        return page

    # -- handlers: git data --------------------------------------------------------------------

    def h_get_ref(self, request: Request) -> Answer:
        repo = self._repo(request)
        ref = "refs/" + request.params["ref"]
        sha = repo.bare.ref_target(ref)
        if sha is None:
            raise ApiError(404, "Not Found")
        return Answer(200, self.j_ref(repo, ref, sha))

    def h_create_ref(self, request: Request) -> Answer:
        repo = self._repo(request)
        self._require(repo, request.user, "write")
        body = self._body(request)
        ref, sha = body.get("ref"), body.get("sha")
        if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
            raise ApiError(
                422, "Reference name must start with 'refs/' and have at least two slashes."
            )
        if not isinstance(sha, str) or repo.bare.object_type(sha) is None:
            raise ApiError(422, "Object does not exist")
        if repo.bare.ref_target(ref) is not None:
            raise ApiError(422, "Reference already exists")
        self._api_push_rules(repo, request.user, ref, ZERO_SHA, sha, fast_forward=True)
        repo.bare.update_ref(ref, sha, ZERO_SHA)
        return Answer(201, self.j_ref(repo, ref, sha))

    def h_update_ref(self, request: Request) -> Answer:
        repo = self._repo(request)
        self._require(repo, request.user, "write")
        ref = "refs/" + request.params["ref"]
        current = repo.bare.ref_target(ref)
        if current is None:
            raise ApiError(422, "Reference does not exist")
        body = self._body(request)
        sha = body.get("sha")
        if not isinstance(sha, str) or repo.bare.object_type(sha) != "commit":
            raise ApiError(422, "Object does not exist")
        force = bool(body.get("force", False))
        fast_forward = repo.bare.is_ancestor(current, sha)
        if not force and not fast_forward:
            raise ApiError(422, "Update is not a fast forward")
        self._api_push_rules(repo, request.user, ref, current, sha, fast_forward=fast_forward)
        try:
            repo.bare.update_ref(ref, sha, current)
        except GitError as exc:
            raise ApiError(409, "Reference update failed: the ref moved concurrently") from exc
        self.note_push(repo, ref, current, sha, request.user)
        return Answer(200, self.j_ref(repo, ref, sha))

    def h_create_blob(self, request: Request) -> Answer:
        repo = self._repo(request)
        self._require(repo, request.user, "write")
        body = self._body(request)
        content = body.get("content")
        encoding = body.get("encoding", "utf-8")
        if not isinstance(content, str):
            raise ApiError(422, 'Invalid request.\n\n"content" wasn\'t supplied.')
        if encoding == "base64":
            data = base64.b64decode(content)
        elif encoding == "utf-8":
            data = content.encode("utf-8")
        else:
            raise ApiError(422, f"Invalid request.\n\nencoding {encoding!r} is not supported.")
        sha = repo.bare.write_blob(data)
        url = f"{self.url}/repos/{repo.full_name}/git/blobs/{sha}"
        return Answer(201, {"url": url, "sha": sha}, {"Location": url})

    def h_get_blob(self, request: Request) -> Answer:
        repo = self._repo(request)
        sha = request.params["file_sha"]
        if repo.bare.object_type(sha) != "blob":
            raise ApiError(404, "Not Found")
        data = repo.bare.read_blob(sha)
        encoded = base64.encodebytes(data).decode("ascii")
        return Answer(
            200,
            {
                "content": encoded,
                "encoding": "base64",
                "url": f"{self.url}/repos/{repo.full_name}/git/blobs/{sha}",
                "sha": sha,
                "size": len(data),
                "node_id": f"B_emulator{sha}",
            },
        )

    def h_create_tree(self, request: Request) -> Answer:
        repo = self._repo(request)
        self._require(repo, request.user, "write")
        body = self._body(request)
        base_tree = body.get("base_tree")
        entries = body.get("tree")
        bare = repo.bare
        if base_tree is not None and bare.object_type(str(base_tree)) != "tree":
            raise ApiError(422, "Invalid request.\n\nbase_tree is not a valid tree.")
        if not isinstance(entries, list):
            raise ApiError(422, 'Invalid request.\n\n"tree" wasn\'t supplied.')
        changes: list[tuple[str, str, str | None]] = []
        for entry in entries:
            path, mode, kind = entry.get("path"), entry.get("mode"), entry.get("type", "blob")
            if mode not in ("100644", "100755", "120000") or kind != "blob":
                raise ApiError(
                    422,
                    "Invalid request.\n\nThe emulator writes blob entries "
                    f"(modes 100644, 100755, 120000) only, not {mode}/{kind}.",
                )
            if "content" in entry:
                changes.append((path, mode, bare.write_blob(str(entry["content"]).encode())))
            elif entry.get("sha") is None:
                if base_tree is None:
                    raise ApiError(
                        422,
                        "Invalid request.\n\nA null sha deletes a path of "
                        "base_tree; there is no base_tree.",
                    )
                changes.append((path, mode, None))
            else:
                if bare.object_type(entry["sha"]) != "blob":
                    raise ApiError(422, "tree.sha " + str(entry["sha"]) + " is not a valid blob")
                changes.append((path, mode, entry["sha"]))
        try:
            sha = bare.build_tree(base_tree, changes)
        except GitError as exc:
            raise ApiError(422, f"Invalid request.\n\n{exc}") from exc
        url = f"{self.url}/repos/{repo.full_name}/git/trees/{sha}"
        return Answer(201, self.j_tree(repo, sha, recursive=False), {"Location": url})

    def h_get_tree(self, request: Request) -> Answer:
        repo = self._repo(request)
        name = request.params["tree_sha"]
        sha = repo.bare.resolve(name) if repo.bare.object_type(name) else None
        if sha is not None and repo.bare.object_type(sha) == "commit":
            sha = repo.bare.tree_of(sha)
        if sha is None:
            commit = repo.bare.commit_of(name)
            sha = repo.bare.tree_of(commit) if commit else None
        if sha is None or repo.bare.object_type(sha) != "tree":
            raise ApiError(404, "Not Found")
        recursive = request.query.get("recursive") not in (None, "", "0", "false")
        return Answer(200, self.j_tree(repo, sha, recursive=recursive))

    def h_create_git_commit(self, request: Request) -> Answer:
        repo = self._repo(request)
        self._require(repo, request.user, "write")
        body = self._body(request)
        message, tree = body.get("message"), body.get("tree")
        parents = body.get("parents") or []
        bare = repo.bare
        if not isinstance(message, str) or not isinstance(tree, str):
            raise ApiError(422, 'Invalid request.\n\n"message" and "tree" are required.')
        if bare.object_type(tree) != "tree":
            raise ApiError(422, "Tree SHA does not exist")
        for parent in parents:
            if bare.object_type(parent) != "commit":
                raise ApiError(422, "Parent SHA does not exist or is not a commit object")
        now = self.now()
        user = request.user

        def person(given: Any, fallback: Person) -> Person:
            if not isinstance(given, dict):
                return fallback
            return Person(
                str(given.get("name") or fallback.name),
                str(given.get("email") or fallback.email),
                _parse_time(given["date"], "date") if given.get("date") else now,
            )

        default = Person(user.name or user.login, (user.emails or [user.noreply_email])[0], now)
        author = person(body.get("author"), default)
        committer = person(body.get("committer"), author if body.get("author") else default)
        sha = bare.commit_tree(tree, parents, message, author, committer)
        url = f"{self.url}/repos/{repo.full_name}/git/commits/{sha}"
        return Answer(201, self.j_git_commit(repo, sha), {"Location": url})

    def h_get_git_commit(self, request: Request) -> Answer:
        repo = self._repo(request)
        sha = request.params["commit_sha"]
        if repo.bare.object_type(sha) != "commit":
            raise ApiError(404, "Not Found")
        return Answer(200, self.j_git_commit(repo, repo.bare.out("rev-parse", sha)))

    def h_get_contents(self, request: Request) -> Answer:
        repo = self._repo(request)
        ref = request.query.get("ref") or repo.default_branch
        commit = repo.bare.commit_of(ref)
        if commit is None:
            raise ApiError(404, f"No commit found for the ref {ref}")
        path = request.params["path"].strip("/")
        found = repo.bare.blob_at(commit, path)
        if found is None:
            raise ApiError(404, "Not Found")
        mode, sha = found
        if mode == "120000":
            raise ApiError(404, "Not Found")
        data = repo.bare.read_blob(sha)
        base = f"{self.url}/repos/{repo.full_name}"
        url = f"{base}/contents/{urllib.parse.quote(path)}?ref={urllib.parse.quote(ref)}"
        html = f"{WEB}/{repo.full_name}/blob/{ref}/{path}"
        git_url = f"{base}/git/blobs/{sha}"
        return Answer(
            200,
            {
                "type": "file",
                "encoding": "base64",
                "size": len(data),
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "content": base64.encodebytes(data).decode("ascii"),
                "sha": sha,
                "url": url,
                "git_url": git_url,
                "html_url": html,
                "download_url": None,
                "_links": {"git": git_url, "html": html, "self": url},
            },
        )

    # -- handlers: settings --------------------------------------------------------------------

    def _branch_exists(self, repo: Repo, branch: str) -> str:
        sha = repo.bare.resolve(f"refs/heads/{branch}")
        if sha is None:
            raise ApiError(404, "Branch not found")
        return sha

    def j_protection(self, repo: Repo, branch: str, protection: Protection) -> dict[str, Any]:
        url = f"{self.url}/repos/{repo.full_name}/branches/{urllib.parse.quote(branch)}/protection"
        body: dict[str, Any] = {"url": url}
        if protection.required_checks:
            body["required_status_checks"] = {
                "url": url + "/required_status_checks",
                "strict": protection.strict,
                "contexts": [c.context for c in protection.required_checks],
                "contexts_url": url + "/required_status_checks/contexts",
                "checks": [
                    {"context": c.context, "app_id": c.app_id} for c in protection.required_checks
                ],
            }
        if protection.required_approving_review_count is not None:
            body["required_pull_request_reviews"] = {
                "url": url + "/required_pull_request_reviews",
                "dismiss_stale_reviews": protection.dismiss_stale_reviews,
                "require_code_owner_reviews": protection.require_code_owner_reviews,
                "required_approving_review_count": protection.required_approving_review_count,
                "require_last_push_approval": protection.require_last_push_approval,
                "bypass_pull_request_allowances": {
                    "users": [self.j_user(self._users[u]) for u in protection.bypass_users],
                    "teams": [],
                    "apps": [],
                },
            }
        body["enforce_admins"] = {
            "url": url + "/enforce_admins",
            "enabled": protection.enforce_admins,
        }
        body["required_linear_history"] = {"enabled": protection.required_linear_history}
        body["allow_force_pushes"] = {"enabled": protection.allow_force_pushes}
        body["allow_deletions"] = {"enabled": protection.allow_deletions}
        body["block_creations"] = {"enabled": False}
        body["required_conversation_resolution"] = {"enabled": False}
        body["required_signatures"] = {"url": url + "/required_signatures", "enabled": False}
        body["lock_branch"] = {"enabled": False}
        body["allow_fork_syncing"] = {"enabled": False}
        return body

    def h_get_protection(self, request: Request) -> Answer:
        repo = self._repo(request)
        self._require(repo, request.user, "admin")
        branch = request.params["branch"]
        self._branch_exists(repo, branch)
        protection = repo.protections.get(branch)
        if protection is None:
            raise ApiError(404, "Branch not protected")
        return Answer(200, self.j_protection(repo, branch, protection))

    def h_get_branch(self, request: Request) -> Answer:
        repo = self._repo(request)
        branch = request.params["branch"]
        sha = self._branch_exists(repo, branch)
        protection = repo.protections.get(branch)
        base = f"{self.url}/repos/{repo.full_name}/branches/{urllib.parse.quote(branch)}"
        shown = self.j_protection(repo, branch, protection) if protection else {}
        summary: dict[str, Any] = {"enabled": protection is not None}
        if protection is not None and "required_status_checks" in shown:
            checks = shown["required_status_checks"]
            summary["required_status_checks"] = {
                "enforcement_level": "everyone" if protection.enforce_admins else "non_admins",
                "contexts": checks["contexts"],
                "checks": checks["checks"],
            }
        return Answer(
            200,
            {
                "name": branch,
                "commit": self.j_commit(repo, sha),
                "_links": {"html": f"{WEB}/{repo.full_name}/tree/{branch}", "self": base},
                "protected": protection is not None,
                "protection": summary,
                "protection_url": base + "/protection",
            },
        )

    def j_ruleset(self, repo: Repo, ruleset: Ruleset, user: User) -> dict[str, Any]:
        url = f"{self.url}/repos/{repo.full_name}/rulesets/{ruleset.id}"
        can_bypass = self._bypasses(repo, ruleset, user, push=False)
        return {
            "id": ruleset.id,
            "name": ruleset.name,
            "target": ruleset.target,
            "source_type": "Repository",
            "source": repo.full_name,
            "enforcement": ruleset.enforcement,
            "bypass_actors": ruleset.bypass_actors,
            "current_user_can_bypass": "always" if can_bypass else "never",
            "node_id": f"RRS_emulator{ruleset.id}",
            "_links": {
                "self": {"href": url},
                "html": {"href": f"{WEB}/{repo.full_name}/rules/{ruleset.id}"},
            },
            "conditions": ruleset.conditions,
            "rules": ruleset.rules,
            "created_at": iso(ruleset.created_at),
            "updated_at": iso(ruleset.created_at),
        }

    def h_list_rulesets(self, request: Request) -> Answer:
        repo = self._repo(request)
        page = self._page(request, repo.rulesets)
        # The list shows each ruleset without its conditions and rules, as GitHub does.
        page.body = [
            {
                k: v
                for k, v in self.j_ruleset(repo, r, request.user).items()
                if k not in ("conditions", "rules", "bypass_actors")
            }
            for r in page.body
        ]
        return page

    def h_get_ruleset(self, request: Request) -> Answer:
        repo = self._repo(request)
        ruleset = next(
            (r for r in repo.rulesets if str(r.id) == request.params["ruleset_id"]), None
        )
        if ruleset is None:
            raise ApiError(404, "Not Found")
        body = self.j_ruleset(repo, ruleset, request.user)
        if self._permission(repo, request.user) != "admin":
            # Only admins see who may bypass.
            body.pop("bypass_actors")
        return Answer(200, body)

    def h_branch_rules(self, request: Request) -> Answer:
        repo = self._repo(request)
        branch = request.params["branch"]
        rules = [
            {
                **rule,
                "ruleset_source_type": "Repository",
                "ruleset_source": repo.full_name,
                "ruleset_id": ruleset.id,
            }
            for ruleset in self._active_rulesets(repo, branch)
            for rule in ruleset.rules
        ]
        return self._page(request, rules)

    def h_workflow_permissions(self, request: Request) -> Answer:
        repo = self._repo(request)
        self._require(repo, request.user, "admin")
        return Answer(
            200,
            {
                "default_workflow_permissions": repo.default_workflow_permissions,
                "can_approve_pull_request_reviews": repo.can_approve_pull_request_reviews,
            },
        )

    def set_variable(self, full_name: str, name: str, value: str) -> None:
        """An Actions repository variable (``vars.NAME`` in workflows)."""
        with self._lock:
            self._variables[(full_name, name.upper())] = (value, self.now())

    def h_get_variable(self, request: Request) -> Answer:
        repo = self._repo(request)
        self._require(repo, request.user, "write")
        name = request.params["name"].upper()
        found = self._variables.get((repo.full_name, name))
        if found is None:
            raise ApiError(404, "Not Found")
        value, when = found
        return Answer(
            200, {"name": name, "value": value, "created_at": iso(when), "updated_at": iso(when)}
        )

    # -- handlers: teams -----------------------------------------------------------------------

    def _team(self, request: Request) -> Team:
        team = self._teams.get((request.params["org"], request.params["team_slug"]))
        if team is None:
            raise ApiError(404, "Not Found")
        return team

    def j_org(self, org: User) -> dict[str, Any]:
        """An organization as TeamOrganization; OrganizationFull is a superset."""
        api = f"{self.url}/orgs/{org.login}"
        return {
            "login": org.login,
            "id": org.id,
            "node_id": f"O_emulator{org.id}",
            "url": api,
            "repos_url": api + "/repos",
            "events_url": api + "/events",
            "hooks_url": api + "/hooks",
            "issues_url": api + "/issues",
            "members_url": api + "/members{/member}",
            "public_members_url": api + "/public_members{/member}",
            "avatar_url": f"{WEB}/avatars/u/{org.id}",
            "description": None,
            "name": org.name or org.login,
            "has_organization_projects": False,
            "has_repository_projects": False,
            "public_repos": 0,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "html_url": f"{WEB}/{org.login}",
            "created_at": iso(datetime(2020, 1, 1, tzinfo=UTC)),
            "updated_at": iso(datetime(2020, 1, 1, tzinfo=UTC)),
            "archived_at": None,
            "type": "Organization",
        }

    def h_get_org(self, request: Request) -> Answer:
        org = self._users.get(request.params["org"])
        if org is None or org.type != "Organization":
            raise ApiError(404, "Not Found")
        return Answer(200, self.j_org(org))

    def h_get_team(self, request: Request) -> Answer:
        team = self._team(request)
        body = self.j_team_simple(team)
        body.update(
            {
                "members_count": len(team.members),
                "repos_count": 0,
                "created_at": iso(team.created_at),
                "updated_at": iso(team.created_at),
                "organization": self.j_org(team.org),
                "parent": None,
            }
        )
        return Answer(200, body)

    def h_team_members(self, request: Request) -> Answer:
        team = self._team(request)
        role = request.query.get("role", "all")
        logins = [login for login, r in team.members.items() if role in ("all", r)]
        page = self._page(request, logins)
        page.body = [self.j_user(self._users[login]) for login in page.body]
        return page

    def h_team_membership(self, request: Request) -> Answer:
        team = self._team(request)
        login = request.params["username"]
        if login not in team.members and login not in team.pending:
            raise ApiError(404, "Not Found")
        active = login in team.members
        return Answer(
            200,
            {
                "url": f"{self.url}/orgs/{team.org.login}/teams/{team.slug}/memberships/{login}",
                "role": team.members[login] if active else team.pending[login],
                "state": "active" if active else "pending",
            },
        )

    # -- verdict hardening: permissions, the timeline, accounts by login and id, pull request
    # updates, renames. Kept apart from the rest to ease merging with other work here.

    def note_push(self, repo: Repo, ref: str, before: str | None, after: str, actor: User) -> None:
        """``actor`` moved ``ref`` from ``before`` to ``after``: a move that drops commits from an
        open pull request's head branch is a force push, shown on its timeline as GitHub does
        (``head_ref_force_pushed``, with the actor). Any way of pushing that knows its actor
        calls this."""
        if before is None or not ref.startswith("refs/heads/"):
            return
        if before == after or self._repos[repo.full_name].bare.is_ancestor(before, after):
            return
        branch = ref.removeprefix("refs/heads/")
        for pull in self._pulls.values():
            if pull.repo is repo and pull.state == "open" and pull.head_ref == branch:
                self._timeline.append(
                    TimelineEvent(
                        next(self._ids),
                        repo,
                        pull.number,
                        "head_ref_force_pushed",
                        actor,
                        after,
                        self.now(),
                    )
                )

    def rename_user(self, old: str, new: str) -> User:
        """Rename an account, as its owner can on GitHub: the id stays, the login is free for
        anyone to register again (``create_user(old)``)."""
        with self._lock:
            if new in self._users:
                raise ValueError(f"user {new!r} already exists")
            user = self._users.pop(old)
            user.login = new
            self._users[new] = user
            for team in self._teams.values():
                if old in team.members:
                    team.members[new] = team.members.pop(old)
            for repo in self._repos.values():
                if old in repo.permissions:
                    repo.permissions[new] = repo.permissions.pop(old)
            for pull in self._pulls.values():
                pull.requested_reviewers = [
                    new if login == old else login for login in pull.requested_reviewers
                ]
            return user

    def j_public_user(self, user: User) -> dict[str, Any]:
        """An account as PublicUser (GET /users/{username}, GET /user/{account_id})."""
        body = self.j_user(user)
        body.update(
            {
                "name": user.name,
                "company": None,
                "blog": "",
                "location": None,
                "email": None,
                "hireable": None,
                "bio": None,
                "public_repos": 0,
                "public_gists": 0,
                "followers": 0,
                "following": 0,
                "created_at": iso(datetime(2020, 1, 1, tzinfo=UTC)),
                "updated_at": iso(datetime(2020, 1, 1, tzinfo=UTC)),
            }
        )
        return body

    def h_user_by_login(self, request: Request) -> Answer:
        user = self._users.get(request.params["username"])
        if user is None:
            raise ApiError(404, "Not Found")
        return Answer(200, self.j_public_user(user))

    def h_user_by_id(self, request: Request) -> Answer:
        wanted = request.params["account_id"]
        user = next((u for u in self._users.values() if str(u.id) == wanted), None)
        if user is None:
            raise ApiError(404, "Not Found")
        return Answer(200, self.j_public_user(user))

    def h_collaborator_permission(self, request: Request) -> Answer:
        repo = self._repo(request)
        user = self._users.get(request.params["username"])
        if user is None or user.type == "Organization":
            raise ApiError(404, f"{request.params['username']} is not a user")
        level = self._permission(repo, user) or "none"
        # GitHub's legacy base permission: maintain reads as write, triage as read.
        legacy = {"maintain": "write", "triage": "read"}.get(level, level)
        order = ["read", "triage", "write", "maintain", "admin"]
        have = order.index(level) if level in order else -1
        collaborator = {
            **self.j_user(user),
            "permissions": {
                "pull": have >= 0,
                "triage": have >= 1,
                "push": have >= 2,
                "maintain": have >= 3,
                "admin": have >= 4,
            },
            "role_name": level,
        }
        return Answer(
            200,
            {
                "permission": legacy,
                "role_name": level,
                "user": collaborator if level != "none" else None,
            },
        )

    def h_timeline(self, request: Request) -> Answer:
        repo = self._repo(request)
        number = self._issue(repo, request.params["issue_number"])
        events = [e for e in self._timeline if e.repo is repo and e.number == number]
        page = self._page(request, events)
        base = f"{self.url}/repos/{repo.full_name}"
        page.body = [
            {
                "id": event.id,
                "node_id": f"HRFPE_emulator{event.id}",
                "url": f"{base}/issues/events/{event.id}",
                "actor": self.j_user(event.actor),
                "event": event.event,
                "commit_id": event.commit_id,
                "commit_url": f"{base}/commits/{event.commit_id}" if event.commit_id else None,
                "created_at": iso(event.created_at),
                "performed_via_github_app": None,
            }
            for event in page.body
        ]
        return page

    def h_update_pull(self, request: Request) -> Answer:
        repo = self._repo(request)
        pull = self._pull(repo, request.params["pull_number"])
        if request.user is not pull.user:
            self._require(repo, request.user, "write")
        body = self._body(request)
        state = body.get("state")
        if state is not None and state not in ("open", "closed"):
            raise ApiError(
                422, "Validation Failed", errors=[field_error("PullRequest", "state", "invalid")]
            )
        if pull.merged_at is not None and state is not None:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    field_error("PullRequest", "state", "custom", message="pull request is merged")
                ],
            )
        base = body.get("base")
        if base is not None:
            base_sha = repo.bare.resolve(f"refs/heads/{base}")
            if not isinstance(base, str) or base_sha is None:
                raise ApiError(
                    422, "Validation Failed", errors=[field_error("PullRequest", "base", "invalid")]
                )
            pull.base_ref, pull.base_sha = base, base_sha
        for name in ("title", "body"):
            if isinstance(body.get(name), str):
                setattr(pull, name, body[name])
        now = self.now()
        if state == "closed" and pull.state == "open":
            pull.state, pull.closed_at = "closed", now
        elif state == "open" and pull.state == "closed":
            pull.state, pull.closed_at = "open", None
            self._refresh(pull)
        pull.updated_at = now
        return Answer(200, self.j_pull(pull, full=True))


    # -- GitHub Apps as themselves (JWT), installations, organization membership, and team
    # membership writes: what the github-team target (engine/targets/github_team.py) uses.

    def app_private_key(self, slug: str) -> str:
        """The App's private key (PEM), made on first use: what its owner downloads from the
        App's settings. A JWT signed with it authenticates as the App itself."""
        with self._lock:
            app = self._apps[slug]
            if app.public_key is None:
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                app.public_key = key.public_key()
                self._app_keys[slug] = key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode("ascii")
            return self._app_keys[slug]

    def install_app(self, slug: str, account: str) -> int:
        """Install the App on an organization (or user) account; returns the installation id.
        Its installation tokens carry the App's permissions."""
        with self._lock:
            app = self._apps[slug]
            if account not in app.installations:
                installation_id = next(self._ids)
                app.installations[account] = installation_id
                self._installations[installation_id] = (app, self._org(account))
            return app.installations[account]

    def add_org_member(self, org: str, login: str, role: str = "member") -> None:
        """Make ``login`` a member (or, with role 'admin', an owner) of the organization."""
        with self._lock:
            self._org(org)
            self._org_members.setdefault(org, {})[login] = role

    def org_role(self, org: str, login: str) -> str | None:
        """'admin', 'member' or None. A team member is an organization member, as on GitHub."""
        role = self._org_members.get(org, {}).get(login)
        if role is not None:
            return role
        if any(o == org and login in t.members for (o, _), t in self._teams.items()):
            return "member"
        return None

    def _app_by_jwt(self, token: str) -> User | None:
        """The App a JWT was signed by, as GitHub checks it: RS256, ``iss`` the App's id,
        issued in the past, expiring no more than ten minutes after it was issued."""
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        app = next(
            (a for a in self._apps.values() if str(a.id) == str(claims.get("iss"))), None
        )
        if app is None or app.public_key is None:
            return None
        try:
            claims = jwt.decode(
                token, app.public_key, algorithms=["RS256"], options={"require": ["iat", "exp"]}
            )
        except jwt.PyJWTError:
            return None
        if int(claims["exp"]) - int(claims["iat"]) > 660:
            return None
        return User(
            login=f"{app.slug}[app]", id=app.id, type="Bot", token="", emails=[], app=app,
            jwt=True,
        )

    def j_installation(self, installation_id: int, app: App, account: User) -> dict[str, Any]:
        return {
            "id": installation_id,
            "account": self.j_user(account),
            "repository_selection": "all",
            "access_tokens_url": f"{self.url}/app/installations/{installation_id}/access_tokens",
            "repositories_url": f"{self.url}/installation/repositories",
            "html_url": f"{WEB}/organizations/{account.login}/settings/installations/"
            f"{installation_id}",
            "app_id": app.id,
            "target_id": account.id,
            "target_type": account.type,
            "permissions": dict(app.permissions),
            "events": [],
            "created_at": iso(app.created_at),
            "updated_at": iso(app.created_at),
            "single_file_name": None,
            "app_slug": app.slug,
            "suspended_by": None,
            "suspended_at": None,
        }

    def h_org_installation(self, request: Request) -> Answer:
        app = request.user.app
        assert app is not None
        org = request.params["org"]
        installation_id = app.installations.get(org)
        if installation_id is None:
            raise ApiError(404, "Not Found")
        return Answer(200, self.j_installation(installation_id, app, self._org(org)))

    def h_installation_token(self, request: Request) -> Answer:
        app = request.user.app
        assert app is not None
        wanted = request.params["installation_id"]
        found = self._installations.get(int(wanted)) if wanted.isdigit() else None
        if found is None or found[0] is not app:
            raise ApiError(404, "Not Found")
        body = self._body(request)
        asked = body.get("permissions") or {}
        order = ["read", "write", "admin"]
        for name, level in asked.items():
            have = app.permissions.get(name)
            if have is None or level not in order or order.index(level) > order.index(have):
                raise ApiError(
                    422,
                    f"The permissions requested are not granted to this installation. "
                    f"({name}: {level})",
                )
        bot = self._users[f"{app.slug}[bot]"]
        token = f"ghs_emulator_{app.slug}_{next(self._ids)}"
        expires = datetime.fromtimestamp(self.now().timestamp() + 3600, UTC)
        self._tokens[token] = bot
        self._token_expiry[token] = expires
        return Answer(
            201,
            {
                "token": token,
                "expires_at": iso(expires),
                "permissions": dict(asked or app.permissions),
                "repository_selection": "all",
            },
        )

    def j_org_simple(self, org: User) -> dict[str, Any]:
        full = self.j_org(org)
        keys = ("login", "id", "node_id", "url", "repos_url", "events_url", "hooks_url",
                "issues_url", "members_url", "public_members_url", "avatar_url", "description")
        return {key: full[key] for key in keys}

    def _members_permission(self, user: User, org: str, level: str) -> bool:
        """Whether an installation token acts on ``org``'s members with ``level``."""
        app = user.app
        if app is None:
            return False
        have = app.permissions.get("members")
        return org in app.installations and (have == "write" or have == level)

    def h_org_membership(self, request: Request) -> Answer:
        org_login = request.params["org"]
        org = self._users.get(org_login)
        if org is None or org.type != "Organization":
            raise ApiError(404, "Not Found")
        caller = request.user
        if not (self._members_permission(caller, org_login, "read")
                or self.org_role(org_login, caller.login)):
            raise ApiError(
                403,
                "Resource not accessible by integration" if caller.app
                else "You must be a member of the organization to see its memberships.",
            )
        login = request.params["username"]
        role = self.org_role(org_login, login)
        user = self._users.get(login)
        if role is None or user is None:
            raise ApiError(404, "Not Found")
        api = f"{self.url}/orgs/{org_login}"
        return Answer(
            200,
            {
                "url": f"{api}/memberships/{login}",
                "state": "active",
                "role": role,
                "organization_url": api,
                "organization": self.j_org_simple(org),
                "user": self.j_user(user),
            },
        )

    def _may_manage_team(self, user: User, team: Team) -> bool:
        """Organization owners and the team's maintainers manage its members; so does a GitHub
        App installed on the organization with ``members: write``."""
        org = team.org.login
        if user.app is not None:
            return self._members_permission(user, org, "write")
        return (self._org_members.get(org, {}).get(user.login) == "admin"
                or team.members.get(user.login) == "maintainer")

    def h_put_team_membership(self, request: Request) -> Answer:
        team = self._team(request)
        if not self._may_manage_team(request.user, team):
            raise ApiError(
                403,
                "Resource not accessible by integration" if request.user.app
                else "You must be an organization owner or a team maintainer to add team "
                "members.",
            )
        login = request.params["username"]
        user = self._users.get(login)
        if user is None or user.type != "User":
            raise ApiError(404, "Not Found")
        role = self._body(request).get("role", "member")
        if role not in ("member", "maintainer"):
            raise ApiError(
                422, "Validation Failed", errors=[field_error("TeamMembership", "role", "invalid")]
            )
        org = team.org.login
        if self.org_role(org, login) is None:
            # GitHub invites someone from outside the organization: a pending membership.
            team.pending[login] = role
            state = "pending"
        else:
            team.members[login] = role
            state = "active"
        return Answer(
            200,
            {
                "url": f"{self.url}/orgs/{org}/teams/{team.slug}/memberships/{login}",
                "role": role,
                "state": state,
            },
        )

    def h_delete_team_membership(self, request: Request) -> Answer:
        team = self._team(request)
        if not self._may_manage_team(request.user, team):
            raise ApiError(
                403,
                "Resource not accessible by integration" if request.user.app
                else "You must be an organization owner or a team maintainer to remove team "
                "members.",
            )
        login = request.params["username"]
        if login not in team.members and login not in team.pending:
            raise ApiError(404, "Not Found")
        team.members.pop(login, None)
        team.pending.pop(login, None)
        return Answer(204, None)


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the emulator; HTTP/1.1 so clients keep their connections."""

    emulator: GitHubEmulator
    protocol_version = "HTTP/1.1"

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            # git sends large pushes in chunks.
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        raw = self._body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = urllib.parse.urlsplit(self.path).path
        if githttp.GIT_PATH.match(urllib.parse.unquote(path)):
            answer = self.emulator.serve_git(self.command, self.path, headers, raw)
        elif path == githttp.HOOK_ROUTE and self.command == "POST":
            answer = self.emulator.pre_receive(raw)
        else:
            answer = self.emulator.handle(self.command, self.path, headers, raw)
        status, out_headers, payload = answer
        self.send_response(status)
        for key, value in out_headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet: emulator.calls records every request for tests that need them.
        pass
