"""gitjit check: validate all configuration and every grant in a working tree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.actions.check import check_actions
from engine.actions.model import ACTIONS_DIR
from engine.adapters.git import GitRepository
from engine.adapters.github import GitHubForge
from engine.adapters.worktree import WorkTree
from engine.commands.codeowners import drift
from engine.commands.forges import github_from_env
from engine.commands.repository import read_config
from engine.core import codeowners
from engine.core.check import check_grants, expired, identity_findings, named_logins
from engine.core.findings import Finding, Severity
from engine.core.grants import GRANTS_DIR
from engine.core.models import Config, Grant
from engine.core.report import CheckReport
from engine.core.schema import check_schemas
from engine.core.signers import SIGNERS_PATH
from engine.errors import GitjitError, UsageError
from engine.reporters import CHECK_FORMATS
from engine.targets.registry import catalog


@dataclass(frozen=True)
class CheckOptions:
    repo: Path
    now: datetime | None
    """When given, also report committed grants whose time is up then (awaiting removal)."""
    format: str
    forge: str = "none"
    """'github': also ask GitHub whether every login named still is the account meant."""


def run(options: CheckOptions) -> int:
    if not options.repo.is_dir():
        raise UsageError(f"--repo {options.repo}: no such directory")
    tree = WorkTree(options.repo)
    loaded = read_config(tree, catalog())
    entries = tree.entries(GRANTS_DIR)
    contents = tree.read_many([e.path for e in entries if e.mode == "100644"])
    grants = check_grants(entries, contents, loaded.result, loaded.schemas)
    actions = tree.entries(ACTIONS_DIR)
    extra: list[Finding] = check_actions(
        actions, tree.read_many([e.path for e in actions if e.mode == "100644"]),
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
    if options.now is not None:
        extra += expired(grants.grants, _landed(options.repo, grants.grants), options.now)
    if options.forge == "github" and config is not None:
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


def _landed(repo: Path, grants: tuple[Grant, ...]) -> dict[str, datetime]:
    """When each committed grant landed on the checked-out branch (one history walk); none
    outside a git repository."""
    try:
        git = GitRepository(repo)
        stamps = git.first_parent_additions("HEAD", [g.path for g in grants])
    except GitjitError:
        return {}
    return {path: stamp.time for path, stamp in stamps.items()}
