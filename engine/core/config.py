"""Build the configuration (policies, groups, settings) from the files under policies/.

Pure: takes file bytes and modes, returns a ``Config`` and findings. The configuration is
all-or-nothing: with any error the result has no Config, and every request is denied (fail
closed) until the configuration is fixed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.actions import policy as action_policy
from engine.core import schema, values
from engine.core.changes import REGULAR_FILE
from engine.core.findings import Finding, Severity
from engine.core.models import (
    DEFAULT_APPROVAL_MAX_AGE,
    ActiveHours,
    ApprovalStep,
    AutoApprove,
    BreakGlass,
    Config,
    DriftAction,
    DriftRule,
    DurationRule,
    Escalation,
    ExpiringRule,
    Groups,
    Login,
    PendingRule,
    PersonalChannel,
    Policy,
    PolicyId,
    Principal,
    RemovalMode,
    Settings,
    Target,
    TicketRule,
    WatchdogRule,
)
from engine.core.principals import expand
from engine.core.reviews import assign
from engine.core.signers import SIGNERS_PATH, AllowedSigners, parse_allowed_signers
from engine.core.strictyaml import Document, Limits, LoadError, load
from engine.core.suggest import did_you_mean
from engine.core.targets import Catalog
from engine.core.targets import check as check_targets

POLICIES_DIR = "policies/"
GROUPS_PATH = "policies/groups.yaml"
SETTINGS_PATH = "policies/settings.yaml"
TESTS_DIR = "policies/tests/"
CONFIG_LIMITS = Limits(max_bytes=512 * 1024, advice=(
    "a policy file holds one policy; split a long groups file or move test cases into "
    "several files under policies/tests/"))
"""Configuration files are larger than grants but still capped before parsing."""

_REPORT_DURATIONS = frozenset({"window", "after", "within", "distance", "span"})
"""Keys under settings' ``report:`` that hold durations (the schema fixes the keys)."""
DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
T = TypeVar("T")


@dataclass(frozen=True)
class ConfigFile:
    path: str
    mode: str
    raw: bytes


@dataclass(frozen=True)
class ConfigResult:
    config: Config | None
    """None when any error was found: nothing may be judged by a broken configuration."""
    findings: tuple[Finding, ...]
    tests: tuple[Document, ...] = field(default=())
    """The PolicyTest documents, loaded and schema-valid."""
    checkable: Config | None = None
    """With errors, what could still be read, for more findings in the same run (the grants
    of the policies that built): never judge, apply or decide anything with it. None when
    groups or settings are broken (every grant would be wrong against them)."""
    broken: frozenset[str] = frozenset()
    """The configuration files that failed to parse or fit their schema."""


