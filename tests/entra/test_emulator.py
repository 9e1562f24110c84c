"""The Graph emulator keeps itself honest: bodies that do not round-trip through the SDK's
models are refused, filters Graph would refuse are refused, and tokens are needed."""

from __future__ import annotations

import httpx
import pytest
from msgraph.generated.models.unified_role_assignment_schedule_request import (
    UnifiedRoleAssignmentScheduleRequest,
)
from msgraph.generated.models.user import User

from tests.entra.emulator import GraphEmulator, check_reply, check_request
from tests.entra.tenant import CLIENT_ID, TENANT_ID, Tenant


def token(graph: GraphEmulator) -> str:
    reply = httpx.post(f"{graph.url}/{TENANT_ID}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "s3cret",
        "scope": "https://graph.microsoft.com/.default"})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["access_token"])


def test_a_request_property_unknown_to_the_sdks_model_is_a_violation() -> None:
    body = {"action": "adminAssign", "principalId": "p", "roleDefinitionId": "r",
            "directoryScopeId": "/", "expiresAt": "2026-11-30T11:30:00Z"}
    _, problems = check_request(body, UnifiedRoleAssignmentScheduleRequest)
    assert problems[0] == ("request property $.expiresAt is unknown to "
                           "UnifiedRoleAssignmentScheduleRequest")


def test_a_reply_property_unknown_to_the_sdks_model_is_a_violation() -> None:
    user = User(id="u1", user_principal_name="hana@contoso.com")
    user.additional_data["githubLogin"] = "hana"
    _, problems = check_reply(user)
    assert problems == ["reply property $.githubLogin is unknown to User"]
    assert check_reply(User(id="u1"))[1] == []


def test_over_http_a_violation_is_answered_with_500_and_recorded(tenant: Tenant) -> None:
    graph = tenant.graph
    reply = httpx.post(f"{graph.url}/v1.0/roleManagement/directory/roleAssignmentScheduleRequests",
                       json={"action": "adminAssign", "principalId": tenant.hana.id,
                             "bogus": True},
                       headers={"Authorization": f"Bearer {token(graph)}"})
    assert reply.status_code == 500
    assert "request property $.bogus is unknown" in reply.json()["error"]["message"]
    assert graph.violations == ["request property $.bogus is unknown to "
                                "UnifiedRoleAssignmentScheduleRequest"]
    graph.violations.clear()  # seen; the fixture would fail the test otherwise


@pytest.mark.parametrize(("path", "status", "code"), [
    ("identityGovernance/privilegedAccess/group/assignmentSchedules", 400, "BadRequest"),
    ("roleManagement/directory/roleAssignmentSchedules?$filter=startswith(principalId,'a')",
     400, "BadRequest"),
    ("users/nobody@contoso.com", 404, "Request_ResourceNotFound"),
    ("roleManagement/directory/roleEligibilitySchedules", 400, "BadRequest"),
])
def test_what_graph_refuses_the_emulator_refuses(tenant: Tenant, path: str, status: int,
                                                  code: str) -> None:
    reply = httpx.get(f"{tenant.graph.url}/v1.0/{path}",
                      headers={"Authorization": f"Bearer {token(tenant.graph)}"})
    assert (reply.status_code, reply.json()["error"]["code"]) == (status, code)


def test_graph_needs_a_token_the_tenant_issued(tenant: Tenant) -> None:
    reply = httpx.get(f"{tenant.graph.url}/v1.0/users",
                      headers={"Authorization": "Bearer forged"})
    assert (reply.status_code, reply.json()["error"]["code"]) == (
        401, "InvalidAuthenticationToken")
