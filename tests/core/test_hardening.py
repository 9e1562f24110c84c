"""The verdict's hardening rules (issue 8, items 2-4, 8, 13; issue 7's used grant ids), in the
core: how old an approval may be, reviewers without write access, account ids pinned in
groups, commits nobody can be tied to, revokers, every reason named, and used grant ids.

The attacks themselves run through the CLI against the GitHub emulator in
tests/github_e2e/test_verdict_attacks.py; here each rule is pinned down case by case."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from engine.core.approvals import MAX_UNATTRIBUTED, evaluate
from engine.core.decision import Kind, Outcome, PullRequest
from engine.core.findings import Severity
from engine.core.models import DEFAULT_APPROVAL_MAX_AGE, Login, PolicyId, Review
from tests.core.builders import (
    GROUPS,
    NOW,
    POLICY,
    approvals,
    build,
    codes,
    config_of,
    configure,
    deletion,
    doc,
    error_codes,
    grant_fields,
    grant_file,
    judge,
    messages,
    policy_files,
    request,
    review,
)

WHERE = "grants/db/bob-20261130T0900Z.yaml"
TWO_STEPS = POLICY.replace(
    "  - {from: [group:dba], count: 1}\n",
    "  - {from: [group:dba], count: 1}\n  - {from: [group:security], count: 1}\n")


def aged(reviewer: str, age: timedelta) -> Review:
    """An approval on the head given ``age`` before NOW."""
    return dataclasses.replace(review(reviewer), submitted_at=NOW - age)


# --- 2. approvals expire ---------------------------------------------------------------------


def test_the_default_age_is_a_day() -> None:
    assert DEFAULT_APPROVAL_MAX_AGE == timedelta(hours=24)
    assert config_of(POLICY).policies[PolicyId("db")].approval_max_age == timedelta(hours=24)


@pytest.mark.parametrize(("age", "counts"), [
    (timedelta(hours=24), True),           # inclusive, like every limit
    (timedelta(hours=24, seconds=1), False),
    (timedelta(days=14), False),
    (timedelta(hours=-1), True),           # given after now: not older than the maximum
])
def test_an_approval_counts_for_the_policys_age(age: timedelta, counts: bool) -> None:
    decision = judge(request(reviews=[aged("dave", age)]))
    assert decision.outcome is (Outcome.APPROVED if counts else Outcome.PENDING)
    assert ("approval.expired" in codes(decision)) is not counts


def test_the_policy_sets_the_age_and_the_message_says_it() -> None:
    base = configure(POLICY + "approval_max_age: 2h\n")
    decision = judge(request(reviews=[aged("dave", timedelta(hours=2, minutes=10))]), base)
    assert decision.outcome is Outcome.PENDING
    assert messages(decision, "approval.expired") == [
        f"{WHERE}: approval.expired: approval by dave ignored: given 2h10m ago (2026-11-30 "
        "06:50 UTC); the policy counts approvals for 2h (approval_max_age); ask them to approve "
        "again"]
    assert [f.severity for f in decision.findings if f.code == "approval.expired"] == [
        Severity.WARNING]


def test_an_approval_without_a_time_never_counts() -> None:
    decision = judge(request(reviews=[dataclasses.replace(review("dave"), submitted_at=None)]))
    assert decision.outcome is Outcome.PENDING
    assert messages(decision, "approval.expired")[0].endswith(
        "the forge does not say when it was given; the policy counts approvals for 1d "
        "(approval_max_age); ask them to approve again")


def test_an_old_request_for_changes_still_blocks() -> None:
    old = dataclasses.replace(review("erin", "CHANGES_REQUESTED"),
                              submitted_at=NOW - timedelta(days=30))
    decision = judge(request(reviews=[old, review("dave", minute=1)]))
    assert decision.outcome is Outcome.PENDING
    assert "approval.changes-requested" in codes(decision)


# --- 3. commits nobody can be tied to --------------------------------------------------------


def unattributed(pr: PullRequest, *identities: str) -> PullRequest:
    return dataclasses.replace(pr, unattributed=identities)


def test_each_unattributed_identity_costs_one_approval() -> None:
    config = config_of(TWO_STEPS)
    policy = config.policies[PolicyId("db")]
    # dave and sam meet both steps, but either may have written the unknown commit.
    pr = unattributed(request(reviews=approvals("dave", "sam")), "x@corp.invalid (author of 1)")
    result = evaluate(policy, config.groups, pr, WHERE, NOW)
    assert (result.outcome, [f.code for f in result.findings]) == (
        Outcome.PENDING, ["approval.unattributed"])
    assert result.findings[0].message == (
        "1 commit identity is linked to no GitHub account (x@corp.invalid (author of 1)), so "
        "any approver may have written those commits: the request needs 1 more approval "
        "from the policy's approvers, so that the steps are still met whoever they are; or "
        "re-push the commits under an e-mail address linked to the author's account")
    # Said early too, while a step is still missing.
    early = evaluate(policy, config.groups, dataclasses.replace(pr, reviews=approvals("dave")),
                     WHERE, NOW)
    assert [f.code for f in early.findings] == ["approval.missing", "approval.unattributed"]
    # erin (a second DBA) is not enough: if sam wrote it, security is still short.
    short = evaluate(policy, config.groups, dataclasses.replace(
        pr, reviews=approvals("dave", "sam", "erin")), WHERE, NOW)
    assert short.outcome is Outcome.PENDING
    # sue (a second security engineer) with erin is: any one of them may drop out.
    met = evaluate(policy, config.groups, dataclasses.replace(
        pr, reviews=approvals("dave", "sam", "erin", "sue")), WHERE, NOW)
    assert (met.outcome, met.findings) == (Outcome.APPROVED, ())
    # Two unknown identities need the steps met with any two approvers gone.
    two = unattributed(dataclasses.replace(pr, reviews=approvals("dave", "sam", "erin", "sue")),
                       "x@corp.invalid (author of 1)", "y@corp.invalid (committer of 2)")
    assert evaluate(policy, config.groups, two, WHERE, NOW).outcome is Outcome.PENDING


def test_too_many_unattributed_identities_or_unlisted_commits_deny() -> None:
    config = config_of(POLICY)
    policy = config.policies[PolicyId("db")]
    many = unattributed(request(reviews=approvals("dave", "erin")),
                        *(f"u{i}@corp.invalid" for i in range(MAX_UNATTRIBUTED + 1)))
    result = evaluate(policy, config.groups, many, WHERE, NOW)
    assert (result.outcome, [f.code for f in result.findings]) == (
        Outcome.DENIED, ["approval.unattributed"])
    unlisted = dataclasses.replace(request(reviews=approvals("dave")), unlisted_commits=7)
    result = evaluate(policy, config.groups, unlisted, WHERE, NOW)
    assert (result.outcome, [f.render() for f in result.findings]) == (Outcome.DENIED, [
        f"{WHERE}: pr.too-many-commits: 7 commit(s) of this pull request are beyond what "
        "GitHub's API lists (250), so gitjit cannot tell who wrote them and no approval can "
        "count; squash the commits and push again"])


def test_unattributed_commits_cost_nothing_where_no_approval_is_needed() -> None:
    own = grant_file(grant_fields(duration="4h"), activated_at=NOW - timedelta(hours=1))
    pr = dataclasses.replace(deletion(own, author="bob"), unattributed=("x@corp.invalid",),
                             unlisted_commits=3)
    assert judge(pr).outcome is Outcome.APPROVED  # a relinquish


# --- 4. write access and pinned account ids --------------------------------------------------


def test_a_reviewer_without_write_access_does_not_count() -> None:
    readonly = dataclasses.replace(review("dave"), can_write=False)
    decision = judge(request(reviews=[readonly]))
    assert decision.outcome is Outcome.PENDING
    assert codes(decision) == ["approval.missing", "approval.no-write-access"]
    # Unknown (no forge permissions, offline) is not a refusal.
    assert judge(request(reviews=[review("dave")])).outcome is Outcome.APPROVED
    writer = dataclasses.replace(review("dave"), can_write=True)
    assert judge(request(reviews=[writer])).outcome is Outcome.APPROVED


PINNED = """
groups:
  sre: [alice, {login: bob, id: '1001'}, carol, erin]
  oncall: [carol]
  dba: [{login: dave, id: '2002'}, erin]
  security: [sam, sue]
