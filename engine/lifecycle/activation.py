"""gitjit activate: verify each grant newly merged into the default branch, apply it, record it.

Merge alone is not trusted. Each grant without a verdict in the (trusted) ledger is
re-verified from forge data (its pull request, the reviews given up to the merge, who pushed,
the head SHA) against the configuration of the merge's first parent. A grant that fails
(pushed directly, merged by an admin without approvals, approved on an older commit or after
the merge, a merge that brought more than the grant) is never applied: it is refused, an alert
is recorded, and the file is removed as the settings say. A grant that cannot be verified now
(the forge or its head unreadable) is deferred, and refused after MAX_DEFERRALS attempts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime

from engine.actions.lifecycle import run_actions
from engine.adapters import progress
from engine.adapters.git import CommitStamp
from engine.adapters.lock import lifecycle_lock
from engine.adapters.notify import REFUSAL_ALERT as REFUSED
from engine.adapters.notify import Notifier
from engine.adapters.signing import SigningError
from engine.core import trailers
from engine.core.grants import GRANTS_DIR, grant_id, parse_path
from engine.core.ledger import (
    END_EVENTS,
    MAX_DEFERRALS,
    CountedReview,
    Event,
    ExpiryEnforcer,
    Record,
)
from engine.core.lifecycle import State, Window, window
from engine.core.models import GrantId, ReviewState
from engine.errors import GitjitError
from engine.lifecycle.context import ENGINE_VERSION, Lifecycle, Report, Run, open_run
from engine.lifecycle.removal import remove
from engine.lifecycle.targets import Targets, applied, describe, preflight
from engine.lifecycle.trust import alert_untrusted
from engine.lifecycle.verification import (
    Refusal,
    Unverifiable,
    Verified,
    attempt_after,
    verify_merged,
)


def activate(life: Lifecycle, now: datetime, *, dry_run: bool = False,
             notify: bool = True, bar: progress.Bar | None = None) -> Report:
    """``notify=False``: no notification (a simulation's throwaway world). ``bar``: where
    progress goes (one step per newly merged grant)."""
    bar = bar or progress.silent()
    report = Report("activate", now, dry_run)
    with lifecycle_lock(life.repo):
        run = open_run(life)
        if run.cannot_write and not dry_run:
            # Nothing is applied that could not be recorded: the safe side of activation.
            raise SigningError(f"activate cannot run: {run.cannot_write}")
        config = run.config
        targets = Targets(config.settings, life.target_factory)
        notifier = Notifier(config, report, dry_run=dry_run or not notify)
        state = alert_untrusted(life, run, notifier, report, now, dry_run=dry_run)
        entries = life.repo.tree(run.tip).entries(GRANTS_DIR)
        on_tip = [grant_id(e.path) for e in entries]
        found = life.ledger.find([f"{event} {gid}" for gid in on_tip
                                  for event in (Event.ACTIVATED, Event.REFUSED, Event.ALERT)])
        known = {gid: record for gid in on_tip
                 if (record := found.get(f"activated {gid}") or found.get(f"refused {gid}"))}
        new = [e for e in entries if grant_id(e.path) not in known]
        deferred = life.ledger.find([f"deferred {grant_id(e.path)} {n}" for e in new
                                     for n in range(1, MAX_DEFERRALS)])
        deferrals = Counter(record.grant_id for record in deferred.values())
        landed = life.repo.first_parent_additions(run.tip, [e.path for e in new],
                                                  since=state.index.main)
        refused = {grant_id(e.path): e.path for e in entries
                   if (r := known.get(grant_id(e.path))) and r.event is Event.REFUSED}
        for gid, record in known.items():
            if record.event is Event.REFUSED and f"alert {gid}" not in found and not dry_run:
                # A run stopped between the refusal and its alert: raise the alert now.
                notifier.notify(life.ledger.append(_alert(record)))
        for entry in bar.each(new, "verifying merged grants"):
            gid = grant_id(entry.path)
            try:
                try:
                    verified = verify_merged(life, entry.path, entry.mode,
                                             landed.get(entry.path))
                except Unverifiable as exc:
                    attempt = attempt_after(exc, deferrals[gid])
                    _defer(life, report, gid, entry.path, attempt, exc.reason, now, dry_run)
                    continue
                _activate_one(life, targets, verified, now, report, dry_run, notifier)
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
                refused[gid] = entry.path
                notifier.notify(alert)  # refused and alert: one message
            except GitjitError as exc:
                # Not recorded: the next run tries again (a target may be down for a while).
                report.add(gid, "activate", str(exc), failed=True)
        # Actions: verified like grants, started (signed record first), run once, sealed.
        run_actions(life, run, targets, notifier, report, now, dry_run)
        if refused and not dry_run:
            remove(life, run, report, refused, _refused_message,
                   title="gitjit: remove grants that failed re-verification")
    return report


def _alert(refused: Record) -> Record:
    return replace(refused, seq=0, prev="", event=Event.ALERT, code=REFUSED)


def _activate_one(life: Lifecycle, targets: Targets, verified: Verified, now: datetime,
                  report: Report, dry_run: bool, notifier: Notifier) -> None:
    grant, policy = verified.grant, verified.policy
    gid = grant.id
    span = window(grant, verified.merged_at)
    target = applied(policy)
    plugin = targets.plugin(target)
    assignment = targets.assignment(target, policy.id, gid, grant.requester,
                                    span.activated_at, span.expires_at,
                                    justification=grant.justification, ticket=grant.ticket)
    state = span.state(now)
    if dry_run:
        if state is not State.ACTIVE:
            report.add(gid, str(state), _when(span))
            return
        where = describe(target)
        try:
            checked = preflight(plugin, assignment)
        except GitjitError as exc:
            # A dry run that claims success must mean the real run could apply it.
            report.add(gid, "activate", f"would not apply at {where}: {exc}", failed=True)
            return
        report.add(gid, "activated", f"{_when(span)}; would apply at {where}: {checked}")
        return
    if state is State.ACTIVE:
        plugin.apply(assignment)
    native = plugin.native_expiry(assignment)
    decision = verified.verdict.decision
    glass = policy.break_glass if grant.break_glass else None
    activated = life.ledger.append(Record(
        event=Event.ACTIVATED, grant_id=gid, policy=grant.policy, requester=grant.requester,
        at=now, pull_request=verified.pull_request.number, base_sha=verified.first_parent,
        head_sha=verified.pull_request.head_sha, merge_sha=verified.merge.sha,
        reviews=tuple(CountedReview(c.reviewer, ReviewState.APPROVED, c.commit, c.submitted_at)
                      for c in decision.counted),
        policy_blob=verified.verdict.config.blobs.get(policy.path),
        groups_blob=verified.verdict.config.blobs.get("policies/groups.yaml"),
        engine_version=ENGINE_VERSION, activated_at=span.activated_at,
        expires_at=span.expires_at,
        expiry_enforced_by=ExpiryEnforcer.TARGET if native else ExpiryEnforcer.GITJIT,
        target=target, break_glass=glass is not None,
        review_by=span.activated_at + glass.review_within if glass else None,
    ))
    action = {State.ACTIVE: "activated", State.SCHEDULED: "scheduled"}.get(state, "expired")
    report.add(gid, action, _when(span) + (" (break-glass)" if glass else ""))
    notifier.notify(activated)  # None on a rerun: told once
    if grant.extends is not None:
        _supersede(life, grant.extends, gid, now, report, notifier)


def _supersede(life: Lifecycle, old: GrantId, new: GrantId, now: datetime, report: Report,
               notifier: Notifier) -> None:
    """The grant that ``new`` extends ends now: one requester, one live grant per extension,
    so max_active_per_requester holds. Its access stays (the new grant covers the same person
    and target); reconcile revokes it when nothing covers it any more."""
    found = life.ledger.find([f"{event} {old}" for event in (Event.ACTIVATED, *END_EVENTS)])
    activated = found.get(f"activated {old}")
    if activated is None or len(found) > 1:
        return
    superseded = life.ledger.append(replace(
        _current(life, activated), seq=0, prev="", event=Event.SUPERSEDED, at=now, subject="",
        ended_at=now,
        engine_version=ENGINE_VERSION, detail=f"superseded by {new}, which extends it"))
    report.add(old, "superseded", f"by {new}")
    notifier.notify(superseded)


def _current(life: Lifecycle, activated: Record) -> Record:
    """The activated record with where the grant's access is now (its latest target)."""
    for record, target in life.ledger.state().open:
        if record.grant_id == activated.grant_id:
            return replace(activated, target=target)
    return activated


def _defer(life: Lifecycle, report: Report, gid: GrantId, path: str, attempt: int,
           reason: str, now: datetime, dry_run: bool) -> None:
    report.add(gid, "deferred", f"attempt {attempt} of {MAX_DEFERRALS}: {reason}",
               failed=True)
    if dry_run:
        return
    parts = parse_path(path)
    life.ledger.append(Record(
        event=Event.DEFERRED, grant_id=gid, policy=parts.policy if parts else "",
        requester=parts.requester if parts else "", at=now, engine_version=ENGINE_VERSION,
        detail=f"could not be verified (attempt {attempt} of {MAX_DEFERRALS}): {reason}",
        subject=str(attempt)))


def _when(span: Window) -> str:
    return f"{span.activated_at:%Y-%m-%d %H:%M}Z until {span.expires_at:%Y-%m-%d %H:%M}Z"


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
    return life.ledger.append(_alert(refused))


def _refused_message(removed: list[str]) -> str:
    lines = [trailers.format_refused(grant_id(p)) for p in removed]
    return ("gitjit: remove grants that failed re-verification\n\n"
            "They were never applied to any target; see the alerts in the ledger.\n\n"
            + "\n".join(lines) + "\n")


__all__ = ["activate", "CommitStamp", "Run"]
