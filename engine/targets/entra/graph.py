"""Microsoft Graph through Microsoft's own SDK (msgraph-sdk on kiota, azure-identity).

The SDK is asynchronous and gitjit's target protocol is not: each plugin operation runs one
event loop (``Graph.run``) with a fresh HTTP client, and everything it needs from Graph
happens inside it. Errors from Graph, the token endpoint or the network become TargetErrors
that carry Graph's own error code and message (they never hold a token or a secret).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph.generated.models.directory_object import DirectoryObject
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.privileged_access_group_assignment_schedule import (
    PrivilegedAccessGroupAssignmentSchedule,
)
from msgraph.generated.models.privileged_access_group_assignment_schedule_request import (
    PrivilegedAccessGroupAssignmentScheduleRequest,
)
from msgraph.generated.models.unified_role_assignment_schedule import (
    UnifiedRoleAssignmentSchedule,
)
from msgraph.generated.models.unified_role_assignment_schedule_instance import (
    UnifiedRoleAssignmentScheduleInstance,
)
from msgraph.generated.models.unified_role_assignment_schedule_request import (
    UnifiedRoleAssignmentScheduleRequest,
)
from msgraph.generated.models.user import User
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient
from msgraph_core import GraphClientFactory

from engine.targets.base import TargetError
from engine.targets.entra.settings import WHERE, Connection

T = TypeVar("T")
USER_FIELDS = ["id", "userPrincipalName", "accountEnabled", "userType", "displayName"]
_TIMEOUT = httpx.Timeout(60.0, connect=15.0)
# At most this many pages of one listing: a loop in nextLinks must not hang reconcile.
_MAX_PAGES = 1000


def odata_string(value: str) -> str:
    """``value`` as an OData string literal (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


class Graph:
    """Runs operations against one tenant's Graph with one credential."""

    def __init__(self, conn: Connection, credential: TokenCredential) -> None:
        self.conn = conn
        self._credential = credential

    def run(self, operation: Callable[[Session], Awaitable[T]]) -> T:
        return asyncio.run(self._run(operation))

    async def _run(self, operation: Callable[[Session], Awaitable[T]]) -> T:
        host = urlsplit(self.conn.graph).hostname or ""
        # The token goes to the configured Graph host only, never to a nextLink elsewhere.
        auth = AzureIdentityAuthenticationProvider(
            self._credential, scopes=[self.conn.scope], allowed_hosts=[host])
        # The SDK wraps the client's transport in its middleware, and closing the client
        # does not close the wrapped one: keep it, to close it ourselves.
        transport = httpx.AsyncHTTPTransport(http2=True)
        http = GraphClientFactory.create_with_default_middleware(
            client=httpx.AsyncClient(timeout=_TIMEOUT, transport=transport))
        adapter = GraphRequestAdapter(auth, client=http)
        adapter.base_url = self.conn.graph
        try:
            return await operation(Session(GraphServiceClient(request_adapter=adapter)))
        except ODataError as exc:
            raise TargetError(f"{WHERE}: {describe(exc)}") from None
        except ClientAuthenticationError as exc:
            raise TargetError(f"{WHERE}: cannot sign in to Microsoft Entra as app "
                              f"{self.conn.client_id} in tenant {self.conn.tenant_id} "
                              f"({self.conn.auth}): {_first_line(exc.message)}") from None
        except AzureError as exc:
            raise TargetError(f"{WHERE}: cannot reach Microsoft Entra's token endpoint: "
                              f"{_first_line(str(exc))}") from None
        except APIError as exc:
            raise TargetError(f"{WHERE}: Microsoft Graph answered HTTP "
                              f"{exc.response_status_code}: {_first_line(str(exc))}") from None
        except httpx.HTTPError as exc:
            raise TargetError(f"{WHERE}: cannot reach Microsoft Graph at {self.conn.graph}: "
                              f"{type(exc).__name__}: {exc}") from None
        finally:
            await http.aclose()
            await transport.aclose()


def describe(exc: ODataError) -> str:
    """Graph's error as one line: status, code and message."""
    error = exc.error
    code = error.code if error is not None and error.code else "error"
    message = error.message if error is not None and error.message else str(exc)
    return f"Microsoft Graph refused (HTTP {exc.response_status_code} {code}): " \
           f"{_first_line(message)}"


def not_found(exc: ODataError) -> bool:
    return exc.response_status_code == 404


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "(no message)"
    return line[:500]


def _config(filter: str | None = None, select: list[str] | None = None,
            expand: list[str] | None = None) -> RequestConfiguration[Any]:
    params = _Query(filter=filter, select=select, expand=expand)
    return RequestConfiguration(query_parameters=params)


@dataclass
class _Query:
    """Query parameters for any collection (the SDK's per-builder classes are alike)."""

    filter: str | None
    select: list[str] | None
    expand: list[str] | None

    def get_query_parameter(self, original_name: str) -> str:
        return f"%24{original_name}" if original_name in ("filter", "select", "expand") \
            else original_name


async def _all(builder: Any, config: RequestConfiguration[Any]) -> list[Any]:
    """Every item of a collection, following @odata.nextLink."""
    page = await builder.get(request_configuration=config)
    items: list[Any] = []
    for _ in range(_MAX_PAGES):
        if page is None:
            return items
        items.extend(page.value or [])
        if not page.odata_next_link:
            return items
        page = await builder.with_url(page.odata_next_link).get()
    raise TargetError(f"{WHERE}: Microsoft Graph returned more than {_MAX_PAGES} pages")


class Session:
    """The Graph calls the Entra target makes, inside one ``Graph.run``."""

    def __init__(self, client: GraphServiceClient) -> None:
        self.client = client

    # -- users and groups -----------------------------------------------------------------

    async def user(self, id_or_upn: str) -> User | None:
        """The user with this object id or UPN; None if there is none."""
        try:
            return await self.client.users.by_user_id(id_or_upn).get(
                request_configuration=_config(select=USER_FIELDS))
        except ODataError as exc:
            if not_found(exc):
                return None
            raise

    async def users_with_upn(self, upn: str) -> list[User]:
        return await _all(self.client.users, _config(
            filter=f"userPrincipalName eq {odata_string(upn)}", select=USER_FIELDS))

    async def transitive_members(self, group_id: str) -> list[DirectoryObject]:
        return await _all(self.client.groups.by_group_id(group_id).transitive_members,
                          _config())

    async def owners(self, group_id: str) -> list[DirectoryObject]:
        return await _all(self.client.groups.by_group_id(group_id).owners, _config())

    # -- directory roles ------------------------------------------------------------------

    @property
    def _directory(self) -> Any:
        return self.client.role_management.directory

    async def role_schedules(self, principal_id: str | None = None,
                             role_id: str | None = None) -> list[UnifiedRoleAssignmentSchedule]:
        """Active role assignment schedules, PIM-made or direct."""
        clauses = []
        if principal_id is not None:
            clauses.append(f"principalId eq {odata_string(principal_id)}")
        if role_id is not None:
            clauses.append(f"roleDefinitionId eq {odata_string(role_id)}")
        return await _all(self._directory.role_assignment_schedules,
                          _config(filter=" and ".join(clauses) or None))

    async def role_instances(self, role_id: str) -> list[UnifiedRoleAssignmentScheduleInstance]:
        """Who holds the role right now, with each principal expanded."""
        return await _all(self._directory.role_assignment_schedule_instances, _config(
            filter=f"roleDefinitionId eq {odata_string(role_id)}", expand=["principal"]))

    async def role_requests(self, principal_id: str) -> list[UnifiedRoleAssignmentScheduleRequest]:
        return await _all(self._directory.role_assignment_schedule_requests, _config(
            filter=f"principalId eq {odata_string(principal_id)}"))

    async def post_role_request(self, body: UnifiedRoleAssignmentScheduleRequest
                                ) -> UnifiedRoleAssignmentScheduleRequest:
        made: UnifiedRoleAssignmentScheduleRequest | None = \
            await self._directory.role_assignment_schedule_requests.post(body)
        if made is None:
            raise TargetError(f"{WHERE}: Microsoft Graph answered the schedule request with "
                              "no body")
        return made

    # -- PIM for Groups -------------------------------------------------------------------

    @property
    def _groups(self) -> Any:
        return self.client.identity_governance.privileged_access.group

    async def group_schedules(self, group_id: str
                              ) -> list[PrivilegedAccessGroupAssignmentSchedule]:
        return await _all(self._groups.assignment_schedules, _config(
            filter=f"groupId eq {odata_string(group_id)}"))

    async def group_requests(self, group_id: str
                             ) -> list[PrivilegedAccessGroupAssignmentScheduleRequest]:
        return await _all(self._groups.assignment_schedule_requests, _config(
            filter=f"groupId eq {odata_string(group_id)}"))

    async def post_group_request(self, body: PrivilegedAccessGroupAssignmentScheduleRequest
                                 ) -> PrivilegedAccessGroupAssignmentScheduleRequest:
        made: PrivilegedAccessGroupAssignmentScheduleRequest | None = \
            await self._groups.assignment_schedule_requests.post(body)
        if made is None:
            raise TargetError(f"{WHERE}: Microsoft Graph answered the schedule request with "
                              "no body")
        return made
