"""The verdict on a pull request: one test per MUST rule of DESIGN.md section 4.

Each test asserts the outcome, the kind and the finding codes, so it fails when its rule is
taken out of the code; a few assert whole messages, as users read them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from engine.core.changes import EXECUTABLE_FILE, NO_FILE, REGULAR_FILE, SUBMODULE, SYMLINK, Change
from engine.core.config import ConfigResult
from engine.core.decide import classify
from engine.core.decision import GrantFile, Kind, Outcome
from engine.core.findings import Severity
from engine.core.models import AutoApprove, Groups, PolicyId, Principal
from tests.core.builders import (
    GROUPS,
    HEAD,
    JUSTIFICATION,
    NOW,
    OLDER,
    POLICY,
    approvals,
    build,
    codes,
    config_of,
    configure,
    deletion,
    error_codes,
    grant_bytes,
    grant_fields,
    grant_file,
    judge,
    messages,
    policy_files,
    request,
    review,
)

BOB_PATH = "grants/db/bob-20261130T0900Z.yaml"

TWO_STEPS = """
id: db
description: Superuser on the test database
target: {provider: command, role: admin}
requesters: [group:sre]
approvals:
  - {from: [group:dba], count: 1}
  - {from: [group:security], count: 1}
duration: {default: 1h, max: 4h}
"""

FULL = """
id: db
description: Superuser on the test database
target: {provider: command, role: admin}
requesters: [group:sre]
approvals:
  - {from: [group:dba], count: 1}
