"""Reports to render: built directly from the core's data classes, no git and no YAML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.core.decision import Counted, Decision, Kind, Missing, Outcome
from engine.core.findings import Finding, Severity
from engine.core.models import Grant, GrantId, Login, PolicyId
from engine.core.report import CheckReport, PullRequestReport

PATH = "grants/prod-db-admin/bob-20261130T0912Z.yaml"
HEAD = "1" * 40
BASE = "2" * 40


def grant(justification: str = "Replication lag on the orders primary (INC-1234)",
          ticket: str | None = "INC-1234") -> Grant:
    return Grant(GrantId("prod-db-admin/bob-20261130T0912Z"), PATH, PolicyId("prod-db-admin"),
                 Login("bob"), timedelta(hours=2), justification, ticket,
                 start=datetime(2026, 11, 30, 10, 0, tzinfo=UTC))


def pending(justification: str = "Replication lag on the orders primary (INC-1234)",
            message: str = "approval by dave ignored: given on commit 333333333333, not on the "
                           "head 111111111111; ask them to approve again") -> PullRequestReport:
    """A pending request with a bit of everything: a finding, a missing step, a counted one."""
    decision = Decision(
        Outcome.PENDING, Kind.REQUEST,
        findings=(Finding(PATH, 0, "approval.stale", message, Severity.NOTICE),),
        missing=(Missing(PolicyId("prod-db-admin"), 1, 1, 1, "group:dba",
                         (Login("dave"), Login("erin"))),),
        counted=(Counted(Login("sam"), PolicyId("prod-db-admin"), 2, HEAD,
                         datetime(2026, 11, 30, 8, 40, tzinfo=UTC)),),
        grant=grant(justification),
    )
    return PullRequestReport(decision, "bob", BASE, HEAD)


def break_glass() -> PullRequestReport:
    decision = Decision(
        Outcome.APPROVED, Kind.REQUEST,
        findings=(Finding(PATH, 8, "approval.break-glass", "break-glass: approved without "
                          "review; it must be reviewed by 2026-12-01 09:00 UTC",
                          Severity.WARNING),),
        grant=grant(), break_glass=True, review_by=datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    return PullRequestReport(decision, "bob", BASE, HEAD)


def revoke() -> PullRequestReport:
    decision = Decision(Outcome.APPROVED, Kind.REVOKE, deleted=(grant(),))
    return PullRequestReport(decision, "sam", BASE, HEAD)


def check_report() -> CheckReport:
    return CheckReport((
        Finding("", 0, "config.missing", "policies/groups.yaml is missing; add it"),
        Finding(PATH, 5, "grant.duration-exceeds-max",
                "duration '5h' exceeds today's maximum '4h' (policies/prod-db-admin.yaml)",
                Severity.WARNING),
        Finding("policies/prod-db-admin.yaml", 12, "config.unknown-group",
                "unknown group 'secops' in approval step 2: define it in policies/groups.yaml"),
    ), policies=4, grants=3, files=12)
