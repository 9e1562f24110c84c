"""The AWS target against moto's server on loopback: Identity Center account assignments,
IAM time-bound role policies and IAM groups; the login mapping; holders for drift."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from engine.core.models import GrantId, Login, PolicyId, Target
from engine.targets import registry
from engine.targets.aws import AwsTarget
from engine.targets.aws.mapping import UserMapping
from engine.targets.aws.target import grant_of_policy, policy_name
from engine.targets.base import Assignment, Holder, TargetError
from tests.targets.aws import ACCOUNT, AwsWorld, aws, moto_server

__all__ = ["aws", "moto_server"]

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CONNECTION = {"provider": "aws", "region": "eu-west-1",
              "user_name_pattern": "{login}@acme.example", "user_map": "erin=erin.k@acme.example"}


def grant(login: str, policy: str = "aws-prod-admin", **params: str) -> Assignment:
    return Assignment(
        grant_id=GrantId(f"{policy}/{login}-{T0:%Y%m%dT%H%MZ}"), login=Login(login),
        policy=PolicyId(policy), target=Target("aws", tuple(sorted(params.items()))),
        connection=CONNECTION, activated_at=T0, expires_at=T0 + timedelta(hours=1))


def test_the_plugin_is_found_by_its_provider_name() -> None:
    plugin = registry.create_target(CONNECTION)
    assert isinstance(plugin, registry.CheckedTarget) and isinstance(plugin.plugin, AwsTarget)
    assert AwsTarget.EXPIRY == "depends"


# -- IAM Identity Center ------------------------------------------------------------------


def test_identity_center_assignment_applied_and_revoked_idempotently(aws: AwsWorld) -> None:
    bob = aws.user("bob@acme.example")
    admin = aws.permission_set("AdministratorAccess")
    target = AwsTarget(CONNECTION)
    bobs = grant("bob", account_id=ACCOUNT, permission_set="AdministratorAccess")
    target.apply(bobs)
    target.apply(bobs)
    assert aws.assignments(admin) == {("USER", bob)}
    assert target.native_expiry(bobs) is False
    target.revoke(bobs)
    target.revoke(bobs)
    assert aws.assignments(admin) == set()
    # By ARN too, and the explicit map wins over the pattern.
    erin = aws.user("erin.k@acme.example")
    erins = grant("erin", account_id=ACCOUNT, permission_set_arn=admin)
    target.apply(erins)
    assert aws.assignments(admin) == {("USER", erin)}


def test_holders_show_who_holds_the_permission_set_however_they_got_it(aws: AwsWorld) -> None:
    bob = aws.user("bob@acme.example")
    carol = aws.user("carol@acme.example")
    stranger = aws.user("contractor-7")
    admin = aws.permission_set("AdministratorAccess")
    target = AwsTarget(CONNECTION)
    bobs = grant("bob", account_id=ACCOUNT, permission_set="AdministratorAccess")
    target.apply(bobs)
    # By hand, in the console: a user no login maps to, and a group.
    aws.assign(admin, "USER", stranger)
    aws.assign(admin, "GROUP", aws.group("ops", carol))
    holders = target.holders(bobs.target)
    privilege = f"{ACCOUNT}:{admin}"
    assert sorted(holders, key=lambda h: h.principal) == sorted([
        Holder(bob, Login("bob"), privilege),
        Holder(stranger, None, privilege),
        Holder(carol, Login("carol"), privilege),
    ], key=lambda h: h.principal)
    how = {h.principal: h.details["how"] for h in holders}
    assert how == {bob: "directly", stranger: "directly", carol: "through group ops"}
    # Identity Center assignments carry no grant id: the ledger is their record.
    assert target.list_managed() == []


def test_an_unmapped_unknown_or_ambiguous_person_fails_closed(aws: AwsWorld) -> None:
    aws.permission_set("AdministratorAccess")
    aws.user("bob@acme.example")
    params = {"account_id": ACCOUNT, "permission_set": "AdministratorAccess"}
    with pytest.raises(TargetError) as err:
        AwsTarget({"provider": "aws"}).apply(grant("bob", **params))
    assert str(err.value) == (
        "aws target: no AWS user is mapped for bob; add 'bob=<user name>' to user_map, or set "
        "user_name_pattern, in the connection in policies/settings.yaml")
    with pytest.raises(TargetError) as err:
        AwsTarget(CONNECTION).apply(grant("dave", **params))
    assert str(err.value) == (
        "aws target: no IAM Identity Center user is named 'dave@acme.example' (the user of "
        "dave); create the user or fix user_map / user_name_pattern")
    # mallory maps herself onto bob's user: neither gets anything.
    sneaky = {**CONNECTION, "user_map": "mallory=bob@acme.example"}
    for login in ("mallory", "bob"):
        with pytest.raises(TargetError) as err:
            AwsTarget(sneaky).apply(grant(login, **params))
        other = "bob" if login == "mallory" else "mallory"
        assert str(err.value) == (
            f"aws target: the AWS user name 'bob@acme.example' of {login} is also the one of "
            f"{other}; the mapping must be one-to-one, so gitjit grants neither. Fix user_map "
            "or user_name_pattern")


def test_a_target_naming_two_kinds_or_none_is_refused() -> None:
    target = AwsTarget(CONNECTION)
    with pytest.raises(TargetError, match="exactly one of account_id .* it names "
                                          "account_id, iam_group"):
        target.apply(grant("bob", account_id=ACCOUNT, iam_group="admins",
                           permission_set="X"))
    with pytest.raises(TargetError, match="it names none"):
        target.native_expiry(grant("bob"))
    with pytest.raises(TargetError, match="not a permission set ARN"):
        target.apply(grant("bob", account_id=ACCOUNT, permission_set_arn="arn:aws:iam::x"))


# -- IAM: a time-bound policy on the user for a role (native expiry) ----------------------


def test_iam_role_policy_carries_the_window_and_the_grant_id(aws: AwsWorld) -> None:
    role = aws.iam_role("release-admin")
    aws.iam_user("bob@acme.example")
    target = AwsTarget(CONNECTION)
    bobs = grant("bob", iam_role_arn=role)
    assert target.native_expiry(bobs) is True
    target.apply(bobs)
    target.apply(bobs)
    iam = aws.client("iam")
    name = "gitjit.aws-prod-admin.bob-20261130T0900Z"
    assert iam.list_user_policies(UserName="bob@acme.example")["PolicyNames"] == [name]
    document = iam.get_user_policy(UserName="bob@acme.example",
                                   PolicyName=name)["PolicyDocument"]
    assert document["Statement"] == [{
        "Sid": "GitjitTimeBoundAssumeRole", "Effect": "Allow", "Action": "sts:AssumeRole",
        "Resource": role, "Condition": {
            "DateGreaterThan": {"aws:CurrentTime": "2026-11-30T09:00:00Z"},
            "DateLessThan": {"aws:CurrentTime": "2026-11-30T10:00:00Z"}}}]
    managed = target.list_managed()
    assert [(m.principal, m.privilege, m.grant_id, m.expires_at) for m in managed] == [
        ("bob@acme.example", role, bobs.grant_id, bobs.expires_at)]
    # A hand-made policy on another user is drift; gitjit's shows as its own.
    aws.iam_user("carol@acme.example")
    iam.put_user_policy(UserName="carol@acme.example", PolicyName="break-glass",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                            "Effect": "Allow", "Action": "sts:*", "Resource": "*"}]}))
    holders = target.holders(bobs.target)
    assert [(h.principal, h.login, h.details["how"]) for h in holders] == [
        ("bob@acme.example", "bob", "gitjit's time-bound policy"),
        ("carol@acme.example", "carol", "inline policy break-glass")]
    target.revoke(bobs)
    target.revoke(bobs)
    assert iam.list_user_policies(UserName="bob@acme.example")["PolicyNames"] == []


def test_policy_names_give_the_grant_id_back() -> None:
    longest = f"{'p' * 63}/{'l' * 39}-20261130T090000Z"
    assert len(policy_name(longest)) <= 128
    assert grant_of_policy(policy_name(longest)) == longest
    assert grant_of_policy("ReadOnly") is None


# -- IAM: a group, with a tag per grant ---------------------------------------------------


def test_iam_group_membership_tagged_with_the_grant_and_removed_at_revoke(
        aws: AwsWorld) -> None:
    iam = aws.client("iam")
    iam.create_group(GroupName="prod-admins")
    aws.iam_user("bob@acme.example")
    target = AwsTarget(CONNECTION)
    bobs = grant("bob", iam_group="prod-admins")
    target.apply(bobs)
    target.apply(bobs)
    assert target.native_expiry(bobs) is False

    def members() -> list[str]:
        return [u["UserName"] for u in iam.get_group(GroupName="prod-admins")["Users"]]

    assert members() == ["bob@acme.example"]
    assert [(m.principal, m.privilege, m.grant_id) for m in target.list_managed()] == [
        ("bob@acme.example", "prod-admins", bobs.grant_id)]
    assert [(h.principal, h.login) for h in target.holders(bobs.target)] == [
        ("bob@acme.example", "bob")]
    target.revoke(bobs)
    target.revoke(bobs)
    assert members() == []
    assert target.list_managed() == []
    assert target.holders(bobs.target) == []


def test_a_grantee_forging_a_gitjit_tag_does_not_keep_the_group(aws: AwsWorld) -> None:
    """The attack: bob may tag his own IAM user (many setups let users manage their tags),
    so during the grant he adds a tag that looks like another live grant of the same group,
    hoping revocation leaves the membership for it. It does not: a tag never keeps access."""
    iam = aws.client("iam")
    iam.create_group(GroupName="prod-admins")
    aws.iam_user("bob@acme.example")
    target = AwsTarget(CONNECTION)
    bobs = grant("bob", iam_group="prod-admins")
    target.apply(bobs)
    iam.tag_user(UserName="bob@acme.example", Tags=[
        {"Key": "gitjit:aws-prod-oncall/bob-20261130T0900Z", "Value": "prod-admins"}])
    target.revoke(bobs)
    assert iam.get_group(GroupName="prod-admins")["Users"] == []
    # The forged record shows in list_managed, where reconcile's sweep meets it (no such
    # grant is live, so it is revoked again: a no-op).
    assert [m.grant_id for m in target.list_managed()] == [
        "aws-prod-oncall/bob-20261130T0900Z"]


def test_no_credentials_is_a_clear_error(aws: AwsWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(TargetError) as err:
        AwsTarget(CONNECTION).apply(grant("bob", iam_group="prod-admins"))
    assert str(err.value) == (
        "aws target: no AWS credentials while reading IAM user 'bob@acme.example'; give the job "
        "credentials in its environment, e.g. a role assumed with the GitHub Actions OIDC "
        "token (docs/targets/aws.md)")


# -- the mapping, pure --------------------------------------------------------------------


def test_mapping_reverses_the_map_and_the_pattern() -> None:
    mapping = UserMapping.from_connection(CONNECTION)
    assert mapping.name("Bob") == "bob@acme.example"
    assert mapping.name("erin") == "erin.k@acme.example"
    assert mapping.login("BOB@acme.example") == "bob"
    assert mapping.login("erin.k@acme.example") == "erin"
    # The map overrides the pattern: erin@acme.example is nobody's.
    assert mapping.login("erin@acme.example") is None
    assert mapping.login("root") is None
    with pytest.raises(TargetError, match="user_map entry 'bob' is not"):
        UserMapping.from_connection({"user_map": "bob"})
    with pytest.raises(TargetError, match="must contain \\{login\\} exactly once"):
        UserMapping.from_connection({"user_name_pattern": "admin"})
