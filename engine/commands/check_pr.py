"""gitjit check-pr: the verdict on a pull request, offline from a local repository, or on
GitHub (--forge github --pr N), where the verdict is also posted as a check and a comment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.adapters.git import GitRepository
from engine.adapters.github import GitHubForge
from engine.adapters.github_json import load_reviews
from engine.commands.forges import github_from_env, verdict_as_check_run
from engine.commands.verdict import Verdict, judge
from engine.core.forge import PullRequestState
from engine.core.models import Login
from engine.core.report import PullRequestReport
from engine.errors import UsageError
from engine.reporters import PR_FORMATS, markdown

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
    forge: str = "none"
    pr: int | None = None


def run(options: CheckPullRequestOptions) -> int:
    repo = GitRepository(options.repo)
    if options.forge == "github":
        return _run_github(repo, options)
    if options.base is None or options.head is None or options.author is None:
        raise UsageError("give --base, --head and --author (or --forge github --pr N)")
    reviews = load_reviews(options.reviews) if options.reviews else ()
    result = judge(repo, repo.resolve(options.base), repo.resolve(options.head), options.author,
                   reviews, options.pushers, options.now)
    return _print(options, result, options.author)


def _print(options: CheckPullRequestOptions, result: Verdict, author: Login) -> int:
    report = PullRequestReport(result.decision, author, result.base, result.head)
    print(PR_FORMATS[options.format](report), end="")
    return EXIT_CODES[result.decision.outcome.value]


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
    result = judge(repo, _base_tip(repo, pr.base), pr.head_sha, pr.author,
                   forge.reviews(pr.number), forge.pushers(pr.number), options.now,
                   teams=forge.team_members)
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
        wanted = {login for missing in result.decision.missing for login in missing.eligible}
        forge.request_reviews(pr.number, wanted - {pr.author})
    return code
