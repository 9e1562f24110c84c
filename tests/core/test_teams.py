"""GitHub team principals ('team:acme/dba'): valid configuration offline, resolved through a
lookup when a request is judged, and failing closed whenever they are not resolved."""

from __future__ import annotations

import dataclasses

from engine.core import codeowners, privileges
from engine.core.check import against_policy
from engine.core.config import ConfigResult
from engine.core.decision import Kind, Outcome
from engine.core.explain import explain
from engine.core.findings import Severity
from engine.core.grants import load_grant
from engine.core.models import Groups, Login, PolicyId, Principal
from engine.core.principals import TeamLookup, expand, resolve_teams, teams
from engine.errors import GitjitError
from tests.core.builders import (
    SCHEMAS,
    approvals,
    build,
    codes,
    configure,
    deletion,
    grant_bytes,
    grant_fields,
    grant_file,
    grant_path,
    judge,
    policy_files,
    request,
    review,
)

TEAMS = """
id: db
description: Superuser on the test database
target: {provider: command, role: admin}
requesters: [team:acme/sre, user:zoe]
approvals:
  - {from: [team:acme/dba], count: 1}
  - {from: [group:security], count: 1}
duration: {default: 1h, max: 4h}
"""
"""Requesters and the first approval step are GitHub teams; the second step is a group."""

OTHER = """
id: other
description: Another policy
target: {provider: command, role: read}
requesters: [group:sre]
approvals:
  - {from: [team:Acme/sec.ops], count: 2}
auto_approve: {max_duration: 30m, requesters: [team:acme/oncall]}
duration: {default: 1h, max: 4h}
"""

MEMBERS = {
    ("acme", "sre"): frozenset({Login("bob"), Login("carol")}),
    ("acme", "dba"): frozenset({Login("dave"), Login("erin")}),
    ("acme", "sec.ops"): frozenset({Login("sam"), Login("sue")}),
    ("acme", "oncall"): frozenset({Login("carol")}),
}
TEAM_DENIAL = ("whose members could not be looked up on GitHub; denied until the lookup "
               "succeeds (check that the team exists and that gitjit's token may read its "
               "members)")


def lookup(org: str, slug: str) -> frozenset[Login]:
    if (org, slug) not in MEMBERS:
        raise GitjitError(f"GitHub answered 404 while reading team {org}/{slug}")
    return MEMBERS[(org, slug)]


def failing(*broken: str) -> tuple[list[str], TeamLookup]:
    """A lookup that fails for the teams named 'org/slug', and the calls it was given."""
    calls: list[str] = []

    def call(org: str, slug: str) -> frozenset[Login]:
        calls.append(f"{org}/{slug}")
        if f"{org}/{slug}" in broken:
            raise GitjitError("cannot reach GitHub")
        return lookup(org, slug)
    return calls, call


def offline() -> ConfigResult:
    return configure(TEAMS, OTHER)


def resolved(result: ConfigResult | None = None) -> ConfigResult:
    result = result or offline()
    assert result.config is not None
    return dataclasses.replace(result, config=resolve_teams(result.config, lookup))


# --- configuration ------------------------------------------------------------------------


def test_team_principals_are_valid_configuration_offline() -> None:
    # configure() asserts no findings: no unknown group, no unsatisfiable step (the teams'
    # sizes are unknown), no auto-approve outsider (who is in acme/sre is unknown).
    config = offline().config
    assert config is not None
    assert config.policies["db"].requesters == (  # type: ignore[index]
        Principal("team", "acme/sre"), Principal("user", "zoe"))
    assert config.policies["other"].approvals[0].approvers == (  # type: ignore[index]
        Principal("team", "acme/sec.ops"),)  # the organization is lower-cased, like a login
    assert config.groups.teams == {}
    assert teams(config) == {"acme/sre", "acme/dba", "acme/sec.ops", "acme/oncall"}


def test_an_undefined_group_next_to_a_team_is_still_a_configuration_error() -> None:
    result = build(policy_files(TEAMS.replace("group:security", "group:secops")))
    assert [f.render() for f in result.findings] == [
        "policies/db.yaml:9: config.unknown-group: unknown group 'secops' in approval step 2: "
        "define it in policies/groups.yaml"]


def test_a_malformed_team_is_a_schema_finding() -> None:
    result = build(policy_files(TEAMS.replace("team:acme/dba", "team:acme")))
    assert [f.render() for f in result.findings] == [
        "policies/db.yaml:8: schema.invalid: $.approvals[0].from[0]: 'team:acme' is not a "
        "principal; write user:LOGIN, group:NAME (group names: lower-case letters, digits, "
        "'-' and '_') or team:ORG/SLUG (team slugs: lower-case letters, digits, '-', '_' and "
        "'.')"]


