"""gitjit reconcile: make every target match the desired state, then tidy the branch.

Desired state: the grants on the default branch that gitjit verified (a trusted ``activated``
record) and that are active at ``now``. Each run, one grant at a time (a failure on one never
stops the others):

1. every record that claims a live grant is checked against the grant file on the branch and
   the forge's merge data; one that disagrees is revoked and alerted;
2. a live grant whose policy now names another target is moved: applied there, revoked where
   its record says it was (``retargeted``);
3. every live grant is applied (idempotent);
4. every grant whose time is up, or whose file was deleted, loses its access -- unless another
   live grant covers the same person and target -- and its end is recorded (expired,
   relinquished or revoked); a deletion that gitjit's verdict would not have approved still
   revokes, and raises an alert naming who deleted it;
5. whatever the targets still hold for grants that are no longer live is revoked; access the
   trusted ledger never verified stays only if it is provably live from the branch and the
   forge, and is otherwise revoked and alerted; anyone else holding a policy's target with no
   live grant (access granted by hand) is drift, alerted (and removed if the policy says so);
6. the files of expired and superseded grants are removed, by a push or a pull request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial

from engine.adapters import progress
from engine.adapters.git import CommitStamp
from engine.adapters.lock import lifecycle_lock
from engine.adapters.notify import Notifier
from engine.core import trailers
from engine.core.decision import Kind, Outcome
from engine.core.grants import grant_id, load_grant, parse_path
from engine.core.ledger import END_EVENTS, AppliedTarget, Event, Record, target_digest
from engine.core.lifecycle import State, Window, window
from engine.core.models import GrantId, Login, RemovalMode
from engine.errors import GitjitError
from engine.lifecycle.context import ENGINE_VERSION, Lifecycle, Report, Run, open_run
from engine.lifecycle.drift import check_drift
from engine.lifecycle.notices import run_timers
from engine.lifecycle.removal import remove
from engine.lifecycle.targets import TargetKey, Targets, applied, describe
from engine.lifecycle.trust import LEDGER, alert_untrusted
from engine.lifecycle.verification import (
    Refusal,
    Unverifiable,
    judge_merge,
    landing_pull_request,
    verify_merged,
    why,
)
from engine.targets.base import Assignment, ManagedAssignment, TargetPlugin

_APPROVED_DELETIONS = frozenset({Kind.RELINQUISH, Kind.HOUSEKEEPING, Kind.REVOKE})


@dataclass(frozen=True)
class _Grant:
    """A verified grant as the ledger knows it, bound to where its access is."""

    record: Record
    """Its activated record."""
    target: AppliedTarget
    """Where its access is: the activated record's target, or the latest retargeted one."""
    plugin: TargetPlugin
    assignment: Assignment
    key: TargetKey

    @property
    def id(self) -> GrantId:
        return self.record.grant_id


@dataclass(frozen=True)
class _End:
    """How a grant's access ends in this run: ``event`` None means a deletion whose author is
    still to be found."""

    event: Event | None
    detail: str = ""
    alert: str = ""
    """The alert code to raise with it ("" for none)."""
    subject: str = ""
    pull_request: int | None = None
    ended_at: datetime | None = None
    """When the access should have ended; None: at the grant's expiry (or now, for a
    mismatch)."""


