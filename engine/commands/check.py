"""gitjit check: validate all configuration and every grant in a working tree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from engine.actions.check import check_actions
from engine.actions.model import ACTIONS_DIR
from engine.adapters import progress, workers
from engine.adapters.git import GitRepository
from engine.adapters.worktree import WorkTree
from engine.commands.codeowners import drift
from engine.commands.repository import LoadedConfig, read_config
from engine.core import codeowners
from engine.core.changes import REGULAR_FILE, TreeEntry
from engine.core.check import GrantCheck, check_grants, expired, identity_findings, named_logins
from engine.core.findings import Finding, Severity
from engine.core.grants import GRANTS_DIR
from engine.core.models import Config, Settings
from engine.core.report import CheckReport
from engine.core.schema import check_schemas
from engine.core.signers import SIGNERS_PATH
from engine.errors import GitjitError, UsageError
from engine.reporters import CHECK_FORMATS
from engine.targets.registry import catalog

if TYPE_CHECKING:
    from engine.adapters.github import GitHubForge


# Grants are read and checked this many at a time, so a large repository is never held in
# memory whole, and progress moves.
CHUNK = 500
# A process per this many grants, up to the cores: below it, starting one costs more than
# it saves.
PER_PROCESS = 1_000


@dataclass(frozen=True)
class CheckOptions:
    repo: Path
    now: datetime | None
    """When given, also report committed grants whose time is up then (awaiting removal)."""
    format: str
    forge: str = "none"
    """'github': also ask GitHub whether every login named still is the account meant."""
    jobs: int | None = None
    """Processes to check grants in; None: one per 1,000 grants, up to the cores."""


def run(options: CheckOptions) -> int:
    if not options.repo.is_dir():
        raise UsageError(f"--repo {options.repo}: no such directory")
    tree = WorkTree(options.repo)
    loaded = read_config(tree, catalog())
    entries = tree.entries(GRANTS_DIR)
    landed = _landed(options.repo, entries) if options.now is not None else {}
    with progress.task("checking grants", len(entries),
                       enabled=options.format == "text") as bar:
        grants, expiring = _check_all(tree, entries, loaded, landed, options, bar.advance)
    extra: list[Finding] = [*expiring]
    actions = tree.entries(ACTIONS_DIR)
    extra += check_actions(
        actions, tree.read_many([e.path for e in actions if e.mode == REGULAR_FILE],
                                limit=_grant_cap(loaded)),
        loaded.result, loaded.schemas)
    config = loaded.result.config
    if config is not None and (config.settings.admins
                               or (options.repo / codeowners.PATH).is_file()):
        owners = drift(options.repo, codeowners.render(config))
        extra += [owners] if owners else []
    if config is not None and config.signers is None:
        extra.append(Finding(SIGNERS_PATH, 0, "signers.missing",
            "gitjit signs every commit it writes and trusts none it cannot verify against "
            "this file: without it, activate and reconcile refuse to run; add the lifecycle "
            "key's public key ('gitjit local keygen' makes one for a local repository)",
            Severity.WARNING))
    if options.forge == "github" and config is not None:
        # PyGithub loads only for this: a plain check never needs it.
        from engine.commands.forges import github_from_env

        extra += _identities(config, github_from_env())
    findings = tuple(sorted([*check_schemas(loaded.schemas), *loaded.result.findings,
                             *grants.findings, *extra]))
    report = CheckReport(findings, policies=len(loaded.result.config.policies)
                         if loaded.result.config else 0,
                         grants=grants.count,
                         files=loaded.files + len(entries) + len(actions))
    print(CHECK_FORMATS[options.format](report), end="")
    return 1 if report.tally.errors else 0


def _identities(config: Config, forge: GitHubForge) -> list[Finding]:
    """Look every named login up on GitHub, and every pinned id; warn where they moved."""
    ids = {login: forge.user_id(login) for login in sorted(named_logins(config))}
    # Where a pinned login moved, say where the pinned account went.
    current = {pinned: forge.login_of(pinned)
               for login, pinned in sorted(config.groups.ids.items()) if ids.get(login) != pinned}
    return identity_findings(config, ids, current)


def _check_all(tree: WorkTree, entries: Sequence[TreeEntry], loaded: LoadedConfig,
               landed: Mapping[str, datetime], options: CheckOptions,
               report: workers.Report) -> tuple[GrantCheck, list[Finding]]:
    """Every grant, a chunk at a time, over as many processes as pay; with ``--now`` also
    the expired ones. Only findings and counts are kept, never all the grants at once."""

    def work(part: Sequence[TreeEntry], done: workers.Report) -> tuple[GrantCheck,
                                                                         list[Finding]]:
        checks: list[GrantCheck] = []
        expiring: list[Finding] = []
        for start in range(0, len(part), CHUNK):
            chunk = part[start:start + CHUNK]
            contents = tree.read_many([e.path for e in chunk if e.mode == REGULAR_FILE],
                                      limit=_grant_cap(loaded))
            result = check_grants(chunk, contents, loaded.result, loaded.schemas,
                                  keep=options.now is not None)
            if options.now is not None:
                expiring += expired(result.grants, landed, options.now)
            checks.append(GrantCheck(result.findings, (), result.count))
            done(len(chunk))
        return _joined(checks), expiring

    jobs = options.jobs
    if jobs is None:
        jobs = max(1, min(workers.cores(), len(entries) // PER_PROCESS))
    parts = workers.split(entries, work, jobs=jobs, report=report)
    return _joined([check for check, _ in parts]), [f for _, found in parts for f in found]


def _grant_cap(loaded: LoadedConfig) -> int:
    """The grant size cap, applied while reading: a huge file is never held whole."""
    config = loaded.result.config
    return (config.settings if config else Settings()).max_grant_bytes


def _joined(checks: Sequence[GrantCheck]) -> GrantCheck:
    return GrantCheck(tuple(f for c in checks for f in c.findings),
                      tuple(g for c in checks for g in c.grants), sum(c.count for c in checks))


def _landed(repo: Path, entries: Sequence[TreeEntry]) -> dict[str, datetime]:
    """When each committed grant landed on the checked-out branch (one history walk); none
    outside a git repository."""
    try:
        git = GitRepository(repo)
        stamps = git.first_parent_additions_under("HEAD", GRANTS_DIR)
    except GitjitError:
        return {}
    wanted = {e.path for e in entries}
    return {path: stamp.time for path, stamp in stamps.items() if path in wanted}