# --- expansion and resolution -------------------------------------------------------------


def test_expand_adds_a_resolved_teams_members_and_reports_an_unresolved_one() -> None:
    team = [Principal("team", "acme/dba"), Principal("user", "zoe")]
    groups = Groups({"dba": frozenset({Login("dave")})})
    unknown = expand([*team, Principal("group", "ops")], groups)
    assert unknown.logins == {"zoe"}
    assert unknown.unknown_groups == ("ops", "team:acme/dba")
    assert (unknown.undefined_groups, unknown.unresolved_teams) == (("ops",), ("team:acme/dba",))
    known = expand(team, dataclasses.replace(groups, teams={"acme/dba": MEMBERS["acme", "dba"]}))
    assert known.logins == {"dave", "erin", "zoe"}
    assert known.unknown_groups == ()
    # A group and a team of the same name are different things.
    both = dataclasses.replace(groups, teams={"acme/dba": MEMBERS["acme", "dba"]})
    assert expand([Principal("group", "dba")], both).logins == {"dave"}


def test_resolve_teams_looks_up_every_team_once_and_keeps_failures_unresolved() -> None:
    config = offline().config
    assert config is not None
    calls, call = failing("acme/dba")
    out = resolve_teams(config, call)
    assert calls == ["acme/dba", "acme/oncall", "acme/sec.ops", "acme/sre"]
    # The failed team stays unresolved (never guessed empty); the others are resolved.
    assert out.groups.teams == {k: v for k, v in _by_name().items() if k != "acme/dba"}
    assert out.policies == config.policies and out.groups.members == config.groups.members
    assert config.groups.teams == {}  # the input is not changed
    # Resolved teams are kept and not looked up again.
    again, call = failing()
    assert resolve_teams(out, call).groups.teams == _by_name()
    assert again == ["acme/dba"]


def _by_name() -> dict[str, frozenset[Login]]:
    return {f"{org}/{slug}": members for (org, slug), members in MEMBERS.items()}


# --- decisions ----------------------------------------------------------------------------


def test_a_team_member_may_request_when_the_team_is_resolved() -> None:
    decision = judge(request(grant_fields(requester="bob"), reviews=approvals("dave", "sam")),
                     resolved())
    assert (decision.outcome, codes(decision)) == (Outcome.APPROVED, [])
    assert [(c.reviewer, c.step) for c in decision.counted] == [("dave", 1), ("sam", 2)]


def test_an_unresolved_requesters_team_denies_naming_it() -> None:
    base = offline()
    assert base.config is not None
    # Only the approvers' team is known: acme/sre, which bob would be eligible through, is not.
    partly = dataclasses.replace(base, config=dataclasses.replace(base.config, groups=(
        dataclasses.replace(base.config.groups, teams={"acme/dba": MEMBERS["acme", "dba"]}))))
    decision = judge(request(grant_fields(requester="bob"), reviews=approvals("dave", "sam")),
                     partly)
    assert decision.outcome is Outcome.DENIED
    assert [f.render() for f in decision.errors] == [
        f"policies/db.yaml:6: config.unresolved-team: requesters name team:acme/sre, "
        f"{TEAM_DENIAL}"]
    # zoe is named herself: the unresolved team does not matter for her.
    zoe = judge(request(grant_fields(requester="zoe"), reviews=approvals("dave", "sam")), partly)
    assert (zoe.outcome, codes(zoe)) == (Outcome.APPROVED, [])


def test_an_unresolved_approvers_team_denies_naming_it() -> None:
    # Offline: zoe may request, but step 1's team cannot be resolved, even though dave (a DBA
    # on GitHub) approved.
    decision = judge(request(grant_fields(requester="zoe"), reviews=approvals("dave", "sam")),
                     offline())
    assert (decision.outcome, decision.kind) == (Outcome.DENIED, Kind.REQUEST)
    assert decision.counted == ()
    assert [f.render() for f in decision.errors] == [
        f"policies/db.yaml:7: config.unresolved-team: approval step 1 names team:acme/dba, "
        f"{TEAM_DENIAL}"]


