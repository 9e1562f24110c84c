"""The data gitjit reasons about. Frozen dataclasses built from validated documents.

Logins are compared case-insensitively, so they are stored lower-cased (after validation:
an invalid login is rejected, never normalised into a valid one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, NewType

if TYPE_CHECKING:
    from engine.actions.model import ActionRules
    from engine.core.signers import AllowedSigners

Login = NewType("Login", str)
"""A forge login, validated and lower-cased."""
PolicyId = NewType("PolicyId", str)
GrantId = NewType("GrantId", str)
"""The grant's path under grants/ without the .yaml suffix: '<policy>/<requester>-<stamp>'."""


@dataclass(frozen=True)
class Principal:
    """'user:alice', 'group:sre' or 'team:acme/dba' as written in a policy."""

    kind: str
    """'user', 'group' or 'team'."""
    name: str
    """A login (lower-cased) for users, the group's name for groups, 'org/slug' for GitHub
    teams (the organization lower-cased)."""

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class Target:
    provider: str
    """The target plugin's name, e.g. 'postgres', 'entra', 'github-team', 'command'."""
    params: tuple[tuple[str, str], ...] = ()
    """Provider-specific settings (connection, role, team ...), sorted by key."""

    def get(self, key: str, default: str | None = None) -> str | None:
        return dict(self.params).get(key, default)


@dataclass(frozen=True)
class ApprovalStep:
    approvers: tuple[Principal, ...]
    """Who may approve in this step."""
    count: int
    """How many distinct approvers this step needs (>= 1)."""


@dataclass(frozen=True)
class DurationRule:
    default: timedelta
    max: timedelta


@dataclass(frozen=True)
class TicketRule:
    required: bool
    pattern: str | None = None


@dataclass(frozen=True)
class ActiveHours:
    """One window of a policy's active hours."""

    days: frozenset[int]
    """Weekdays as in ``datetime.weekday()``: Monday is 0; the days the window starts on."""
    start: time
    end: time
    """Excluded; ``time.max`` for 24:00. Before ``start``: the window crosses midnight and
    ends on the next day (22:00-06:00)."""
    timezone: str
    """An IANA time zone name."""


@dataclass(frozen=True)
class AutoApprove:
    max_duration: timedelta
    """Inclusive: a request of exactly this duration is auto-approved."""
    requesters: tuple[Principal, ...]


@dataclass(frozen=True)
class BreakGlass:
    max_duration: timedelta
    review_within: timedelta


DEFAULT_APPROVAL_MAX_AGE = timedelta(hours=24)
"""An approval older than this no longer counts, unless a policy says otherwise: a request
approved and then kept unmerged for days is approved again, by people who see it again."""


class DriftAction(StrEnum):
    ALERT = "alert"
    REVOKE = "revoke"


@dataclass(frozen=True)
class DriftRule:
    action: DriftAction = DriftAction.ALERT
    except_: tuple[Principal, ...] = ()
    """Standing holders that are never drift (``except`` in the file)."""
    except_holders: tuple[str, ...] = ()
    """Standing holders named as the target names them, for those that are no person (a
    PostgreSQL group role, a service principal): ``except_holders`` in the file."""


DEFAULT_PENDING_EXPIRY = timedelta(hours=24)
"""How long a request may wait for approval before gitjit closes it (as Entra PIM does)."""
DEFAULT_EXPIRING_NOTICE = timedelta(minutes=15)
"""How long before a grant's end its requester hears that it is ending."""


@dataclass(frozen=True)
class Escalation:
    after: timedelta
    """The age of a still-pending request at which it escalates (once)."""
    to: tuple[Principal, ...] = ()
    """Whose personal channels hear of it (settings ``personal``)."""
    notify: tuple[str, ...] = ()
    """Channels (settings ``notify``) told of it."""


@dataclass(frozen=True)
class PendingRule:
    """The timers of a request that waits for approval (``pending`` in a policy)."""

    expire_after: timedelta = DEFAULT_PENDING_EXPIRY
    """After this long open, gitjit closes the pull request with a comment."""
    remind: tuple[timedelta, ...] = ()
    """Ages of the request at which the approvers still missing are reminded, ascending."""
    escalate: Escalation | None = None


@dataclass(frozen=True)
class ExpiringRule:
    """When the requester hears that a grant is about to end (``expiring`` in a policy)."""

    before: timedelta = DEFAULT_EXPIRING_NOTICE
    notify_channels: bool = False
    """Also tell the policy's channels (not only the requester's personal channel)."""


@dataclass(frozen=True)
class Policy:
    id: PolicyId
    description: str
    target: Target
    requesters: tuple[Principal, ...]
    approvals: tuple[ApprovalStep, ...]
    duration: DurationRule
    path: str
    """Where the policy was read from, for findings."""
    justification_min_length: int = 0
    ticket: TicketRule = TicketRule(required=False)
    active_hours: tuple[ActiveHours, ...] = ()
    """When requests may be activated: inside any of these windows; empty: at any time."""
    max_active_per_requester: int | None = None
    auto_approve: AutoApprove | None = None
    break_glass: BreakGlass | None = None
    notify: tuple[str, ...] = ()
    approval_max_age: timedelta = DEFAULT_APPROVAL_MAX_AGE
    """The oldest an approval may be when it counts: at the verdict (its age at ``now``) and at
    activation (its age at the merge)."""
    revokers: tuple[Principal, ...] = ()
    """Who may revoke a live grant of this policy alone: one approval by any of them suffices
    for a revoke pull request (the emergency stop), instead of every approval step."""
    drift: DriftRule = field(default_factory=lambda: DriftRule())
    """What reconcile does about holders of the target that no live grant backs."""
    owners: tuple[str, ...] = ()
    """Who owns the policy ('@org/team', '@login'): recertification pull requests go to
    them; empty: the settings' admins."""
    actions: ActionRules | None = None
    """The operations this policy approves (runbooks, free-form SQL); None: no actions."""
    grants: bool = True
    """Whether grants of the role may be requested: False for a policy with 'actions' and no
    'duration', whose role nobody ever holds."""
    pending: PendingRule = field(default_factory=lambda: PendingRule())
    expiring: ExpiringRule = field(default_factory=lambda: ExpiringRule())
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)
    """Line of each top-level key in the policy file, for findings."""


