"""A Contoso tenant in the Graph emulator, gitjit's connection to it, and an administrator who
changes things by hand through the same SDK (what drift and foreign-assignment tests need)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import httpx
import pytest
from azure.identity import ClientSecretCredential
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.unified_role_assignment import UnifiedRoleAssignment
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient

from engine.core.models import GrantId, Login, PolicyId, Target
from engine.targets.base import Assignment
from engine.targets.entra import EntraTarget
from tests.entra.emulator import (
    ADMIN_PERMISSIONS,
    GITHUB_ISSUER,
    LEAST_PERMISSIONS,
    App,
    GraphEmulator,
    User,
)

T = TypeVar("T")
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
TENANT_ID = "0b5b2f4e-7d0c-4b8e-9d2a-6f1f3c2a9e11"
CLIENT_ID = "6c7a3f5d-2e1b-4c9a-8f0e-3d4b5a6c7e8f"
HUGO_ID = "5b0c2d7e-8a41-4f3e-9c6d-1e2f3a4b5c6d"
SECRET_ENV = "GITJIT_TEST_ENTRA_SECRET"
T0 = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)


@dataclass
class Tenant:
    graph: GraphEmulator
    app: App
    hana: User
    hugo: User
    connection: dict[str, str] = field(default_factory=dict)

    def target(self, connection: Mapping[str, str] | None = None) -> EntraTarget:
        return EntraTarget(connection or self.connection)

    def assignment(self, login: str = "hana", *, role: str = USER_ADMIN,
                   params: Mapping[str, str] | None = None, start: datetime = T0,
                   hours: float = 1, stamp: str | None = None, justification: str =
                   "Bulk-reset MFA for the new Lisbon office staff (REQ-2041)",
                   ticket: str | None = "REQ-2041") -> Assignment:
        policy = "entra-user-admin"
        target = dict(params) if params is not None else {"role_id": role}
        gid = f"{policy}/{login}-{stamp or start.strftime('%Y%m%dT%H%MZ')}"
        return Assignment(
            grant_id=GrantId(gid), login=Login(login), policy=PolicyId(policy),
            target=Target("entra", tuple(sorted({"connection": "contoso-entra",
                                                 **target}.items()))),
            connection=self.connection, activated_at=start,
            expires_at=start + timedelta(hours=hours), justification=justification,
            ticket=ticket)

    def admin(self, operation: Callable[[GraphServiceClient], Awaitable[T]]) -> T:
        """Run ``operation`` as a tenant administrator's own tool (not gitjit's app)."""
        admin = self.graph.apps.get("admin") or self.graph.add_app(
            ADMIN_PERMISSIONS, client_id="admin", secret="admin-secret", name="admin tool")
        credential = ClientSecretCredential(
            TENANT_ID, admin.client_id, "admin-secret", authority=self.graph.url,
            disable_instance_discovery=True)

        async def run() -> T:
            auth = AzureIdentityAuthenticationProvider(
                credential, scopes=["https://graph.microsoft.com/.default"])
            async with httpx.AsyncHTTPTransport() as transport, \
                    httpx.AsyncClient(transport=transport) as http:
                adapter = GraphRequestAdapter(auth, client=http)
                adapter.base_url = f"{self.graph.url}/v1.0"
                return await operation(GraphServiceClient(request_adapter=adapter))
        return asyncio.run(run())

    def assign_by_hand(self, principal_id: str, role_id: str = USER_ADMIN) -> None:
        """A permanent role assignment made through the role assignments API, outside PIM."""
        async def assign(client: GraphServiceClient) -> None:
            await client.role_management.directory.role_assignments.post(UnifiedRoleAssignment(
                principal_id=principal_id, role_definition_id=role_id, directory_scope_id="/"))
        self.admin(assign)

    def add_member_by_hand(self, group_id: str, member_id: str) -> None:
        async def add(client: GraphServiceClient) -> None:
            await client.groups.by_group_id(group_id).members.ref.post(ReferenceCreate(
                odata_id=f"https://graph.microsoft.com/v1.0/directoryObjects/{member_id}"))
        self.admin(add)


def contoso(graph: GraphEmulator, monkeypatch: pytest.MonkeyPatch,
            permissions: frozenset[str] = LEAST_PERMISSIONS) -> Tenant:
    """The bundled example's tenant: hana by UPN pattern, hugo by object id, gitjit's app
    signing in with a client secret (the auth tests try the other methods)."""
    graph.tenant_id = TENANT_ID
    graph.now = T0
    app = graph.add_app(permissions, client_id=CLIENT_ID, secret="s3cret")
    app.federated.append((GITHUB_ISSUER, graph.github_subject, "api://AzureADTokenExchange"))
    hana = graph.add_user("hana@contoso.com")
    hugo = graph.add_user("hugo.almeida@contoso.com", object_id=HUGO_ID)
    graph.add_user("ida@contoso.com")
    graph.add_role(USER_ADMIN, "User Administrator")
    graph.add_role(GLOBAL_ADMIN, "Global Administrator")
    monkeypatch.setenv(SECRET_ENV, "s3cret")
    connection = {"provider": "entra", "tenant_id": TENANT_ID, "client_id": CLIENT_ID,
                  "auth": "client-secret", "client_secret_env": SECRET_ENV,
                  "authority_host": graph.url, "graph_endpoint": graph.url,
                  "users": f"hugo: {HUGO_ID}\n", "upn_pattern": "{login}@contoso.com",
                  "ticket_system": "Contoso ServiceNow"}
    return Tenant(graph, app, hana, hugo, connection)