def reconcile(life: Lifecycle, now: datetime, *, dry_run: bool = False,
              notify: bool = True, bar: progress.Bar | None = None) -> Report:
    """``notify=False``: no notification (a simulation's throwaway world). ``bar``: where
    progress goes (the records checked, the grants applied, the ends)."""
    bar = bar or progress.silent()
    report = Report("reconcile", now, dry_run)
    with lifecycle_lock(life.repo):
        run = open_run(life)
        if run.cannot_write:
            # Revocation goes on without a record: the safe direction needs no writing.
            report.add(LEDGER, "record", f"nothing is recorded in this run: {run.cannot_write}",
                       failed=True)
        targets = Targets(run.config.settings, life.target_factory)
        notifier = Notifier(run.config, report, dry_run=dry_run or not notify)
        state = alert_untrusted(life, run, notifier, report, now, dry_run=dry_run)
        on_tip = life.grant_paths(run.tip)
        verified = _bind_all(state.open, targets, report)

        open_on_tip = {gid: grant.record for gid, grant in verified.items()
                       if gid in on_tip and _window(grant.record).state(now) is not State.EXPIRED}
        mismatches = _cross_check(life, run, open_on_tip, report, bar)
        live: dict[GrantId, _Grant] = {}
        finishing: dict[GrantId, tuple[_Grant, _End]] = {}
        for gid, grant in verified.items():
            when = _window(grant.record).state(now)
            if gid in mismatches:
                finishing[gid] = (grant, _End(Event.REVOKED, mismatches[gid], "record.mismatch"))
            elif when is State.EXPIRED:
                finishing[gid] = (grant, _End(Event.EXPIRED))
            elif gid not in on_tip:
                finishing[gid] = (grant, _End(None))
            elif when is State.ACTIVE:
                live[gid] = grant

        for gid in sorted(live):
            live[gid] = _retarget(life, run, report, targets, live[gid], live, now, dry_run,
                                  notifier)
        cover = {grant.key: gid for gid, grant in live.items()}
        for gid, grant in bar.each(sorted(live.items()), "applying live grants"):
            _step(report, gid, "applied", partial(grant.plugin.apply, grant.assignment), dry_run)
        for _gid, (grant, end) in bar.each(sorted(finishing.items()), "ending grants"):
            _finish(life, run, report, grant, end, cover, now, dry_run, notifier)
        _sweep(life, run, report, targets, verified, live, finishing, cover, now, dry_run,
               notifier)
        holding = {gid: (g.target, Login(g.record.requester)) for gid, g in live.items()}
        if dry_run:
            # Nothing was revoked: what this run would revoke is not drift either.
            holding |= {gid: (g.target, Login(g.record.requester))
                        for gid, (g, _end) in finishing.items()}
        check_drift(life, run, report, targets, holding, now, dry_run, notifier)
        if dry_run:
            _would_remove(life, run, report, on_tip, finishing)
        else:
            _remove_ended(life, run, report, on_tip)
        # Timers and notices last, so they never delay a revocation; they report, never raise.
        run_timers(life, run, report, now, dry_run=dry_run, enabled=notify)
    return report


# -- binding -------------------------------------------------------------------------------


def _bind_all(opened: Sequence[tuple[Record, AppliedTarget]], targets: Targets,
              report: Report) -> dict[GrantId, _Grant]:
    """The open grants (activated, end not recorded), each bound to where its access is."""
    bound: dict[GrantId, _Grant] = {}
    for record, target in opened:
        try:
            bound[record.grant_id] = _bind(record, target, targets)
        except GitjitError as exc:
            report.add(record.grant_id, "bind", str(exc), failed=True)
    return bound


def _bind(record: Record, target: AppliedTarget, targets: Targets) -> _Grant:
    span = _window(record)
    login = Login(record.requester)
    return _Grant(record, target, targets.plugin(target),
                  targets.assignment(target, record.policy, record.grant_id,  # type: ignore[arg-type]
                                     login, span.activated_at, span.expires_at),
                  targets.key(target, login))


def _window(record: Record) -> Window:
    assert record.activated_at is not None and record.expires_at is not None
    return Window(record.activated_at, record.expires_at)


# -- the record against the branch and the forge -------------------------------------------


def _landing(life: Lifecycle, path: str, merge: str | None, tip: str) -> CommitStamp | None:
    """``merge`` as the commit that landed ``path``, if the branch agrees: it is in the tip's
    history, added the file, with the content the tip holds. A few git processes per grant,
    whatever the history's length."""
    if merge is None or not life.repo.is_ancestor(merge, tip):
        return None
    added = {e.path: e.blob for e in life.repo.tree(merge).entries(path)}
    before = {e.path for e in life.repo.tree(f"{merge}^1").entries(path)}
    now = {e.path: e.blob for e in life.repo.tree(tip).entries(path)}
    if path not in added or path in before or added[path] != now.get(path):
        return None
    return CommitStamp(merge, life.repo.commit_time(merge))