duration: {default: 1h, max: 4h}
justification: {min_length: 20}
ticket: {required: true, pattern: "(INC|CHG)-[0-9]+"}
active_hours: {days: [mon, tue, wed, thu, fri], between: "07:00-19:00", timezone: Europe/Berlin}
limits: {max_active_per_requester: 1}
auto_approve: {max_duration: 30m, requesters: [group:oncall]}
break_glass: {max_duration: 1h, review_within: 24h}
"""


def with_line(policy: str, line: str) -> str:
    return policy.rstrip("\n") + "\n" + line + "\n"


def add(path: str, mode: str = REGULAR_FILE) -> Change:
    return Change("A", path, NO_FILE, mode, "0" * 40, "c" * 40)


def delete(path: str, mode: str = REGULAR_FILE) -> Change:
    return Change("D", path, mode, NO_FILE, "d" * 40, "0" * 40)


# --- identity ------------------------------------------------------------------------------


def test_requester_must_be_author() -> None:
    decision = judge(request(author="alice", reviews=approvals("dave")))
    assert (decision.outcome, decision.kind) == (Outcome.DENIED, Kind.REQUEST)
    assert error_codes(decision) == ["grant.requester-not-author"]
    assert messages(decision, "grant.requester-not-author") == [
        f"{BOB_PATH}:4: grant.requester-not-author: requester 'bob' is not the pull request's "
        "author 'alice'; a request must be opened by the person it grants access to"]


def test_logins_compare_case_insensitively() -> None:
    fields = grant_fields(requester="Bob")
    pr = request(fields, path="grants/db/BOB-20261130T0900Z.yaml", author="bob",
                 reviews=[review("DAVE")])
    decision = judge(pr)
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.APPROVED, Kind.REQUEST, [])
    assert [c.reviewer for c in decision.counted] == ["dave"]


def test_invalid_login_is_rejected_not_normalised() -> None:
    fields = grant_fields(requester="bob_smith")
    decision = judge(request(fields, path="grants/db/bob-20261130T0900Z.yaml", author="bob"))
    assert (decision.outcome, decision.kind) == (Outcome.DENIED, Kind.REQUEST)
    assert decision.grant is None
    assert error_codes(decision) == ["schema.invalid"]


def test_path_must_match_content() -> None:
    fields = grant_fields(requester="bob")
    decision = judge(request(fields, path="grants/db/alice-20261130T0900Z.yaml", author="bob"))
    assert (decision.outcome, decision.kind) == (Outcome.DENIED, Kind.REQUEST)
    assert codes(decision) == ["grant.path-mismatch"]
    assert messages(decision, "grant.path-mismatch") == [
        "grants/db/alice-20261130T0900Z.yaml:4: grant.path-mismatch: requester 'bob' disagrees "
        "with the file name, which names 'alice'"]

    other = build(policy_files(POLICY, POLICY.replace("id: db", "id: other")))
    moved = judge(request(fields, path="grants/other/bob-20261130T0900Z.yaml"), other)
    assert (moved.outcome, codes(moved)) == (Outcome.DENIED, ["grant.path-mismatch"])
    assert moved.findings[0].message == (
        "policy 'db' disagrees with the folder 'other'; the grant must live in grants/db/")


def test_unknown_policy_denied() -> None:
    fields = grant_fields(policy="nope")
    decision = judge(request(fields))
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.DENIED, Kind.REQUEST, ["grant.unknown-policy"])
    assert decision.findings[0].message == "unknown policy 'nope'; known policies: db"


def test_requester_must_be_eligible() -> None:
    decision = judge(request(grant_fields(requester="dave"), reviews=approvals("erin")))
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.DENIED, Kind.REQUEST, ["grant.requester-not-eligible"])
    assert decision.findings[0].message == (
        "dave may not request policy 'db'; eligible: group:sre (policies/db.yaml)")


# --- what a pull request is ----------------------------------------------------------------


def test_request_adds_one_grant_file() -> None:
    decision = judge(request(reviews=approvals("dave")))
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.APPROVED, Kind.REQUEST, [])
    assert decision.grant is not None and decision.grant.requester == "bob"


def test_one_grant_per_pull_request() -> None:
    second = "grants/db/bob-20261130T0901Z.yaml"
    pr = dataclasses.replace(request(), changes=(add(BOB_PATH), add(second)))
    decision = judge(pr)
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.DENIED, Kind.REQUEST, ["pr.multiple-grants"])
    assert decision.findings[0].render() == (
        f"{second}: pr.multiple-grants: adds 2 grant files; open one pull request per grant")


def test_empty_pull_request_denied() -> None:
    decision = judge(dataclasses.replace(request(), changes=()))
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.DENIED, Kind.EMPTY, ["pr.empty"])


def test_relinquish_own_grant_approved_without_review() -> None:
    live = grant_file(grant_fields(duration="4h"), activated_at=NOW - timedelta(hours=1))
    decision = judge(deletion(live, author="bob"))
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.APPROVED, Kind.RELINQUISH, ["pr.relinquish"])
    assert decision.findings[0].severity is Severity.NOTICE
    assert [g.requester for g in decision.deleted] == ["bob"]


def test_housekeeping_expired_grant() -> None:
    # alice removes bob's grant that ran out an hour ago: no review needed.
    expired = grant_file(grant_fields(duration="1h"), activated_at=NOW - timedelta(hours=2))
    decision = judge(deletion(expired, author="alice"))
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.APPROVED, Kind.HOUSEKEEPING, ["pr.housekeeping"])
    assert decision.findings[0].render() == (
        f"{expired.path}: pr.housekeeping: removes expired grants: approved without review")


def test_grant_is_inactive_from_its_expiry_on() -> None:
    at_expiry = grant_file(grant_fields(duration="2h"), activated_at=NOW - timedelta(hours=2))
    assert judge(deletion(at_expiry, author="alice")).kind is Kind.HOUSEKEEPING
    just_before = grant_file(grant_fields(duration="2h"),
                             activated_at=NOW - timedelta(hours=2) + timedelta(seconds=1))
    assert judge(deletion(just_before, author="alice")).kind is Kind.REVOKE


def test_grant_activates_at_its_start_when_later_than_the_merge() -> None:
    # Merged 3h ago, but it starts 30 minutes ago: 2h from the start, still live.
    fields = grant_fields(duration="2h", start="2026-11-30T08:30:00Z")
    scheduled = grant_file(fields, activated_at=NOW - timedelta(hours=3))
    decision = judge(deletion(scheduled, author="alice"))
    assert (decision.outcome, decision.kind) == (Outcome.PENDING, Kind.REVOKE)


def test_grant_without_known_activation_counts_as_live() -> None:
    unknown = grant_file(grant_fields(duration="1h"), activated_at=None)
    decision = judge(deletion(unknown, author="alice"))
    assert (decision.outcome, decision.kind) == (Outcome.PENDING, Kind.REVOKE)


def test_revoke_needs_policy_approvers() -> None:
    live = grant_file(grant_fields(duration="4h"), activated_at=NOW - timedelta(hours=1))
    waiting = judge(deletion(live, author="alice"))
    assert (waiting.outcome, waiting.kind, codes(waiting)) == (
        Outcome.PENDING, Kind.REVOKE, ["approval.missing", "pr.revoke"])
    assert [(m.policy, m.step, m.needed, m.eligible) for m in waiting.missing] == [
        ("db", 1, 1, ("dave", "erin"))]
    assert messages(waiting, "pr.revoke") == [
        f"{live.path}: pr.revoke: revokes live grant(s) of policy 'db': needs that policy's "
        "approvals"]

    # An approval by someone who is no approver of the policy does not do.
    not_approver = judge(deletion(live, author="alice", reviews=approvals("carol")))
    assert not_approver.outcome is Outcome.PENDING
    assert "approval.not-eligible" in codes(not_approver)

    approved = judge(deletion(live, author="alice", reviews=approvals("dave")))
    assert (approved.outcome, approved.kind, codes(approved)) == (
        Outcome.APPROVED, Kind.REVOKE, ["pr.revoke"])
    assert [(c.reviewer, c.step) for c in approved.counted] == [("dave", 1)]


def test_revoke_of_grant_whose_policy_is_gone_denied() -> None:
    orphan = grant_file(grant_fields(policy="gone", duration="4h"),
                        activated_at=NOW - timedelta(hours=1))
    decision = judge(deletion(orphan, author="alice", reviews=approvals("dave")))
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.DENIED, Kind.REVOKE, ["grant.unknown-policy"])


def test_deleting_an_unreadable_grant_denied() -> None:
    broken = GrantFile(BOB_PATH, b"apiVersion: gitjit/v1\nkind: Grant\n", NOW)
    decision = judge(deletion(broken, author="bob"))
    assert (decision.outcome, codes(decision)) == (Outcome.DENIED, ["pr.grant-unreadable"])


def test_modify_is_denied() -> None:
    for status in ("M", "T"):
        pr = dataclasses.replace(request(reviews=approvals("dave")), changes=(
            Change(status, BOB_PATH, REGULAR_FILE, REGULAR_FILE, "d" * 40, "c" * 40),))
        decision = judge(pr)
        assert (decision.outcome, decision.kind, codes(decision)) == (
            Outcome.DENIED, Kind.MODIFY, ["pr.modifies-grant"])
    assert decision.findings[0].render() == (
        f"{BOB_PATH}: pr.modifies-grant: grants are immutable: this pull request changes an "
        "existing grant; to extend it, add a new grant that names it in 'extends'")


def test_rename_is_mixed() -> None:
    # git diff --no-renames reports a rename as a deletion and an addition.
    new = "grants/db/bob-20261130T1000Z.yaml"
    pr = dataclasses.replace(request(reviews=approvals("dave")),
                             changes=(delete(BOB_PATH), add(new)))
    decision = judge(pr)
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.DENIED, Kind.MIXED, ["pr.mixed"])
    assert decision.findings[0].render() == (
        f"{new}: pr.mixed: adds {new} and deletes {BOB_PATH} in one pull request (a rename is "
        "exactly that); add and remove grants in separate pull requests")


def test_mixed_grant_and_control_plane_denied() -> None:
    pr = dataclasses.replace(request(reviews=approvals("dave")),
                             changes=(add(BOB_PATH), add("policies/groups.yaml")))
    decision = judge(pr)
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.DENIED, Kind.MIXED, ["pr.mixed"])
    assert decision.findings[0].render() == (
        f"policies/groups.yaml: pr.mixed: changes grants ({BOB_PATH}) and configuration "
        "(policies/groups.yaml) together; open separate pull requests")
    # Anything outside grants/ is control plane, not only policies/.
    readme = classify([add(BOB_PATH), Change("M", "README.md", REGULAR_FILE, REGULAR_FILE,
                                             "d" * 40, "c" * 40)])
    assert readme.kind is Kind.MIXED


@pytest.mark.parametrize(("mode", "what"), [
    (SYMLINK, "a symlink"), (SUBMODULE, "a submodule"), (EXECUTABLE_FILE, "an executable file"),
])
def test_symlink_under_grants_denied(mode: str, what: str) -> None:
    decision = judge(request(reviews=approvals("dave"), mode=mode))
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.DENIED, Kind.INVALID, ["grant.not-regular-file"])
    assert decision.findings[0].render() == (
        f"{BOB_PATH}: grant.not-regular-file: {what} under grants/; only regular files "
        "(mode 100644) can be grants")
    # Deleting one is no relinquish either.
    assert classify([delete(BOB_PATH, mode)]).kind is Kind.INVALID


@pytest.mark.parametrize("path", [
    "grants/db/bob-20261130T0900Z.yml",
    "grants/db/bob.yaml",
    "grants/bob-20261130T0900Z.yaml",
    "grants/db/sub/bob-20261130T0900Z.yaml",
    "grants/README.md",
])
def test_only_canonical_paths_are_grants(path: str) -> None:
    decision = judge(request(path=path, reviews=approvals("dave")))
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.DENIED, Kind.INVALID, ["grant.path"])


def test_control_plane_is_not_a_request() -> None:
    base = configure(POLICY)
    head = configure(POLICY.replace("[group:sre]", "[group:sre, user:zoe]"))
    pr = dataclasses.replace(request(), changes=(
        Change("M", "policies/db.yaml", REGULAR_FILE, REGULAR_FILE, "d" * 40, "c" * 40),))
    decision = judge(pr, base, head=head)
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.APPROVED, Kind.CONTROL_PLANE, ["pr.control-plane", "pr.privilege-change"])
    assert [f.message for f in decision.findings if f.code == "pr.privilege-change"] == [
        "may newly request 'db': zoe"]
    assert decision.grant is None and decision.counted == ()

    broken = build(policy_files(POLICY.replace("[group:sre]", "[group:ghosts]")))
    denied = judge(pr, base, head=broken)
    assert (denied.outcome, denied.kind) == (Outcome.DENIED, Kind.CONTROL_PLANE)
    assert error_codes(denied) == ["config.unknown-group"]
    with pytest.raises(ValueError, match="needs the head configuration"):
        judge(pr, base)


def test_request_is_judged_by_the_base_configuration() -> None:
    base = configure(POLICY.replace("[group:sre]", "[user:alice]"))
    head = configure(POLICY)
    decision = judge(request(reviews=approvals("dave")), base, head=head)
    assert (decision.outcome, codes(decision)) == (
        Outcome.DENIED, ["grant.requester-not-eligible"])


def test_broken_base_configuration_denies_every_request() -> None:
    broken = build(policy_files(POLICY.replace("[group:sre]", "[group:ghosts]")))
    assert broken.config is None
    decision = judge(request(reviews=approvals("dave")), broken)
    # The verdict names the base's real findings, not a stand-in (issue 8, item 8).
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.DENIED, Kind.REQUEST, ["pr.base-config-invalid", "config.unknown-group"])
    assert [f.render() for f in decision.findings] == [
        "policies/: pr.base-config-invalid: the base branch's configuration has 1 error(s), "
        "listed here, so no request can be judged (fail closed); fix them on the default "
        "branch first ('gitjit check')",
        "policies/db.yaml:6: config.unknown-group: unknown group 'ghosts': define it in "
        "policies/groups.yaml"]
    relinquish = judge(deletion(grant_file(grant_fields(), NOW), author="bob"), broken)
    assert (relinquish.outcome, codes(relinquish)) == (
        Outcome.DENIED, ["pr.base-config-invalid", "config.unknown-group"])


# --- approvals -----------------------------------------------------------------------------


def test_needs_approvers_is_pending() -> None:
    decision = judge(request())
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.PENDING, Kind.REQUEST, ["approval.missing"])
    assert decision.findings[0].render() == (
        f"{BOB_PATH}: approval.missing: step 1 (group:dba) needs 1 more approval of 1; "
        "eligible: dave, erin")


def test_only_formal_approvals_count() -> None:
    decision = judge(request(reviews=[review("dave", "COMMENTED"), review("erin", "PENDING")]))
    assert (decision.outcome, codes(decision)) == (Outcome.PENDING, ["approval.missing"])
    assert decision.counted == ()


def test_latest_decisive_review_wins() -> None:
    then_blocked = judge(request(reviews=[review("dave", minute=1),
                                          review("dave", "CHANGES_REQUESTED", minute=2)]))
    assert (then_blocked.outcome, codes(then_blocked)) == (
        Outcome.PENDING, ["approval.changes-requested", "approval.missing"])
    then_approved = judge(request(reviews=[review("dave", "CHANGES_REQUESTED", minute=1),
                                           review("dave", minute=2)]))
    assert (then_approved.outcome, codes(then_approved)) == (Outcome.APPROVED, [])
    # Submission time decides, not the order the forge listed them in.
    listed_backwards = judge(request(reviews=[review("dave", minute=2),
                                              review("dave", "CHANGES_REQUESTED", minute=1)]))
    assert listed_backwards.outcome is Outcome.APPROVED


def test_dismissed_review_withdraws_the_approval() -> None:
    decision = judge(request(reviews=[review("dave", minute=1),
                                      review("dave", "DISMISSED", minute=2)]))
    assert (decision.outcome, codes(decision)) == (Outcome.PENDING, ["approval.missing"])


def test_commented_does_not_reset_approval() -> None:
    decision = judge(request(reviews=[review("dave", minute=1),
                                      review("dave", "COMMENTED", minute=2),
                                      review("dave", "PENDING", minute=3)]))
    assert (decision.outcome, codes(decision)) == (Outcome.APPROVED, [])
    blocked = judge(request(reviews=[review("dave", "CHANGES_REQUESTED", minute=1),
                                     review("dave", "COMMENTED", minute=2)]))
    assert blocked.outcome is Outcome.PENDING
    assert "approval.changes-requested" in codes(blocked)


def test_approval_on_older_commit_does_not_count() -> None:
    decision = judge(request(reviews=[review("dave", commit=OLDER)]))
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.PENDING, Kind.REQUEST, ["approval.missing", "approval.stale"])
    assert messages(decision, "approval.stale") == [
        f"{BOB_PATH}: approval.stale: approval by dave ignored: given on commit "
        f"{OLDER[:12]}, not on the head {HEAD[:12]}; ask them to approve again"]
    # The missing step still lists dave: he may approve again.
    assert decision.missing[0].eligible == ("dave", "erin")


def test_bot_reviews_never_count() -> None:
    # Even a bot that is listed as an approver.
    decision = judge(request(reviews=[review("dave", bot=True)]))
    assert (decision.outcome, codes(decision)) == (
        Outcome.PENDING, ["approval.bot", "approval.missing"])
    assert messages(decision, "approval.bot") == [
        f"{BOB_PATH}: approval.bot: approval by dave ignored: reviews by bots never count"]


def test_login_ending_in_bot_never_counts() -> None:
    base = configure(POLICY)
    assert base.config is not None
    decision = judge(request(reviews=[review("Dependabot[BOT]")]), base)
    assert (decision.outcome, codes(decision)) == (
        Outcome.PENDING, ["approval.bot", "approval.missing"])
    # A bot's request for changes does not block either.
    blocked = judge(request(reviews=[review("dave"), review("ci[bot]", "CHANGES_REQUESTED")]))
    assert (blocked.outcome, codes(blocked)) == (Outcome.APPROVED, ["approval.bot"])


def test_ineligible_reviewer_does_not_count() -> None:
    decision = judge(request(reviews=approvals("sam")))
    assert (decision.outcome, codes(decision)) == (
        Outcome.PENDING, ["approval.missing", "approval.not-eligible"])
    assert messages(decision, "approval.not-eligible") == [
        f"{BOB_PATH}: approval.not-eligible: approval by sam ignored: not an approver of "
        "policy 'db'"]


def test_requester_cannot_approve_own_request() -> None:
    # erin is both an SRE (may request) and a DBA (may approve).
    fields = grant_fields(requester="erin")
    decision = judge(request(fields, reviews=approvals("erin")))
    assert (decision.outcome, codes(decision)) == (
        Outcome.PENDING, ["approval.missing", "approval.self"])
    assert decision.missing[0].eligible == ("dave",)
    assert judge(request(fields, reviews=approvals("erin", "dave"))).outcome is Outcome.APPROVED


def test_pusher_approval_does_not_count() -> None:
    decision = judge(request(reviews=approvals("dave"), pushers=["dave"]))
    assert (decision.outcome, codes(decision)) == (
        Outcome.PENDING, ["approval.missing", "approval.pusher"])
    assert decision.missing[0].eligible == ("erin",)
    assert messages(decision, "approval.pusher") == [
        f"{BOB_PATH}: approval.pusher: approval by dave ignored: they pushed or authored "
        "commits on this pull request"]


def test_each_step_needs_count_distinct_approvers() -> None:
    base = configure(POLICY.replace("count: 1", "count: 2"))
    twice = judge(request(reviews=[review("dave", minute=1), review("dave", minute=2)]), base)
    assert (twice.outcome, codes(twice)) == (Outcome.PENDING, ["approval.missing"])
    assert [(m.needed, m.count) for m in twice.missing] == [(1, 2)]
    assert judge(request(reviews=approvals("dave", "erin")), base).outcome is Outcome.APPROVED


def test_one_person_counts_in_one_step_only() -> None:
    # erin is eligible for both steps of a policy "dba, then dba-or-security".
    base = configure(TWO_STEPS.replace("[group:security]", "[group:security, group:dba]"))
    alone = judge(request(reviews=approvals("erin")), base)
    assert (alone.outcome, codes(alone)) == (Outcome.PENDING, ["approval.missing"])
    assert len(alone.counted) == 1
    # Two DBAs fill both steps, whichever order they approved in.
    for order in (("erin", "dave"), ("dave", "erin")):
        both = judge(request(reviews=approvals(*order)), base)
        assert (both.outcome, codes(both)) == (Outcome.APPROVED, [])
        assert sorted((c.step, c.reviewer) for c in both.counted) in (
            [(1, "dave"), (2, "erin")], [(1, "erin"), (2, "dave")])


def test_every_step_must_be_met() -> None:
    base = configure(TWO_STEPS)
    decision = judge(request(reviews=approvals("dave")), base)
    assert (decision.outcome, codes(decision)) == (Outcome.PENDING, ["approval.missing"])
    assert [(m.step, m.approvers, m.eligible) for m in decision.missing] == [
        (2, "group:security", ("sam", "sue"))]
    assert judge(request(reviews=approvals("dave", "sam")), base).outcome is Outcome.APPROVED


def test_outstanding_changes_requested_blocks() -> None:
    base = configure(TWO_STEPS)
    decision = judge(request(reviews=[*approvals("dave", "sam"),
                                      review("sue", "CHANGES_REQUESTED", minute=5)]), base)
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.PENDING, Kind.REQUEST, ["approval.changes-requested"])
    assert decision.findings[0].severity is Severity.WARNING
    assert decision.findings[0].render() == (
        f"{BOB_PATH}: approval.changes-requested: sue requested changes; the request waits "
        "until they approve or the review is dismissed")
    # Given on an older commit it is still outstanding.
    stale = judge(request(reviews=[*approvals("dave", "sam"),
                                   review("sue", "CHANGES_REQUESTED", commit=OLDER)]), base)
    assert stale.outcome is Outcome.PENDING
    # Dismissed, it no longer blocks.
    lifted = judge(request(reviews=[*approvals("dave", "sam"),
                                    review("sue", "CHANGES_REQUESTED", minute=5),
                                    review("sue", "DISMISSED", minute=6)]), base)
    assert (lifted.outcome, codes(lifted)) == (Outcome.APPROVED, [])


def test_changes_requested_by_non_approver_does_not_block() -> None:
    decision = judge(request(reviews=[*approvals("dave"),
                                      review("alice", "CHANGES_REQUESTED", minute=5)]))
    assert (decision.outcome, codes(decision)) == (Outcome.APPROVED, ["approval.not-eligible"])


def test_changes_requested_blocks_auto_approval() -> None:
    base = configure(with_line(POLICY, "auto_approve: {max_duration: 30m, "
                                       "requesters: [user:bob]}"))
    fields = grant_fields(duration="30m")
    decision = judge(request(fields, reviews=[review("dave", "CHANGES_REQUESTED")]), base)
    assert (decision.outcome, decision.auto_approved) == (Outcome.PENDING, False)
    assert "approval.changes-requested" in codes(decision)


# --- fail closed ---------------------------------------------------------------------------


def test_unknown_group_denies() -> None:
    # Written in the configuration, the unknown group breaks it, which denies every request.
    broken = build(policy_files(TWO_STEPS.replace("group:security", "group:secruity")))
    assert broken.config is None
    assert [f.code for f in broken.findings] == ["config.unknown-group"]
    decision = judge(request(reviews=approvals("dave", "sam")), broken)
    assert (decision.outcome, codes(decision)) == (
        Outcome.DENIED, ["pr.base-config-invalid", "config.unknown-group"])

    # Should a configuration lose a group anyway, the request is still denied.
    config = config_of(TWO_STEPS)
    members = {k: v for k, v in config.groups.members.items() if k != "security"}
    lost = ConfigResult(dataclasses.replace(config, groups=Groups(members)), ())
    decision = judge(request(reviews=approvals("dave", "sam")), lost)
    assert (decision.outcome, codes(decision)) == (Outcome.DENIED, ["config.unknown-group"])
    assert decision.findings[0].render() == (
        "policies/db.yaml:7: config.unknown-group: approval step 2 names unknown group(s) "
        "security; denied until the group is defined")
    members = {k: v for k, v in config.groups.members.items() if k != "sre"}
    no_sre = ConfigResult(dataclasses.replace(config, groups=Groups(members)), ())
    decision = judge(request(reviews=approvals("dave", "sam")), no_sre)
    assert decision.outcome is Outcome.DENIED
    assert "config.unknown-group" in error_codes(decision)


def test_empty_approver_set_denies() -> None:
    # The only approver is the requester: nobody else can ever approve.
    base = configure(POLICY.replace("[group:dba]", "[user:bob]"))
    decision = judge(request(reviews=approvals("bob")), base)
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.DENIED, Kind.REQUEST, ["approval.no-approvers"])
    assert decision.findings[0].render() == (
        "policies/db.yaml:7: approval.no-approvers: approval step 1 needs 1 approver(s) other "
        "than bob, but only 0 exist(s) (user:bob)")
    # An empty group is refused by the configuration already.
    empty = build(policy_files(POLICY, groups=GROUPS.replace("[dave, erin]", "[]")))
    assert [f.code for f in empty.findings] == ["config.unsatisfiable-step"]
    assert judge(request(), empty).outcome is Outcome.DENIED


def test_policy_without_steps_or_auto_approve_denies() -> None:
    glass_only = POLICY.replace(
        "approvals:\n  - {from: [group:dba], count: 1}\n",
        "break_glass: {max_duration: 1h, review_within: 24h}\n")
    base = configure(glass_only)
    decision = judge(request(reviews=approvals("dave")), base)
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.DENIED, Kind.REQUEST, ["approval.no-approvers"])
    assert decision.findings[0].render() == (
        "policies/db.yaml:3: approval.no-approvers: policy 'db' has no approval step and it has "
        "no auto-approve rule; this request cannot be approved")
    # With an auto-approve rule the request outside it is denied too, and says why.
    auto_only = with_line(glass_only, "auto_approve: {max_duration: 30m, "
                                      "requesters: [group:oncall]}")
    decision = judge(request(reviews=approvals("dave")), configure(auto_only))
    assert (decision.outcome, codes(decision)) == (Outcome.DENIED, ["approval.no-approvers"])
    assert decision.findings[0].message == (
        "policy 'db' has no approval step and its auto-approve rule admits only group:oncall "
        "for up to 30m; this request cannot be approved")
    # Without any way to approve, the configuration itself is refused.
    nothing = build(policy_files(POLICY.replace(
        "approvals:\n  - {from: [group:dba], count: 1}\n", "")))
    assert [f.code for f in nothing.findings] == ["config.no-approval-path"]


# --- auto-approve --------------------------------------------------------------------------


def test_auto_approve_limit_is_inclusive() -> None:
    base = configure(FULL)
    fields = grant_fields(requester="carol", duration="30m", ticket="INC-1")
    exactly = judge(request(fields), base)
    assert (exactly.outcome, exactly.kind, codes(exactly), exactly.auto_approved) == (
        Outcome.APPROVED, Kind.REQUEST, ["approval.auto"], True)
    assert exactly.findings[0].render() == (
        "grants/db/carol-20261130T0900Z.yaml:5: approval.auto: auto-approved: carol may be "
        "auto-approved for up to 30m")
    over = judge(request(dict(fields, duration="30m1s")), base)
    assert (over.outcome, codes(over), over.auto_approved) == (
        Outcome.PENDING, ["approval.missing"], False)
    # Not on the auto-approve list: reviews needed.
    bob = judge(request(dict(fields, requester="bob")), base)
    assert (bob.outcome, codes(bob)) == (Outcome.PENDING, ["approval.missing"])


def test_auto_approve_only_narrows() -> None:
    # The configuration refuses an auto-approve list that names non-requesters.
    widened = with_line(POLICY, "auto_approve: {max_duration: 30m, "
                                "requesters: [user:mallory]}")
    result = build(policy_files(widened))
    assert [f.code for f in result.findings] == ["config.auto-approve-not-requester"]
    # And should one slip through, the requester is still checked against requesters.
    config = config_of(POLICY)
    policy = config.policies[PolicyId("db")]
    mallory = AutoApprove(timedelta(minutes=30), (Principal("user", "mallory"),))
    slipped = dataclasses.replace(policy, auto_approve=mallory)
    base = ConfigResult(dataclasses.replace(config, policies={PolicyId("db"): slipped}), ())
    fields = grant_fields(requester="mallory", duration="30m")
    decision = judge(request(fields), base)
    assert (decision.outcome, codes(decision), decision.auto_approved) == (
        Outcome.DENIED, ["grant.requester-not-eligible"], False)


# --- durations and time --------------------------------------------------------------------


def test_duration_capped_by_policy_max() -> None:
    for duration in ("4h", "PT4H", "3h60m"):
        decision = judge(request(grant_fields(duration=duration), reviews=approvals("dave")))
        assert (decision.outcome, codes(decision)) == (Outcome.APPROVED, []), duration
    over = judge(request(grant_fields(duration="4h1m"), reviews=approvals("dave")))
    assert (over.outcome, over.kind, codes(over)) == (
        Outcome.DENIED, Kind.REQUEST, ["grant.duration-exceeds-max"])
    assert over.findings[0].render() == (
        f"{BOB_PATH}:5: grant.duration-exceeds-max: duration '4h1m' exceeds the policy maximum "
        "'4h' (policies/db.yaml)")


def test_break_glass_duration_is_capped_by_policy_max_too() -> None:
    # A break-glass maximum above the policy's maximum does not lift the cap.
    base = configure(with_line(POLICY, "break_glass: {max_duration: 8h, review_within: 24h}"))
    fields = grant_fields(duration="6h", break_glass="true")
    decision = judge(request(fields), base)
    assert (decision.outcome, codes(decision), decision.break_glass) == (
        Outcome.DENIED, ["grant.duration-exceeds-max"], False)


@pytest.mark.parametrize(("duration", "code"), [
    ("0m", "value.duration"), ("-1h", "schema.invalid"), ("P1M", "schema.invalid"),
    ("1y", "schema.invalid"),
])
def test_invalid_durations_are_rejected(duration: str, code: str) -> None:
    decision = judge(request(grant_fields(duration=duration), reviews=approvals("dave")))
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.DENIED, Kind.REQUEST, [code])


def test_timestamp_without_offset_rejected() -> None:
    fields = grant_fields(start="2026-11-30T10:00:00")
    decision = judge(request(fields, reviews=approvals("dave")))
    assert (decision.outcome, decision.grant) == (Outcome.DENIED, None)
    assert [f.render() for f in decision.findings] == [
        f"{BOB_PATH}:7: schema.invalid: $.start: '2026-11-30T10:00:00' is not an RFC 3339 "
        "timestamp with an offset; write one such as 2026-11-27T09:00:00Z"]


def test_start_more_than_30_days_ahead_denied() -> None:
    ok = judge(request(grant_fields(start="2026-12-30T09:00:00Z"), reviews=approvals("dave")))
    assert (ok.outcome, codes(ok)) == (Outcome.APPROVED, [])
    far = judge(request(grant_fields(start="2026-12-30T09:01:00Z"), reviews=approvals("dave")))
    assert (far.outcome, codes(far)) == (Outcome.DENIED, ["grant.start-after-expiry-window"])


def test_break_glass_flagged() -> None:
    base = configure(FULL)
    # Saturday night, outside the active hours: break-glass is for exactly that.
    saturday = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
    fields = grant_fields(duration="1h", ticket="INC-9", break_glass="true")
    decision = judge(request(fields), base, now=saturday)
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.APPROVED, Kind.REQUEST, ["approval.break-glass"])
    assert (decision.break_glass, decision.auto_approved) == (True, False)
    assert decision.review_by == saturday + timedelta(hours=24)
    assert decision.findings[0].severity is Severity.WARNING
    assert decision.findings[0].render() == (
        f"{BOB_PATH}:8: approval.break-glass: break-glass: approved without review; it must be "
        "reviewed by 2026-11-29 23:00 UTC")

    too_long = judge(request(dict(fields, duration="61m")), base)
    assert (too_long.outcome, codes(too_long), too_long.break_glass) == (
        Outcome.DENIED, ["grant.break-glass-duration"], False)
    not_allowed = judge(request(fields), configure(POLICY))
    assert (not_allowed.outcome, codes(not_allowed)) == (
        Outcome.DENIED, ["grant.break-glass-not-allowed"])
    # Break-glass does not waive who may request.
    dave = judge(request(dict(fields, requester="dave")), base)
    assert (dave.outcome, codes(dave)) == (Outcome.DENIED, ["grant.requester-not-eligible"])


ACTIVE = with_line(POLICY, "active_hours: {days: [mon, tue, wed, thu, fri], "
                           'between: "07:00-19:00", timezone: Europe/Berlin}')


@pytest.mark.parametrize(("now", "inside"), [
    ("2026-11-30T05:59:00Z", False),  # 06:59 in Berlin (UTC+1)
    ("2026-11-30T06:00:00Z", True),   # 07:00: the start is included
    ("2026-11-30T17:59:00Z", True),
    ("2026-11-30T18:00:00Z", False),  # 19:00: the end is excluded
    ("2026-11-28T10:00:00Z", False),  # Saturday
    ("2026-07-01T05:30:00Z", True),   # 07:30 in summer (UTC+2), 05:30 in UTC
    ("2026-07-01T17:30:00Z", False),  # 19:30 in summer, 17:30 in UTC
    ("2026-11-29T23:30:00Z", False),  # Sunday in UTC, Monday 00:30 in Berlin: too early
])
def test_active_hours_in_policy_timezone(now: str, inside: bool) -> None:
    at = datetime.fromisoformat(now)
    decision = judge(request(reviews=approvals("dave")), configure(ACTIVE), now=at)
    if inside:
        assert (decision.outcome, codes(decision)) == (Outcome.APPROVED, [])
    else:
        assert (decision.outcome, codes(decision)) == (
            Outcome.DENIED, ["grant.outside-active-hours"])


def test_active_hours_day_is_the_local_day() -> None:
    # Sunday 23:30 UTC is Monday 00:30 in Berlin: inside a Monday-only, all-day window.
    monday = with_line(POLICY, "active_hours: {days: [mon], between: \"00:00-24:00\", "
                                "timezone: Europe/Berlin}")
    sunday_utc = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    decision = judge(request(reviews=approvals("dave")), configure(monday), now=sunday_utc)
    assert (decision.outcome, codes(decision)) == (Outcome.APPROVED, [])
    monday_utc = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # Tuesday in Berlin
    late = judge(request(reviews=approvals("dave")), configure(monday), now=monday_utc)
    assert codes(late) == ["grant.outside-active-hours"]
    assert late.findings[0].render() == (
        f"{BOB_PATH}:3: grant.outside-active-hours: Mon 2026-11-30 23:30 UTC is outside the "
        "active hours of policy 'db' (mon 00:00-24:00 Europe/Berlin)")


def test_active_hours_are_judged_at_the_start() -> None:
    saturday = grant_fields(start="2026-11-28T10:00:00Z")
    decision = judge(request(saturday, reviews=approvals("dave")), configure(ACTIVE),
                     now=datetime(2026, 11, 27, 10, 0, tzinfo=UTC))
    assert (decision.outcome, codes(decision)) == (Outcome.DENIED, ["grant.outside-active-hours"])
    assert decision.findings[0].line == 7  # the grant's start line


NIGHT = with_line(POLICY, "active_hours: {days: [fri], between: \"22:00-06:00\", "
                          "timezone: UTC}")


@pytest.mark.parametrize(("now", "inside"), [
    ("2026-11-27T21:59:00Z", False),  # Friday, before the window opens
    ("2026-11-27T22:00:00Z", True),   # Friday 22:00: opens
    ("2026-11-28T05:59:00Z", True),   # Saturday morning: still Friday's night
    ("2026-11-28T06:00:00Z", False),  # closes (the end is excluded)
    ("2026-11-28T22:30:00Z", False),  # Saturday night: Saturday is not listed
    ("2026-11-27T05:00:00Z", False),  # Friday morning belongs to Thursday's night
])
def test_active_hours_across_midnight(now: str, inside: bool) -> None:
    decision = judge(request(reviews=approvals("dave")), configure(NIGHT),
                     now=datetime.fromisoformat(now))
    assert codes(decision) == ([] if inside else ["grant.outside-active-hours"])


def test_several_windows_any_of_which_admits() -> None:
    """Office hours on weekdays, or a Saturday maintenance window in another time zone."""
    windows = with_line(POLICY, "active_hours:\n"
                        "  - {days: [mon, tue, wed, thu, fri], between: \"07:00-19:00\", "
                        "timezone: Europe/Berlin}\n"
                        "  - {days: [sat], between: \"20:00-02:00\", timezone: UTC}")
    base = configure(windows)
    for now, inside in (("2026-11-30T10:00:00Z", True),   # Monday office hours
                        ("2026-11-28T21:00:00Z", True),   # Saturday's window
                        ("2026-11-29T01:59:00Z", True),   # ... until Sunday 02:00
                        ("2026-11-29T10:00:00Z", False),  # Sunday
                        ("2026-11-28T10:00:00Z", False)):  # Saturday morning
        decision = judge(request(reviews=approvals("dave")), base,
                         now=datetime.fromisoformat(now))
        assert codes(decision) == ([] if inside else ["grant.outside-active-hours"]), now
    sunday = judge(request(reviews=approvals("dave")), base,
                   now=datetime(2026, 11, 29, 10, tzinfo=UTC))
    assert sunday.findings[0].message == (
        "Sun 2026-11-29 10:00 UTC is outside the active hours of policy 'db' "
        "(mon,tue,wed,thu,fri 07:00-19:00 Europe/Berlin or sat 20:00-02:00 (to the next day) "
        "UTC)")


# --- policy rules ---------------------------------------------------------------------------


def test_justification_min_length() -> None:
    base = configure(with_line(POLICY, "justification: {min_length: 20}"))
    short = judge(request(grant_fields(justification="  need access please  "),
                          reviews=approvals("dave")), base)
    assert (short.outcome, codes(short)) == (Outcome.DENIED, ["grant.justification"])
    assert short.findings[0].message == (
        "justification has 18 characters; policy 'db' needs at least 20")
    enough = judge(request(grant_fields(justification="x" * 20), reviews=approvals("dave")), base)
    assert enough.outcome is Outcome.APPROVED


def test_ticket_required() -> None:
    base = configure(with_line(POLICY, 'ticket: {required: true, pattern: "INC-[0-9]+"}'))
    decision = judge(request(reviews=approvals("dave")), base)
    assert (decision.outcome, codes(decision)) == (Outcome.DENIED, ["grant.ticket-missing"])
    assert decision.findings[0].render() == (
        f"{BOB_PATH}: grant.ticket-missing: policy 'db' requires a ticket matching INC-[0-9]+; "
        "add 'ticket'")
    optional = judge(request(reviews=approvals("dave")),
                     configure(with_line(POLICY, "ticket: {required: false}")))
    assert optional.outcome is Outcome.APPROVED


@pytest.mark.parametrize(("ticket", "ok"), [
    ("INC-1234", True), ("CHG-1", True), ("JIRA-77", False),
    ("XINC-1", False), ("INC-1x", False), ("INC-", False),
])
def test_ticket_pattern(ticket: str, ok: bool) -> None:
    # The pattern must match the whole ticket, even without ^ and $.
    base = configure(with_line(POLICY, 'ticket: {required: true, pattern: "(INC|CHG)-[0-9]+"}'))
    decision = judge(request(grant_fields(ticket=ticket), reviews=approvals("dave")), base)
    if ok:
        assert (decision.outcome, codes(decision)) == (Outcome.APPROVED, [])
    else:
        assert (decision.outcome, codes(decision)) == (Outcome.DENIED, ["grant.ticket-pattern"])
        assert decision.findings[0].render() == (
            f"{BOB_PATH}:7: grant.ticket-pattern: ticket '{ticket}' does not match "
            "(INC|CHG)-[0-9]+ (policy 'db')")


LIMITED = with_line(POLICY, "limits: {max_active_per_requester: 1}")


def live_grant(**extra: str) -> GrantFile:
    return grant_file(grant_fields(duration="2h", **extra), activated_at=NOW - timedelta(hours=1))


def test_max_active_per_requester() -> None:
    base = configure(LIMITED)
    live = live_grant()
    decision = judge(request(reviews=approvals("dave"), existing=[live]), base)
    assert (decision.outcome, decision.kind, codes(decision)) == (
        Outcome.DENIED, Kind.REQUEST, ["grant.too-many-active"])
    assert decision.findings[0].render() == (
        f"{BOB_PATH}: grant.too-many-active: bob already has 1 live grant(s) of policy 'db' "
        "(db/bob-20261130T0700Z); the limit is 1: relinquish one, or name it in 'extends'")
    # Expired grants, grants of other policies and other limits do not count.
    expired = grant_file(grant_fields(duration="1h"), activated_at=NOW - timedelta(hours=1))
    other = live_grant(policy="other")
    for existing in ([expired], [other]):
        decision = judge(request(reviews=approvals("dave"), existing=existing), base)
        assert (decision.outcome, codes(decision)) == (Outcome.APPROVED, [])
    two = configure(LIMITED.replace("max_active_per_requester: 1", "max_active_per_requester: 2"))
    assert judge(request(reviews=approvals("dave"), existing=[live]), two).outcome \
        is Outcome.APPROVED
    # A merged grant whose activation is not known yet counts as live (fail closed).
    scheduled = grant_file(grant_fields(duration="2h"), activated_at=None)
    assert codes(judge(request(reviews=approvals("dave"), existing=[scheduled]), base)) == [
        "grant.too-many-active"]


def test_extends() -> None:
    base = configure(LIMITED)
    live = live_grant()
    fields = grant_fields(extends="db/bob-20261130T0700Z")
    decision = judge(request(fields, reviews=approvals("dave"), existing=[live]), base)
    assert (decision.outcome, codes(decision)) == (Outcome.APPROVED, [])

    nothing = judge(request(fields, reviews=approvals("dave")), base)
    assert (nothing.outcome, codes(nothing)) == (Outcome.DENIED, ["grant.extends"])
    assert nothing.findings[0].render() == (
        f"{BOB_PATH}:7: grant.extends: extends 'db/bob-20261130T0700Z', which is not a live "
        "grant of bob under policy 'db'")
    expired = grant_file(grant_fields(duration="1h"), activated_at=NOW - timedelta(hours=1))
    gone = judge(request(fields, reviews=approvals("dave"), existing=[expired]), base)
    assert codes(gone) == ["grant.extends"]
    other_policy = live_grant(policy="other")
    wrong = judge(request(dict(fields, extends=other_policy.path[7:-5]), reviews=approvals("dave"),
                          existing=[other_policy]), base)
    assert codes(wrong) == ["grant.extends"]


# --- input hardening -------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "code"), [
    (b"apiVersion: gitjit/v1\nkind: Grant\npolicy: &p db\nrequester: bob\nduration: 1h\n"
     b"justification: *p\n", "yaml.anchor"),
    (b"apiVersion: gitjit/v1\nkind: Grant\npolicy: db\nrequester: bob\nduration: 1h\n"
     b"duration: 4h\njustification: why\n", "yaml.duplicate-key"),
    (grant_bytes({**grant_fields(), "role": "superuser"}), "schema.invalid"),
    (grant_bytes(grant_fields(break_glass="yes")), "schema.invalid"),
    (grant_bytes(grant_fields(justification="fix \u202egnp.exe")), "yaml.forbidden-character"),
    (b"apiVersion: gitjit/v1\nkind: Policy\n", "schema.kind"),
])
def test_grant_is_loaded_strictly(raw: bytes, code: str) -> None:
    decision = judge(request(raw=raw, reviews=approvals("dave")))
    assert (decision.outcome, decision.kind, decision.grant) == (
        Outcome.DENIED, Kind.REQUEST, None)
    assert code in error_codes(decision)


def test_grant_size_cap_from_settings() -> None:
    settings = "limits: {grant_bytes: '200'}\n"
    base = configure(POLICY, settings=settings)
    small = judge(request(reviews=approvals("dave")), base)
    assert small.outcome is Outcome.APPROVED
    big = judge(request(grant_fields(justification=JUSTIFICATION * 3), reviews=approvals("dave")),
                base)
    assert (big.outcome, error_codes(big)) == (Outcome.DENIED, ["yaml.too-large"])


def test_classify_kinds() -> None:
    assert classify([add(BOB_PATH)]).kind is Kind.REQUEST
    assert classify([delete(BOB_PATH)]).kind is Kind.REVOKE
    assert classify([add("policies/x.yaml")]).kind is Kind.CONTROL_PLANE
    assert classify([add("schemas/grant.schema.json")]).kind is Kind.CONTROL_PLANE
    assert classify([add(".github/workflows/x.yml")]).kind is Kind.CONTROL_PLANE
    assert classify([]).kind is Kind.EMPTY
    for clean in ([add(BOB_PATH)], [delete(BOB_PATH)], [add("policies/x.yaml")]):
        assert classify(clean).findings == ()
