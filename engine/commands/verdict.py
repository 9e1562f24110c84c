"""The verdict on a pull request, gathered from git: shared by check-pr, the local forge's
merge gate and activation's re-verification."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from engine.actions.model import ACTIONS_DIR
from engine.adapters.git import GitRepository, GitTree
from engine.adapters.ledger import Ledger, LedgerNotFoundError, find_ledger_ref
from engine.commands.repository import LoadedConfig, read_config, read_signers
from engine.core.changes import REGULAR_FILE, Change
from engine.core.decide import classify, decide
from engine.core.decision import Decision, GrantFile, Kind, PullRequest
from engine.core.forge import Pushers
from engine.core.grants import GRANTS_DIR, grant_id, parse_path
from engine.core.ledger import END_EVENTS, Event
from engine.core.models import GrantId, Login, Review
from engine.core.principals import TeamLookup, resolve_teams
from engine.core.targets import Catalog


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    base: str
    """The base commit whose configuration judged the pull request."""
    head: str
    config: LoadedConfig
    """That configuration, for the record (which policy and groups blobs judged)."""


def judge(repo: GitRepository, base: str, head: str, author: Login,
          reviews: Sequence[Review], pushers: Pushers | frozenset[Login], now: datetime, *,
          teams: TeamLookup | None = None, author_id: int | None = None,
          targets: Catalog | None = None) -> Verdict:
    """Judge the change from the merge base of ``base`` and ``head`` to ``head``.

    Policies, groups, settings and schemas come from ``base`` (the tip of the base branch, or
    a merge's first parent); grant files are read at ``head`` as data only. ``teams`` looks up
    the members of the GitHub teams the policies name; without it (offline) teams stay
    unresolved and whatever needs one is denied. ``pushers`` is what the forge knows of who
    wrote the commits (a plain set where only logins are known, offline). Approvals must be
    younger than the policy allows at ``now`` (at activation: the merge). ``targets`` (the
    installed target providers, ``engine.targets.registry.catalog()``) also checks the policies'
    targets and connections against the providers' schemas, as ``gitjit check`` does: the
    verdict before merge passes it; activation's re-verification does not, so a plugin
    missing where the lifecycle runs fails that grant's apply instead of refusing grants that
    were rightly approved."""
    who = pushers if isinstance(pushers, Pushers) else Pushers(frozenset(pushers))
    changes = repo.changes(base, head)
    base_tree = repo.tree(base)
    base_config = read_config(base_tree, targets)
    kind = classify(changes).kind
    head_config = (read_config(repo.tree(head), targets).result
                   if kind is Kind.CONTROL_PLANE else None)
    merge_base = repo.merge_base(base, head)
    pr = PullRequest(
        author=author,
        head=head,
        changes=tuple(changes),
        reviews=tuple(reviews),
        pushers=who.logins,
        added=(added := _added(repo.tree(head), changes)),
        deleted=_deleted(repo, repo.tree(merge_base), base, changes),
        existing=_own_grants(repo, base_tree, base, author),
        author_id=author_id if author_id is not None else who.author_id,
        unattributed=who.unattributed,
        unlisted_commits=who.unlisted,
        used={path: stamp.sha for path, stamp in
              repo.history_touching(base, [f.path for f in added]).items()},
        # An action's plan must be the same under the configuration its head was written
        # against (engine/actions/decide.py): read it only for actions.
        origin=(read_config(repo.tree(merge_base)).result.config
                if kind is Kind.ACTION else None),
    )
    judging = base_config.result
    if teams is not None and judging.config is not None:
        judging = replace(judging, config=resolve_teams(judging.config, teams))
    decision = decide(pr, judging, base_config.schemas, now, head_config)
    return Verdict(decision, base, head, base_config)


def _grant_changes(changes: list[Change], status: str) -> list[Change]:
    return [c for c in changes if c.status == status and c.path.startswith(GRANTS_DIR)]


def _added(head: GitTree, changes: list[Change]) -> tuple[GrantFile, ...]:
    """Head blobs of added grant and action files, read as data. Only regular files are read
    at all."""
    paths = [c.path for c in changes if c.status == "A" and c.new_mode == REGULAR_FILE
             and (c.path.startswith(GRANTS_DIR) or c.path.startswith(ACTIONS_DIR))]
    return tuple(GrantFile(path, raw) for path, raw in head.read_many(paths).items())


def _deleted(repo: GitRepository, merge_base: GitTree, base: str,
             changes: list[Change]) -> tuple[GrantFile, ...]:
    paths = [c.path for c in _grant_changes(changes, "D") if c.old_mode == REGULAR_FILE]
    files = _with_activations(repo, base, merge_base.read_many(paths))
    if not files:
        return files
    over = settled(repo, repo.tree(base), [grant_id(f.path) for f in files])
    return tuple(replace(f, settled=grant_id(f.path) in over) for f in files)


def settled(repo: GitRepository, base: GitTree,
            gids: Iterable[GrantId] = ()) -> frozenset[GrantId]:
    """Which of ``gids`` the trusted ledger says are over (refused, or ended): deleting their
    files is housekeeping. Only records gitjit signed count, checked against ``base``'s allowed
    signers; without a ledger in the clone, none."""
    wanted = list(gids)
    if not wanted:
        return frozenset()
    try:
        ref = find_ledger_ref(repo)
    except LedgerNotFoundError:
        return frozenset()
    ledger = Ledger(repo, ref=ref, signers=read_signers(base))
    found = ledger.find([f"{event} {gid}" for gid in wanted
                         for event in (Event.REFUSED, *END_EVENTS)])
    return frozenset(record.grant_id for record in found.values())


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