def _cross_check(life: Lifecycle, run: Run, records: dict[GrantId, Record],
                 report: Report, bar: progress.Bar) -> dict[GrantId, str]:
    """Each record of a grant that is still open, against its file on the branch and the
    forge's merge data: what disagrees, by grant. A record the forge cannot confirm right now
    stays believed (it is signed), and the run reports the failure."""
    if not records:
        return {}
    paths = {gid: f"grants/{gid}.yaml" for gid in records}
    contents = life.repo.tree(run.tip).read_many(paths.values())
    max_bytes = run.config.settings.max_grant_bytes
    disagreements: dict[GrantId, str] = {}
    for gid, record in bar.each(sorted(records.items()), "checking live grants"):
        path = paths[gid]
        problems: list[str] = []
        grant = load_grant(path, contents.get(path, b""), run.loaded.schemas, max_bytes).grant
        stamp = _landing(life, path, record.merge_sha, run.tip)
        if grant is None:
            problems.append(f"{path} on {life.branch} is not a valid grant")
        elif (grant.policy, grant.requester) != (record.policy, record.requester):
            problems.append(f"the record names {record.requester} and policy {record.policy}, "
                            f"the file {grant.requester} and policy {grant.policy}")
        if stamp is None:
            problems.append(f"the record says the file landed in "
                            f"{(record.merge_sha or 'none')[:12]}, but that commit is not on "
                            f"{life.branch}, did not add it, or added other content")
        elif grant is not None:
            try:
                pr = life.forge.pull_request_for_commit(stamp.sha)
            except GitjitError as exc:
                report.add(gid, "cross-check", f"the forge could not confirm the merge: {exc}",
                           failed=True)
                continue
            if pr is None or pr.number != record.pull_request:
                problems.append(f"the forge says {stamp.sha[:12]} merged "
                                f"{'no pull request' if pr is None else f'#{pr.number}'}, the "
                                f"record says #{record.pull_request}")
            else:
                span = window(grant, pr.merged_at or stamp.time)
                if (span.activated_at, span.expires_at) != (record.activated_at,
                                                            record.expires_at):
                    problems.append(
                        f"the window is {span.activated_at:%Y-%m-%dT%H:%M:%SZ} until "
                        f"{span.expires_at:%Y-%m-%dT%H:%M:%SZ} by the file and the merge, the "
                        f"record says {record.activated_at:%Y-%m-%dT%H:%M:%SZ} until "
                        f"{record.expires_at:%Y-%m-%dT%H:%M:%SZ}")
        if problems:
            disagreements[gid] = ("the record disagrees with the default branch and the forge: "
                                  + "; ".join(problems))
    return disagreements


# -- moving a live grant to its policy's new target ----------------------------------------


def _retarget(life: Lifecycle, run: Run, report: Report, targets: Targets, grant: _Grant,
              live: dict[GrantId, _Grant], now: datetime, dry_run: bool,
              notifier: Notifier) -> _Grant:
    policy = run.config.policies.get(grant.record.policy)  # type: ignore[call-overload]
    if policy is None:
        return grant  # the policy is gone: the access stays where it is until it ends
    new_target = applied(policy)
    if new_target == grant.target:
        return grant
    try:
        moved = _bind(grant.record, new_target, targets)
    except GitjitError as exc:
        report.add(grant.id, "retarget", str(exc), failed=True)
        return grant
    others = {g.key for gid, g in live.items() if gid != grant.id}
    detail = f"{describe(grant.target)} -> {describe(new_target)}"
    if not _step(report, grant.id, "applied", partial(moved.plugin.apply, moved.assignment),
                 dry_run, f"moved to its policy's new target {describe(new_target)}"):
        return grant
    if grant.key not in others and not _step(
            report, grant.id, "revoked", partial(grant.plugin.revoke, grant.assignment), dry_run,
            f"at its old target {describe(grant.target)}"):
        return grant  # recorded once the old access is gone: the next run tries again
    if dry_run or run.cannot_write:
        return moved
    try:
        notifier.notify(life.ledger.append(replace(
            grant.record, seq=0, prev="", event=Event.RETARGETED, at=now,
            engine_version=ENGINE_VERSION, target=new_target, subject=target_digest(new_target),
            detail=f"moved to its policy's new target: {detail}")))
    except GitjitError as exc:
        report.add(grant.id, "record", str(exc), failed=True)
    return moved


# -- ending access -------------------------------------------------------------------------


_FAILED = {"applied": "apply", "revoked": "revoke"}


