"""Drift: people who hold a policy's target without a live grant (Entra's "roles assigned
outside PIM"). Access granted by hand (``GRANT orders_admin TO mallory``) shows up here.

After reconcile has applied and revoked, each target a policy names is asked who holds its
privilege (``holders``, where the plugin can say). A holder counts as backed when a live grant
of the same target is theirs, or when the policy lists them as a standing holder
(``drift.except``). Every other holder is drift: reported (the run fails, so someone looks),
recorded once as an alert (`target.drift`, subject the connection, privilege and principal)
and told; with ``drift.action: revoke`` the access is also taken away where the target can
(``remove_holder``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from engine.adapters.notify import Notifier
from engine.core.ledger import AppliedTarget, Event, Record
from engine.core.models import DriftAction, GrantId, Login, Policy, PolicyId, Target
from engine.core.principals import expand
from engine.core.values import parse_login
from engine.errors import GitjitError
from engine.lifecycle.context import ENGINE_VERSION, Lifecycle, Report, Run
from engine.lifecycle.targets import Targets, applied
from engine.targets.base import HasHolders, Holder, TargetPlugin

DRIFT = "target.drift"
_NOT_SUBJECT = re.compile(r"[^0-9A-Za-z._:/+@-]")


@dataclass(frozen=True)
class Scope:
    """One target as policies name it, and the policies that name it."""

    target: AppliedTarget
    policies: tuple[Policy, ...]


def _login(login: str | None) -> str:
    """The holder's login for the record, when it is one (a plugin's mapping may give text
    that is not a valid login; the record then names none)."""
    try:
        return parse_login(login) if login else ""
    except ValueError:
        return ""


def scopes(policies: Mapping[PolicyId, Policy]) -> list[Scope]:
    by_target: dict[AppliedTarget, list[Policy]] = {}
    for policy in policies.values():
        by_target.setdefault(applied(policy), []).append(policy)
    return [Scope(target, tuple(found)) for target, found in
            sorted(by_target.items(), key=lambda item: repr(item[0]))]


def check_drift(life: Lifecycle, run: Run, report: Report, targets: Targets,
                live: Mapping[GrantId, tuple[AppliedTarget, Login]], now: datetime,
                dry_run: bool, notifier: Notifier) -> None:
    """``live``: each live grant's target and login, after this run's changes."""
    for scope in scopes(run.config.policies):
        try:
            plugin = targets.plugin(scope.target)
        except GitjitError:
            continue  # reported by the sweep, which asks every policy's target first
        if not isinstance(plugin, HasHolders):
            continue  # this target cannot say who holds what (`gitjit targets` shows which)
        try:
            holders = plugin.holders(Target(scope.target.provider, scope.target.params))
        except GitjitError as exc:
            report.add(f"({scope.policies[0].id})", "drift", f"cannot list who holds the "
                       f"target: {exc}", failed=True)
            continue
        backed = {login for target, login in live.values() if target == scope.target}
        for policy in scope.policies:
            backed |= expand(policy.drift.except_, run.config.groups).logins
        standing = {name for p in scope.policies for name in p.drift.except_holders}
        for holder in holders:
            if holder.login is not None and holder.login in backed:
                continue
            if holder.principal in standing:
                continue
            _drift(life, run, report, scope, plugin, holder, now, dry_run, notifier)


def _drift(life: Lifecycle, run: Run, report: Report, scope: Scope, plugin: TargetPlugin,
           holder: Holder, now: datetime, dry_run: bool, notifier: Notifier) -> None:
    policy = scope.policies[0]
    revoke = any(p.drift.action is DriftAction.REVOKE for p in scope.policies)
    who = holder.principal + (f" ({holder.login})" if holder.login else "")
    detail = (f"{who} holds {holder.privilege} through connection "
              f"{scope.target.connection or scope.target.provider} with no live grant of "
              f"{', '.join(p.id for p in scope.policies)}")
    remove: Callable[[Target, Holder], None] | None = getattr(plugin, "remove_holder", None)
    if revoke and remove is not None:
        try:
            if not dry_run:
                remove(Target(scope.target.provider, scope.target.params), holder)
            detail += "; removed (drift.action: revoke)"
        except GitjitError as exc:
            detail += f"; could not remove it: {exc}"
    elif revoke:
        detail += f"; the {scope.target.provider} target cannot remove it: do it by hand"
    else:
        detail += ("; grant it through a request, list it under drift.except, or take it "
                   "away")
    report.add(f"({policy.id})", DRIFT, detail, failed=True)
    if dry_run or run.cannot_write:
        return
    subject = _NOT_SUBJECT.sub("-", f"{scope.target.connection or scope.target.provider}/"
                                    f"{holder.privilege}/{holder.principal}")[:200]
    try:
        notifier.notify(life.ledger.append(Record(
            event=Event.ALERT, grant_id=GrantId(""), policy=policy.id,
            requester=_login(holder.login), at=now, engine_version=ENGINE_VERSION, code=DRIFT,
            subject=subject.lstrip("-._:/+@") or "drift", detail=detail)))
    except GitjitError as exc:
        report.add(f"({policy.id})", "record", str(exc), failed=True)
