"""The GitHub forge, through PyGithub: what GitHub records about pull requests, reviews and
pushes, and where gitjit writes its verdict and plan comment.

Every reply is data; nothing here reads the pull request's files. Transient failures (5xx,
rate limits) are retried with backoff, honouring Retry-After and the rate-limit reset, within
a deadline; beyond it the call fails with a sentence that says what to do."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import github
import requests
from github import Auth, Github, GithubException, GithubRetry
from github.PaginatedList import PaginatedList
from github.PullRequest import PullRequest as GhPullRequest
from github.TimelineEvent import TimelineEvent

from engine.core.decision import Decision, Outcome
from engine.core.doctor import HEARTBEAT, SETTINGS, Beat, Snapshot, removal_setting
from engine.core.forge import PullRequestInfo, PullRequestState, Pushers
from engine.core.models import Login, Review, ReviewState
from engine.errors import GitjitError

CHECK_NAME = "gitjit/verdict"
"""The one uniquely named check (or commit status context) the branch ruleset requires."""
DEFAULT_URL = "https://api.github.com"
T = TypeVar("T")
WRITE_PERMISSIONS = frozenset({"admin", "write"})
"""The legacy base permissions GitHub reports that may push (maintain reads as write)."""
GITHUB_ACCOUNTS = frozenset({"web-flow"})
"""GitHub's own committer of web edits and merges made on github.com: not a person."""
_CO_AUTHOR = re.compile(r"^co-authored-by:[ \t]*(.*?)[ \t]*<([^<>\s]+)>[ \t]*$",
                        re.IGNORECASE | re.MULTILINE)
_NOREPLY = re.compile(r"(?:([0-9]+)\+)?([A-Za-z0-9](?:-?[A-Za-z0-9]){0,38})"
                      r"@users\.noreply\.github\.com", re.IGNORECASE)


class ForgeError(GitjitError):
    """GitHub refused or failed a call; the message says which and what to do."""


