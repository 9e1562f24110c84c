"""The target protocol: what every target plugin implements, and the data it receives.

A plugin is made for one settings connection (``factory(connection)``) and then asked to
apply or revoke one grant's assignment at a time. Both operations are idempotent, so
``gitjit reconcile`` can simply repeat them until the target matches the desired state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from engine.actions.model import Plan
from engine.core.models import GrantId, Login, PolicyId, Target
from engine.errors import GitjitError


class TargetError(GitjitError):
    """A target refused or failed an operation. The message never holds a secret."""


def _require_utc(name: str, value: datetime) -> None:
    # Targets write these times into foreign systems (VALID UNTIL, PIM schedules); a naive or
    # non-UTC time there would silently shift the expiry.
    if value.tzinfo is None or value.utcoffset() != timedelta(0):
        raise ValueError(f"{name} must be a timezone-aware UTC datetime, got {value!r}")


@dataclass(frozen=True)
class Assignment:
    """One grant as a target sees it: who gets what, where, and for how long."""

    grant_id: GrantId
    """'<policy>/<requester>-<stamp>', the grant's path without grants/ and .yaml."""
    login: Login
    """The requester's forge login (lower-cased); targets map it to their own principal."""
    policy: PolicyId
    target: Target
    """The policy's target: provider plus provider-specific params (role, team ...)."""
    connection: Mapping[str, str]
    """The settings connection's entries; keys ending in _env name environment variables."""
    activated_at: datetime
    expires_at: datetime
    justification: str = field(default="", compare=False)
    """The grant's justification, for targets that record one (Entra PIM); "" where the
    caller does not have it (reconcile re-applying from the ledger)."""
    ticket: str | None = field(default=None, compare=False)
    """The grant's ticket, if it names one (and the caller has it)."""

    def __post_init__(self) -> None:
        _require_utc("activated_at", self.activated_at)
        _require_utc("expires_at", self.expires_at)
        if self.expires_at <= self.activated_at:
            raise ValueError(
                f"grant {self.grant_id}: expires_at {self.expires_at.isoformat()} is not after "
                f"activated_at {self.activated_at.isoformat()}"
            )

    def setting(self, key: str, default: str | None = None) -> str | None:
        """A setting from the policy's target params, else from the connection.

        The policy is the more specific of the two (one connection serves many policies).
        """
        value = self.target.get(key)
        if value is not None:
            return value
        return self.connection.get(key, default)

    def to_json(self) -> dict[str, Any]:
        """The assignment as JSON-ready data (used by the command and recording targets)."""
        return {
            "grant_id": self.grant_id,
            "login": self.login,
            "policy": self.policy,
            "target": {"provider": self.target.provider, "params": dict(self.target.params)},
            "connection": dict(self.connection),
            "activated_at": self.activated_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }


@dataclass(frozen=True)
class ManagedAssignment:
    """Something gitjit put in place in a target, as the target reports it."""

    principal: str
    """Who holds the access in the target (a PostgreSQL role name, a user id ...)."""
    privilege: str
    """What they hold (the granted role, team, directory role ...)."""
    grant_id: GrantId | None
    """The grant that put it there, when the target recorded it; None when unrecoverable."""
    expires_at: datetime | None = None
    """When the target itself ends it, if it enforces expiry natively."""
    details: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    """Target-specific extras (e.g. the PostgreSQL mode), for reports only."""


@dataclass(frozen=True)
class Holder:
    """Someone who holds a privilege in a target, however they got it (drift detection)."""

    principal: str
    """Who, as the target names them (a PostgreSQL role, an Entra object id, a login ...)."""
    login: Login | None
    """The forge login that principal belongs to, where the plugin can tell; None when it
    cannot (such a holder is never backed by a grant, so it is always drift)."""
    privilege: str
    """What they hold (the role, group, team, permission set)."""
    details: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    """Target-specific extras for the alert (how it is held: directly, through a group ...)."""