def _step(report: Report, gid: str, action: str, do: Callable[[], None], dry_run: bool,
          detail: str = "") -> bool:
    """Run one target operation; a failure is reported and never stops the others."""
    try:
        if not dry_run:
            do()
    except GitjitError as exc:
        report.add(gid, _FAILED[action], str(exc), failed=True)
        return False
    report.add(gid, action, detail)
    return True


def _finish(life: Lifecycle, run: Run, report: Report, grant: _Grant, end: _End,
            cover: dict[TargetKey, GrantId], now: datetime, dry_run: bool,
            notifier: Notifier) -> None:
    if end.event is None:
        end = _deletion(life, grant, run.tip)
    assert end.event is not None
    detail = end.detail
    keeper = cover.get(grant.key)
    if keeper is not None:
        report.add(grant.id, "kept", f"{end.event}; access continues under {keeper}")
        detail = f"{detail}; access continues under {keeper}".lstrip("; ")
    elif not _step(report, grant.id, "revoked", partial(grant.plugin.revoke, grant.assignment),
                   dry_run, str(end.event)):
        return  # not recorded: the next run revokes again, then records
    if end.alert:
        report.add(grant.id, end.alert, end.detail, failed=True)
    if dry_run or run.cannot_write:
        return
    ended_at = end.ended_at or (_window(grant.record).expires_at if end.event is Event.EXPIRED
                                else now)
    drafts = [replace(grant.record, seq=0, prev="", event=end.event, at=now,
                      pull_request=end.pull_request or grant.record.pull_request,
                      engine_version=ENGINE_VERSION, detail=detail, subject="",
                      target=grant.target,
                      ended_at=min(ended_at, now))]
    if end.alert:
        drafts.append(replace(drafts[0], event=Event.ALERT, code=end.alert,
                              subject=end.subject, detail=end.detail, ended_at=None))
    for draft in drafts:
        try:
            notifier.notify(life.ledger.append(draft))  # None when recorded before: told once
        except GitjitError as exc:
            # The access is gone but unrecorded: the next run revokes again (idempotent).
            report.add(grant.id, "record", str(exc), failed=True)
            return


def _deletion(life: Lifecycle, grant: _Grant, tip: str) -> _End:
    """What the deletion of a live grant's file was: relinquished by its requester or revoked
    by someone else, through a pull request gitjit's verdict approves. Anything else still
    ends the access (fail safe) and raises an alert that names who deleted it."""
    path = f"grants/{grant.id}.yaml"
    raw = life.repo.git("log", "--first-parent", "--no-renames", "--diff-filter=D",
                        "--format=%H%x1f%ct%x1f%an <%ae>%x1f%cn <%ce>", "-1",
                        "--end-of-options", tip, "--", path)
    fields = raw.decode("utf-8", "replace").strip().split("\x1f")
    if len(fields) != 4:
        return _End(Event.REVOKED, "its file left the branch, but no commit deleting it was "
                    "found on the first-parent line", "deletion.unapproved")
    sha, seconds, author, committer = fields
    deleted_at = _utc(int(seconds))
    try:
        pr = landing_pull_request(life, sha)
    except Unverifiable as exc:
        return _End(Event.REVOKED, f"deleted in {sha[:12]}; {exc.reason}",
                    "deletion.unverified", sha, ended_at=deleted_at)
    if pr is None:
        return _End(Event.REVOKED, f"deleted without a pull request in {sha[:12]} (committed as "
                    f"{committer}, authored as {author}; git's names are not verified)",
                    "deletion.unapproved", sha, ended_at=deleted_at)
    deleted_at = pr.merged_at or deleted_at
    event = Event.RELINQUISHED if pr.author == grant.record.requester else Event.REVOKED
    verb = "relinquished" if event is Event.RELINQUISHED else f"revoked by {pr.author}"
    try:
        judged = judge_merge(life, pr, CommitStamp(sha, _utc(int(seconds))))
    except Unverifiable as exc:
        return _End(event, f"{verb} in pull request #{pr.number}; {exc.reason}",
                    "deletion.unverified", sha, pr.number, deleted_at)
    decision = judged.verdict.decision
    if decision.outcome is Outcome.APPROVED and decision.kind in _APPROVED_DELETIONS:
        return _End(event, f"{verb} in pull request #{pr.number}", pull_request=pr.number,
                    ended_at=deleted_at)
    merged_by = f", merged by {pr.merged_by}" if pr.merged_by else ""
    return _End(event, f"{verb} in pull request #{pr.number}{merged_by}, which gitjit's verdict "
                f"would not have approved ({why(decision)}); the access is revoked anyway",
                "deletion.unapproved", sha, pr.number, deleted_at)


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


