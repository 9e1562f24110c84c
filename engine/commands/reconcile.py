"""gitjit reconcile: make every target match the desired state, then tidy the branch.

Desired state: the grants on the default branch that were verified (an ``activated`` record in
the ledger) and are active at ``now``. Each run, one grant at a time (a failure on one never
stops the others):

1. every live grant is applied (idempotent);
2. every grant whose time is up, or whose file a pull request deleted, loses its access --
   unless another live grant covers the same person and target, then the access stays -- and
   its end is recorded (expired, relinquished or revoked);
3. whatever the targets still hold for grants that are no longer live and not covered is
   revoked (leftovers of an interrupted run or of a covered grant whose cover ended);
4. expired grant files are removed by one commit with trailers, pushed or as a pull request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from engine.adapters.branch import commit_removal
from engine.adapters.lock import lifecycle_lock
from engine.adapters.notify import Notifier
from engine.commands.lifecycle import ENGINE_VERSION, Lifecycle, Report, endings
from engine.commands.targets import TargetKey, Targets
from engine.core import trailers
from engine.core.ledger import Event, Record
from engine.core.lifecycle import State, Window
from engine.core.models import Config, GrantId, Login, RemovalMode
from engine.errors import ConfigurationError, GitjitError
from engine.targets.base import Assignment, TargetPlugin

GITJIT_LOGIN = Login("gitjit")


@dataclass(frozen=True)
class _Grant:
    """A verified grant as the ledger knows it, bound to its target."""

    record: Record
    plugin: TargetPlugin
    assignment: Assignment
    key: TargetKey

    @property
    def id(self) -> GrantId:
        return self.record.grant_id


def reconcile(life: Lifecycle, now: datetime, *, dry_run: bool = False,
              notify: bool = True) -> Report:
    """``notify=False``: no notification (a simulation's throwaway world)."""
    report = Report("reconcile", now, dry_run)
    with lifecycle_lock(life.repo):
        tip = life.tip()
        _, config = life.config(tip)
        targets = Targets(config.settings, life.target_factory)
        records = life.ledger.records()
        ended = endings(records)
        on_tip = life.grant_paths(tip)
        verified: dict[GrantId, _Grant] = {}
        for record in records:
            if record.event is Event.ACTIVATED:
                try:
                    verified[record.grant_id] = _bind(record, config, targets)
                except GitjitError as exc:
                    report.add(record.grant_id, "bind", str(exc), failed=True)

        live: dict[GrantId, _Grant] = {}
        finishing: dict[GrantId, tuple[_Grant, Event | None]] = {}
        for gid, grant in verified.items():
            if gid in ended:
                continue
            state = _window(grant.record).state(now)
            if state is State.EXPIRED:
                finishing[gid] = (grant, Event.EXPIRED)
            elif gid not in on_tip:
                finishing[gid] = (grant, None)  # deleted by a pull request: who deleted it?
            elif state is State.ACTIVE:
                live[gid] = grant
        cover = {grant.key: gid for gid, grant in live.items()}

        for gid, grant in sorted(live.items()):
            _step(report, gid, "applied", partial(grant.plugin.apply, grant.assignment), dry_run)
        notifier = Notifier(config, report, dry_run=dry_run or not notify)
        for _gid, (grant, event) in sorted(finishing.items()):
            _finish(life, report, grant, event, cover, tip, now, dry_run, notifier)
        _sweep(report, targets, verified, live, finishing, cover, dry_run)
        if not dry_run:
            _remove_expired(life, config, report, on_tip)
    return report


def _bind(record: Record, config: Config, targets: Targets) -> _Grant:
    policy = config.policies.get(record.policy)  # type: ignore[call-overload]
    if policy is None:
        raise ConfigurationError(f"policy {record.policy!r} no longer exists, so gitjit cannot "
                                 "reach this grant's target; restore the policy or revoke the "
                                 "access by hand")
    window = _window(record)
    login = Login(record.requester)
    return _Grant(record, targets.plugin(policy),
                  targets.assignment(policy, record.grant_id, login, window.activated_at,
                                     window.expires_at),
                  targets.key(policy, login))


def _window(record: Record) -> Window:
    assert record.activated_at is not None and record.expires_at is not None
    return Window(record.activated_at, record.expires_at)


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


def _finish(life: Lifecycle, report: Report, grant: _Grant, event: Event | None,
            cover: dict[TargetKey, GrantId], tip: str, now: datetime, dry_run: bool,
            notifier: Notifier) -> None:
    pull_request = None
    detail = ""
    if event is None:
        event, pull_request, detail = _deletion(life, grant, tip)
    keeper = cover.get(grant.key)
    if keeper is not None:
        report.add(grant.id, "kept", f"{event}; access continues under {keeper}")
        detail = f"{detail}; access continues under {keeper}".lstrip("; ")
    elif not _step(report, grant.id, "revoked", partial(grant.plugin.revoke, grant.assignment),
                   dry_run, str(event)):
        return  # not recorded: the next run revokes again, then records
    if dry_run:
        return
    try:
        ended = life.ledger.append(replace(
            grant.record, seq=0, prev="", event=event, at=now, pull_request=pull_request
            or grant.record.pull_request, engine_version=ENGINE_VERSION, detail=detail))
    except GitjitError as exc:
        # The access is gone but unrecorded: the next run revokes again (idempotent), records.
        report.add(grant.id, "record", str(exc), failed=True)
        return
    notifier.notify(ended)  # None when already recorded: told once


def _deletion(life: Lifecycle, grant: _Grant, tip: str) -> tuple[Event, int | None, str]:
    """Relinquished when the requester's own pull request deleted it, else revoked."""
    path = f"grants/{grant.id}.yaml"
    raw = life.repo.git("log", "--first-parent", "--no-renames", "--diff-filter=D",
                        "--format=%H", "-1", "--end-of-options", tip, "--", path)
    sha = raw.decode("ascii").strip()
    pr = life.forge.pull_request_for_commit(sha) if sha else None
    if pr is None:
        return Event.REVOKED, None, f"deleted without a pull request in {sha[:12] or '?'}"
    if pr.author == grant.record.requester:
        return Event.RELINQUISHED, pr.number, f"relinquished in pull request #{pr.number}"
    return Event.REVOKED, pr.number, f"revoked by {pr.author} in pull request #{pr.number}"


def _sweep(report: Report, targets: Targets, verified: dict[GrantId, _Grant],
           live: dict[GrantId, _Grant], finishing: dict[GrantId, tuple[_Grant, Event | None]],
           cover: dict[TargetKey, GrantId], dry_run: bool) -> None:
    """Revoke what targets still hold for grants that are over and not covered."""
    for name, plugin in sorted(targets.plugins().items()):
        try:
            managed = plugin.list_managed()
        except GitjitError as exc:
            report.add(f"({name})", "list", str(exc), failed=True)
            continue
        for item in managed:
            gid = item.grant_id
            if gid is None or gid in live or gid in finishing:
                continue
            grant = verified.get(gid)
            if grant is None:
                report.add(gid, "unknown", f"{name} holds access for {gid}, which the ledger "
                           "never verified; revoke it by hand or investigate", failed=True)
                continue
            if grant.key in cover:
                continue  # another live grant holds the same access: it stays for now
            _step(report, gid, "revoked", partial(grant.plugin.revoke, grant.assignment),
                  dry_run, "left over")


def _remove_expired(life: Lifecycle, config: Config, report: Report,
                    on_tip: dict[GrantId, str]) -> None:
    """One commit removes the files of expired grants whose end is recorded."""
    ends = endings(life.ledger.records())  # including the ends this run recorded
    expired = {gid: rec for gid, rec in ends.items()
               if gid in on_tip and rec.event is Event.EXPIRED}
    if not expired:
        return

    def message(paths: list[str]) -> str:
        lines = []
        for path in paths:
            rec = expired[GrantId(path.removeprefix("grants/").removesuffix(".yaml"))]
            assert rec.expires_at is not None
            lines.append(trailers.format_removed(rec.grant_id, rec.expires_at, rec.at))
        return ("gitjit: remove expired grants\n\nTheir access was revoked (or is held by "
                "another live grant); the ledger records each end.\n\n" + "\n".join(lines)
                + "\n")

    paths = [on_tip[gid] for gid in sorted(expired)]
    names = ", ".join(sorted(expired))
    pr_mode = config.settings.removal is RemovalMode.PULL_REQUEST
    onto = None
    if pr_mode:
        digest = hashlib.sha256("\n".join(sorted(expired)).encode()).hexdigest()[:12]
        onto = f"gitjit/remove-expired-{digest}"
    try:
        commit = life.write(onto or life.branch, lambda: commit_removal(
            life.repo, life.branch, paths, message, at=report.now, onto=onto))
        if commit is None:
            return
        if onto is not None:
            pr = life.forge.open_pull_request(
                author=GITJIT_LOGIN, head_ref=onto, base=life.branch,
                title="gitjit: remove expired grants", body=message(paths))
            report.add(names, "removal pull request", f"#{pr.number}")
        else:
            report.add(names, "removed", commit[:12])
    except GitjitError as exc:
        report.add(names, "remove", str(exc), failed=True)
