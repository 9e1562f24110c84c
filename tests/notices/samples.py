"""One sample message of every kind, from fixed inputs: what docs/notifications.md shows, and
what tests/notices/test_messages.py keeps it in step with (and checks against the vendors'
shapes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from engine.core import messages
from engine.core.decision import Decision, Kind, Missing, Outcome
from engine.core.findings import Finding
from engine.core.ledger import ActionRun, AppliedTarget, Event, ExpiryEnforcer, Record
from engine.core.messages import Kind as MessageKind
from engine.core.messages import Message, Request
from engine.core.models import Grant, GrantId, Login, PolicyId
from engine.reporters import messages as formats

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
GID = GrantId("prod-db-admin/bob-20261130T0900Z")
URL = "https://github.com/acme/access/pull/42"
GRANT = Grant(id=GID, path=f"grants/{GID}.yaml", policy=PolicyId("prod-db-admin"),
              requester=Login("bob"), duration=timedelta(hours=2),
              justification="Replication lag on the orders primary, need pg_stat access",
              ticket="INC-1234")
MISSING = Missing(PolicyId("prod-db-admin"), 2, 1, 1, "group:security",
                  (Login("sam"), Login("sue")))
PENDING = Decision(Outcome.PENDING, Kind.REQUEST, missing=(MISSING,), grant=GRANT)
REQUEST = Request(GID, "prod-db-admin", Login("bob"), 42, URL, T0, PENDING)
TARGET = AppliedTarget("postgres", "orders-prod", (("role", "orders_admin"),))
ACTION = GrantId("actions/orders-fix/bob-20261130T0900Z")
RUN = ActionRun("3f2a" * 16, "UPDATE orders SET state = $1 WHERE id = $2  -- $1='paid', $2='42'",
                rows=1, duration_ms=38)


def record(event: Event, **fields: object) -> Record:
    base: dict[str, object] = {
        "event": event, "grant_id": GID, "policy": "prod-db-admin", "requester": "bob",
        "at": T0 + timedelta(minutes=15), "pull_request": 42, "engine_version": "0.1.0",
        "activated_at": T0 + timedelta(minutes=12),
        "expires_at": T0 + timedelta(hours=2, minutes=12),
        "expiry_enforced_by": ExpiryEnforcer.TARGET, "target": TARGET}
    base.update(fields)
    return Record(**base)  # type: ignore[arg-type]


def action(event: Event, run: ActionRun, **fields: object) -> Record:
    return record(event, grant_id=ACTION, policy="orders-fix", action=run, activated_at=None,
                  expires_at=None, expiry_enforced_by=None, target=None, **fields)


def samples() -> dict[MessageKind, Message]:
    activated = record(Event.ACTIVATED)
    scheduled = record(Event.ACTIVATED, activated_at=T0 + timedelta(hours=3),
                       expires_at=T0 + timedelta(hours=5))
    at = T0 + timedelta(hours=2, minutes=1)
    denied = Decision(Outcome.DENIED, Kind.REQUEST, grant=GRANT, findings=(Finding(
        f"grants/{GID}.yaml", 4, "grant.duration-exceeds-max",
        "duration '2d' exceeds the policy maximum '4h' (policies/prod-db-admin.yaml)"),))
    approved = Decision(Outcome.APPROVED, Kind.REQUEST, grant=GRANT)
    return {
        MessageKind.REQUEST_ANNOUNCED: messages.announced(REQUEST, T0 + timedelta(minutes=7)),
        MessageKind.REQUEST_APPROVED: messages.approved(
            Request(GID, "prod-db-admin", Login("bob"), 42, URL, T0, approved),
            T0 + timedelta(minutes=47)),
        MessageKind.REQUEST_DENIED: messages.denied(
            Request(GID, "prod-db-admin", Login("bob"), 42, URL, T0, denied),
            T0 + timedelta(minutes=17)),
        MessageKind.REQUEST_WITHDRAWN: messages.withdrawn(
            GID, "prod-db-admin", "bob", 42, URL, T0 + timedelta(minutes=27)),
        MessageKind.REQUEST_REMINDED: messages.reminded(REQUEST, 1, 2, timedelta(hours=4),
                                                        T0 + timedelta(hours=4)),
        MessageKind.REQUEST_ESCALATED: messages.escalated(REQUEST, timedelta(hours=8), ["sam"],
                                                          T0 + timedelta(hours=8)),
        MessageKind.REQUEST_CLOSED: messages.closed(REQUEST, timedelta(hours=24),
                                                    T0 + timedelta(hours=24)),
        MessageKind.ACTIVATED: messages.from_record(activated),
        MessageKind.SCHEDULED: messages.from_record(scheduled),
        MessageKind.ACCESS_STARTED: messages.started(scheduled, T0 + timedelta(hours=3)),
        MessageKind.ACCESS_EXPIRING: messages.expiring(
            activated, T0 + timedelta(hours=1, minutes=57), timedelta(hours=2)),
        MessageKind.EXPIRED: messages.from_record(record(
            Event.EXPIRED, at=at, ended_at=T0 + timedelta(hours=2, minutes=12))),
        MessageKind.RELINQUISHED: messages.from_record(record(
            Event.RELINQUISHED, at=at, pull_request=43, detail="relinquished in pull request #43")),
        MessageKind.REVOKED: messages.from_record(record(
            Event.REVOKED, at=at, pull_request=44, detail="revoked by sue in pull request #44")),
        MessageKind.SUPERSEDED: messages.from_record(record(
            Event.SUPERSEDED, at=at,
            detail="superseded by prod-db-admin/bob-20261130T1050Z, which extends it")),
        MessageKind.RETARGETED: messages.from_record(record(
            Event.RETARGETED, at=at, subject="8f14e45fceea167a",
            detail="moved to its policy's new target: postgres:orders-prod(role=orders_admin) "
                   "-> postgres:orders-prod(role=orders_ops)")),
        MessageKind.REFUSED: messages.from_record(record(
            Event.ALERT, code=messages.REFUSAL_ALERT, activated_at=None, expires_at=None,
            expiry_enforced_by=None, target=None,
            detail="merged while the verdict was pending: step 2 (group:security) needs 1 more "
                   "approval")),
        MessageKind.ALERT: messages.from_record(record(
            Event.ALERT, code="deletion.unapproved", activated_at=None, expires_at=None,
            expiry_enforced_by=None, target=None, subject="5d41402abc4b2a76b9719d911017c592",
            detail="deleted without a pull request in 5d41402abc4b (committed as mallory "
                   "<m@example.com>, authored as mallory <m@example.com>; git's names are "
                   "not verified)")),
        MessageKind.DEFERRED: messages.from_record(record(
            Event.DEFERRED, activated_at=None, expires_at=None, expiry_enforced_by=None,
            target=None, subject="1", detail="could not be verified (attempt 1 of 5): GitHub "
                                             "answered 502")),
        MessageKind.COMPLETED: messages.from_record(action(Event.COMPLETED, RUN)),
        MessageKind.FAILED: messages.from_record(action(
            Event.FAILED, ActionRun(RUN.digest, RUN.runs, rows=0, duration_ms=5012),
            detail="canceling statement due to statement timeout")),
        MessageKind.UNKNOWN: messages.from_record(action(
            Event.UNKNOWN, ActionRun(RUN.digest, RUN.runs),
            detail="started at 2026-11-30 09:15 UTC and no outcome was recorded")),
        MessageKind.ACCESS_REVIEW: messages.access_review(
            "gitjit access review of main, 2026-11-01 to 2026-12-01 (all policies)",
            "2 findings: 1 high, 0 medium, 1 low",
            ["41 grants requested, 39 activated (2 break-glass) by 12 people, 2 refused; "
             "ended: expired 35, relinquished 3; 1 alerts"],
            [("high report.break-glass-unreviewed",
              "prod-db-admin/bob-20261114T0300Z: nobody reviewed this break-glass grant"),
             ("low report.unused-eligibility", "carol: eligible for prod-db-admin and never "
              "requested it in 90 days")], high=1),
        MessageKind.WATCHDOG_STALE: messages.watchdog(
            "acme/access", T0, timedelta(hours=1), T0 + timedelta(hours=1, minutes=23)),
    }


def break_glass() -> Message:
    """A break-glass request, announced: flagged in its title and its first words."""
    glass = Decision(Outcome.APPROVED, Kind.REQUEST, grant=GRANT, break_glass=True,
                     review_by=T0 + timedelta(hours=24))
    return messages.announced(Request(GID, "prod-db-admin", Login("bob"), 42, URL, T0, glass),
                              T0 + timedelta(minutes=7))


def rendered(kind: str, message: Message) -> str:
    """How docs/notifications.md shows one kind: the title, then the markdown body."""
    return (f"<!-- message: {kind} -->\n```text\n{message.title}\n\n"
            f"{formats.markdown(message)}```\n")


def example_formats() -> str:
    """The announcement in every channel format, as docs/notifications.md shows it."""
    message = samples()[MessageKind.REQUEST_ANNOUNCED]
    return (
        "<!-- format: teams -->\n```json\n" + json.dumps(formats.teams_card(message), indent=2)
        + "\n```\n\n<!-- format: slack -->\n```json\n"
        + json.dumps(formats.slack_blocks(message), indent=2)
        + "\n```\n\n<!-- format: email -->\n```html\n" + formats.html(message)
        + "```\n\n<!-- format: webhook -->\n```json\n"
        + json.dumps(formats.webhook(message), indent=2) + "\n```\n")
