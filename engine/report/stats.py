"""The figures and charts of an access review: counts, latencies and distributions."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.core.audit import Ending
from engine.report.model import Facts
from engine.report.signals import activations, approvals, in_scope, requested

APPROVAL_BUCKETS: tuple[tuple[str, timedelta], ...] = (
    ("< 1m", timedelta(minutes=1)), ("1-5m", timedelta(minutes=5)),
    ("5-15m", timedelta(minutes=15)), ("15-60m", timedelta(hours=1)),
    ("1-4h", timedelta(hours=4)), ("4-24h", timedelta(days=1)), ("> 1d", timedelta.max),
)
REVOCATION_BUCKETS: tuple[tuple[str, timedelta], ...] = (
    ("0s", timedelta(seconds=1)), ("< 1m", timedelta(minutes=1)),
    ("1-5m", timedelta(minutes=5)), ("5-15m", timedelta(minutes=15)),
    ("15-30m", timedelta(minutes=30)), ("30-60m", timedelta(hours=1)),
    ("> 1h", timedelta.max),
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TOP = 10


@dataclass(frozen=True)
class Series:
    label: str
    values: tuple[int, ...]


@dataclass(frozen=True)
class Charts:
    """The data of each chart; the HTML report draws them, JSON carries them."""

    buckets: tuple[str, ...]
    """The x axis of grants over time: days (or weeks, for long periods) as 'YYYY-MM-DD'."""
    grants_over_time: tuple[Series, ...]
    """Activations per bucket, one series per policy."""
    heatmap: tuple[tuple[int, ...], ...]
    """Activations by weekday (rows, Monday first) and hour of day (columns), UTC."""
    approval_latency: tuple[int, ...]
    """Approvals per APPROVAL_BUCKETS bucket, from the push of the commit to the approval."""
    revocation_latency: tuple[int, ...]
    """Ends per REVOCATION_BUCKETS bucket."""
    top_requesters: tuple[tuple[str, int], ...]
    top_approvers: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Summary:
    requested: int
    """Grants that landed on the default branch in the period."""
    activated: int
    break_glass: int
    refused: int
    ended: dict[str, int]
    """Ends in the period by how they ended."""
    alerts: int
    requesters: int
    approvers: int
    approval_median_seconds: int | None
    revocation_median_seconds: int | None
    revocation_worst_seconds: int | None
    pull_requests: dict[str, int] | None
    """Pull requests opened in the period by state ('merged', 'closed', 'open'); None without
    a forge. A closed one was denied or abandoned."""


def summarize(facts: Facts) -> Summary:
    active = activations(facts)
    given = approvals(facts)
    latencies = [a.latency for a in given if a.latency is not None]
    ends = [lc.ended for lc in facts.lifecycles if lc.ended is not None
            and lc.ended.at in facts.period and in_scope(facts, lc.policy)]
    revocations = [end.latency for end in ends
                   if end.latency is not None and end.how is not Ending.REFUSED]
    ended = Counter(end.how.value for end in ends if end.how is not Ending.REFUSED)
    records = [r for r in facts.records if r.at in facts.period and in_scope(facts, r.policy)]
    pulls = None
    if facts.pulls is not None:
        pulls = dict(Counter(p.state for p in facts.pulls if p.opened_at in facts.period))
    return Summary(
        requested=len(requested(facts)),
        activated=len(active),
        break_glass=sum(1 for lc in active if lc.break_glass),
        refused=sum(1 for r in records if r.event.value == "refused"),
        ended=dict(sorted(ended.items())),
        alerts=sum(1 for r in records if r.event.value == "alert"),
        requesters=len({lc.requester for lc in active}),
        approvers=len({a.reviewer for a in given}),
        approval_median_seconds=_median(latencies),
        revocation_median_seconds=_median(revocations),
        revocation_worst_seconds=int(max(revocations).total_seconds()) if revocations else None,
        pull_requests=pulls,
    )


def _median(values: list[timedelta]) -> int | None:
    if not values:
        return None
    return int(statistics.median(v.total_seconds() for v in values))


def _bucket(value: timedelta, buckets: tuple[tuple[str, timedelta], ...]) -> int:
    for index, (_label, limit) in enumerate(buckets):
        if value < limit:
            return index
    return len(buckets) - 1


def charts(facts: Facts) -> Charts:
    active = activations(facts)
    weekly = facts.period.until - facts.period.since > timedelta(days=62)
    start = _floor(facts.period.since, weekly)
    labels: list[str] = []
    cursor = start
    step = timedelta(days=7 if weekly else 1)
    while cursor < facts.period.until:
        labels.append(cursor.strftime("%Y-%m-%d"))
        cursor += step
    index = {label: i for i, label in enumerate(labels)}
    per_policy: dict[str, list[int]] = {}
    heat = [[0] * 24 for _ in range(7)]
    for lifecycle in active:
        assert lifecycle.activation is not None and lifecycle.activation.activated_at is not None
        when = lifecycle.activation.activated_at
        label = _floor(when, weekly).strftime("%Y-%m-%d")
        row = per_policy.setdefault(lifecycle.policy, [0] * len(labels))
        if label in index:
            row[index[label]] += 1
        heat[when.weekday()][when.hour] += 1
    approval = [0] * len(APPROVAL_BUCKETS)
    given = approvals(facts)
    for item in given:
        if item.latency is not None:
            approval[_bucket(item.latency, APPROVAL_BUCKETS)] += 1
    revocation = [0] * len(REVOCATION_BUCKETS)
    for lifecycle in facts.lifecycles:
        ended = lifecycle.ended
        if (ended is not None and ended.latency is not None and ended.at in facts.period
                and in_scope(facts, lifecycle.policy)):
            revocation[_bucket(ended.latency, REVOCATION_BUCKETS)] += 1
    requesters = Counter(lc.requester for lc in active)
    approvers = Counter(a.reviewer for a in given)
    return Charts(
        buckets=tuple(labels),
        grants_over_time=tuple(Series(policy, tuple(values))
                               for policy, values in sorted(per_policy.items())),
        heatmap=tuple(tuple(row) for row in heat),
        approval_latency=tuple(approval),
        revocation_latency=tuple(revocation),
        top_requesters=_top(requesters),
        top_approvers=_top(approvers),
    )


def _top(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP])


def _floor(when: datetime, weekly: bool) -> datetime:
    day = when.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday()) if weekly else day