class TargetPlugin(Protocol):
    """One system gitjit grants access in, bound to one settings connection.

    Besides the methods below, a plugin class declares (as class attributes, read without
    making a plugin, by ``gitjit check``, the verdict and ``gitjit targets``):

    - ``TARGET_SCHEMA``: a JSON Schema (draft 2020-12) for a policy's ``target`` mapping
      without its ``provider`` and ``connection`` keys (e.g. ``{"role": ...}``);
    - ``CONNECTION_SCHEMA``: a JSON Schema for a settings connection without ``provider``;
    - ``EXPIRY``: ``"target"`` when the target itself always ends access at the grant's end,
      ``"gitjit"`` when only a gitjit job does, ``"depends"`` when it depends on settings
      (``native_expiry`` says per assignment);

    and may declare ``REQUIRES``, the modules the plugin imports when it works (top-level
    names, e.g. ``("psycopg",)``): the registry looks them up without importing them, and one
    that is missing makes the provider unusable, as a failed import of the class would. It lets
    the class's module import its SDK only where it works, and still be reported unusable
    before merge where the SDK is not installed.

    A plugin may implement ``holders(target)`` (see ``HasHolders``): everyone who holds the
    privilege a policy's target names, however they got it, so reconcile can report access
    that no live grant backs (drift).
"""

    name: str
    """The provider name, as written in policies and settings (``provider: postgres``)."""

    def native_expiry(self, assignment: Assignment) -> bool:
        """Whether the target itself ends this assignment at ``expires_at``.

        True means gitjit writes the expiry into the target at apply time, so access ends on
        time even if no job runs; False means only ``revoke`` (run by a job) ends it.
        """
        ...

    def apply(self, assignment: Assignment) -> None:
        """Give the access. Idempotent: applying an already applied assignment is fine."""
        ...

    def revoke(self, assignment: Assignment) -> None:
        """Take the access away. Idempotent: revoking something absent is fine."""
        ...

    def list_managed(self) -> list[ManagedAssignment]:
        """What gitjit put in place through this connection, with grant ids where known."""
        ...


@runtime_checkable
class HasHolders(Protocol):
    """Drift detection. A plugin may also implement ``remove_holder(target, holder)``: take
    away access no grant backs, for policies with ``drift: {action: revoke}``."""

    def holders(self, target: Target) -> list[Holder]:
        """Everyone holding the privilege ``target`` names through this connection (the
        role's members, the group's members, the team's members ...), whoever put them there.
        Read-only; TargetError when the target cannot say."""
        ...


@runtime_checkable
class Probes(Protocol):
    """A cheap, read-only look at whether a grant could be applied now (``activate
    --dry-run``): the connection works and what the grant names is there. A plugin without it
    is checked against its schemas only."""

    def probe(self, assignment: Assignment) -> str:
        """What was checked, in a few words (``connected; role orders_admin exists``).
        Changes nothing; TargetError saying why the assignment could not be applied now."""
        ...


@runtime_checkable
class _Checkable(Protocol):
    name: str

    def native_expiry(self, assignment: Assignment) -> bool: ...
    def apply(self, assignment: Assignment) -> None: ...
    def revoke(self, assignment: Assignment) -> None: ...
    def list_managed(self) -> list[ManagedAssignment]: ...


def looks_like_plugin(obj: object) -> bool:
    """Whether ``obj`` has the protocol's members (used to check third-party factories)."""
    return isinstance(obj, _Checkable)


TargetFactory = Callable[[Mapping[str, str]], TargetPlugin]
"""What an entry point names: called with a settings connection, returns a plugin."""


def required(settings: Mapping[str, str] | Assignment, key: str, where: str) -> str:
    """A setting that must be present, or a TargetError saying where to add it."""
    value = settings.setting(key) if isinstance(settings, Assignment) else settings.get(key)
    if value is None or value == "":
        raise TargetError(f"{where}: missing setting {key!r}; add it to the connection in "
                          f"policies/settings.yaml or to the policy's target")
    return value


# -- actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionJob:
    """One approved action for a target to run: exactly the plan the approvers saw."""

    action: str
    """The action's id, 'actions/<policy>/<requester>-<stamp>'."""
    plan: Plan
    connection: Mapping[str, str]
    """The settings connection's entries; keys ending in _env name environment variables."""


@dataclass(frozen=True)
class ActionResult:
    """How an action ended, as the target saw it. ``output`` is raw: the caller redacts it."""

    status: str
    """'completed', 'failed' (nothing was committed, or the program failed) or 'unknown'
    (the target could not say, e.g. the connection dropped during COMMIT)."""
    duration: timedelta
    detail: str = ""
    """Why it failed or is unknown; "" when it completed."""
    rows: int | None = None
    exit_code: int | None = None
    output: str = ""


@runtime_checkable
class RunsActions(Protocol):
    def run_action(self, job: ActionJob, started: Callable[[], bool]) -> ActionResult | None:
        """Prepare (connect, check the program exists ...), then call ``started()``, which
        records the start and says whether this run may go on; if it returns False, run
        nothing and return None. TargetError before ``started()`` means nothing ran; after
        it, failures are results, never exceptions."""
        ...
