"""The text reporter: one finding a line, then a stable summary line."""

from __future__ import annotations

from engine.core.decision import Decision, Kind, Missing, Outcome
from engine.core.report import CheckReport, PullRequestReport
from engine.reporters import text
from tests.reporters import samples


def test_check_whole() -> None:
    assert text.check(samples.check_report()) == (
        "config.missing: policies/groups.yaml is missing; add it\n"
        "warning: grants/prod-db-admin/bob-20261130T0912Z.yaml:5: grant.duration-exceeds-max: "
        "duration '5h' exceeds today's maximum '4h' (policies/prod-db-admin.yaml)\n"
        "policies/prod-db-admin.yaml:12: config.unknown-group: unknown group 'secops' in "
        "approval step 2: define it in policies/groups.yaml\n"
        "4 policies, 3 grants, 2 errors, 1 warning\n")


def test_check_summary_of_a_clean_tree() -> None:
    assert text.check(CheckReport((), policies=4, grants=0, files=6)) == \
        "4 policies, 0 grants, 0 errors, 0 warnings\n"


def test_pull_request_whole() -> None:
    assert text.pull_request(samples.pending()) == (
        "PENDING: request: bob asks for prod-db-admin for 2h\n"
        "  notice: grants/prod-db-admin/bob-20261130T0912Z.yaml: approval.stale: approval by "
        "dave ignored: given on commit 333333333333, not on the head 111111111111; ask them to "
        "approve again\n"
        "  missing: prod-db-admin step 1 (group:dba) needs 1 more of 1; may approve: dave, erin\n"
        "  counted: sam for prod-db-admin step 2\n")


def test_pull_request_without_a_grant_names_the_kind() -> None:
    assert text.pull_request(samples.revoke()) == "APPROVED: revoke\n"


def test_a_step_nobody_can_approve_says_so() -> None:
    decision = samples.pending().decision
    missing = decision.missing[0]
    report = PullRequestReport(
        Decision(Outcome.PENDING, Kind.REQUEST, missing=(Missing(
            missing.policy, 1, 1, 1, "group:dba", ()),), grant=decision.grant),
        "bob", samples.BASE, samples.HEAD)
    assert text.pull_request(report).splitlines()[1] == (
        "  missing: prod-db-admin step 1 (group:dba) needs 1 more of 1; may approve: nobody "
        "eligible is left")