class _Findings:
    """Collects findings for one document, at the line of the offending key."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.items: list[Finding] = []

    def add(self, code: str, message: str, *keys: str | int) -> None:
        self.items.append(Finding(self.doc.path, self.doc.line(*keys), code, message))

    def parse(self, parser: Callable[[str], T], code: str, *keys: str | int) -> T | None:
        value = _get(self.doc.data, keys)
        if not isinstance(value, str):
            return None
        try:
            return parser(value)
        except ValueError as exc:
            self.add(code, str(exc), *keys)
            return None


def _get(data: Any, keys: tuple[str | int, ...]) -> Any:
    for key in keys:
        if isinstance(data, dict) and isinstance(key, str):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and key < len(data):
            data = data[key]
        else:
            return None
    return data


def load_document(
    path: str, raw: bytes, kinds: frozenset[str], schemas: schema.SchemaSet, limits: Limits
) -> tuple[Document | None, list[Finding]]:
    """Strict-load and schema-validate one file."""
    try:
        doc = load(raw, path, limits)
    except LoadError as exc:
        return None, [exc.finding]
    problems = schema.validate(doc, kinds, schemas)
    return (None, problems) if problems else (doc, [])


def expected_kind(path: str) -> frozenset[str] | None:
    """Which kind a file under policies/ must hold, or None if no gitjit file belongs there."""
    if not path.endswith(".yaml"):
        return None
    if path == GROUPS_PATH:
        return frozenset({"Groups"})
    if path == SETTINGS_PATH:
        return frozenset({"Settings"})
    if path.startswith(TESTS_DIR):
        return frozenset({"PolicyTest"})
    if path.count("/") == 1:
        return frozenset({"Policy"})
    return None


def build_config(files: list[ConfigFile], schemas: schema.SchemaSet,
                 targets: Catalog | None = None) -> ConfigResult:
    """Load every file under policies/ and check them together.

    With ``targets`` (the installed target providers), every policy's target and every
    settings connection is also checked against its provider's schemas; without it, targets
    are not looked at (the lifecycle: a missing plugin must fail that one grant's apply, not
    stop every revocation)."""
    findings: list[Finding] = []
    docs: dict[str, Document] = {}
    broken: dict[str, Document | None] = {}
    """Files in error: the document where it parsed but failed its schema, else None."""
    signers: AllowedSigners | None = None
    for file in sorted(files, key=lambda f: f.path):
        if file.path == SIGNERS_PATH:
            signers, problems = _signers(file)
            findings += problems
            continue
        kinds = expected_kind(file.path)
        if kinds is None:
            if not file.path.endswith(".md"):
                findings.append(Finding(file.path, 0, "config.unexpected-file",
                    "no gitjit file belongs here: policies are policies/<id>.yaml, groups "
                    "policies/groups.yaml, settings policies/settings.yaml, tests "
                    "policies/tests/*.yaml, gitjit's signing keys policies/allowed_signers"))
            continue
        if file.mode != REGULAR_FILE:
            findings.append(Finding(file.path, 0, "config.unexpected-file",
                f"configuration files must be regular files (mode {file.mode}); replace it "
                "with a plain file"))
            continue
        try:
            doc = load(file.raw, file.path, CONFIG_LIMITS)
        except LoadError as exc:
            findings.append(exc.finding)
            broken[file.path] = None
            continue
        problems = schema.validate(doc, kinds, schemas)
        findings += problems
        if problems:
            broken[file.path] = doc
        else:
            docs[file.path] = doc

    groups = Groups(members={})
    if GROUPS_PATH in docs:
        groups, problems = _build_groups(docs[GROUPS_PATH])
        findings += problems
    settings = Settings()
    if SETTINGS_PATH in docs:
        settings, problems = _build_settings(docs[SETTINGS_PATH])
        findings += problems

    policies: dict[PolicyId, Policy] = {}
    policy_paths = sorted(p for p in docs if expected_kind(p) == frozenset({"Policy"}))
    # What cannot be known while groups.yaml or settings.yaml is in error is not reported:
    # every group would be "unknown", every channel too, hiding the one real mistake.
    unknowable = ((_NEEDS_GROUPS if GROUPS_PATH in broken else frozenset())
                  | (_NEEDS_SETTINGS if SETTINGS_PATH in broken else frozenset()))
    cross: list[Finding] = []
    for path in policy_paths:
        policy, problems = _build_policy(docs[path])
        findings += problems
        if policy is not None:
            cross += _cross_check(policy, docs[path], groups, settings)
            policies[policy.id] = policy
    for path, partial in sorted(broken.items()):
        # A policy that fails its schema is still read for its references: a typo in its
        # duration must not hide an unknown group in the same run.
        if partial is not None and expected_kind(path) == frozenset({"Policy"}):
            cross += _references(partial, groups, settings)
    findings += [f for f in cross if f.code not in unknowable]
    if targets is not None:
        findings += check_targets([docs[p] for p in policy_paths], docs.get(SETTINGS_PATH),
                                  targets)
    if not policy_paths and not any(f.path.startswith(POLICIES_DIR) for f in findings):
        findings.append(Finding(POLICIES_DIR, 0, "config.missing",
            "no policy found: add at least one policies/<id>.yaml"))

    tests = tuple(docs[p] for p in sorted(docs) if p.startswith(TESTS_DIR))
    findings.sort()
    config = Config(policies, groups, settings, signers)
    has_errors = any(f.severity.value == "error" for f in findings)
    checkable = None if GROUPS_PATH in broken or SETTINGS_PATH in broken else config
    return ConfigResult(None if has_errors else config, tuple(findings), tests,
                        checkable=checkable, broken=frozenset(broken))


def _signers(file: ConfigFile) -> tuple[AllowedSigners | None, list[Finding]]:
    if file.mode != REGULAR_FILE:
        return None, [Finding(file.path, 0, "signers.invalid",
                              f"must be a regular file (mode {file.mode}); replace it with a "
                              "plain file")]
    return parse_allowed_signers(file.raw, file.path)


def _build_groups(doc: Document) -> tuple[Groups, list[Finding]]:
    out = _Findings(doc)
    members: dict[str, frozenset[Login]] = {}
    ids: dict[Login, int] = {}
    raw_groups: dict[str, list[Any]] = _get(doc.data, ("groups",)) or {}
    for name, items in raw_groups.items():
        parsed: list[Login | None] = []
        for i, item in enumerate(items):
            # Schema-valid: a login, or {login, id} pinning the account.
            keys: tuple[str | int, ...] = ("groups", name, i)
            if isinstance(item, dict):
                keys = (*keys, "login")
            login = out.parse(values.parse_login, "value.login", *keys)
            parsed.append(login)
            if login is None or not isinstance(item, dict):
                continue
            pinned = int(item["id"])
            if ids.setdefault(login, pinned) != pinned:
                out.add("config.identity-conflict", f"{login} is pinned to account id "
                        f"{ids[login]} and to {pinned}; a login is one account: keep the right "
                        "id", "groups", name, i, "id")
        members[name] = frozenset(p for p in parsed if p is not None)
    lines = {name: doc.line("groups", name) for name in members}
    return Groups(members=members, path=doc.path, lines=lines, ids=ids), out.items


def _build_settings(doc: Document) -> tuple[Settings, list[Finding]]:
    data: dict[str, Any] = doc.data if isinstance(doc.data, dict) else {}
    limits = data.get("limits", {})
    out = _Findings(doc)
    for signal, keys in data.get("report", {}).items():
        for key in keys:
            if key in _REPORT_DURATIONS:
                out.parse(values.parse_duration, "value.duration", "report", signal, key)
    channels = data.get("notify", {})
    for index, channel in enumerate(data.get("alerts", [])):
        if channel not in channels:
            out.add("config.unknown-channel", f"unknown notification channel {channel!r} in "
                    f"alerts: define it under notify in {doc.path}", "alerts", index)
    personal: dict[Login, PersonalChannel] = {}
    for name, entry in data.get("personal", {}).items():
        try:
            login: Login | None = values.parse_login(name)
        except ValueError as exc:
            out.add("value.login", f"personal: {exc}", "personal", name)
            login = None
        if entry["channel"] not in channels:
            out.add("config.unknown-channel", f"unknown notification channel "
                    f"{entry['channel']!r} for {name}'s personal channel: define it under "
                    f"notify in {doc.path}", "personal", name, "channel")
        if login is not None:
            personal[login] = PersonalChannel(entry["channel"], entry.get("to"))
    watchdog = data.get("watchdog", {})
    for index, channel in enumerate(watchdog.get("notify", [])):
        if channel not in channels:
            out.add("config.unknown-channel", f"unknown notification channel {channel!r} in "
                    f"watchdog.notify: define it under notify in {doc.path}",
                    "watchdog", "notify", index)
    after = out.parse(values.parse_duration, "value.duration", "watchdog", "after")
    repeat = out.parse(values.parse_duration, "value.duration", "watchdog", "repeat")
    rule = WatchdogRule(
        after=after or WatchdogRule.after, repeat=repeat or WatchdogRule.repeat,
        notify=tuple(watchdog["notify"]) if "notify" in watchdog else None)
    return Settings(
        channels={k: dict(v) for k, v in data.get("notify", {}).items()},
        connections={k: dict(v) for k, v in data.get("connections", {}).items()},
        removal=RemovalMode(data["removal"]) if "removal" in data else None,
        alerts=tuple(data.get("alerts", [])),
        admins=tuple(data.get("admins", [])),
        max_grant_bytes=int(limits.get("grant_bytes", 64 * 1024)),
        max_config_bytes=int(limits.get("config_bytes", 512 * 1024)),
        path=doc.path,
        report={k: dict(v) for k, v in data.get("report", {}).items()},
        personal=personal,
        watchdog=rule,
    ), out.items


def _principals(out: _Findings, *keys: str | int) -> tuple[Principal, ...]:
    items = _get(out.doc.data, keys) or []
    parsed = [out.parse(values.parse_principal, "value.principal", *keys, i)
              for i in range(len(items))]
    return tuple(p for p in parsed if p is not None)


def _active_hours(out: _Findings) -> tuple[ActiveHours, ...]:
    """One window (a mapping) or several (a list of them); a window in error is reported and
    the policy is not built, so no window is ever silently dropped."""
    data = _get(out.doc.data, ("active_hours",))
    if isinstance(data, dict):
        window = _hours_window(out, data, ("active_hours",))
        return () if window is None else (window,)
    if not isinstance(data, list):
        return ()
    windows = [_hours_window(out, item, ("active_hours", index))
               for index, item in enumerate(data) if isinstance(item, dict)]
    return tuple(w for w in windows if w is not None)


def _hours_window(out: _Findings, data: dict[str, Any],
                  keys: tuple[str | int, ...]) -> ActiveHours | None:
    where = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys).lstrip(".")
    try:
        zone = data["timezone"]
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, KeyError):
        out.add("value.timezone", f"unknown time zone {data.get('timezone')!r}; use an IANA "
                "name such as Europe/Berlin or UTC", *keys, "timezone")
        return None
    match = re.fullmatch(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])",
                         data.get("between", "00:00-24:00"))
    start = end = None
    if match:
        start = time(int(match[1]), int(match[2]))
        end_h, end_m = int(match[3]), int(match[4])
        end = time.max if (end_h, end_m) == (24, 0) else time(end_h % 24, end_m)
    if start is None or end is None or end_h * 60 + end_m > 24 * 60 or start == end:
        out.add("value.time-range", f"{where}.between {data.get('between')!r} must be "
                "'HH:MM-HH:MM' with different start and end (e.g. 07:00-19:00, or 22:00-06:00 "
                "across midnight; 00:00-24:00 for the whole day)", *keys, "between")
        return None
    days = frozenset(DAYS[d] for d in data.get("days", list(DAYS)))
    return ActiveHours(days=days, start=start, end=end, timezone=zone)


def _build_policy(doc: Document) -> tuple[Policy | None, list[Finding]]:
    out = _Findings(doc)
    data: dict[str, Any] = doc.data  # type: ignore[assignment]  # schema-valid: a mapping
    stem = doc.path.rsplit("/", 1)[-1].removesuffix(".yaml")
    if data["id"] != stem:
        out.add("config.policy-id", f"policy id {data['id']!r} differs from its file name "
                f"{stem!r}; make them equal", "id")

    def duration(*keys: str | int) -> timedelta | None:
        return out.parse(values.parse_duration, "value.duration", *keys)

    default, maximum = duration("duration", "default"), duration("duration", "max")
    if default is not None and maximum is not None and default > maximum:
        out.add("config.default-exceeds-max", f"duration.default {data['duration']['default']} "
                f"exceeds duration.max {data['duration']['max']}", "duration", "default")

    steps = tuple(
        ApprovalStep(_principals(out, "approvals", i, "from"), int(step["count"]))
        for i, step in enumerate(data.get("approvals", []))
    )
    ticket = data.get("ticket", {})
    pattern = ticket.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            out.add("value.pattern", f"ticket.pattern is not a valid regular expression: {exc}",
                    "ticket", "pattern")
    auto = None
    if "auto_approve" in data:
        auto_max = duration("auto_approve", "max_duration")
        if auto_max is not None:
            auto = AutoApprove(auto_max, _principals(out, "auto_approve", "requesters"))
    glass = None
    if "break_glass" in data:
        glass_max = duration("break_glass", "max_duration")
        review = duration("break_glass", "review_within")
        if glass_max is not None and review is not None:
            glass = BreakGlass(glass_max, review)
    max_age = duration("approval_max_age")
    pending = _pending(out, duration)
    expiring_data = data.get("expiring", {})
    expiring = ExpiringRule(
        before=duration("expiring", "before") or ExpiringRule.before,
        notify_channels=expiring_data.get("notify_channels", "false") == "true")
    target = data["target"]
    actions = action_policy.parse(data.get("actions"), target["provider"], out.add, doc.line)
    policy = Policy(
        id=PolicyId(data["id"]),
        description=data.get("description", ""),
        target=Target(target["provider"], tuple(sorted(
            (k, v) for k, v in target.items() if k != "provider"))),
        requesters=_principals(out, "requesters"),
        approvals=steps,
        duration=DurationRule(default or timedelta(hours=1), maximum or timedelta(hours=1)),
        path=doc.path,
        justification_min_length=int(data.get("justification", {}).get("min_length", "0")),
        ticket=TicketRule(ticket.get("required", "false") == "true", pattern),
        active_hours=_active_hours(out),
        max_active_per_requester=(
            int(data["limits"]["max_active_per_requester"])
            if "max_active_per_requester" in data.get("limits", {}) else None),
        auto_approve=auto,
        break_glass=glass,
        notify=tuple(data.get("notify", [])),
        approval_max_age=max_age or DEFAULT_APPROVAL_MAX_AGE,
        revokers=_principals(out, "revokers"),
        drift=DriftRule(DriftAction(data.get("drift", {}).get("action", "alert")),
                        _principals(out, "drift", "except"),
                        tuple(data.get("drift", {}).get("except_holders", []))),
        owners=tuple(data.get("owners", [])),
        pending=pending,
        expiring=expiring,
        lines={key: doc.line(key) for key in data},
        actions=actions,
        grants="duration" in data,
    )
    if out.items:
        return None, out.items
    return policy, []


def _pending(out: _Findings, duration: Callable[..., timedelta | None]) -> PendingRule:
    data = _get(out.doc.data, ("pending",)) or {}
    expire = duration("pending", "expire_after") or PendingRule.expire_after
    remind = [duration("pending", "remind", i) for i in range(len(data.get("remind", [])))]
    escalation = None
    if "escalate" in data:
        after = duration("pending", "escalate", "after")
        to = _principals(out, "pending", "escalate", "to")
        notify = tuple(data["escalate"].get("notify", []))
        if not to and not notify:
            out.add("config.escalation-nobody", "pending.escalate names nobody to tell: add "
                    "'to' (people with a personal channel) or 'notify' (channels)",
                    "pending", "escalate")
        if after is not None:
            escalation = Escalation(after, to, notify)
    return PendingRule(expire, tuple(sorted({r for r in remind if r is not None})), escalation)


_NEEDS_GROUPS = frozenset({"config.unknown-group", "config.unsatisfiable-step",
                           "config.auto-approve-not-requester"})
_NEEDS_SETTINGS = frozenset({"config.unknown-channel", "config.unknown-connection"})


def _references(doc: Document, groups: Groups, settings: Settings) -> list[Finding]:
    """The groups, channels and connection a policy in schema error names, checked as far as
    its data can be read (anything of the wrong shape is the schema's finding already)."""
    out = _Findings(doc)
    data = doc.data if isinstance(doc.data, dict) else {}

    def principals(*keys: str | int) -> None:
        items = _get(data, keys)
        for index, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, str) and item.startswith("group:"):
                name = item.removeprefix("group:")
                if name not in groups.members:
                    out.add("config.unknown-group", f"unknown group {name!r}: "
                            f"{did_you_mean(name, groups.members)}define it in {groups.path}",
                            *keys, index)

    principals("requesters")
    steps = data.get("approvals")
    for index in range(len(steps) if isinstance(steps, list) else 0):
        principals("approvals", index, "from")
    principals("auto_approve", "requesters")
    principals("revokers")
    channels = data.get("notify")
    for index, channel in enumerate(channels if isinstance(channels, list) else []):
        if isinstance(channel, str) and channel not in settings.channels:
            out.add("config.unknown-channel", f"unknown notification channel {channel!r}: "
                    f"{did_you_mean(channel, settings.channels)}define it under notify in "
                    f"{settings.path}", "notify", index)
    connection = _get(data, ("target", "connection"))
    if isinstance(connection, str) and connection not in settings.connections:
        out.add("config.unknown-connection", f"unknown connection {connection!r}: "
                f"{did_you_mean(connection, settings.connections)}define it under connections "
                f"in {settings.path}", "target", "connection")
    return out.items