# -- what the targets still hold -----------------------------------------------------------


def _sweep(life: Lifecycle, run: Run, report: Report, targets: Targets,
           verified: dict[GrantId, _Grant], live: dict[GrantId, _Grant],
           finishing: dict[GrantId, tuple[_Grant, _End]], cover: dict[TargetKey, GrantId],
           now: datetime, dry_run: bool, notifier: Notifier) -> None:
    """Revoke what targets still hold for grants that are over and not covered, and for
    grants the trusted ledger never verified unless they are provably live."""
    for policy in run.config.policies.values():
        # Every target a policy names is asked, not only those a record led to: access the
        # ledger does not know of is exactly what this looks for.
        try:
            targets.plugin(applied(policy))
        except GitjitError as exc:
            report.add(f"({policy.id})", "list", str(exc), failed=True)
    held: dict[str, list[ManagedAssignment]] = {}
    for name, plugin in sorted(targets.plugins().items()):
        try:
            held[name] = plugin.list_managed()
        except GitjitError as exc:
            report.add(f"({name})", "list", str(exc), failed=True)
    over = {item.grant_id for items in held.values() for item in items
            if item.grant_id is not None and item.grant_id not in verified}
    ended = _ended_bindings(life, over, targets, report)
    for name, managed in held.items():
        plugin = targets.plugins()[name]
        for item in managed:
            gid = item.grant_id
            if gid is None or gid in live or gid in finishing:
                continue
            grant = verified.get(gid) or ended.get(gid)
            if grant is None:
                _unverified(life, run, report, targets, name, plugin, item, now, dry_run,
                            notifier)
                continue
            if grant.key in cover:
                continue  # another live grant holds the same access: it stays for now
            _step(report, gid, "revoked", partial(grant.plugin.revoke, grant.assignment),
                  dry_run, "left over")


def _ended_bindings(life: Lifecycle, gids: set[GrantId], targets: Targets,
                    report: Report) -> dict[GrantId, _Grant]:
    """Grants whose end is recorded, bound to where their access was when it ended (the end
    record keeps the target), so what a target still holds for them is revoked there."""
    found = life.ledger.find([f"{event} {gid}" for gid in gids for event in END_EVENTS])
    bound: dict[GrantId, _Grant] = {}
    for record in found.values():
        if record.target is None or record.grant_id in bound:
            continue
        try:
            bound[record.grant_id] = _bind(record, record.target, targets)
        except GitjitError as exc:
            report.add(record.grant_id, "bind", str(exc), failed=True)
    return bound


def _unverified(life: Lifecycle, run: Run, report: Report, targets: Targets, name: str,
                plugin: TargetPlugin, item: ManagedAssignment, now: datetime, dry_run: bool,
                notifier: Notifier) -> None:
    """Access a target holds for a grant without a trusted activated record."""
    gid = item.grant_id
    assert gid is not None
    live_reason = _provably_live(life, run, gid, now)
    if live_reason is None:
        report.add(gid, "unrecorded", f"{name} holds access for {gid}, which has no trusted "
                   "record but re-verifies from the branch and the forge; it stays, and "
                   "'gitjit activate' records it")
        return
    parts = parse_path(f"grants/{gid}.yaml")
    policy = run.config.policies.get(parts.policy) if parts else None
    target = applied(policy) if policy is not None else None
    if parts is None or target is None or targets.connection(target)[0] != name:
        report.add(gid, "revoke", f"{name} holds access for {gid}, which the ledger never "
                   f"verified ({live_reason}), and gitjit cannot tell where to revoke it; "
                   "revoke it by hand and investigate", failed=True)
        return
    assignment = targets.assignment(target, parts.policy, gid, parts.requester, now,
                                    now + timedelta(seconds=1))
    detail = (f"{name} held access for {gid}, which the trusted ledger never verified and "
              f"which is not provably live ({live_reason}): revoked")
    if not _step(report, gid, "revoked", partial(plugin.revoke, assignment), dry_run, detail):
        return
    report.add(gid, "target.unverified-access", detail, failed=True)
    if dry_run or run.cannot_write:
        return
    try:
        notifier.notify(life.ledger.append(Record(
            event=Event.ALERT, grant_id=gid, policy=parts.policy, requester=parts.requester,
            at=now, engine_version=ENGINE_VERSION, code="target.unverified-access",
            subject=name, detail=detail)))
    except GitjitError as exc:
        report.add(gid, "record", str(exc), failed=True)


