"""gitjit activate: verify each grant newly merged into the default branch, apply it, record it.

Merge alone is not trusted. Each grant without a verdict in the ledger is re-verified from
forge data (its pull request, reviews and head SHA) against the configuration of the merge's
first parent. A grant that fails (pushed directly, merged by an admin without approvals,
approved on an older commit, a merge that brought more than the grant) is never applied: it is
refused, an alert is recorded, and the file is removed by a commit."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from engine.adapters.branch import commit_removal
from engine.adapters.git import CommitStamp
from engine.adapters.lock import lifecycle_lock
from engine.adapters.notify import Notifier
from engine.commands.lifecycle import ENGINE_VERSION, Lifecycle, Report, verdicts
from engine.commands.repository import LoadedConfig
from engine.commands.targets import Targets
from engine.commands.verdict import judge
from engine.core import trailers
from engine.core.decision import Decision, Kind, Outcome
from engine.core.forge import PullRequestInfo
from engine.core.grants import GRANTS_DIR, file_finding, grant_id, parse_path
from engine.core.ledger import CountedReview, Event, ExpiryEnforcer, Record
from engine.core.lifecycle import State, Window, window
from engine.core.models import GrantId, ReviewState
from engine.errors import GitjitError


class Refusal(Exception):
    """Re-verification failed: the grant is never applied."""

    def __init__(self, reason: str, pull_request: PullRequestInfo | None = None,
                 merge_sha: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pull_request = pull_request
        self.merge_sha = merge_sha


def activate(life: Lifecycle, now: datetime, *, dry_run: bool = False,
             notify: bool = True) -> Report:
    """``notify=False``: no notification (a simulation's throwaway world)."""
    report = Report("activate", now, dry_run)
    with lifecycle_lock(life.repo):
        tip = life.tip()
        _, config = life.config(tip)
        targets = Targets(config.settings, life.target_factory)
        notifier = Notifier(config, report, dry_run=dry_run or not notify)
        records = life.ledger.records()
        known = verdicts(records)
        alerted = {r.grant_id for r in records if r.event is Event.ALERT}
        entries = life.repo.tree(tip).entries(GRANTS_DIR)
        new = [e for e in entries if grant_id(e.path) not in known]
        landed = life.repo.first_parent_additions(tip, [e.path for e in new])
        refused = [e.path for e in entries
                   if (r := known.get(grant_id(e.path))) and r.event is Event.REFUSED]
        for gid, record in known.items():
            if record.event is Event.REFUSED and gid not in alerted and not dry_run:
                # A run stopped between the refusal and its alert: raise the alert now.
                notifier.notify(life.ledger.append(
                    replace(record, seq=0, prev="", event=Event.ALERT)))
        for entry in new:
            gid = grant_id(entry.path)
            try:
                _activate_one(life, targets, entry.path, entry.mode, landed.get(entry.path),
                              now, report, dry_run, notifier)
            except Refusal as refusal:
                report.add(gid, "refused", refusal.reason)
                if dry_run:
                    continue
                try:
                    alert = _record_refusal(life, gid, entry.path, refusal, now)
                except GitjitError as exc:
                    # Unrecorded, the file stays: the next run re-verifies and refuses again.
                    report.add(gid, "record", str(exc), failed=True)
                    continue
                refused.append(entry.path)
                notifier.notify(alert)  # refused and alert: one message
            except GitjitError as exc:
                # Not recorded: the next run tries again (a target may be down for a while).
                report.add(gid, "activate", str(exc), failed=True)
        if refused and not dry_run:
            _remove_refused(life, refused, report)
    return report


def _activate_one(life: Lifecycle, targets: Targets, path: str, mode: str,
                  stamp: CommitStamp | None, now: datetime, report: Report,
                  dry_run: bool, notifier: Notifier) -> None:
    gid = grant_id(path)
    unusable = file_finding(path, mode)
    if unusable is not None:
        raise Refusal(f"{unusable.message}; it was pushed without passing gitjit's check")
    if stamp is None:
        raise Refusal("no commit on the default branch's first-parent line adds it")
    pr = life.forge.pull_request_for_commit(stamp.sha)
    if pr is None:
        raise Refusal(f"landed in {stamp.sha[:12]} without a pull request (a direct push)",
                      merge_sha=stamp.sha)
    first_parent = life.repo.resolve(f"{stamp.sha}^1")
    _check_merge_brings_only(life, path, first_parent, stamp.sha, pr)
    merged_at = pr.merged_at or stamp.time
    reviews = life.forge.reviews(pr.number)
    # Teams are looked up where the forge can (GitHub); offline they stay unresolved and a
    # grant that needs one is refused.
    verdict = judge(life.repo, first_parent, pr.head_sha, pr.author, reviews,
                    life.forge.pushers(pr.number), merged_at,
                    teams=getattr(life.forge, "team_members", None))
    decision = verdict.decision
    if decision.outcome is not Outcome.APPROVED or decision.kind is not Kind.REQUEST \
            or decision.grant is None or decision.grant.path != path:
        raise Refusal(_why(decision), pr, stamp.sha)
    grant = decision.grant
    policy = verdict.config.result.config.policies[grant.policy]  # type: ignore[union-attr]
    span = window(grant, merged_at)
    plugin = targets.plugin(policy)
    assignment = targets.assignment(policy, gid, grant.requester, span.activated_at,
                                    span.expires_at)
    state = span.state(now)
    if dry_run:
        report.add(gid, "activated" if state is State.ACTIVE else str(state), _when(span))
        return
    if state is State.ACTIVE:
        plugin.apply(assignment)
    native = plugin.native_expiry(assignment)
    activated = life.ledger.append(Record(
        event=Event.ACTIVATED, grant_id=gid, policy=grant.policy, requester=grant.requester,
        at=now, pull_request=pr.number, base_sha=first_parent, head_sha=pr.head_sha,
        merge_sha=stamp.sha,
        reviews=tuple(CountedReview(c.reviewer, ReviewState.APPROVED, c.commit, c.submitted_at)
                      for c in decision.counted),
        policy_blob=_blob(verdict.config, policy.path),
        groups_blob=_blob(verdict.config, "policies/groups.yaml"),
        engine_version=ENGINE_VERSION, activated_at=span.activated_at,
        expires_at=span.expires_at,
        expiry_enforced_by=ExpiryEnforcer.TARGET if native else ExpiryEnforcer.GITJIT,
    ))
    action = {State.ACTIVE: "activated", State.SCHEDULED: "scheduled"}.get(state, "expired")
    report.add(gid, action, _when(span))
    notifier.notify(activated)  # None on a rerun: told once


def _when(span: Window) -> str:
    return f"{span.activated_at:%Y-%m-%d %H:%M}Z until {span.expires_at:%Y-%m-%d %H:%M}Z"


def _check_merge_brings_only(life: Lifecycle, path: str, first_parent: str, merge: str,
                             pr: PullRequestInfo) -> None:
    """The landing commit must add exactly this grant, with the content the PR's head has."""
    changes = life.repo.changes(first_parent, merge)
    others = [c.path for c in changes if c.path != path]
    if others:
        raise Refusal(f"the merge {merge[:12]} also changes {', '.join(others[:3])}", pr, merge)
    landed = {e.path: e.blob for e in life.repo.tree(merge).entries(path)}
    reviewed = {e.path: e.blob for e in life.repo.tree(pr.head_sha).entries(path)}
    if landed.get(path) is None or landed.get(path) != reviewed.get(path):
        raise Refusal(f"the file that landed differs from the one in pull request #{pr.number}'s"
                      f" head {pr.head_sha[:12]}", pr, merge)


def _why(decision: Decision) -> str:
    reasons = [f.message for f in decision.findings if f.severity.value != "notice"]
    return (f"merged while the verdict was {decision.outcome.value}: "
            + "; ".join(reasons[:3]) if reasons else f"verdict {decision.outcome.value}")


def _blob(config: LoadedConfig, path: str) -> str | None:
    return config.blobs.get(path)


def _record_refusal(life: Lifecycle, gid: GrantId, path: str, refusal: Refusal,
                    now: datetime) -> Record | None:
    """Record the refusal and its alert; the alert when it is new, else None."""
    parts = parse_path(path)
    pr = refusal.pull_request
    refused = Record(event=Event.REFUSED, grant_id=gid, policy=parts.policy if parts else "",
                     requester=parts.requester if parts else "", at=now,
                     pull_request=pr.number if pr else None,
                     head_sha=pr.head_sha if pr else None, merge_sha=refusal.merge_sha,
                     engine_version=ENGINE_VERSION, detail=refusal.reason)
    life.ledger.append(refused)
    return life.ledger.append(replace(refused, event=Event.ALERT))


def _remove_refused(life: Lifecycle, paths: list[str], report: Report) -> None:
    def message(removed: list[str]) -> str:
        lines = [trailers.format_refused(grant_id(p)) for p in removed]
        return ("gitjit: remove grants that failed re-verification\n\n"
                "They were never applied to any target; see the alerts in the ledger.\n\n"
                + "\n".join(lines) + "\n")

    try:
        commit = life.write(life.branch, lambda: commit_removal(
            life.repo, life.branch, paths, message, at=report.now))
    except GitjitError as exc:
        report.add(", ".join(grant_id(p) for p in paths), "remove", str(exc), failed=True)
        return
    if commit is not None:
        report.add(", ".join(grant_id(p) for p in paths), "removed", commit[:12])
