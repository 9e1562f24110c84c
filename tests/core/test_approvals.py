"""approvals.evaluate: which reviews count, and whether the policy's steps are met."""

from __future__ import annotations

import dataclasses

from engine.core.approvals import evaluate
from engine.core.decision import Outcome
from engine.core.findings import Severity
from engine.core.models import Config, Groups, Login, Policy, PolicyId
from tests.core.builders import NOW, OLDER, approvals, config_of, grant_fields, request, review

WHERE = "grants/db/bob-20261130T0900Z.yaml"

STEPS = """
id: db
description: Superuser on the test database
target: {provider: command, role: admin}
requesters: [group:sre]
approvals:
  - {from: [group:dba], count: 1}
  - {from: [group:security, user:erin], count: 2}
duration: {default: 1h, max: 4h}
"""


def setup(text: str = STEPS) -> tuple[Policy, Config]:
    config = config_of(text)
    return config.policies[PolicyId("db")], config


def test_all_steps_met() -> None:
    policy, config = setup()
    result = evaluate(policy, config.groups, request(reviews=approvals("dave", "sam", "sue")),
                      WHERE, NOW)
    assert (result.outcome, result.findings, result.missing, result.blocked) == (
        Outcome.APPROVED, (), (), False)
    assert [(c.reviewer, c.policy, c.step, c.commit) for c in result.counted] == [
        ("dave", "db", 1, "a" * 40), ("sam", "db", 2, "a" * 40), ("sue", "db", 2, "a" * 40)]
    assert result.counted[0].submitted_at == approvals("dave")[0].submitted_at


def test_one_person_in_one_step_even_when_eligible_for_both() -> None:
    # erin is a DBA and named in step 2: with dave and sam she completes both steps.
    policy, config = setup()
    result = evaluate(policy, config.groups, request(reviews=approvals("erin", "dave", "sam")),
                      WHERE, NOW)
    assert result.outcome is Outcome.APPROVED
    assert sorted((c.step, c.reviewer) for c in result.counted) == [
        (1, "dave"), (2, "erin"), (2, "sam")]
    # Alone with sam, she fills one slot only.
    short = evaluate(policy, config.groups, request(reviews=approvals("erin", "sam")), WHERE, NOW)
    assert short.outcome is Outcome.PENDING
    assert len(short.counted) == 2
    assert sum(m.needed for m in short.missing) == 1


def test_missing_lists_who_may_still_approve() -> None:
    policy, config = setup()
    result = evaluate(policy, config.groups,
                      request(reviews=approvals("sam"), pushers=["sue"]), WHERE, NOW)
    assert result.outcome is Outcome.PENDING
    assert [(m.step, m.needed, m.count, m.approvers, m.eligible) for m in result.missing] == [
        (1, 1, 1, "group:dba", ("dave", "erin")),
        (2, 1, 2, "group:security, user:erin", ("erin",)),
    ]
    assert [f.render() for f in result.findings] == [
        f"{WHERE}: approval.missing: step 1 (group:dba) needs 1 more approval of 1; "
        "eligible: dave, erin",
        f"{WHERE}: approval.missing: step 2 (group:security, user:erin) needs 1 more "
        "approval of 2; eligible: erin",
    ]
    assert all(f.severity is Severity.WARNING for f in result.findings)


def test_missing_says_when_nobody_is_left() -> None:
    policy, config = setup()
    result = evaluate(policy, config.groups, request(pushers=["dave", "erin"]), WHERE, NOW)
    assert result.missing[0].eligible == ()
    assert result.findings[0].message == (
        "step 1 (group:dba) needs 1 more approval of 1; no eligible approver is left who "
        "did not push to this pull request")


def test_dismissed_reviews_say_nothing() -> None:
    policy, config = setup()
    result = evaluate(policy, config.groups,
                      request(reviews=[review("dave", "DISMISSED")]), WHERE, NOW)
    assert [f.code for f in result.findings] == ["approval.missing", "approval.missing"]