def test_a_lookup_failing_for_one_team_leaves_the_others_resolved() -> None:
    base = offline()
    assert base.config is not None
    _, call = failing("acme/dba")
    config = resolve_teams(base.config, call)
    decision = judge(request(grant_fields(requester="bob"), reviews=approvals("dave", "sam")),
                     dataclasses.replace(base, config=config))
    # bob's eligibility came through acme/sre; only acme/dba denies.
    assert [f.render() for f in decision.errors] == [
        f"policies/db.yaml:7: config.unresolved-team: approval step 1 names team:acme/dba, "
        f"{TEAM_DENIAL}"]


def test_a_resolved_teams_changes_request_blocks() -> None:
    decision = judge(request(grant_fields(requester="bob"), reviews=[
        review("dave"), review("erin", "CHANGES_REQUESTED"), review("sam")]), resolved())
    assert decision.outcome is Outcome.PENDING
    assert "approval.changes-requested" in codes(decision)


def test_a_resolved_team_too_small_for_its_step_denies() -> None:
    small = {**MEMBERS, ("acme", "sec.ops"): frozenset({Login("sam")})}
    base = offline()
    assert base.config is not None
    config = resolve_teams(base.config, lambda org, slug: small[(org, slug)])
    decision = judge(request(grant_fields(policy="other", requester="bob")),
                     dataclasses.replace(base, config=config))
    assert [(f.code, f.message) for f in decision.errors] == [(
        "approval.no-approvers", "approval step 1 needs 2 approver(s) other than bob, but "
        "only 1 exist(s) (team:acme/sec.ops)")]


def test_auto_approve_through_a_team_only_when_it_is_resolved() -> None:
    fields = grant_fields(policy="other", requester="carol", duration="30m")
    approved = judge(request(fields), resolved())
    assert (approved.outcome, approved.auto_approved) == (Outcome.APPROVED, True)
    # Unresolved, the rule does not apply: the request waits for the approval step instead.
    base = offline()
    assert base.config is not None
    _, call = failing("acme/oncall")
    waiting = judge(request(fields), dataclasses.replace(
        base, config=resolve_teams(base.config, call)))
    assert (waiting.outcome, waiting.auto_approved) == (Outcome.PENDING, False)


def test_revoking_under_an_unresolved_team_denies() -> None:
    theirs = grant_file(grant_fields(requester="zoe"), None)
    decision = judge(deletion(theirs, author="sam", reviews=approvals("dave")), offline())
    assert decision.outcome is Outcome.DENIED
    assert [f.code for f in decision.findings if f.severity is Severity.ERROR] == [
        "config.unresolved-team"]


def test_resolve_teams_without_teams_changes_nothing() -> None:
    plain = configure("""
        id: db
        description: Superuser on the test database
        target: {provider: command, role: admin}
        requesters: [group:sre]
        approvals:
          - {from: [group:dba], count: 1}
        duration: {default: 1h, max: 4h}
        """).config
    assert plain is not None

    def never(org: str, slug: str) -> frozenset[Login]:
        raise AssertionError("no team to look up")
    assert resolve_teams(plain, never) == plain


# --- what else reads principals -----------------------------------------------------------


def test_a_newly_named_team_is_reported_as_a_privilege_change() -> None:
    base, head = configure(TEAMS.replace("team:acme/sre, ", "")).config, offline().config
    assert base is not None and head is not None
    assert [f.message for f in privileges.changes(base, head)] == [
        "may newly request 'db': team:acme/sre",
        "new policy 'other' (command): alice, bob, carol, erin may request it, for up to 4h"]
    grouped = configure(TEAMS, OTHER.replace("team:acme/oncall", "group:oncall")).config
    assert grouped is not None
    assert [f.message for f in privileges.changes(grouped, head)] == [
        "'other' auto-approves team:acme/oncall for up to 30m"]


def test_codeowners_names_an_approvers_team_and_explain_says_it_is_looked_up() -> None:
    config = offline().config
    assert config is not None
    assert "/grants/db/  @acme/dba @sam @sue\n" in codeowners.render(config)
    lines = explain(config.policies[PolicyId("db")], config)
    assert "  who may request: GitHub team acme/sre (members looked up on GitHub); zoe" in lines
    assert "    step 1: 1 of GitHub team acme/dba (dave, erin)" in explain(
        config.policies[PolicyId("db")], resolved().config)  # type: ignore[arg-type]


def test_a_committed_grant_is_not_warned_about_when_its_team_is_unknown_offline() -> None:
    config = offline().config
    assert config is not None
    fields = grant_fields(requester="bob")
    grant = load_grant(grant_path(fields), grant_bytes(fields), SCHEMAS, 64 * 1024).grant
    assert grant is not None
    assert against_policy(grant, config) == []
