"""The AWS target (boto3): IAM Identity Center account assignments, or IAM where Identity
Center is not used. docs/targets/aws.md has the settings, the IAM actions and the limits.

Three kinds of policy target, one per policy:

- ``account_id`` + ``permission_set_arn`` (or ``permission_set``, its name): an Identity Center
  account assignment of the permission set to the person's Identity Center user (the AWS
  TEAM model). Identity Center has no end date on an assignment, so expiry is gitjit's job
  (the sweeper: reconcile); nothing on the assignment can carry a grant id.
- ``iam_role_arn``: an inline policy on the person's IAM user that allows ``sts:AssumeRole``
  on the role only while ``aws:CurrentTime`` is inside the grant's window. AWS itself stops
  new role sessions at the end (native expiry); revoke deletes the policy. The policy's name
  carries the grant id: ``gitjit.<policy>.<login>-<stamp>``.
- ``iam_group``: the person's IAM user joins the group (expiry by gitjit), with a tag
  ``gitjit:<grant id>`` on the user naming the group (the grant id for ``list_managed``).

Credentials come from boto3's own chain (environment, web identity from the GitHub Actions
OIDC token, instance roles): nothing secret is named in the settings.

This module holds the declarations, which target a policy names and the names gitjit writes,
and imports no boto3, so the checks read them without it; the calls are in
``engine.targets.aws.driver``, loaded the first time the target calls AWS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from engine.core.models import GrantId, Target
from engine.targets.base import Assignment, Holder, ManagedAssignment, TargetError

if TYPE_CHECKING:
    from engine.targets.aws.driver import AwsDriver

POLICY_PREFIX = "gitjit."
TAG_PREFIX = "gitjit:"
ACCOUNT = "^[0-9]{12}$"
PERMISSION_SET_ARN = r"^arn:aws[a-z-]*:sso:::permissionSet/ssoins-[0-9a-f]{16}/ps-[0-9a-f]{16}$"
ROLE_ARN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$"
NAME = r"^[\w+=,.@-]{1,128}$"

TARGET_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "aws target",
    "description": "One of: account_id with permission_set_arn or permission_set (IAM "
                   "Identity Center); iam_role_arn; iam_group.",
    "type": "object",
    "properties": {
        "account_id": {"type": "string", "pattern": ACCOUNT,
                       "description": "The AWS account (12 digits) the permission set is "
                                      "assigned on."},
        "permission_set_arn": {"type": "string", "pattern": PERMISSION_SET_ARN,
                               "description": "The Identity Center permission set's ARN."},
        "permission_set": {"type": "string", "pattern": NAME,
                           "description": "The permission set's name (instead of its ARN)."},
        "iam_role_arn": {"type": "string", "pattern": ROLE_ARN,
                         "description": "IAM: the role the person may assume during the "
                                        "grant (native expiry on aws:CurrentTime)."},
        "iam_group": {"type": "string", "pattern": NAME,
                      "description": "IAM: the group the person's IAM user joins."},
    },
    "oneOf": [
        {"required": ["account_id"],
         "oneOf": [{"required": ["permission_set_arn"]}, {"required": ["permission_set"]}]},
        {"required": ["iam_role_arn"]},
        {"required": ["iam_group"]},
    ],
    "dependentRequired": {"permission_set_arn": ["account_id"],
                          "permission_set": ["account_id"]},
    "additionalProperties": False,
}
CONNECTION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "aws connection",
    "type": "object",
    "properties": {
        "region": {"type": "string", "pattern": "^[a-z]{2}(-[a-z]+)+-[0-9]$",
                   "description": "The region of the Identity Center instance (default: "
                                  "AWS_REGION / AWS_DEFAULT_REGION)."},
        "instance_arn": {"type": "string", "pattern": r"^arn:aws[a-z-]*:sso:::instance/"
                                                      r"ssoins-[0-9a-f]{16}$",
                         "description": "The Identity Center instance (default: the one "
                                        "ListInstances finds)."},
        "identity_store_id": {"type": "string", "pattern": "^d-[0-9a-f]{10}$|^[0-9a-f-]{36}$",
                              "description": "The Identity Store (default: the instance's)."},
        "user_map": {"type": "string",
                     "description": "login=user-name pairs, comma separated."},
        "user_name_pattern": {"type": "string", "pattern": "^[^{}]*\\{login\\}[^{}]*$",
                              "description": "The user name of a login, e.g. "
                                             "'{login}@acme.example'."},
    },
    "additionalProperties": False,
}


class AwsTarget:
    """The declarations, and the protocol's methods handing over to ``AwsDriver`` (imported,
    with boto3, the first time the target calls AWS)."""

    name = "aws"
    REQUIRES = ("boto3", "botocore")
    """What the driver imports: without them the provider is unusable (the aws extra)."""
    TARGET_SCHEMA = TARGET_SCHEMA
    CONNECTION_SCHEMA = CONNECTION_SCHEMA
    EXPIRY = "depends"

    def __init__(self, connection: Mapping[str, str]) -> None:
        self._connection = dict(connection)

    @cached_property
    def _driver(self) -> AwsDriver:
        try:
            from engine.targets.aws.driver import AwsDriver
        except ImportError as exc:  # found by REQUIRES, yet broken (a partial install)
            raise TargetError(f"aws target: cannot load boto3 ({exc}); install it with "
                              "pip install 'gitjit[aws]'") from exc
        return AwsDriver(self._connection)

    # -- protocol -------------------------------------------------------------------------

    def native_expiry(self, assignment: Assignment) -> bool:
        return kind_of(assignment.target) == "iam-role"

    def apply(self, assignment: Assignment) -> None:
        self._driver.apply(assignment)

    def revoke(self, assignment: Assignment) -> None:
        self._driver.revoke(assignment)

    def list_managed(self) -> list[ManagedAssignment]:
        return self._driver.list_managed()

    def holders(self, target: Target) -> list[Holder]:
        return self._driver.holders(target)


# -- a policy's target, and the names gitjit writes ---------------------------------------


def kind_of(target: Target) -> str:
    """identity-center, iam-role or iam-group; a TargetError for anything else."""
    present = [k for k in ("account_id", "iam_role_arn", "iam_group") if target.get(k)]
    if len(present) != 1:
        raise TargetError("aws target: the policy's target must name exactly one of "
                          "account_id (with permission_set_arn or permission_set), "
                          f"iam_role_arn or iam_group; it names {', '.join(present) or 'none'}")
    if present[0] == "account_id":
        sets = [k for k in ("permission_set_arn", "permission_set") if target.get(k)]
        if len(sets) != 1:
            raise TargetError("aws target: with account_id, name exactly one of "
                              "permission_set_arn and permission_set")
        arn = target.get("permission_set_arn")
        # Loose on purpose: the schema holds AWS's exact format, AWS checks the rest.
        if arn and not matches(r"^arn:aws[a-z-]*:sso:::[A-Za-z]+/ssoins-[0-9a-z]+/ps-[0-9a-z]+$",
                               arn):
            raise TargetError(f"aws target: permission_set_arn {arn!r} is not a permission "
                              f"set ARN")
        return "identity-center"
    return {"iam_role_arn": "iam-role", "iam_group": "iam-group"}[present[0]]


def role_arn_of(target: Target) -> str:
    arn = target.get("iam_role_arn") or ""
    if not matches(ROLE_ARN, arn):
        raise TargetError(f"aws target: iam_role_arn {arn!r} is not an IAM role ARN")
    return arn


def group_of(target: Target) -> str:
    group = target.get("iam_group") or ""
    if not matches(NAME, group):
        raise TargetError(f"aws target: iam_group {group!r} is not an IAM group name")
    return group


def matches(pattern: str, value: str) -> bool:
    return re.match(pattern, value) is not None


def policy_name(grant_id: str) -> str:
    """``gitjit.<policy>.<login>-<stamp>``: at most 127 characters, IAM's name alphabet, and
    the grant id comes back from it (policy ids hold no '.')."""
    return POLICY_PREFIX + grant_id.replace("/", ".", 1)


def grant_of_policy(name: str) -> GrantId | None:
    if not name.startswith(POLICY_PREFIX):
        return None
    rest = name[len(POLICY_PREFIX):]
    policy, dot, requester = rest.partition(".")
    return GrantId(f"{policy}/{requester}") if dot and policy and requester else None


def tag_key(grant_id: str) -> str:
    return TAG_PREFIX + grant_id
