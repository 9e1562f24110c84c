"""gitjit check-pr: the verdict on a pull request, offline, from a local repository."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.adapters.git import GitRepository
from engine.adapters.github_json import load_reviews
from engine.commands.verdict import judge
from engine.core.models import Login
from engine.core.report import PullRequestReport
from engine.reporters import PR_FORMATS

EXIT_CODES = {"approved": 0, "denied": 1, "pending": 4}


@dataclass(frozen=True)
class CheckPullRequestOptions:
    repo: Path
    base: str
    head: str
    author: Login
    reviews: Path | None
    pushers: frozenset[Login]
    now: datetime
    format: str


def run(options: CheckPullRequestOptions) -> int:
    repo = GitRepository(options.repo)
    reviews = load_reviews(options.reviews) if options.reviews else ()
    result = judge(repo, repo.resolve(options.base), repo.resolve(options.head), options.author,
                   reviews, options.pushers, options.now)
    report = PullRequestReport(result.decision, options.author, result.base, result.head)
    print(PR_FORMATS[options.format](report), end="")
    return EXIT_CODES[result.decision.outcome.value]