def _cross_check(policy: Policy, doc: Document, groups: Groups,
                 settings: Settings) -> list[Finding]:
    """Rules that need more than the policy file: groups, channels, reachable approvals."""
    out = _Findings(doc)
    group_path = groups.path
    # Teams are looked up on GitHub only when a request is judged: here (offline) they are
    # always unresolved, which is valid configuration, so only undefined groups are errors.
    requesters = expand(policy.requesters, groups)
    for name in requesters.undefined_groups:
        out.add("config.unknown-group", f"unknown group {name!r}: "
                f"{did_you_mean(name, groups.members)}define it in {group_path}", "requesters")
    for index, step in enumerate(policy.approvals):
        approvers = expand(step.approvers, groups)
        for name in approvers.undefined_groups:
            out.add("config.unknown-group", f"unknown group {name!r} in approval step "
                    f"{index + 1}: {did_you_mean(name, groups.members)}define it in "
                    f"{group_path}", "approvals", index, "from")
        # With an unresolved team the step's size is unknown until a request is judged.
        if not approvers.unknown_groups and len(approvers.logins) < step.count:
            out.add("config.unsatisfiable-step", f"approval step {index + 1} needs "
                    f"{step.count} distinct approvers but only {len(approvers.logins)} are "
                    "eligible; lower 'count' or add approvers", "approvals", index, "count")
    # Each step may be satisfiable alone while the steps together are not, as one person
    # counts in one step only (e.g. two steps that both name only dave).
    steps = [(expand(s.approvers, groups).logins, s.count) for s in policy.approvals]
    needed = sum(count for _, count in steps)
    placed = sum(map(len, assign(sorted(set().union(*(p for p, _ in steps))), steps).per_step))
    teams = any(expand(s.approvers, groups).unresolved_teams for s in policy.approvals)
    if not out.items and not teams and placed < needed:
        out.add("config.unsatisfiable-step", f"the approval steps need {needed} distinct "
                f"approvers in all (one person counts in one step only), but the people they "
                f"name can fill only {placed}; lower 'count' or add approvers", "approvals")
    if not policy.approvals and policy.auto_approve is None and policy.break_glass is None:
        out.add("config.no-approval-path", f"policy {policy.id!r} has no approval step, no "
                "auto_approve and no break_glass rule, so no request could ever be approved; "
                "add an approval step", "id")
    if policy.duration.max and policy.auto_approve is not None:
        auto = policy.auto_approve
        if auto.max_duration > policy.duration.max:
            out.add("config.auto-approve-exceeds-max", "auto_approve.max_duration exceeds "
                    "duration.max", "auto_approve", "max_duration")
        auto_who = expand(auto.requesters, groups)
        for name in auto_who.undefined_groups:
            out.add("config.unknown-group", f"unknown group {name!r} in auto_approve: "
                    f"{did_you_mean(name, groups.members)}define it in {group_path}",
                    "auto_approve", "requesters")
        outsiders = sorted(auto_who.logins - requesters.logins)
        # Who is in a requesters' team is unknown offline; decide() still checks both lists.
        if outsiders and not requesters.unresolved_teams:
            out.add("config.auto-approve-not-requester", "auto_approve.requesters names "
                    f"{', '.join(outsiders)}, who may not request this policy; auto-approve "
                    "only narrows the requesters", "auto_approve", "requesters")
    revokers = expand(policy.revokers, groups)
    for name in revokers.undefined_groups:
        out.add("config.unknown-group", f"unknown group {name!r} in revokers: "
                f"{did_you_mean(name, groups.members)}define it in {group_path}", "revokers")
    standing = expand(policy.drift.except_, groups)
    for name in standing.undefined_groups:
        out.add("config.unknown-group", f"unknown group {name!r} in drift.except: "
                f"{did_you_mean(name, groups.members)}define it in {group_path}", "drift",
                "except")
    for index, channel in enumerate(policy.notify):
        if channel not in settings.channels:
            out.add("config.unknown-channel", f"unknown notification channel {channel!r}: "
                    f"{did_you_mean(channel, settings.channels)}define it under notify in "
                    f"{settings.path}", "notify", index)
    out.items += _timer_checks(policy, out.doc, groups, settings)
    connection = policy.target.get("connection")
    if connection is not None and connection not in settings.connections:
        out.add("config.unknown-connection", f"unknown connection {connection!r}: "
                f"{did_you_mean(connection, settings.connections)}define it under connections "
                f"in {settings.path}", "target", "connection")
    return out.items


