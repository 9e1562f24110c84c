"""gitjit request: write a grant at its canonical path on a new branch and open the request."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from engine.actions.request import canonical_path as action_canonical_path
from engine.adapters.branch import commit_file
from engine.adapters.git import GitRepository
from engine.adapters.localforge import LocalForge
from engine.adapters.remote import credentials
from engine.commands.forges import github_for_person
from engine.commands.repository import read_config, require_config, require_policy
from engine.commands.verdict import judge
from engine.core.decision import Outcome
from engine.core.grants import canonical_path
from engine.core.models import Login
from engine.core.report import PullRequestReport
from engine.core.schema import API_VERSION
from engine.core.values import format_duration
from engine.errors import UsageError
from engine.ports import Forge
from engine.reporters import text
from engine.reporters.markdown import render
from engine.targets.registry import catalog

if TYPE_CHECKING:
    from engine.adapters.github import GitHubForge

FORGES = ("none", "local", "github")


@dataclass(frozen=True)
class RequestOptions:
    repo: Path
    policy: str
    requester: Login | None
    """None: with --forge github, the token's login (GET /user); otherwise a usage error."""
    duration: str | None
    justification: str
    ticket: str | None
    start: datetime | None
    extends: str | None
    break_glass: bool
    base: str
    forge: str
    now: datetime
    format: str
    runbook: str | None = None
    """An action instead of a grant: one of the policy's runbooks ..."""
    params: tuple[tuple[str, str], ...] = ()
    sql: str | None = None
    """... or free-form SQL, where the policy allows it."""
    max_rows: int | None = None

    @property
    def is_action(self) -> bool:
        return self.runbook is not None or self.sql is not None


def grant_document(options: RequestOptions, duration: str) -> bytes:
    fields: dict[str, str] = {"apiVersion": API_VERSION, "kind": "Grant",
                              "policy": options.policy, "requester": options.requester or "",
                              "duration": duration, "justification": options.justification}
    if options.ticket:
        fields["ticket"] = options.ticket
    if options.start:
        fields["start"] = options.start.strftime("%Y-%m-%dT%H:%M:%SZ")
    if options.extends:
        fields["extends"] = options.extends
    if options.break_glass:
        fields["break_glass"] = "true"
    return yaml.safe_dump(fields, sort_keys=False, allow_unicode=True).encode("utf-8")


def action_document(options: RequestOptions) -> bytes:
    q = _Quoted
    fields: dict[str, Any] = {"apiVersion": API_VERSION, "kind": "Action",
                              "policy": options.policy,
                              "requester": q(options.requester or "")}
    if options.runbook is not None:
        fields["runbook"] = options.runbook
        if options.params:
            fields["params"] = {name: q(value) for name, value in options.params}
    if options.sql is not None:
        fields["sql"] = q(options.sql)
    if options.max_rows is not None:
        fields["max_rows"] = q(str(options.max_rows))
    fields["justification"] = q(options.justification)
    if options.ticket:
        fields["ticket"] = q(options.ticket)
    return yaml.dump(fields, Dumper=_QuotingDumper, sort_keys=False,
                     allow_unicode=True).encode("utf-8")


class _Quoted(str):
    pass


class _QuotingDumper(yaml.SafeDumper):
    """Values double-quoted: a value such as 0042, yes or a SQL statement with ': ' stays
    exactly the text the requester typed, whatever a reader's YAML version makes of it."""