def _retry(deadline: float, total: int) -> GithubRetry:
    # 403 with Retry-After or a rate-limit body, 429 and 5xx are retried; waits for a rate
    # limit reset longer than the deadline fail at once instead of sleeping past it.
    return GithubRetry(total=total, backoff_factor=0.5, backoff_max=max(1.0, deadline / 4),
                       max_rate_limit_wait=deadline, secondary_rate_wait=min(60.0, deadline),
                       status_forcelist=[*range(500, 600), 429])


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class GitHubForge:
    """The Forge port over GitHub's REST API for one repository ('owner/name')."""

    def __init__(self, repository: str, token: str, *, base_url: str = DEFAULT_URL,
                 deadline: float = 120.0, retries: int = 6, per_page: int = 100,
                 throttle: bool = True, login: str | None = None) -> None:
        """``login`` is the account the token acts as, where it cannot ask (an installation
        token may not read GET /user): '<app-slug>[bot]', or 'github-actions[bot]'."""
        self.repository = repository
        self._login = Login(login.lower()) if login else None
        self.client = Github(
            base_url=base_url, auth=Auth.Token(token), per_page=per_page, timeout=30,
            retry=_retry(deadline, retries),
            seconds_between_requests=0.25 if throttle else 0,
            seconds_between_writes=1.0 if throttle else 0,
        )
        self._repo: Any = None

    # -- plumbing --------------------------------------------------------------------------

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except github.RateLimitExceededException as exc:
            raise ForgeError(f"GitHub rate limit while {what} in {self.repository}; wait for "
                             "the reset or use a GitHub App token (higher limits)") from exc
        except GithubException as exc:
            raise self._error(exc, what) from exc
        except (OSError, requests.RequestException) as exc:  # network, retries exhausted
            raise ForgeError(f"cannot reach GitHub while {what}: {exc}") from exc

    def _error(self, exc: GithubException, what: str) -> ForgeError:
        data = exc.data if isinstance(exc.data, dict) else {"message": exc.data}
        details = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e)
                            for e in data.get("errors", []) or [])
        return ForgeError(f"GitHub answered {exc.status} while {what} in {self.repository}: "
                          f"{data.get('message')}" + (f" ({details})" if details else ""))

    @property
    def repo(self) -> Any:
        if self._repo is None:
            self._repo = self._call("reading the repository",
                                    lambda: self.client.get_repo(self.repository))
        return self._repo

    def _pull(self, number: int) -> GhPullRequest:
        pull: GhPullRequest = self._call(f"reading pull request #{number}",
                                         lambda: self.repo.get_pull(number))
        return pull

    @staticmethod
    def _info(pull: GhPullRequest) -> PullRequestInfo:
        if pull.merged:
            state = PullRequestState.MERGED
        else:
            state = PullRequestState.OPEN if pull.state == "open" else PullRequestState.CLOSED
        return PullRequestInfo(
            number=pull.number, author=Login(pull.user.login.lower()), base=pull.base.ref,
            head_sha=pull.head.sha, head_ref=pull.head.ref, state=state,
            title=pull.title or "", body=pull.body or "",
            merge_sha=pull.merge_commit_sha if pull.merged else None,
            merged_at=_utc(pull.merged_at),
            merged_by=Login(pull.merged_by.login.lower()) if pull.merged_by else None,
            author_id=pull.user.id, opened_at=_utc(pull.created_at), url=pull.html_url or "")

    # -- the Forge port --------------------------------------------------------------------

    def pull_request(self, number: int) -> PullRequestInfo:
        return self._info(self._pull(number))

    def pull_request_for_commit(self, sha: str) -> PullRequestInfo | None:
        pulls = self._call(f"finding the pull request of {sha[:12]}",
                           lambda: list(self.repo.get_commit(sha).get_pulls()))
        for pull in pulls:
            if pull.merged and pull.merge_commit_sha == sha:
                return self._info(pull)
        return None

    def reviews(self, number: int) -> list[Review]:
        items = self._call(f"reading the reviews of #{number}",
                           lambda: list(self._pull(number).get_reviews()))
        out = []
        for item in items:
            user: Any = item.user
            if user is None:  # a deleted account ("ghost") can approve nothing
                continue
            try:
                state = ReviewState(item.state)
            except ValueError:
                continue
            out.append(Review(reviewer=Login(item.user.login.lower()), state=state,
                              commit=item.commit_id or "", submitted_at=_utc(item.submitted_at),
                              is_bot=item.user.type == "Bot", id=item.id,
                              reviewer_id=item.user.id))
        # Anyone may review a public repository: whether an approver may push is asked once
        # per person, now (at activation: the permission they hold then).
        approvers = {r.reviewer for r in out if r.state is ReviewState.APPROVED and not r.is_bot}
        writes = {login: self.can_write(login) for login in sorted(approvers)}
        return [replace(r, can_write=writes[r.reviewer]) if r.reviewer in writes else r
                for r in out]

    def can_write(self, login: str) -> bool:
        """Whether ``login`` may push to the repository (admin, maintain or write)."""
        try:
            permission = self.client.requester.requestJsonAndCheck(
                "GET", f"/repos/{self.repository}/collaborators/{login}/permission")[1]
        except GithubException as exc:
            if exc.status == 404:  # no such account (any more)
                return False
            raise self._error(exc, f"reading the permission of {login}") from exc
        except (OSError, requests.RequestException) as exc:
            raise ForgeError(f"cannot reach GitHub while reading the permission of {login}: "
                             f"{exc}") from exc
        return str(permission.get("permission")) in WRITE_PERMISSIONS

    def pushers(self, number: int) -> Pushers:
        """The author, the accounts of every commit's author, committer and co-authors, and
        everyone who force-pushed the branch (from the pull request's timeline).

        Commits are tied to accounts by e-mail address, as GitHub does: an address linked to
        no account is kept as unattributed, never skipped; commits beyond what GitHub lists
        (250) are counted as unlisted."""
        pull = self._pull(number)
        commits = self._call(f"reading the commits of #{number}",
                             lambda: list(pull.get_commits()))
        people = {Login(pull.user.login.lower())}
        linked: dict[str, Login] = {}
        unknown: dict[str, str] = {}
        for commit in commits:
            data = commit.commit
            # PyGithub types these as always set; GitHub sends null for an unlinked address.
            sides: list[tuple[str, Any, Any]] = [("author", commit.author, data.author),
                                                 ("committer", commit.committer, data.committer)]
            for role, account, person in sides:
                email = (person.email or "").lower() if person is not None else ""
                if account is not None:
                    if account.login not in GITHUB_ACCOUNTS:
                        people.add(Login(account.login.lower()))
                        linked[email] = Login(account.login.lower())
                elif email:
                    unknown.setdefault(email, f"{email} ({role} of {commit.sha[:12]})")
                else:
                    unknown.setdefault(f"?{commit.sha}", f"no e-mail ({role} of "
                                                         f"{commit.sha[:12]})")
        for commit in commits:
            for _name, email in _CO_AUTHOR.findall(commit.commit.message or ""):
                address = email.lower()
                noreply = _NOREPLY.fullmatch(address)
                if noreply is not None:
                    people.add(Login(noreply[2].lower()))
                elif address in linked:
                    people.add(linked[address])
                else:
                    unknown.setdefault(address, f"{address} (co-author of {commit.sha[:12]})")
        people |= self._force_pushers(pull, number)
        unattributed = tuple(text for email, text in sorted(unknown.items())
                             if email not in linked)
        listed = len(commits)
        return Pushers(frozenset(people), unattributed, max(pull.commits - listed, 0),
                       author_id=pull.user.id)

    def _force_pushers(self, pull: GhPullRequest, number: int) -> set[Login]:
        """Who force-pushed the head branch: the commits they left may name anyone."""
        # The timeline of the pull request's issue, without reading the issue itself first.
        timeline: PaginatedList[TimelineEvent] = PaginatedList(
            TimelineEvent, self.client.requester, f"{pull.issue_url}/timeline", None)
        events = self._call(f"reading the timeline of #{number}", lambda: list(timeline))
        return {Login(event.actor.login.lower()) for event in events
                if event.event == "head_ref_force_pushed" and event.actor is not None}

    def default_branch(self) -> str:
        """The repository's default branch, as GitHub says (never from the pull request)."""
        return str(self._call("reading the repository", lambda: self.repo.default_branch))

    def open_pull_requests_with_head(self, sha: str) -> list[PullRequestInfo]:
        """Every open pull request whose head is the commit ``sha``, whatever its base: a check
        is attached to a commit, so all of them show the verdict posted on it."""
        pulls = self._call("listing the open pull requests",
                           lambda: list(self.repo.get_pulls(state="open")))
        return [PullRequestInfo(
            number=p.number, author=Login(p.user.login.lower()), base=p.base.ref,
            head_sha=p.head.sha, head_ref=p.head.ref, state=PullRequestState.OPEN,
            title=p.title or "", author_id=p.user.id) for p in pulls if p.head.sha == sha]

    def user_id(self, login: str) -> int | None:
        """The account id of ``login``, or None when no account has it (renamed or deleted)."""
        found = self._lookup(f"/users/{login}", f"looking up {login}", "id")
        return int(found) if found is not None else None

    def login_of(self, account_id: int) -> str | None:
        """The current login of account ``account_id``, or None when there is none."""
        found = self._lookup(f"/user/{account_id}", f"looking up account {account_id}", "login")
        return str(found) if found is not None else None

    def _lookup(self, url: str, what: str, key: str) -> Any:
        try:
            _, data = self.client.requester.requestJsonAndCheck("GET", url)
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise self._error(exc, what) from exc
        except (OSError, requests.RequestException) as exc:
            raise ForgeError(f"cannot reach GitHub while {what}: {exc}") from exc
        return data.get(key)

    def open_pull_request(self, *, author: Login, head_ref: str, base: str, title: str,
                          body: str) -> PullRequestInfo:
        pull = self._call(f"opening a pull request from {head_ref} into {base}",
                          lambda: self.repo.create_pull(
            title=title, body=body, head=head_ref, base=base))
        return self._info(pull)

    def open_pull_request_for(self, head_ref: str) -> PullRequestInfo | None:
        owner = self.repository.split("/", 1)[0]
        pulls = self._call(f"finding the open pull request from {head_ref}",
                           lambda: list(self.repo.get_pulls(state="open",
                                                            head=f"{owner}:{head_ref}")))
        return self._info(pulls[0]) if pulls else None

    def comment(self, number: int, key: str, body: str) -> None:
        """Create or update our comment marked with ``key``. Only the token's own comments are
        ours: anyone can write the marker, and a comment they own they can edit after us."""
        marker = f"<!-- gitjit:{key} -->"
        text = body if marker in body else f"{marker}\n{body}"
        pull = self._pull(number)
        me = self.whoami()
        comments = self._call(f"reading the comments of #{number}",
                              lambda: list(pull.get_issue_comments()))
        for existing in comments:
            author = existing.user.login.lower() if existing.user is not None else ""
            if author == me and marker in (existing.body or ""):
                self._call("updating the plan comment", partial(existing.edit, text))
                return
        self._call("writing the plan comment", lambda: pull.create_issue_comment(text))

    def open_pull_requests(self, base: str) -> list[PullRequestInfo]:
        """One listing (all pages) of the open pull requests into ``base``, oldest first."""
        pulls = self._call(f"listing the open pull requests into {base}", lambda: list(
            self.repo.get_pulls(state="open", base=base, sort="created", direction="asc")))
        # The listing's items are complete for what is needed here: reading each pull request
        # in full would cost one call each, every run.
        return sorted((PullRequestInfo(
            number=p.number, author=Login(p.user.login.lower()), base=p.base.ref,
            head_sha=p.head.sha, head_ref=p.head.ref, state=PullRequestState.OPEN,
            title=p.title or "", author_id=p.user.id, opened_at=_utc(p.created_at),
            url=p.html_url or "") for p in pulls if p.base.ref == base),
            key=lambda info: info.number)

    def close_pull_request(self, number: int, *, key: str, body: str, at: datetime) -> None:
        self.comment(number, key, body)
        pull = self._pull(number)
        if pull.state == "open":
            self._call(f"closing pull request #{number}", lambda: pull.edit(state="closed"))

    # -- what gitjit writes on GitHub ------------------------------------------------------

    def whoami(self) -> Login:
        """The login the token acts as (a GitHub App's token acts as '<slug>[bot]'): as given
        at construction (GITJIT_BOT_LOGIN), else asked with GET /user, which a personal token
        may read and an installation token may not."""
        if self._login is None:
            user = self._call("reading the token's user (an installation token cannot: set "
                              "GITJIT_BOT_LOGIN to '<app-slug>[bot]' or 'github-actions[bot]')",
                              lambda: self.client.get_user().login)
            self._login = Login(str(user).lower())
        return self._login

    def post_verdict(self, sha: str, decision: Decision, summary: str, *,
                     as_check_run: bool) -> None:
        """The verdict under one name: a check run (GitHub App token) or a commit status."""
        title = f"{decision.outcome.value}: {decision.kind.value}"
        if any(f.code == "pr.base-not-default" for f in decision.findings):
            title = "not judged: not a pull request into the default branch"
        if as_check_run:
            conclusion = {Outcome.APPROVED: "success", Outcome.DENIED: "failure",
                          Outcome.PENDING: "action_required"}[decision.outcome]
            self._call("posting the check run", lambda: self.repo.create_check_run(
                name=CHECK_NAME, head_sha=sha, status="completed", conclusion=conclusion,
                output={"title": title, "summary": summary[:65000]}))
            return
        state = {Outcome.APPROVED: "success", Outcome.DENIED: "failure",
                 Outcome.PENDING: "pending"}[decision.outcome]
        commit = self._call("reading the head commit", lambda: self.repo.get_commit(sha))
        self._call("posting the commit status", lambda: commit.create_status(
            state=state, description=title[:140], context=CHECK_NAME))

    def request_reviews(self, number: int, logins: Iterable[str]) -> None:
        wanted = sorted(set(logins))
        if wanted:
            pull = self._pull(number)
            self._call(f"requesting reviews on #{number}",
                       lambda: pull.create_review_request(reviewers=wanted))

    def team_members(self, org: str, team: str) -> frozenset[Login]:
        members = self._call(f"reading team {org}/{team}", lambda: list(
            self.client.get_organization(org).get_team_by_slug(team).get_members()))
        return frozenset(Login(m.login.lower()) for m in members)

    # -- settings, for gitjit doctor --------------------------------------------------------

    def _get_json(self, path: str, *, missing: Any = None,
                  params: dict[str, Any] | None = None) -> Any:
        url = f"/repos/{self.repository}{path}"
        try:
            _, data = self.client.requester.requestJsonAndCheck("GET", url, parameters=params)
        except GithubException as exc:
            if exc.status == 404:  # "Not Found", "Branch not protected" ...
                return missing
            raise ForgeError(f"GitHub answered {exc.status} to GET {url}; the token needs "
                             "administration:read to read protection and rulesets") from exc
        return data

    def app_id_variable(self) -> int | None:
        """The repository variable GITJIT_APP_ID, which makes the workflows run their App
        jobs; None when unset (GITHUB_TOKEN mode)."""
        variable = self._get_json("/actions/variables/GITJIT_APP_ID") or {}
        value = str(variable.get("value", "")).strip()
        if not value:
            return None
        if not value.isdigit():
            raise ForgeError(f"the repository variable GITJIT_APP_ID is {value!r}, not the "
                             "gitjit App's number")
        return int(value)

    def heartbeats(self, sha: str, name: str = HEARTBEAT) -> list[Beat]:
        """Every gitjit/heartbeat (or other mark ``name``) on a commit, whoever posted it:
        check runs with their App, commit statuses with their creator (what tells gitjit's own
        from a forgery)."""
        runs = self._get_json(f"/commits/{sha}/check-runs", missing={}, params={
            "check_name": name, "filter": "all", "per_page": 100}) or {}
        beats = [Beat("check run", str((r.get("app") or {}).get("slug", "?")),
                      (r.get("app") or {}).get("id"),
                      r.get("status") == "completed" and r.get("conclusion") == "success",
                      _when(r.get("completed_at")))
                 for r in runs.get("check_runs", []) if r.get("name") == name]
        statuses = self._get_json(f"/commits/{sha}/statuses", missing=[],
                                  params={"per_page": 100}) or []
        beats += [Beat("commit status", str((s.get("creator") or {}).get("login", "?")), None,
                       s.get("state") == "success", _when(s.get("created_at")))
                  for s in statuses if s.get("context") == name]
        return beats

    def post_mark(self, sha: str, name: str, title: str, summary: str, *,
                  as_check_run: bool) -> None:
        """A failing check run (App token) or commit status named ``name`` on ``sha``: how the
        watchdog remembers, where everyone sees it, that it told of a stalled reconcile."""
        if as_check_run:
            self._call(f"posting the check run {name}", lambda: self.repo.create_check_run(
                name=name, head_sha=sha, status="completed", conclusion="failure",
                output={"title": title[:255], "summary": summary[:65000]}))
            return
        commit = self._call("reading the commit", lambda: self.repo.get_commit(sha))
        self._call(f"posting the commit status {name}", lambda: commit.create_status(
            state="failure", description=title[:140], context=name))

    def snapshot(self, branch: str | None, app_id: int | None) -> Snapshot:
        """The repository settings `gitjit doctor` checks, read through the API."""
        default = branch or str(self.repo.default_branch)
        if app_id is None:
            app_id = self.app_id_variable()
        rulesets = [self._get_json(f"/rulesets/{r['id']}") or r
                    for r in self._get_json("/rulesets", missing=[]) or []
                    if r.get("enforcement") == "active"]
        tip = ((self._get_json(f"/git/ref/heads/{default}") or {}).get("object") or {}).get("sha")
        settings = self._get_json(f"/contents/{SETTINGS}", params={"ref": default})
        raw = base64.b64decode(settings["content"]) if settings else None
        removal, problem = removal_setting(raw)
        return Snapshot(
            default_branch=default,
            protection=self._get_json(f"/branches/{default}/protection"),
            rules=self._get_json(f"/rules/branches/{default}", missing=[]) or [],
            rulesets=rulesets,
            ledger_rules=self._get_json("/rules/branches/gitjit/ledger", missing=[]) or [],
            ledger_protection=self._get_json("/branches/gitjit/ledger/protection"),
            # Any branch name of the namespace: a removal branch, as reconcile names them.
            namespace_rules=self._get_json("/rules/branches/gitjit/remove-expired-doctor",
                                           missing=[]) or [],
            workflow=self._get_json("/actions/permissions/workflow", missing={}) or {},
            beats=self.heartbeats(tip) if tip else [],
            app_id=app_id, removal=removal, settings_problem=problem)


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    return _utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
