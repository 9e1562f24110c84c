"""gitjit check-pr: the verdict on a pull request, offline, from a local repository."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.adapters.git import GitRepository, GitTree
from engine.adapters.github_json import load_reviews
from engine.commands.repository import read_config
from engine.core.changes import REGULAR_FILE, Change
from engine.core.decide import classify, decide
from engine.core.decision import GrantFile, Kind, PullRequest
from engine.core.grants import GRANTS_DIR, parse_path
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
    base = repo.resolve(options.base)
    head = repo.resolve(options.head)
    changes = repo.changes(base, head)
    base_tree = repo.tree(base)
    # Policies, groups, settings and schemas come from the tip of the base branch.
    base_config = read_config(base_tree)
    kind = classify(changes).kind
    head_config = read_config(repo.tree(head)).result if kind is Kind.CONTROL_PLANE else None
    pr = PullRequest(
        author=options.author,
        head=head,
        changes=tuple(changes),
        reviews=load_reviews(options.reviews) if options.reviews else (),
        pushers=options.pushers,
        added=_added(repo.tree(head), changes),
        deleted=_deleted(repo, repo.tree(repo.merge_base(base, head)), base, changes),
        existing=_own_grants(repo, base_tree, base, options.author),
    )
    decision = decide(pr, base_config.result, base_config.schemas, options.now, head_config)
    report = PullRequestReport(decision, options.author, base, head)
    print(PR_FORMATS[options.format](report), end="")
    return EXIT_CODES[decision.outcome.value]


def _grant_changes(changes: list[Change], status: str) -> list[Change]:
    return [c for c in changes if c.status == status and c.path.startswith(GRANTS_DIR)]


def _added(head: GitTree, changes: list[Change]) -> tuple[GrantFile, ...]:
    """Head blobs of added grant files, read as data. Only regular files are read at all."""
    paths = [c.path for c in _grant_changes(changes, "A") if c.new_mode == REGULAR_FILE]
    return tuple(GrantFile(path, raw) for path, raw in head.read_many(paths).items())


def _deleted(repo: GitRepository, merge_base: GitTree, base: str,
             changes: list[Change]) -> tuple[GrantFile, ...]:
    paths = [c.path for c in _grant_changes(changes, "D") if c.old_mode == REGULAR_FILE]
    return _with_activations(repo, base, merge_base.read_many(paths))


def _own_grants(repo: GitRepository, base_tree: GitTree, base: str,
                author: Login) -> tuple[GrantFile, ...]:
    """The author's grants on the base branch (for limits and 'extends'), and no others: the
    verdict must not grow with the number of unrelated grants."""
    mine = [e.path for e in base_tree.entries(GRANTS_DIR)
            if e.mode == REGULAR_FILE and (p := parse_path(e.path)) and p.requester == author]
    return _with_activations(repo, base, base_tree.read_many(mine))


def _with_activations(repo: GitRepository, base: str,
                      files: dict[str, bytes]) -> tuple[GrantFile, ...]:
    """Offline, a grant activated when the first-parent commit that added it landed (or at
    its start, which the core takes as the later of the two). One history walk for all the
    files: one per file made the verdict cost the history's length times the author's grants."""
    landed = repo.first_parent_additions(base, files)
    return tuple(GrantFile(path, raw, landed[path].time if path in landed else None)
                 for path, raw in files.items())