@dataclass(frozen=True)
class Groups:
    members: Mapping[str, frozenset[Login]]
    path: str = "policies/groups.yaml"
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)
    teams: Mapping[str, frozenset[Login]] = field(default_factory=dict)
    """GitHub teams' members by 'org/slug', as looked up on the forge for one decision. A team
    missing here is unresolved (offline, or its lookup failed): whatever needs it is denied."""
    ids: Mapping[Login, int] = field(default_factory=dict)
    """GitHub's numeric account id pinned next to a login (``{login: alice, id: '583231'}``):
    the account that login must be, so a login freed by a rename and claimed by someone else
    is not mistaken for the person the group meant."""


class RemovalMode(StrEnum):
    PUSH = "push"
    PULL_REQUEST = "pull-request"


@dataclass(frozen=True)
class PersonalChannel:
    """Where one person's own notices go: a channel of settings ``notify``, optionally with
    the recipient apprise should address there (``to``: an e-mail address, '@user' ...)."""

    channel: str
    to: str | None = None


DEFAULT_WATCHDOG_AFTER = timedelta(hours=1)
DEFAULT_WATCHDOG_REPEAT = timedelta(hours=6)


@dataclass(frozen=True)
class WatchdogRule:
    """``gitjit watchdog``: when a stalled reconcile is told, and to whom."""

    after: timedelta = DEFAULT_WATCHDOG_AFTER
    """Reconcile has not succeeded for this long: the security channels are told."""
    repeat: timedelta = DEFAULT_WATCHDOG_REPEAT
    """While it stays stalled, told again after this long."""
    notify: tuple[str, ...] | None = None
    """The channels told; None: the settings' ``alerts`` channels."""


@dataclass(frozen=True)
class Settings:
    channels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Notification channels by name: {'url_env': 'TEAMS_URL', ...}."""
    connections: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Target connections by name; secrets are named by environment variable only."""
    removal: RemovalMode | None = None
    """How gitjit removes grant files; None: not set, so the mode's default applies (pull
    requests on GitHub, where the default branch takes changes only through them; a push in a
    local repository). See ``removal_mode``."""
    alerts: tuple[str, ...] = ()
    """Channels told of every alert (refusals, forged records, unapproved deletions ...), in
    addition to the policy's own: alerts about the ledger itself name no policy."""
    admins: tuple[str, ...] = ()
    """The policy admins as GitHub owners ('@org/team', '@login'): owners of the control plane."""
    max_grant_bytes: int = 64 * 1024
    max_config_bytes: int = 512 * 1024
    path: str = "policies/settings.yaml"
    report: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """The access review's thresholds as written (``report:``), by signal and key; see
    engine/report/thresholds.py and docs/audit.md."""
    personal: Mapping[Login, PersonalChannel] = field(default_factory=dict)
    """Each person's own channel, by login: where the requester hears of their requests and
    grants, and an approver of what waits for them."""
    watchdog: WatchdogRule = field(default_factory=lambda: WatchdogRule())


def removal_mode(settings: Settings, *, on_github: bool) -> RemovalMode:
    if settings.removal is not None:
        return settings.removal
    return RemovalMode.PULL_REQUEST if on_github else RemovalMode.PUSH


@dataclass(frozen=True)
class Config:
    """Everything that judges a request: taken from the tip of the base branch."""

    policies: Mapping[PolicyId, Policy]
    groups: Groups
    settings: Settings
    signers: AllowedSigners | None = None
    """The keys that may sign gitjit's own commits (policies/allowed_signers); None when the
    file is missing: then no record, removal or trailer of gitjit's can be trusted."""


@dataclass(frozen=True)
class Grant:
    id: GrantId
    path: str
    policy: PolicyId
    requester: Login
    duration: timedelta
    justification: str
    ticket: str | None = None
    start: datetime | None = None
    extends: GrantId | None = None
    break_glass: bool = False
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)
    """Line of each top-level key in the grant file, for findings."""


class ReviewState(StrEnum):
    APPROVED = "APPROVED"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"
    DISMISSED = "DISMISSED"
    COMMENTED = "COMMENTED"
    PENDING = "PENDING"


@dataclass(frozen=True)
class Review:
    """One formal review as the forge reports it."""

    reviewer: Login
    state: ReviewState
    commit: str
    """The commit SHA the review was given on."""
    submitted_at: datetime | None
    is_bot: bool = False
    """The forge says the reviewer is a Bot (or the login ends in '[bot]')."""
    id: int = 0
    """The forge's review id: orders reviews submitted in the same second."""
    reviewer_id: int | None = None
    """The reviewer's numeric account id, where the forge reports one (GitHub)."""
    can_write: bool | None = None
    """Whether the reviewer has write access to the repository now, as the forge says; None
    where the forge keeps no permissions (the local forge, a reviews file)."""
