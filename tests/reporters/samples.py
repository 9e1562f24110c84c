"""Reports to render: built directly from the core's data classes, no git and no YAML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.actions.model import ActionId, ActionRequest, ActionVerdict, Plan, Statement
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


ACTION_PATH = "actions/orders-fix/bob-20261130T0912Z.yaml"


def action() -> PullRequestReport:
    """A pending free-form SQL action with its plan (what will run)."""
    request = ActionRequest(ActionId(ACTION_PATH.removesuffix(".yaml")), ACTION_PATH,
                            PolicyId("orders-fix"), Login("bob"),
                            "Customer was charged twice for the order (INC-1234)", "INC-1234",
                            sql="UPDATE orders SET status = 'cancelled' WHERE id = 4711",
                            max_rows=1)
    plan = Plan(request.id, request.policy, "postgres", "orders", (), (), None,
                statements=(Statement(request.sql or "", (), "UPDATE", ("orders",), ()),),
                max_rows=1)
    decision = Decision(
        Outcome.PENDING, Kind.ACTION,
        missing=(Missing(PolicyId("orders-fix"), 1, 1, 1, "group:dba", (Login("dave"),)),),
        counted=(Counted(Login("sam"), PolicyId("orders-fix"), 2, HEAD,
                         datetime(2026, 11, 30, 8, 40, tzinfo=UTC)),),
        action=ActionVerdict(request, plan))
    return PullRequestReport(decision, "bob", BASE, HEAD)
