"""The AWS target's work, on boto3: what ``engine.targets.aws.target.AwsTarget`` (the
declarations, read by the checks without boto3) hands over the first time it calls AWS.
Credentials come from boto3's own chain (environment, web identity from the GitHub Actions
OIDC token, instance roles): nothing secret is named in the settings.
"""

from __future__ import annotations

import fnmatch
import json
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import unquote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from engine.core.models import GrantId, Login, Target
from engine.targets.aws.mapping import UserMapping
from engine.targets.aws.target import (
    ACCOUNT,
    TAG_PREFIX,
    grant_of_policy,
    group_of,
    kind_of,
    matches,
    policy_name,
    role_arn_of,
    tag_key,
)
from engine.targets.base import Assignment, Holder, ManagedAssignment, TargetError

T = TypeVar("T")

_WAIT_SECONDS = 60.0


class AwsDriver:
    """An AwsTarget's calls to AWS for one settings connection (see that class)."""

    def __init__(self, connection: Mapping[str, str]) -> None:
        self._connection = dict(connection)
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._instance: tuple[str, str] | None = None
        self._permission_sets: dict[str, str] = {}

    def apply(self, assignment: Assignment) -> None:
        kind = kind_of(assignment.target)
        if kind == "identity-center":
            self._apply_assignment(assignment)
        elif kind == "iam-role":
            self._apply_role(assignment)
        else:
            self._apply_group(assignment)

    def revoke(self, assignment: Assignment) -> None:
        kind = kind_of(assignment.target)
        if kind == "identity-center":
            self._revoke_assignment(assignment)
        elif kind == "iam-role":
            self._revoke_role(assignment)
        else:
            self._revoke_group(assignment)

    def list_managed(self) -> list[ManagedAssignment]:
        """The IAM grants gitjit recorded (inline policies and user tags). Identity Center
        assignments carry nothing a grant id could live in; the ledger records them."""
        out: list[ManagedAssignment] = []
        iam = self._client("iam")
        for user in self._pages(iam, "list_users", "Users", "listing IAM users"):
            name = user["UserName"]
            for policy in self._pages(iam, "list_user_policies", "PolicyNames",
                                      f"listing the inline policies of {name}", UserName=name):
                gid = grant_of_policy(policy)
                if gid is None:
                    continue
                document = self._call(f"reading policy {policy} of {name}", partial(
                    iam.get_user_policy, UserName=name, PolicyName=policy))["PolicyDocument"]
                roles, until = _window_of(_document(document))
                out.append(ManagedAssignment(principal=name, privilege=",".join(roles),
                                             grant_id=gid, expires_at=until,
                                             details={"kind": "iam-role"}))
            out.extend(ManagedAssignment(principal=name, privilege=tag["Value"],
                                         grant_id=GrantId(tag["Key"][len(TAG_PREFIX):]),
                                         details={"kind": "iam-group"})
                       for tag in self._pages(iam, "list_user_tags", "Tags",
                                              f"listing the tags of {name}", UserName=name)
                       if tag["Key"].startswith(TAG_PREFIX))
        return out

    def holders(self, target: Target) -> list[Holder]:
        kind = kind_of(target)
        if kind == "identity-center":
            return self._assignment_holders(target)
        if kind == "iam-role":
            return self._role_holders(role_arn_of(target))
        return self._group_holders(group_of(target))

    # -- Identity Center -------------------------------------------------------------------

    def _apply_assignment(self, assignment: Assignment) -> None:
        instance, store = self._instance_ids()
        account, permission_set = self._account_and_set(assignment.target)
        user_id = self._user_id(store, assignment.login)
        if user_id in self._assigned(instance, account, permission_set, "USER"):
            return
        sso = self._client("sso-admin")
        what = (f"assigning permission set {permission_set} on account {account} to "
                f"{assignment.login}")
        answer = self._call(what, lambda: sso.create_account_assignment(
            InstanceArn=instance, TargetId=account, TargetType="AWS_ACCOUNT",
            PermissionSetArn=permission_set, PrincipalType="USER", PrincipalId=user_id))
        self._wait(answer["AccountAssignmentCreationStatus"],
                   "describe_account_assignment_creation_status",
                   "AccountAssignmentCreationRequestId", "AccountAssignmentCreationStatus",
                   instance, what)
        self._settle(what, lambda: user_id in self._assigned(instance, account, permission_set,
                                                             "USER"))

    def _revoke_assignment(self, assignment: Assignment) -> None:
        instance, store = self._instance_ids()
        account, permission_set = self._account_and_set(assignment.target)
        user_id = self._user_id(store, assignment.login)
        if user_id not in self._assigned(instance, account, permission_set, "USER"):
            return
        sso = self._client("sso-admin")
        what = (f"removing permission set {permission_set} on account {account} from "
                f"{assignment.login}")
        answer = self._call(what, lambda: sso.delete_account_assignment(
            InstanceArn=instance, TargetId=account, TargetType="AWS_ACCOUNT",
            PermissionSetArn=permission_set, PrincipalType="USER", PrincipalId=user_id))
        self._wait(answer["AccountAssignmentDeletionStatus"],
                   "describe_account_assignment_deletion_status",
                   "AccountAssignmentDeletionRequestId", "AccountAssignmentDeletionStatus",
                   instance, what)
        self._settle(what, lambda: user_id not in self._assigned(
            instance, account, permission_set, "USER"))

    def _assignment_holders(self, target: Target) -> list[Holder]:
        instance, store = self._instance_ids()
        account, permission_set = self._account_and_set(target)
        mapping = UserMapping.from_connection(self._connection)
        ids = self._client("identitystore")
        privilege = f"{account}:{permission_set}"
        out: list[Holder] = []
        for principal_type in ("USER", "GROUP"):
            for principal in sorted(self._assigned(instance, account, permission_set,
                                                   principal_type)):
                if principal_type == "USER":
                    name = self._user_name(store, principal)
                    out.append(Holder(principal, _login(mapping, name), privilege,
                                      {"user_name": name, "how": "directly"}))
                    continue
                group = self._call(f"reading group {principal}", partial(
                    ids.describe_group, IdentityStoreId=store, GroupId=principal))
                for member in self._pages(ids, "list_group_memberships", "GroupMemberships",
                                          f"listing the members of group {principal}",
                                          IdentityStoreId=store, GroupId=principal):
                    user_id = member.get("MemberId", {}).get("UserId")
                    if user_id is None:
                        continue
                    name = self._user_name(store, user_id)
                    out.append(Holder(user_id, _login(mapping, name), privilege,
                                      {"user_name": name,
                                       "how": f"through group {group.get('DisplayName')}"}))
        return out

    def _instance_ids(self) -> tuple[str, str]:
        """(instance ARN, identity store id): from the connection, else ListInstances."""
        if self._instance is not None:
            return self._instance
        instance = self._connection.get("instance_arn")
        store = self._connection.get("identity_store_id")
        if not instance or not store:
            sso = self._client("sso-admin")
            found = list(self._pages(sso, "list_instances", "Instances",
                                     "finding the Identity Center instance"))
            if instance:
                found = [i for i in found if i["InstanceArn"] == instance]
            if len(found) != 1:
                raise TargetError(
                    f"aws target: {len(found)} IAM Identity Center instances found in region "
                    f"{self._region()}; set instance_arn and identity_store_id in the "
                    f"connection in policies/settings.yaml")
            instance = instance or found[0]["InstanceArn"]
            store = store or found[0]["IdentityStoreId"]
        self._instance = (instance, store)
        return self._instance

    def _account_and_set(self, target: Target) -> tuple[str, str]:
        account = target.get("account_id") or ""
        if not matches(ACCOUNT, account):
            raise TargetError(f"aws target: account_id {account!r} is not a 12-digit AWS "
                              f"account id")
        arn = target.get("permission_set_arn")
        if arn:
            return account, arn
        name = target.get("permission_set") or ""
        if name not in self._permission_sets:
            instance, _ = self._instance_ids()
            sso = self._client("sso-admin")
            found = []
            for candidate in self._pages(sso, "list_permission_sets", "PermissionSets",
                                         "listing permission sets", InstanceArn=instance):
                described = self._call(f"reading permission set {candidate}", partial(
                    sso.describe_permission_set, InstanceArn=instance,
                    PermissionSetArn=candidate))
                if described["PermissionSet"].get("Name") == name:
                    found.append(candidate)
            if len(found) != 1:
                raise TargetError(f"aws target: {len(found)} permission sets are named "
                                  f"{name!r} in {instance}; fix permission_set in the policy "
                                  f"or name it by permission_set_arn")
            self._permission_sets[name] = found[0]
        return account, self._permission_sets[name]

    def _assigned(self, instance: str, account: str, permission_set: str,
                  principal_type: str) -> set[str]:
        sso = self._client("sso-admin")
        return {a["PrincipalId"] for a in self._pages(
            sso, "list_account_assignments", "AccountAssignments",
            f"listing the assignments of {permission_set} on {account}",
            InstanceArn=instance, AccountId=account, PermissionSetArn=permission_set)
            if a.get("PrincipalType") == principal_type}

    def _user_id(self, store: str, login: str) -> str:
        name = UserMapping.from_connection(self._connection).name(login)
        ids = self._client("identitystore")
        try:
            answer = ids.get_user_id(IdentityStoreId=store, AlternateIdentifier={
                "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": name}})
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                raise TargetError(f"aws target: no IAM Identity Center user is named {name!r} "
                                  f"(the user of {login}); create the user or fix user_map / "
                                  f"user_name_pattern") from None
            raise _error(exc, f"looking up the Identity Center user {name!r}") from None
        except BotoCoreError as exc:
            raise _unreachable(exc, f"looking up the Identity Center user {name!r}") from None
        return str(answer["UserId"])

    def _user_name(self, store: str, user_id: str) -> str:
        ids = self._client("identitystore")
        answer = self._call(f"reading Identity Center user {user_id}",
                            lambda: ids.describe_user(IdentityStoreId=store, UserId=user_id))
        return str(answer.get("UserName", ""))

    def _wait(self, status: Mapping[str, Any], method: str, id_key: str, result_key: str,
              instance: str, what: str) -> None:
        """Identity Center assigns asynchronously: wait for the request to finish."""
        deadline = time.monotonic() + _WAIT_SECONDS
        sso = self._client("sso-admin")
        while status.get("Status") == "IN_PROGRESS" and time.monotonic() < deadline:
            time.sleep(1)
            status = self._call(what, partial(getattr(sso, method), InstanceArn=instance,
                                              **{id_key: status["RequestId"]}))[result_key]
        if status.get("Status") == "FAILED":
            raise TargetError(f"aws target: {what} failed: {status.get('FailureReason')}")
        if status.get("Status") == "IN_PROGRESS":
            raise TargetError(f"aws target: {what} is still in progress after "
                              f"{_WAIT_SECONDS:.0f}s; the next run checks again")

    def _settle(self, what: str, done: Callable[[], bool]) -> None:
        for attempt in range(10):
            if done():
                return
            time.sleep(min(0.2 * 2 ** attempt, 5))
        raise TargetError(f"aws target: {what}: AWS reported success, but the assignments "
                          f"do not show it; the next run checks again")

    # -- IAM ---------------------------------------------------------------------------------

    def _iam_user(self, login: str) -> str:
        name = UserMapping.from_connection(self._connection).name(login)
        iam = self._client("iam")
        try:
            iam.get_user(UserName=name)
        except ClientError as exc:
            if _code(exc) == "NoSuchEntity":
                raise TargetError(f"aws target: there is no IAM user {name!r} (the user of "
                                  f"{login}); create it or fix user_map / "
                                  f"user_name_pattern") from None
            raise _error(exc, f"reading IAM user {name!r}") from None
        except BotoCoreError as exc:
            raise _unreachable(exc, f"reading IAM user {name!r}") from None
        return name

    def _apply_role(self, assignment: Assignment) -> None:
        role = role_arn_of(assignment.target)
        user = self._iam_user(assignment.login)
        document = json.dumps(role_policy(role, assignment.activated_at, assignment.expires_at))
        iam = self._client("iam")
        self._call(f"allowing {user} to assume {role} until "
                   f"{_stamp(assignment.expires_at)}",
                   lambda: iam.put_user_policy(UserName=user,
                                               PolicyName=policy_name(assignment.grant_id),
                                               PolicyDocument=document))

    def _revoke_role(self, assignment: Assignment) -> None:
        user = self._iam_user(assignment.login)
        iam = self._client("iam")
        try:
            iam.delete_user_policy(UserName=user, PolicyName=policy_name(assignment.grant_id))
        except ClientError as exc:
            if _code(exc) != "NoSuchEntity":  # already gone: what revoke wants
                raise _error(exc, f"deleting gitjit's policy from {user}") from None
        except BotoCoreError as exc:
            raise _unreachable(exc, f"deleting gitjit's policy from {user}") from None

    def _apply_group(self, assignment: Assignment) -> None:
        group = group_of(assignment.target)
        user = self._iam_user(assignment.login)
        iam = self._client("iam")
        # The tag first: a membership gitjit cannot account for must never exist.
        self._call(f"tagging {user} with grant {assignment.grant_id}",
                   lambda: iam.tag_user(UserName=user, Tags=[
                       {"Key": tag_key(assignment.grant_id), "Value": group}]))
        self._call(f"adding {user} to IAM group {group}",
                   lambda: iam.add_user_to_group(GroupName=group, UserName=user))

    def _revoke_group(self, assignment: Assignment) -> None:
        # The membership goes whatever other gitjit: tags the user carries: the grantee may be
        # able to tag their own user, so a tag never keeps access (reconcile applies a grant of
        # another policy that is still live again on its next run).
        group = group_of(assignment.target)
        user = self._iam_user(assignment.login)
        iam = self._client("iam")
        try:
            iam.remove_user_from_group(GroupName=group, UserName=user)
        except ClientError as exc:
            if _code(exc) != "NoSuchEntity":
                raise _error(exc, f"removing {user} from IAM group {group}") from None
        except BotoCoreError as exc:
            raise _unreachable(exc, f"removing {user} from IAM group {group}") from None
        self._call(f"untagging grant {assignment.grant_id} from {user}",
                   lambda: iam.untag_user(UserName=user, TagKeys=[tag_key(assignment.grant_id)]))

    def _group_holders(self, group: str) -> list[Holder]:
        mapping = UserMapping.from_connection(self._connection)
        iam = self._client("iam")
        out = []
        for user in self._pages(iam, "get_group", "Users", f"listing IAM group {group}",
                                GroupName=group):
            name = user["UserName"]
            out.append(Holder(name, _login(mapping, name), f"iam-group:{group}",
                              {"arn": user.get("Arn", "")}))
        return sorted(out, key=lambda h: h.principal)

    def _role_holders(self, role: str) -> list[Holder]:
        """Who may assume ``role``: AWS principals its trust policy names (other than whole
        accounts), and IAM users whose inline policies allow sts:AssumeRole on it."""
        mapping = UserMapping.from_connection(self._connection)
        iam = self._client("iam")
        privilege = f"iam-role:{role}"
        out: list[Holder] = []
        role_name = role.rsplit("/", 1)[-1]
        trust = self._call(f"reading role {role_name}",
                           lambda: iam.get_role(RoleName=role_name))["Role"]
        for statement in _statements(_document(trust.get("AssumeRolePolicyDocument", {}))):
            if statement.get("Effect") != "Allow":
                continue
            principals = statement.get("Principal", {})
            arns = principals.get("AWS", []) if isinstance(principals, dict) else []
            for arn in [arns] if isinstance(arns, str) else arns:
                if arn.endswith(":root") or arn.isdigit():
                    continue  # the account delegates to identity policies, scanned below
                user = arn.split(":user/", 1)[1].rsplit("/", 1)[-1] if ":user/" in arn else ""
                out.append(Holder(arn, _login(mapping, user) if user else None, privilege,
                                  {"how": "named in the trust policy"}))
        for user in self._pages(iam, "list_users", "Users", "listing IAM users"):
            name = user["UserName"]
            for policy in self._pages(iam, "list_user_policies", "PolicyNames",
                                      f"listing the inline policies of {name}", UserName=name):
                document = self._call(f"reading policy {policy} of {name}", partial(
                    iam.get_user_policy, UserName=name, PolicyName=policy))["PolicyDocument"]
                if _allows_assume(_document(document), role):
                    how = ("gitjit's time-bound policy" if grant_of_policy(policy)
                           else f"inline policy {policy}")
                    out.append(Holder(name, _login(mapping, name), privilege, {"how": how}))
        return out

    # -- boto3 -----------------------------------------------------------------------------

    def _region(self) -> str | None:
        return self._connection.get("region") or None

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            if self._session is None:
                self._session = boto3.session.Session(region_name=self._region())
            try:
                self._clients[service] = self._session.client(service, config=Config(
                    retries={"max_attempts": 5, "mode": "standard"},
                    connect_timeout=10, read_timeout=30))
            except BotoCoreError as exc:
                raise _unreachable(exc, f"setting up the {service} client") from None
        return self._clients[service]

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except ClientError as exc:
            raise _error(exc, what) from None
        except BotoCoreError as exc:
            raise _unreachable(exc, what) from None

    def _pages(self, client: Any, method: str, key: str, what: str,
               **kwargs: Any) -> Iterator[Any]:
        try:
            if client.can_paginate(method):
                for page in client.get_paginator(method).paginate(**kwargs):
                    yield from page.get(key, [])
            else:
                yield from getattr(client, method)(**kwargs).get(key, [])
        except ClientError as exc:
            raise _error(exc, what) from None
        except BotoCoreError as exc:
            raise _unreachable(exc, what) from None