def test_ignored_reviews_are_explained() -> None:
    policy, config = setup()
    pr = request(reviews=[review("bob"), review("ci[bot]"), review("carol"),
                          review("dave", commit=OLDER), review("sam")], pushers=["sam"])
    result = evaluate(policy, config.groups, pr, WHERE, NOW)
    notices = [(f.code, f.message) for f in result.findings if f.severity is Severity.NOTICE]
    assert notices == [
        ("approval.self", "approval by bob ignored: the requester's own review never counts"),
        ("approval.not-eligible", "approval by carol ignored: not an approver of policy 'db'"),
        ("approval.bot", "approval by ci[bot] ignored: reviews by bots never count"),
        ("approval.stale", f"approval by dave ignored: given on commit {OLDER[:12]}, not on "
                           f"the head {'a' * 12}; ask them to approve again"),
        ("approval.pusher", "approval by sam ignored: they pushed or authored commits on this "
                            "pull request"),
    ]
    assert result.counted == ()


def test_changes_requested_blocks_only_from_eligible_humans() -> None:
    policy, config = setup()
    met = approvals("dave", "sam", "sue")

    def blocked(*extra: str) -> bool:
        reviews = [*met, *(review(who, "CHANGES_REQUESTED", minute=9) for who in extra)]
        result = evaluate(policy, config.groups, request(reviews=reviews), WHERE, NOW)
        assert result.outcome is (Outcome.PENDING if result.blocked else Outcome.APPROVED)
        return result.blocked

    assert blocked("erin")
    assert not blocked("carol")       # not an approver
    assert not blocked("bob")         # the requester
    assert not blocked("deploy[bot]")  # a bot
    # dave replaced his approval by a request for changes: blocked, and step 1 is short.
    assert blocked("dave")
    result = evaluate(policy, config.groups, request(reviews=[
        *met, review("erin", "CHANGES_REQUESTED", minute=9)]), WHERE, NOW)
    assert [f.render() for f in result.findings] == [
        f"{WHERE}: approval.changes-requested: erin requested changes; the request waits until "
        "they approve or the review is dismissed"]


def test_structural_denials() -> None:
    policy, config = setup()
    no_steps = evaluate(dataclasses.replace(policy, approvals=()), config.groups, request(),
                        WHERE, NOW)
    assert (no_steps.outcome, [f.code for f in no_steps.findings]) == (
        Outcome.DENIED, ["approval.no-approvers"])
    assert no_steps.findings[0].render() == (
        "policies/db.yaml:7: approval.no-approvers: policy 'db' has no approval step, so this "
        "request cannot be approved by review")

    groups = Groups({k: v for k, v in config.groups.members.items() if k != "dba"})
    unknown = evaluate(policy, groups, request(reviews=approvals("dave", "sam", "sue")), WHERE, NOW)
    assert (unknown.outcome, [f.code for f in unknown.findings]) == (
        Outcome.DENIED, ["config.unknown-group"])
    assert unknown.findings[0].message == (
        "approval step 1 names unknown group(s) dba; denied until the group is defined")

    # erin requests: step 2 needs two of sam, sue and erin, and erin cannot approve herself,
    # which still leaves two. With sue gone only sam remains: no review can fix that.
    groups = Groups({**config.groups.members, "security": frozenset({Login("sam")})})
    fields_pr = request(grant_fields(requester="erin"))
    short = evaluate(policy, groups, fields_pr, WHERE, NOW)
    assert (short.outcome, [f.code for f in short.findings]) == (
        Outcome.DENIED, ["approval.no-approvers"])
    assert short.findings[0].message == (
        "approval step 2 needs 2 approver(s) other than erin, but only 1 exist(s) "
        "(group:security, user:erin)")
    assert evaluate(policy, config.groups, fields_pr, WHERE, NOW).outcome is Outcome.PENDING
