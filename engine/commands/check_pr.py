"""gitjit check-pr: the verdict on a pull request, offline from a local repository, or on
GitHub (--forge github --pr N), where the verdict is also posted as a check and a comment."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from engine.adapters.git import GitRepository
from engine.adapters.github_json import load_reviews
from engine.commands.forges import github_from_env, verdict_as_check_run
from engine.commands.repository import read_config
from engine.commands.verdict import Verdict, judge
from engine.core.decide import classify
from engine.core.decision import Decision, Kind, Outcome
from engine.core.findings import Finding, Severity
from engine.core.forge import PullRequestInfo, PullRequestState
from engine.core.models import Login
from engine.core.report import PullRequestReport
from engine.errors import GitError, UsageError
from engine.reporters import PR_FORMATS, markdown
from engine.targets.registry import catalog

if TYPE_CHECKING:
    from engine.adapters.github import GitHubForge

EXIT_CODES = {"approved": 0, "denied": 1, "pending": 4}
PLAN_KEY = "plan"


@dataclass(frozen=True)
class CheckPullRequestOptions:
    repo: Path
    base: str | None
    head: str | None
    author: Login | None
    reviews: Path | None
    pushers: frozenset[Login]
    now: datetime
    format: str
    forge: str = "local"
    pr: int | None = None


def run(options: CheckPullRequestOptions) -> int:
    repo = GitRepository(options.repo)
    if options.forge == "github":
        return _run_github(repo, options)
    if options.pr is not None:
        if options.forge != "local":
            raise UsageError("--pr N reads the pull request from a forge: give --forge local "
                             "or --forge github")
        return _run_local(repo, options)
    if options.base is None or options.head is None or options.author is None:
        raise UsageError("give --base, --head and --as (or --pr N)")
    reviews = load_reviews(options.reviews) if options.reviews else ()
    result = judge(repo, repo.resolve(options.base), repo.resolve(options.head), options.author,
                   reviews, options.pushers, options.now, targets=catalog())
    return _print(options, result, options.author)


def _print(options: CheckPullRequestOptions, result: Verdict, author: Login) -> int:
    report = PullRequestReport(result.decision, author, result.base, result.head)
    print(PR_FORMATS[options.format](report), end="")
    return EXIT_CODES[result.decision.outcome.value]


def _run_local(repo: GitRepository, options: CheckPullRequestOptions) -> int:
    """Pull request --pr of the local forge, judged as 'gitjit local show' judges it."""
    from engine.adapters.localforge import LocalForge

    assert options.pr is not None
    forge = LocalForge(repo)
    pr = forge.pull_request(options.pr)
    if pr.state is not PullRequestState.OPEN:
        raise UsageError(f"pull request #{pr.number} is {pr.state.value}; only an open one "
                         "waits for a verdict ('gitjit local show' tells how it ended)")
    result = judge(repo, repo.resolve(f"refs/heads/{pr.base}"), pr.head_sha, pr.author,
                   forge.reviews(pr.number), forge.pushers(pr.number), options.now,
                   targets=catalog())
    return _print(options, result, pr.author)


def _base_tip(repo: GitRepository, branch: str) -> str:
    for ref in (f"refs/remotes/origin/{branch}", f"refs/heads/{branch}"):
        tip = repo.ref_target(ref)
        if tip is not None:
            return tip
    raise UsageError(f"the base branch {branch!r} is not in {repo.root}; check it out first")


def _run_github(repo: GitRepository, options: CheckPullRequestOptions) -> int:
    if options.pr is None:
        raise UsageError("--forge github needs --pr N")
    forge: GitHubForge = github_from_env()
    pr = forge.pull_request(options.pr)
    if repo.object_types([pr.head_sha]).get(pr.head_sha) != "commit":
        raise UsageError(f"pull request #{pr.number}'s head {pr.head_sha[:12]} is not in "
                         f"{repo.root}; fetch it as data first: git fetch origin "
                         f"+refs/pull/{pr.number}/head:refs/remotes/pull/{pr.number}/head")
    # Only the default branch's configuration judges, and only pull requests into it: a
    # branch's own policies would approve whatever its writer wants.
    default = forge.default_branch()
    base = _base_tip(repo, default)
    if pr.base != default:
        result = Verdict(_not_judged(repo, base, pr.head_sha, pr.base, default), base,
                         pr.head_sha, read_config(repo.tree(base)))
    else:
        result = judge(repo, base, pr.head_sha, pr.author, forge.reviews(pr.number),
                       forge.pushers(pr.number), options.now, teams=forge.team_members,
                       author_id=pr.author_id, targets=catalog())
        if result.decision.outcome is Outcome.APPROVED:
            others = [p for p in forge.open_pull_requests_with_head(pr.head_sha)
                      if p.number != pr.number]
            result = replace(result, decision=_shared(result.decision, others))
    code = _print(options, result, pr.author)
    if pr.state is PullRequestState.OPEN:
        report = PullRequestReport(result.decision, pr.author, result.base, result.head)
        comment = markdown.pull_request(report)
        forge.post_verdict(pr.head_sha, result.decision, comment,
                           as_check_run=verdict_as_check_run())
        forge.comment(pr.number, PLAN_KEY, comment)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            # The same plan as the job's summary, for whoever opens the workflow run.
            with open(summary, "a", encoding="utf-8") as out:
                out.write(comment)
        if pr.base == default:
            wanted = {login for missing in result.decision.missing
                      for login in missing.eligible}
            forge.request_reviews(pr.number, wanted - {pr.author})
    return code


def _not_judged(repo: GitRepository, default_tip: str, head: str, base: str,
                default: str) -> Decision:
    """The verdict on a pull request into another branch: none. It is denied, never neutral,
    because GitHub counts a neutral check as passed, on every pull request with this head."""
    try:
        kind = classify(repo.changes(default_tip, head)).kind
    except GitError:  # no history shared with the default branch: nothing to classify against
        kind = Kind.INVALID
    return Decision(Outcome.DENIED, kind, (Finding(
        "", 0, "pr.base-not-default", f"not judged: this pull request is into {base!r}, and "
        f"gitjit judges only pull requests into the default branch {default!r} (with its "
        f"configuration); open it against {default!r} instead"),))


def _shared(decision: Decision, others: list[PullRequestInfo]) -> Decision:
    """No success on a head commit that another open pull request shares: the check is
    attached to the commit, so the other pull request would show it too, approvals or not."""
    if not others:
        return decision
    listed = ", ".join(f"#{p.number} (into {p.base!r})" for p in others)
    finding = Finding("", 0, "pr.head-shared", f"approved, but the head commit is also the "
                      f"head of open pull request(s) {listed}, which would show this check as "
                      "passed: close them (or push a new commit here) and re-run the verdict",
                      Severity.WARNING)
    return replace(decision, outcome=Outcome.PENDING,
                   findings=tuple(sorted((*decision.findings, finding))))
