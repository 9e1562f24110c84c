"""The activate job's part for actions: verify each merged action, start it, run it, seal it.

For every action request on the default branch that the trusted ledger knows nothing of:

1. re-verify it from forge data exactly as a grant is (the pull request, the reviews given
   up to the merge, who pushed, the merge bringing only this file), against the
   configuration of the merge's first parent, which also renders the plan that runs;
2. let the target prepare (connect, find the program), then append a signed ``started``
   record holding the plan's digest and what runs; only a run whose append wrote the record
   goes on (the ledger's idempotency key: one ``started`` per action);
3. run it once, and seal the outcome (``completed``, ``failed`` or ``unknown``: the key is
   one outcome per action), comment it on the pull request and notify it.

An action whose ``started`` record has no outcome was interrupted (the run died between
start and outcome): it is never run again; its outcome is sealed ``unknown`` and alerted, and
a new request is needed. A refused action never runs and is alerted; its file stays on the
branch as the request that was refused (action files are never removed).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.actions import outcome
from engine.actions.model import ACTIONS_DIR, ActionId, ActionRequest, Plan
from engine.actions.request import action_id, file_finding, parse_path
from engine.adapters.git import CommitStamp
from engine.adapters.notify import REFUSAL_ALERT, Notifier
from engine.commands.verdict import Verdict
from engine.core.decision import Kind, Outcome
from engine.core.forge import PullRequestInfo
from engine.core.ledger import (
    MAX_DEFERRALS,
    ActionRun,
    CountedReview,
    Event,
    Record,
)
from engine.core.models import GrantId, Policy, ReviewState
from engine.errors import GitjitError
from engine.lifecycle.context import ENGINE_VERSION, Lifecycle, Report, Run
from engine.lifecycle.targets import Targets, applied
from engine.lifecycle.verification import (
    Refusal,
    Unverifiable,
    attempt_after,
    judge_merge,
    landed_alone,
    why,
)
from engine.targets.base import ActionJob, ActionResult, RunsActions

COMMENT_KEY = "outcome"
UNKNOWN_ALERT = "action.outcome-unknown"


@dataclass(frozen=True)
class VerifiedAction:
    request: ActionRequest
    plan: Plan
    policy: Policy
    pull_request: PullRequestInfo
    merge: CommitStamp
    first_parent: str
    verdict: Verdict


def run_actions(life: Lifecycle, run: Run, targets: Targets, notifier: Notifier,
                report: Report, now: datetime, dry_run: bool) -> None:
    """Verify, run and seal every action the trusted ledger has not settled yet. The ledger is
    asked about the action files on the branch only (by key), never read whole."""
    every = life.repo.tree(run.tip).entries(ACTIONS_DIR)
    ids = [action_id(e.path) for e in every]
    found = life.ledger.find([f"{kind} {aid}" for aid in ids
                              for kind in ("started", "outcome", "refused")])
    settled = {aid for aid in ids if f"outcome {aid}" in found or f"refused {aid}" in found}
    started = {aid: found[f"started {aid}"] for aid in ids if f"started {aid}" in found}
    for aid, record in sorted(started.items()):
        if aid not in settled:
            _interrupted(life, record, notifier, report, now, dry_run)
    entries = [e for e in every
               if action_id(e.path) not in settled and action_id(e.path) not in started]
    if not entries:
        return
    deferred = life.ledger.find([f"deferred {action_id(e.path)} {n}" for e in entries
                                 for n in range(1, MAX_DEFERRALS)])
    deferrals = Counter(ActionId(r.grant_id) for r in deferred.values())
    landed = life.repo.first_parent_additions(run.tip, [e.path for e in entries],
                                              since=run.state.index.main)
    for entry in entries:
        aid = action_id(entry.path)
        try:
            try:
                verified = verify_action(life, entry.path, entry.mode, landed.get(entry.path))
            except Unverifiable as exc:
                attempt = attempt_after(exc, deferrals[aid])
                _defer(life, report, aid, entry.path, attempt, exc.reason, now, dry_run)
                continue
            _run_one(life, targets, verified, notifier, report, now, dry_run)
        except Refusal as refusal:
            report.add(aid, "refused", refusal.reason)
            if not dry_run:
                _refuse(life, aid, entry.path, refusal, notifier, report, now)
        except GitjitError as exc:
            # Nothing was started: the next run tries again.
            report.add(aid, "run", str(exc), failed=True)


def verify_action(life: Lifecycle, path: str, mode: str,
                  stamp: CommitStamp | None) -> VerifiedAction:
    """Re-verify the action request at ``path`` that landed in ``stamp``; Refusal or
    Unverifiable when it cannot run (now)."""
    pr, first_parent = landed_alone(life, path, file_finding(path, mode), stamp)
    assert stamp is not None  # landed_alone refuses a file no commit brought
    judged = judge_merge(life, pr, stamp)
    decision = judged.verdict.decision
    verdict = decision.action
    if decision.outcome is not Outcome.APPROVED or decision.kind is not Kind.ACTION \
            or verdict is None or verdict.plan is None or verdict.request.path != path:
        raise Refusal(why(decision), pr, stamp.sha)
    config = judged.verdict.config.result.config
    assert config is not None  # an approved action was judged by a working configuration
    return VerifiedAction(verdict.request, verdict.plan, config.policies[verdict.request.policy],
                          pr, stamp, first_parent, judged.verdict)


def _run_one(life: Lifecycle, targets: Targets, verified: VerifiedAction, notifier: Notifier,
             report: Report, now: datetime, dry_run: bool) -> None:
    request, plan = verified.request, verified.plan
    aid = request.id
    target = applied(verified.policy)
    plugin = targets.plugin(target)
    if not isinstance(plugin, RunsActions):
        raise GitjitError(f"the {target.provider} target cannot run actions; a policy with "
                          "actions needs the postgres or command target")
    if dry_run:
        report.add(aid, "would run", f"{plan.kind} {plan.digest()[:16]}")
        return
    _, connection = targets.connection(target)
    decision = verified.verdict.decision
    draft = Record(
        event=Event.STARTED, grant_id=GrantId(aid), policy=request.policy,
        requester=request.requester, at=now, pull_request=verified.pull_request.number,
        base_sha=verified.first_parent, head_sha=verified.pull_request.head_sha,
        merge_sha=verified.merge.sha,
        reviews=tuple(CountedReview(c.reviewer, ReviewState.APPROVED, c.commit, c.submitted_at)
                      for c in decision.counted),
        policy_blob=verified.verdict.config.blobs.get(verified.policy.path),
        groups_blob=verified.verdict.config.blobs.get("policies/groups.yaml"),
        engine_version=ENGINE_VERSION, target=target, action=outcome.started_run(plan))
    written: list[Record] = []

    def started() -> bool:
        record = life.ledger.append(draft)
        if record is not None:
            written.append(record)
        return record is not None

    try:
        result = plugin.run_action(ActionJob(aid, plan, connection), started)
    except GitjitError as exc:
        if not written:
            raise  # nothing started: the next run tries again
        result = ActionResult("unknown", timedelta(0), f"the target failed after the start: {exc}")
    if result is None or not written:
        report.add(aid, "skipped", "another run started it first")
        return
    _seal(life, written[0], result, outcome.secrets_of(connection), notifier, report, now)


def _seal(life: Lifecycle, started: Record, result: ActionResult, secrets: list[str],
          notifier: Notifier, report: Report, now: datetime) -> None:
    assert started.action is not None
    event = {"completed": Event.COMPLETED, "failed": Event.FAILED}.get(result.status,
                                                                      Event.UNKNOWN)
    run = outcome.sealed_run(started.action.digest, started.action.runs, result, secrets)
    detail = outcome.redact(result.detail, secrets)[:4000]
    sealed = life.ledger.append(_outcome_draft(started, event, now, run, detail))
    if sealed is None:
        report.add(started.grant_id, str(event), f"not recorded: another run sealed the "
                   f"outcome first; this run's: {detail or event}", failed=True)
        return
    shown = f"{_what(run)}" + (f": {detail}" if detail else "")
    report.add(started.grant_id, str(event), shown, failed=event is not Event.COMPLETED)
    _comment(life, started, str(event), run, detail, sealed.seq, report)
    if event is Event.UNKNOWN:
        notifier.notify(life.ledger.append(_alert(sealed, UNKNOWN_ALERT, detail)))
    else:
        notifier.notify(sealed)


def _what(run: ActionRun) -> str:
    parts = []
    if run.rows is not None:
        parts.append(f"{run.rows} rows")
    if run.exit_code is not None:
        parts.append(f"exit {run.exit_code}")
    if run.duration_ms is not None:
        parts.append(f"{run.duration_ms} ms")
    return ", ".join(parts) or "no output"


def _outcome_draft(started: Record, event: Event, now: datetime, run: ActionRun,
                   detail: str) -> Record:
    return Record(event=event, grant_id=started.grant_id, policy=started.policy,
                  requester=started.requester, at=now, pull_request=started.pull_request,
                  base_sha=started.base_sha, head_sha=started.head_sha,
                  merge_sha=started.merge_sha, policy_blob=started.policy_blob,
                  groups_blob=started.groups_blob, engine_version=ENGINE_VERSION,
                  target=started.target, action=run, detail=detail)


def _alert(about: Record, code: str, detail: str) -> Record:
    # The refusal's alert has no subject, as a grant's (activation re-raises a missing one).
    return Record(event=Event.ALERT, grant_id=about.grant_id, policy=about.policy,
                  requester=about.requester, at=about.at, pull_request=about.pull_request,
                  merge_sha=about.merge_sha, engine_version=ENGINE_VERSION, code=code,
                  subject="" if code == REFUSAL_ALERT else code, detail=detail)


def _interrupted(life: Lifecycle, started: Record, notifier: Notifier, report: Report,
                 now: datetime, dry_run: bool) -> None:
    """A ``started`` record without an outcome: the run that wrote it died (or its outcome
    could not be recorded). The action is never run again."""
    detail = (f"it was started at {started.at:%Y-%m-%d %H:%M:%S}Z (record {started.seq}) and "
              "no outcome was recorded: the run stopped in between, so whether the operation "
              "ran, and what it did, is not known; check the target by hand; it is never run "
              "again, a new request is needed to run it")
    report.add(started.grant_id, "unknown", detail, failed=True)
    if dry_run:
        return
    assert started.action is not None
    run = ActionRun(digest=started.action.digest, runs=started.action.runs)
    sealed = life.ledger.append(_outcome_draft(started, Event.UNKNOWN, now, run, detail))
    if sealed is not None:
        _comment(life, started, "unknown", run, detail, sealed.seq, report)
    alert = life.ledger.append(_alert(started, UNKNOWN_ALERT, detail))
    notifier.notify(alert)


def _comment(life: Lifecycle, about: Record, status: str, run: ActionRun | None, detail: str,
             seq: int | None, report: Report) -> None:
    """The outcome on the pull request; a forge that cannot take it fails the step only."""
    if about.pull_request is None:
        return
    body = outcome.comment(about.grant_id, status, run, detail, seq)  # type: ignore[arg-type]
    try:
        life.forge.comment(about.pull_request, COMMENT_KEY, body)
    except GitjitError as exc:
        report.add(about.grant_id, "comment", f"the outcome could not be commented on pull "
                   f"request #{about.pull_request}: {exc}", failed=True)


def _refuse(life: Lifecycle, aid: ActionId, path: str, refusal: Refusal, notifier: Notifier,
            report: Report, now: datetime) -> None:
    parts = parse_path(path)
    pr = refusal.pull_request
    refused = Record(event=Event.REFUSED, grant_id=GrantId(aid),
                     policy=parts.policy if parts else "",
                     requester=parts.requester if parts else "", at=now,
                     pull_request=pr.number if pr else None,
                     head_sha=pr.head_sha if pr else None, merge_sha=refusal.merge_sha,
                     engine_version=ENGINE_VERSION, detail=refusal.reason)
    try:
        written = life.ledger.append(refused)
        alert = life.ledger.append(_alert(refused, REFUSAL_ALERT, refusal.reason))
    except GitjitError as exc:
        report.add(aid, "record", str(exc), failed=True)
        return
    if written is not None:
        _comment(life, written, "refused", None, refusal.reason, written.seq, report)
    notifier.notify(alert)


def _defer(life: Lifecycle, report: Report, aid: ActionId, path: str, attempt: int,
           reason: str, now: datetime, dry_run: bool) -> None:
    report.add(aid, "deferred", f"attempt {attempt} of {MAX_DEFERRALS}: {reason}", failed=True)
    if dry_run:
        return
    parts = parse_path(path)
    life.ledger.append(Record(
        event=Event.DEFERRED, grant_id=GrantId(aid), policy=parts.policy if parts else "",
        requester=parts.requester if parts else "", at=now, engine_version=ENGINE_VERSION,
        detail=f"could not be verified (attempt {attempt} of {MAX_DEFERRALS}): {reason}",
        subject=str(attempt)))


