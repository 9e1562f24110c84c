"""AWS for the tests: moto's server mode on loopback, started by the tests, and the world the
AWS target works in (an Identity Center instance, its users, permission sets, IAM users).

boto3 reaches the server through ``AWS_ENDPOINT_URL`` (botocore's own setting, so gitjit's
code is exactly what runs against AWS), with throwaway credentials; nothing leaves loopback.
Import the fixtures into a conftest.py or a test module to use them.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

REGION = "eu-west-1"
ACCOUNT = "111122223333"
"""The member account the example policy assigns on (moto accepts any 12 digits)."""


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One moto server per test session, on a free loopback port; yields its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        server._server.server_close()  # type: ignore[union-attr]  # stop() leaves it open


@dataclass
class AwsWorld:
    """The AWS side of a test: the clients the harness sets things up with."""

    url: str
    instance_arn: str
    identity_store_id: str

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.url)

    def user(self, user_name: str) -> str:
        """An Identity Center user; returns its id."""
        answer = self.client("identitystore").create_user(
            IdentityStoreId=self.identity_store_id, UserName=user_name,
            DisplayName=user_name, Name={"GivenName": user_name, "FamilyName": "Example"})
        return str(answer["UserId"])

    def group(self, name: str, *user_ids: str) -> str:
        ids = self.client("identitystore")
        group_id = str(ids.create_group(IdentityStoreId=self.identity_store_id,
                                        DisplayName=name)["GroupId"])
        for user_id in user_ids:
            ids.create_group_membership(IdentityStoreId=self.identity_store_id,
                                        GroupId=group_id, MemberId={"UserId": user_id})
        return group_id

    def permission_set(self, name: str) -> str:
        answer = self.client("sso-admin").create_permission_set(
            InstanceArn=self.instance_arn, Name=name, SessionDuration="PT1H")
        return str(answer["PermissionSet"]["PermissionSetArn"])

    def assignments(self, permission_set: str, account: str = ACCOUNT) -> set[tuple[str, str]]:
        listed = self.client("sso-admin").list_account_assignments(
            InstanceArn=self.instance_arn, AccountId=account, PermissionSetArn=permission_set)
        return {(a["PrincipalType"], a["PrincipalId"]) for a in listed["AccountAssignments"]}

    def assign(self, permission_set: str, principal_type: str, principal_id: str,
               account: str = ACCOUNT) -> None:
        """An assignment made by hand (in the console), not by gitjit."""
        self.client("sso-admin").create_account_assignment(
            InstanceArn=self.instance_arn, TargetId=account, TargetType="AWS_ACCOUNT",
            PermissionSetArn=permission_set, PrincipalType=principal_type,
            PrincipalId=principal_id)

    def iam_user(self, name: str) -> None:
        self.client("iam").create_user(UserName=name)

    def iam_role(self, name: str) -> str:
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "sts:AssumeRole"}]}
        answer = self.client("iam").create_role(RoleName=name,
                                                AssumeRolePolicyDocument=json.dumps(trust))
        return str(answer["Role"]["Arn"])


@pytest.fixture
def aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsWorld]:
    """A fresh AWS (moto's state reset) reached through AWS_ENDPOINT_URL, as gitjit reaches
    it: the same environment variables a workflow would set, with throwaway credentials."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
                 "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    # Without credentials botocore would ask the EC2 metadata service (not on loopback).
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    sso = boto3.client("sso-admin", region_name=REGION, endpoint_url=moto_server)
    instance = sso.list_instances()["Instances"][0]
    yield AwsWorld(moto_server, instance["InstanceArn"], instance["IdentityStoreId"])