"""


def test_groups_pin_account_ids() -> None:
    config = config_of(POLICY, groups=PINNED)
    assert config.groups.ids == {Login("bob"): 1001, Login("dave"): 2002}
    assert config.groups.members["dba"] == frozenset({Login("dave"), Login("erin")})


def test_a_reviewer_with_another_account_id_does_not_count() -> None:
    base = configure(POLICY, groups=PINNED)
    same = dataclasses.replace(review("dave"), reviewer_id=2002)
    assert judge(request(reviews=[same]), base).outcome is Outcome.APPROVED
    other = dataclasses.replace(review("dave"), reviewer_id=9999)
    decision = judge(request(reviews=[other]), base)
    assert decision.outcome is Outcome.PENDING
    assert messages(decision, "identity.reviewer-id") == [
        f"{WHERE}: identity.reviewer-id: approval by dave ignored: GitHub says account id 9999, "
        "but policies/groups.yaml pins dave to id 2002; the login was renamed or re-registered"]
    # Not the person the group means: their request for changes blocks nothing either.
    blocking = dataclasses.replace(review("dave", "CHANGES_REQUESTED"), reviewer_id=9999)
    decision = judge(request(reviews=[blocking, review("erin", minute=1)]), base)
    assert decision.outcome is Outcome.APPROVED


def test_an_author_with_another_account_id_is_denied() -> None:
    base = configure(POLICY, groups=PINNED)
    pr = dataclasses.replace(request(reviews=approvals("dave")), author_id=1001)
    assert judge(pr, base).outcome is Outcome.APPROVED
    impostor = dataclasses.replace(pr, author_id=31337)
    decision = judge(impostor, base)
    assert (decision.outcome, error_codes(decision)) == (
        Outcome.DENIED, ["identity.author-id"])
    assert messages(decision, "identity.author-id") == [
        f"{WHERE}:4: identity.author-id: the pull request's author bob is GitHub account id "
        "31337, but policies/groups.yaml pins bob to id 1001: the login was renamed and "
        "claimed by someone else, or the pin is out of date; a policy admin must confirm who "
        "it is"]


def test_one_login_pinned_to_two_ids_is_a_configuration_error() -> None:
    result = build(policy_files(POLICY, groups=PINNED.replace(
        "  security: [sam, sue]", "  security: [sam, sue, {login: dave, id: '3003'}]")))
    assert result.config is None
    assert [f.render() for f in result.findings] == [
        "policies/groups.yaml:7: config.identity-conflict: dave is pinned to account id 2002 "
        "and to 3003; a login is one account: keep the right id"]


@pytest.mark.parametrize(("member", "message"), [
    ("{login: dave}", "$.groups.dba[0]: missing required key 'id'"),
    ("{login: dave, id: '0'}", "$.groups.dba[0].id: '0' is not a GitHub account id"),
    ("{login: dave, id: '12', team: x}", "$.groups.dba[0]: unexpected key 'team'"),
    ("dave_x", "$.groups.dba[0]: 'dave_x' is not a GitHub login"),
])
def test_pins_are_checked_by_the_schema(member: str, message: str) -> None:
    groups = GROUPS.replace("dba: [dave, erin]", f"dba: [{member}, erin]")
    result = build({"policies/groups.yaml": doc("Groups", groups),
                    **{k: v for k, v in policy_files(POLICY).items() if "groups" not in k}})
    assert result.config is None
    assert any(message in f.message for f in result.findings), [
        f.render() for f in result.findings]


# --- 8. every reason named -------------------------------------------------------------------


def test_a_path_that_disagrees_with_its_content_hides_no_other_reason() -> None:
    fields = grant_fields(requester="alice", duration="8h")
    decision = judge(request(fields, path="grants/db/bob-20261130T0900Z.yaml", author="bob",
                             reviews=approvals("dave")))
    assert (decision.outcome, decision.grant) == (Outcome.DENIED, None)
    assert error_codes(decision) == [
        "grant.path-mismatch", "grant.requester-not-author", "grant.duration-exceeds-max"]


# --- 13. revokers ----------------------------------------------------------------------------


def test_one_revokers_approval_revokes() -> None:
    base = configure(TWO_STEPS + "revokers: [group:security]\n")
    live = grant_file(grant_fields(duration="4h"), activated_at=NOW - timedelta(hours=1))
    waiting = judge(deletion(live, author="alice"), base)
    assert waiting.outcome is Outcome.PENDING
    assert messages(waiting, "pr.revoke") == [
        f"{live.path}: pr.revoke: revokes live grant(s) of policy 'db': needs that policy's "
        "approvals, or one approval by any of its revokers (group:security)"]
    sam = judge(deletion(live, author="alice", reviews=approvals("sam")), base)
    assert (sam.outcome, sam.kind) == (Outcome.APPROVED, Kind.REVOKE)
    assert messages(sam, "approval.revoker") == [
        f"{live.path}: approval.revoker: approved by sam alone, a revoker of policy 'db' "
        "(group:security): the emergency stop"]
    assert [(c.reviewer, c.step) for c in sam.counted] == [("sam", 1)]
    # The same rules as any approval: not on the head, or by someone who pushed, it fails.
    stale = judge(deletion(live, author="alice", reviews=[review("sam", commit="b" * 40)]), base)
    assert stale.outcome is Outcome.PENDING
    # dave is no revoker: his approval alone does not revoke.
    assert judge(deletion(live, author="alice", reviews=approvals("dave")), base).outcome \
        is Outcome.PENDING
    # Revokers revoke; they never approve a request.
    assert judge(request(reviews=approvals("sam")), base).outcome is Outcome.PENDING


def test_revokers_name_defined_groups() -> None:
    result = build(policy_files(POLICY + "revokers: [group:responders]\n"))
    assert [f.render() for f in result.findings] == [
        "policies/db.yaml:10: config.unknown-group: unknown group 'responders' in revokers: "
        "define it in policies/groups.yaml"]


# --- issue 7: a grant id is used once --------------------------------------------------------


def test_a_grant_id_that_existed_on_the_base_is_denied() -> None:
    pr = dataclasses.replace(request(reviews=approvals("dave")), used={WHERE: "f" * 40})
    decision = judge(pr)
    assert (decision.outcome, error_codes(decision)) == (Outcome.DENIED, ["grant.id-used"])
    assert messages(decision, "grant.id-used") == [
        f"{WHERE}: grant.id-used: grant id 'db/bob-20261130T0900Z' was used before: the "
        f"default branch's history already held this file (commit {'f' * 12}); pick a new "
        "stamp: rename the file such as grants/db/bob-20261130T0901Z.yaml"]