def _represent_value(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')


_QuotingDumper.add_representer(_Quoted, _represent_value)


def run(options: RequestOptions) -> int:
    repo = GitRepository(options.repo)
    github = github_for_person(repo) if options.forge == "github" else None
    if options.requester is None:
        if github is None:
            raise UsageError("--as LOGIN is required (your forge login); only --forge github "
                             "can find it, by asking GitHub whose token it is")
        options = replace(options, requester=github.whoami())
    elif github is not None and github.whoami() != options.requester:
        # Before anything is written: a request is opened by its requester.
        raise UsageError(f"--as {options.requester} but the token belongs to "
                         f"{github.whoami()}: a request is opened by its requester")
    return _request(options, repo, github)


def _request(options: RequestOptions, repo: GitRepository, github: GitHubForge | None) -> int:
    assert options.requester is not None
    requester = options.requester
    base = repo.resolve(f"refs/heads/{options.base}")
    config = require_config(read_config(repo.tree(base)), options.base)
    policy = require_policy(config, options.policy, " (see 'gitjit explain')")
    if options.is_action:
        if options.runbook is not None and options.sql is not None:
            raise UsageError("give --runbook or --sql, not both")
        if options.duration or options.start or options.extends or options.break_glass:
            raise UsageError("--duration, --start, --extends and --break-glass belong to "
                             "grants; an action runs once, right after its merge")
        what = f"runbook {options.runbook}" if options.runbook else "SQL"
        duration = what
        path = action_canonical_path(options.policy, requester, options.now)
        branch = "action/" + path.removeprefix("actions/").removesuffix(".yaml")
        head = commit_file(repo, base, branch, path, action_document(options),
                           f"Run {what} of {options.policy}\n\n{options.justification}\n",
                           env=_authored(options))
    else:
        if options.params or options.max_rows is not None:
            raise UsageError("--param and --max-rows belong to an action: add --runbook")
        duration = options.duration or format_duration(policy.duration.default)
        path = _free_path(repo, base, canonical_path(options.policy, requester, options.now),
                          options.now)
        branch = "access/" + path.removeprefix("grants/").removesuffix(".yaml")
        head = commit_file(repo, base, branch, path, grant_document(options, duration),
                           f"Request {options.policy} for {duration}\n\n"
                           f"{options.justification}\n", env=_authored(options))
    try:
        return _judge_and_open(repo, options, base, head, branch, path, duration, github)
    except BaseException:
        # A request that failed half-way leaves nothing behind: no branch to trip over when
        # it is made again.
        repo.run("update-ref", "-d", f"refs/heads/{branch}", head, ok_codes=(0, 1, 128))
        raise


def _authored(options: RequestOptions) -> dict[str, str]:
    """The request commit is the requester's, made when the request is: --as and --now (the
    e-mail address stays git's configured one, which the forge links to the account)."""
    assert options.requester is not None  # run() fills it in before anything is written
    when = options.now.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return {"GIT_AUTHOR_NAME": options.requester, "GIT_COMMITTER_NAME": options.requester,
            "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}


def _free_path(repo: GitRepository, base: str, path: str, now: datetime) -> str:
    """``path``, or the same request stamped to the second when a request of this minute
    exists already (on the base branch or as a request branch): two requests in one minute
    are two files."""
    def taken(candidate: str) -> bool:
        branch = "access/" + candidate.removeprefix("grants/").removesuffix(".yaml")
        return (repo.tree(base).exists(candidate)
                or repo.ref_target(f"refs/heads/{branch}") is not None)

    if not taken(path):
        return path
    precise = path.removesuffix(f"{now:%H%M}Z.yaml") + f"{now:%H%M%S}Z.yaml"
    if taken(precise):
        raise UsageError(f"a request {precise} exists already; make the next one a second "
                         "later (--now)")
    return precise


def _judge_and_open(repo: GitRepository, options: RequestOptions, base: str, head: str,
                    branch: str, path: str, duration: str, github: GitHubForge | None) -> int:
    assert options.requester is not None  # run() fills it in before anything is written
    requester = options.requester
    # Say now what the request will need, before anyone is asked to review it (on GitHub,
    # with the members of the teams the policies name).
    verdict = judge(repo, base, head, requester, [], frozenset({requester}),
                    options.now, teams=github.team_members if github else None,
                    targets=catalog())
    decision = verdict.decision
    if decision.outcome is Outcome.DENIED:
        repo.run("update-ref", "-d", f"refs/heads/{branch}", head, ok_codes=(0, 1, 128))
        print(text.pull_request(PullRequestReport(decision, requester, base, head)),
              end="")
        print("request not opened: fix the reasons above and run 'gitjit request' again")
        return 1
    number = None
    if options.is_action and options.format == "text":
        print(text.pull_request(PullRequestReport(decision, requester, base, head)),
              end="")
    if options.forge != "none":
        if decision.action is not None:
            body = render("request-action.md.j2", action=decision.action, decision=decision)
        else:
            assert decision.grant is not None
            body = render("request.md.j2", grant=decision.grant, decision=decision)
        forge: Forge = LocalForge(repo)
        if github is not None:
            repo.run("push", "--quiet", "origin", f"refs/heads/{branch}:refs/heads/{branch}",
                     env=credentials(os.environ))
            forge = github
        title = (f"Run {duration} of {options.policy}" if options.is_action
                 else f"Request {options.policy} for {duration}")
        if isinstance(forge, LocalForge):
            # The local forge keeps the time it is given (the pending timers count from it).
            pr = forge.open_pull_request(author=requester, head_ref=branch,
                                         base=options.base, title=title, body=body,
                                         at=options.now)
        else:
            pr = forge.open_pull_request(author=requester, head_ref=branch,
                                         base=options.base, title=title, body=body)
        number = pr.number
        if github is not None:
            wanted = {login for m in decision.missing for login in m.eligible}
            github.request_reviews(pr.number, wanted - {requester})
    _report(options, branch, path, number, decision.outcome.value,
            [f"step {m.step} ({m.approvers}): {m.needed} more; may approve: "
             f"{', '.join(m.eligible) or 'nobody left'}" for m in decision.missing])
    return 0


def _report(options: RequestOptions, branch: str, path: str, number: int | None, verdict: str,
            missing: list[str]) -> None:
    if options.format == "json":
        print(json.dumps({"branch": branch, "path": path, "pull_request": number,
                          "verdict": verdict, "missing": missing}, indent=2))
        return
    print(f"wrote {path} on branch {branch}")
    if number is not None:
        print(f"opened pull request #{number}: {verdict}")
    else:
        print(f"verdict so far: {verdict}")
        print(f"next: git push origin {branch}, then open a pull request from it into "
              f"{options.base}")
    for line in missing:
        print(f"  needs {line}")
