"""The verdict on a pull request, gathered from git: shared by check-pr, the local forge's
merge gate and activation's re-verification."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from engine.actions.model import ACTIONS_DIR
from engine.adapters.git import GitRepository, GitTree
from engine.adapters.ledger import Ledger, LedgerNotFoundError, find_ledger_ref
from engine.commands.repository import LoadedConfig, read_config, read_signers
from engine.core.changes import REGULAR_FILE, Change, Oversized
from engine.core.decide import classify, decide
from engine.core.decision import Decision, GrantFile, Kind, PullRequest
from engine.core.forge import Pushers
from engine.core.grants import GRANTS_DIR, grant_id, parse_path
from engine.core.ledger import END_EVENTS, Event
from engine.core.models import GrantId, Login, Review, Settings
from engine.core.principals import TeamLookup, resolve_teams
from engine.core.strictyaml import Limits, LoadError, load
from engine.core.targets import Catalog

# A policy id as a folder name (schemas/grant.schema.json, policyId).
_POLICY_FOLDER = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


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
    base, head = repo.resolve(base), repo.resolve(head)
    changes = repo.changes(base, head)
    base_tree, head_tree = repo.tree(base), repo.tree(head)
    base_config = read_config(base_tree, targets)
    kind = classify(changes).kind
    head_config = (read_config(head_tree, targets).result
                   if kind is Kind.CONTROL_PLANE else None)
    judging_config = base_config.result.config
    added = _added(head_tree, changes,
                   (judging_config.settings if judging_config else Settings()).max_grant_bytes)
    pr = PullRequest(
        author=author,
        head=head,
        changes=tuple(changes),
        reviews=tuple(reviews),
        pushers=who.logins,
        added=added,
        deleted=_deleted(repo, base, head, changes),
        existing=_own_grants(repo, base_tree, author, added) if kind is Kind.REQUEST else (),
        author_id=author_id if author_id is not None else who.author_id,
        unattributed=who.unattributed,
        unlisted_commits=who.unlisted,
        used={path: stamp.sha for path, stamp in
              repo.history_touching(base, [f.path for f in added]).items()},
        # An action's plan must be the same under the configuration its head was written
        # against (engine/actions/decide.py): read it only for actions.
        origin=(read_config(repo.tree(repo.merge_base(base, head))).result.config
                if kind is Kind.ACTION else None),
    )
    judging = base_config.result
    if teams is not None and judging.config is not None:
        judging = replace(judging, config=resolve_teams(judging.config, teams))
    decision = decide(pr, judging, base_config.schemas, now, head_config)
    return Verdict(decision, base, head, base_config)


def _grant_changes(changes: list[Change], status: str) -> list[Change]:
    return [c for c in changes if c.status == status and c.path.startswith(GRANTS_DIR)]


def _added(head: GitTree, changes: list[Change], cap: int) -> tuple[GrantFile, ...]:
    """Head blobs of added grant and action files, read as data. Only regular files are read
    at all, and none beyond the size cap (the rest of a huge blob is never held)."""
    paths = [c.path for c in changes if c.status == "A" and c.new_mode == REGULAR_FILE
             and (c.path.startswith(GRANTS_DIR) or c.path.startswith(ACTIONS_DIR))]
    return tuple(GrantFile(path, raw) for path, raw in head.read_many(paths, cap).items())


def _deleted(repo: GitRepository, base: str, head: str,
             changes: list[Change]) -> tuple[GrantFile, ...]:
    paths = [c.path for c in _grant_changes(changes, "D") if c.old_mode == REGULAR_FILE]
    if not paths:
        return ()
    merge_base = repo.tree(repo.merge_base(base, head))
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


def _own_grants(repo: GitRepository, base_tree: GitTree, author: Login,
                added: Sequence[GrantFile]) -> tuple[GrantFile, ...]:
    """The author's grants on the base branch that a request can be limited or extended by,
    and no others: the verdict must not grow with the number of unrelated grants.

    Only a valid grant of the requested policy counts (engine.core.decide), and a valid grant
    lives in its policy's folder, so only the folders of the policies the request names (in
    its path, and in its content, which may disagree) are read, and in them only the names
    that start with the author's login."""
    folders = sorted({policy for file in added for policy in _policies_named(file)})
    mine = [entry.path for folder in folders
            for entry in base_tree.entries_named(GRANTS_DIR + folder, f"{author}-")
            if entry.mode == REGULAR_FILE and (p := parse_path(entry.path))
            and p.requester == author]
    return _with_activations(repo, base_tree.sha, base_tree.read_many(mine))


def _policies_named(file: GrantFile) -> set[str]:
    """The policy folder of a requested grant's path, and the policy its content names."""
    named: set[str] = set()
    parts = parse_path(file.path)
    if parts is not None:
        named.add(parts.policy)
    if isinstance(file.raw, Oversized):
        return named  # too large to judge: the request is denied by its size
    try:
        data = load(file.raw, file.path, Limits(max_bytes=len(file.raw))).data
    except LoadError:
        return named  # unreadable: the request is denied, whatever the author holds
    policy = data.get("policy") if isinstance(data, dict) else None
    if isinstance(policy, str) and _POLICY_FOLDER.fullmatch(policy):
        named.add(policy)
    return named


def _with_activations(repo: GitRepository, base: str,
                      files: dict[str, bytes]) -> tuple[GrantFile, ...]:
    """Offline, a grant activated when the first-parent commit that added it landed (or at
    its start, which the core takes as the later of the two). One history walk for all the
    files: one per file made the verdict cost the history's length times the author's grants."""
    landed = repo.first_parent_additions(base, files)
    return tuple(GrantFile(path, raw, landed[path].time if path in landed else None)
                 for path, raw in files.items())