def _timer_checks(policy: Policy, doc: Document, groups: Groups,
                  settings: Settings) -> list[Finding]:
    """The request timers against each other and the settings: channels and groups that
    exist, and no reminder or escalation that would come after the request is closed."""
    out = _Findings(doc)
    rule = policy.pending
    escalation = rule.escalate
    if escalation is not None:
        for index, channel in enumerate(escalation.notify):
            if channel not in settings.channels:
                out.add("config.unknown-channel", f"unknown notification channel {channel!r} "
                        f"in pending.escalate.notify: define it under notify in "
                        f"{settings.path}", "pending", "escalate", "notify", index)
        for name in expand(escalation.to, groups).undefined_groups:
            out.add("config.unknown-group", f"unknown group {name!r} in pending.escalate.to: "
                    f"define it in {groups.path}", "pending", "escalate", "to")
    late = [("a reminder", after) for after in rule.remind if after >= rule.expire_after]
    if escalation is not None and escalation.after >= rule.expire_after:
        late.append(("the escalation", escalation.after))
    for what, after in late:
        out.add("config.timer-too-late", f"{what} after {values.format_duration(after)} "
                f"would come when the request is already closed (pending.expire_after "
                f"{values.format_duration(rule.expire_after)}); make it earlier, or let "
                "requests wait longer", "pending")
    return [replace(f, severity=Severity.WARNING) if f.code == "config.timer-too-late" else f
            for f in out.items]