# -- pure helpers ------------------------------------------------------------------------------


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def role_policy(role_arn: str, start: datetime, end: datetime) -> dict[str, Any]:
    """Allow assuming the role only inside [start, end): AWS evaluates aws:CurrentTime on
    every AssumeRole, so the access ends at ``end`` without gitjit."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "GitjitTimeBoundAssumeRole",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": role_arn,
            "Condition": {
                "DateGreaterThan": {"aws:CurrentTime": _stamp(start)},
                "DateLessThan": {"aws:CurrentTime": _stamp(end)},
            },
        }],
    }


def _document(value: Any) -> dict[str, Any]:
    """A policy document as boto3 hands it over: parsed, or URL-encoded JSON text."""
    if isinstance(value, dict):
        return value
    parsed = json.loads(unquote(str(value)))
    return parsed if isinstance(parsed, dict) else {}


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def _allows_assume(document: Mapping[str, Any], role: str) -> bool:
    for statement in _statements(document):
        if statement.get("Effect") != "Allow":
            continue
        actions = [a.lower() for a in _as_list(statement.get("Action"))]
        if not any(fnmatch.fnmatchcase("sts:assumerole", a) for a in actions):
            continue
        if any(fnmatch.fnmatchcase(role, r) for r in _as_list(statement.get("Resource"))):
            return True
    return False


def _window_of(document: Mapping[str, Any]) -> tuple[list[str], datetime | None]:
    roles: list[str] = []
    until: datetime | None = None
    for statement in _statements(document):
        roles += _as_list(statement.get("Resource"))
        end = statement.get("Condition", {}).get("DateLessThan", {}).get("aws:CurrentTime")
        if isinstance(end, str):
            try:
                until = datetime.fromisoformat(end.replace("Z", "+00:00"))
            except ValueError:
                until = None
    return roles, until


def _login(mapping: UserMapping, name: str) -> Login | None:
    login = mapping.login(name)
    return Login(login) if login else None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


_HINTS = {
    "AccessDenied": "the credentials lack the IAM action; docs/targets/aws.md lists them",
    "AccessDeniedException": "the credentials lack the IAM action; docs/targets/aws.md lists "
                             "them",
    "UnrecognizedClientException": "the credentials are not valid",
    "InvalidClientTokenId": "the credentials are not valid",
    "ExpiredToken": "the credentials expired",
    "ExpiredTokenException": "the credentials expired",
}


def _error(exc: ClientError, what: str) -> TargetError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "error"))
    hint = _HINTS.get(code)
    return TargetError(f"aws target: AWS refused {what}: {code}: {error.get('Message', '')}"
                       + (f"; {hint}" if hint else ""))


def _unreachable(exc: BotoCoreError, what: str) -> TargetError:
    if isinstance(exc, NoCredentialsError):
        return TargetError(f"aws target: no AWS credentials while {what}; give the job "
                           f"credentials in its environment, e.g. a role assumed with the "
                           f"GitHub Actions OIDC token (docs/targets/aws.md)")
    # botocore's messages name endpoints and profiles, never secrets.
    return TargetError(f"aws target: cannot reach AWS while {what}: {exc}")