def _provably_live(life: Lifecycle, run: Run, gid: GrantId, now: datetime) -> str | None:
    """None when the grant's file is on the branch, re-verifies from the forge, and its window
    is open now; otherwise why not."""
    path = f"grants/{gid}.yaml"
    entries = {e.path: e for e in life.repo.tree(run.tip).entries(path)}
    entry = entries.get(path)
    if entry is None:
        return f"{path} is not on {life.branch}"
    stamp = life.repo.first_parent_additions(run.tip, [path]).get(path)
    try:
        verified = verify_merged(life, path, entry.mode, stamp)
    except (Refusal, Unverifiable) as exc:
        return exc.reason
    except GitjitError as exc:
        return str(exc)
    if window(verified.grant, verified.merged_at).state(now) is not State.ACTIVE:
        return "its window is not open now"
    return None


# -- tidying the branch --------------------------------------------------------------------


def _remove_ended(life: Lifecycle, run: Run, report: Report, on_tip: dict[GrantId, str]) -> None:
    """One commit removes the files of expired and superseded grants whose end is recorded."""
    found = life.ledger.find([f"{event} {gid}" for gid in on_tip
                              for event in (Event.EXPIRED, Event.SUPERSEDED)])
    done = {rec.grant_id: rec for rec in found.values()}  # including the ends this run recorded
    if not done:
        return

    def message(paths: list[str]) -> str:
        lines = []
        for path in paths:
            rec = done[grant_id(path)]
            assert rec.expires_at is not None
            ended = rec.expires_at if rec.event is Event.EXPIRED else rec.at
            lines.append(trailers.format_removed(rec.grant_id, ended, rec.at))
        return ("gitjit: remove ended grants\n\nTheir access was revoked (or is held by "
                "another live grant); the ledger records each end.\n\n" + "\n".join(lines)
                + "\n")

    remove(life, run, report, {gid: on_tip[gid] for gid in sorted(done)}, message,
           title="gitjit: remove ended grants")


def _would_remove(life: Lifecycle, run: Run, report: Report, on_tip: dict[GrantId, str],
                  finishing: dict[GrantId, tuple[_Grant, _End]]) -> None:
    """A dry run's account of the files a real run would take off the branch, each with its
    reason: those whose end the ledger records already, and those this run would record."""
    found = life.ledger.find([f"{event} {gid}" for gid in on_tip
                              for event in (Event.EXPIRED, Event.SUPERSEDED)])
    reasons = {rec.grant_id: (f"expired {rec.expires_at:%Y-%m-%d %H:%M}Z"
                              if rec.event is Event.EXPIRED and rec.expires_at is not None
                              else f"{rec.event} {rec.at:%Y-%m-%d %H:%M}Z")
               + "; its end is recorded"
               for rec in found.values()}
    for gid, (grant, end) in finishing.items():
        if gid in on_tip and gid not in reasons and end.event is Event.EXPIRED:
            reasons[gid] = (f"expired {_window(grant.record).expires_at:%Y-%m-%d %H:%M}Z; "
                            "this run would revoke it and record its end")
    if not reasons:
        return
    how = (f"by a push to {life.branch}" if life.removal(run.config) is RemovalMode.PUSH
           else "by a pull request")
    for gid in sorted(reasons):
        if run.cannot_write:  # as a real run would fail
            report.add(gid, "remove", f"{on_tip[gid]}: {reasons[gid]}; but {run.cannot_write}",
                       failed=True)
        else:
            report.add(gid, "removed", f"{on_tip[gid]}: {reasons[gid]}; {how}")
