"""A Microsoft Graph and Entra token endpoint emulator for the tests: HTTPS on loopback.

What it is for: gitjit's Entra target (engine/targets/entra) talks to Microsoft Graph through
Microsoft's own SDK (msgraph-sdk on kiota) and signs in with azure-identity. The tests point
the connection's ``authority_host`` and ``graph_endpoint`` at this emulator, so the whole path
(MSAL's tenant discovery, the token request with a secret, a certificate assertion or a
GitHub OIDC token, TLS, kiota's request building, pagination, error parsing) runs for real;
only Microsoft's servers are replaced. docs/entra-emulator.md has the full story; in short:

- TLS is real: azure-identity accepts only https authorities, so the emulator makes its own CA
  and a certificate for 127.0.0.1 (``ca_file``); tests trust it through ``SSL_CERT_FILE`` (httpx,
  urllib) and ``REQUESTS_CA_BUNDLE`` (azure-identity's requests transport).
- Tokens are real exchanges: ``/{tenant}/oauth2/v2.0/token`` checks a client secret, verifies a
  certificate assertion's signature against the registered certificate, or verifies a
  federated assertion (a GitHub Actions OIDC token, minted by the emulator's own GitHub issuer
  at ``/github-actions/idtoken``) against the app's federated credentials. Graph calls need the
  token it issued, and each route needs one of its documented application permissions.
- Shapes are Graph's, through the SDK's own models: every request body is parsed into the
  kiota model of its route and serialized again, and must come out unchanged with no property
  the model does not know; every reply is built from kiota models, serialized, parsed back and
  serialized again the same way. A violation is answered with a 500 naming it and recorded in
  ``violations``; the ``graph`` fixture fails the test at teardown if any.
- PIM is emulated where gitjit relies on it: schedule requests (adminAssign, adminUpdate,
  adminRemove) for directory roles and PIM for Groups, one active schedule per principal and
  privilege (RoleAssignmentExists), the role settings that matter for admin assignments
  (maximum duration, justification, ticket, MFA), and native expiry: a schedule whose end has
  passed on the emulator's clock (``now``) is gone from every listing.

Usage::

    with GraphEmulator() as graph:
        app = graph.add_app(permissions=LEAST_PERMISSIONS, secret="s3cret")
        hana = graph.add_user("hana@contoso.com")
        graph.add_role(USER_ADMIN, "User Administrator")
"""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
import itertools
import json
import re
import secrets
import ssl
import tempfile
import threading
import traceback
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kiota_abstractions.serialization import Parsable
from kiota_serialization_json.json_parse_node import JsonParseNode
from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter
from msgraph.generated.models.directory_object import DirectoryObject
from msgraph.generated.models.directory_object_collection_response import (
    DirectoryObjectCollectionResponse,
)
from msgraph.generated.models.expiration_pattern import ExpirationPattern
from msgraph.generated.models.expiration_pattern_type import ExpirationPatternType
from msgraph.generated.models.group import Group as GroupModel
from msgraph.generated.models.identity import Identity
from msgraph.generated.models.identity_set import IdentitySet
from msgraph.generated.models.o_data_errors.main_error import MainError
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.privileged_access_group_assignment_schedule import (
    PrivilegedAccessGroupAssignmentSchedule,
)
from msgraph.generated.models.privileged_access_group_assignment_schedule_collection_response import (  # noqa: E501
    PrivilegedAccessGroupAssignmentScheduleCollectionResponse,
)
from msgraph.generated.models.privileged_access_group_assignment_schedule_request import (
    PrivilegedAccessGroupAssignmentScheduleRequest,
)
from msgraph.generated.models.privileged_access_group_assignment_schedule_request_collection_response import (  # noqa: E501
    PrivilegedAccessGroupAssignmentScheduleRequestCollectionResponse,
)
from msgraph.generated.models.privileged_access_group_assignment_type import (
    PrivilegedAccessGroupAssignmentType,
)
from msgraph.generated.models.privileged_access_group_member_type import (
    PrivilegedAccessGroupMemberType,
)
from msgraph.generated.models.privileged_access_group_relationships import (
    PrivilegedAccessGroupRelationships,
)
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.request_schedule import RequestSchedule
from msgraph.generated.models.schedule_request_actions import ScheduleRequestActions
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph.generated.models.ticket_info import TicketInfo
from msgraph.generated.models.unified_role_assignment import UnifiedRoleAssignment
from msgraph.generated.models.unified_role_assignment_schedule import (
    UnifiedRoleAssignmentSchedule,
)
from msgraph.generated.models.unified_role_assignment_schedule_collection_response import (
    UnifiedRoleAssignmentScheduleCollectionResponse,
)
from msgraph.generated.models.unified_role_assignment_schedule_instance import (
    UnifiedRoleAssignmentScheduleInstance,
)
from msgraph.generated.models.unified_role_assignment_schedule_instance_collection_response import (  # noqa: E501
    UnifiedRoleAssignmentScheduleInstanceCollectionResponse,
)
from msgraph.generated.models.unified_role_assignment_schedule_request import (
    UnifiedRoleAssignmentScheduleRequest,
)
from msgraph.generated.models.unified_role_assignment_schedule_request_collection_response import (  # noqa: E501
    UnifiedRoleAssignmentScheduleRequestCollectionResponse,
)
from msgraph.generated.models.unified_role_schedule_request_actions import (
    UnifiedRoleScheduleRequestActions,
)
from msgraph.generated.models.user import User as UserModel
from msgraph.generated.models.user_collection_response import UserCollectionResponse

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GRAPH_RESOURCE = "https://graph.microsoft.com"
DEFAULT_PAGE_SIZE = 2
"""Small on purpose: every listing gitjit makes crosses pages (@odata.nextLink)."""
TOKEN_LIFETIME = 3599

# Application permissions each route accepts, least privileged first (Microsoft Graph's
# permission tables for v1.0). The Entra target's documented set is LEAST_PERMISSIONS.
READ_USERS = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All",
              "Directory.ReadWrite.All")
READ_MEMBERS = ("GroupMember.Read.All", "Group.Read.All", "GroupMember.ReadWrite.All",
                "Group.ReadWrite.All", "Directory.Read.All")
READ_ROLE_SCHEDULES = ("RoleAssignmentSchedule.Read.Directory",
                       "RoleAssignmentSchedule.ReadWrite.Directory",
                       "RoleManagement.Read.Directory", "RoleManagement.Read.All",
                       "RoleManagement.ReadWrite.Directory")
WRITE_ROLE_SCHEDULES = ("RoleAssignmentSchedule.ReadWrite.Directory",
                        "RoleManagement.ReadWrite.Directory")
READ_GROUP_SCHEDULES = ("PrivilegedAssignmentSchedule.Read.AzureADGroup",
                        "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup")
WRITE_GROUP_SCHEDULES = ("PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",)
LEAST_PERMISSIONS = frozenset({"User.Read.All", "GroupMember.Read.All",
                               "RoleAssignmentSchedule.ReadWrite.Directory",
                               "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup"})
ADMIN_PERMISSIONS = frozenset({"RoleManagement.ReadWrite.Directory",
                               "GroupMember.ReadWrite.All", "User.Read.All",
                               "GroupMember.Read.All",
                               "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup"})
"""What a tenant administrator's tool holds, for changes made 'by hand' in tests."""

_ALLOWED_EXTRA = frozenset({"@odata.context"})


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ---------------------------------------------------------------------------------------------
# The tenant


@dataclass
class App:
    client_id: str
    name: str
    permissions: set[str]
    secret: str | None = None
    certificates: list[x509.Certificate] = field(default_factory=list)
    federated: list[tuple[str, str, str]] = field(default_factory=list)
    """(issuer, subject, audience) of each federated identity credential."""


@dataclass
class User:
    id: str
    upn: str
    display_name: str
    enabled: bool = True
    user_type: str = "Member"


@dataclass
class Group:
    id: str
    display_name: str
    members: set[str] = field(default_factory=set)
    """Direct members, added outside PIM (object ids of users or groups)."""
    owners: set[str] = field(default_factory=set)
    role_assignable: bool = False


@dataclass
class RolePolicy:
    """The PIM settings of one role that apply to admin (active) assignments."""

    max_duration: timedelta | None = None
    """Expiration_Admin_Assignment maximumDuration; None allows permanent assignments."""
    require_justification: bool = True
    require_ticket: bool = False
    require_mfa: bool = False


@dataclass
class Schedule:
    """An active assignment schedule: a directory role (group_id None) or a PIM group's."""

    id: str
    principal_id: str
    privilege: str
    """The role definition id, or the group id."""
    scope: str
    """The directory scope, or the group access kind (member/owner)."""
    start: datetime
    end: datetime | None
    created_using: str | None
    created: datetime
    modified: datetime | None = None
    group: bool = False


class GraphEmulator:
    """One tenant behind an HTTPS server on 127.0.0.1; use as a context manager."""

    def __init__(self, tenant_id: str | None = None, domain: str = "contoso.com") -> None:
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.domain = domain
        self.apps: dict[str, App] = {}
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.service_principals: dict[str, str] = {}
        self.roles: dict[str, str] = {}
        self.policies: dict[str, RolePolicy] = {}
        self.schedules: dict[str, Schedule] = {}
        self.role_requests: list[UnifiedRoleAssignmentScheduleRequest] = []
        self.group_requests: list[PrivilegedAccessGroupAssignmentScheduleRequest] = []
        self.now: datetime | None = None
        """The emulator's clock for PIM (None: the real clock); tokens use the real clock."""
        self.page_size = DEFAULT_PAGE_SIZE
        self.received: list[tuple[str, str, Any]] = []
        """(method, path with query, JSON body or None) of every Graph call, in order."""
        self.token_requests: list[dict[str, str]] = []
        self.violations: list[str] = []
        self.github_subject = "repo:acme/access:environment:gitjit-targets"
        self.github_runtime_token = secrets.token_urlsafe(24)
        self._github_key = _keys()[2]
        self._tokens: dict[str, tuple[str, datetime]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._dir = tempfile.TemporaryDirectory(prefix="graph-emulator-")
        self.ca_file, context = _tls(Path(self._dir.name))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    def __enter__(self) -> GraphEmulator:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._dir.cleanup()

    # -- the harness ------------------------------------------------------------------------

    def clock(self) -> datetime:
        return self.now if self.now is not None else datetime.now(UTC)

    def add_app(self, permissions: Iterable[str], *, client_id: str | None = None,
                secret: str | None = None, name: str = "gitjit") -> App:
        app = App(client_id or str(uuid.uuid4()), name, set(permissions), secret)
        self.apps[app.client_id] = app
        return app

    def add_user(self, upn: str, *, object_id: str | None = None, enabled: bool = True,
                 user_type: str = "Member") -> User:
        user = User(object_id or str(uuid.uuid4()), upn, upn.split("@")[0], enabled, user_type)
        self.users[user.id] = user
        return user

    def add_group(self, name: str, *, object_id: str | None = None,
                  role_assignable: bool = False) -> Group:
        group = Group(object_id or str(uuid.uuid4()), name, role_assignable=role_assignable)
        self.groups[group.id] = group
        return group

    def add_role(self, role_id: str, name: str, policy: RolePolicy | None = None) -> None:
        self.roles[role_id] = name
        self.policies[role_id] = policy or RolePolicy(max_duration=timedelta(hours=8))

    def github_token(self, audience: str = "api://AzureADTokenExchange",
                     subject: str | None = None, issuer: str = GITHUB_ISSUER,
                     key: rsa.RSAPrivateKey | None = None) -> str:
        """A GitHub Actions OIDC token as the runner would hand it out."""
        now = int(datetime.now(UTC).timestamp())
        claims = {"iss": issuer, "sub": subject or self.github_subject, "aud": audience,
                  "iat": now, "nbf": now, "exp": now + 300, "repository": "acme/access",
                  "environment": "gitjit-targets", "ref": "refs/heads/main"}
        return jwt.encode(claims, key or self._github_key, algorithm="RS256",
                          headers={"kid": "emulated-github"})

    def active(self) -> list[Schedule]:
        """Schedules in force on the emulator's clock; the ones that ended are dropped, as
        Entra drops them."""
        now = self.clock()
        with self._lock:
            for sid in [s.id for s in self.schedules.values()
                        if s.end is not None and s.end <= now]:
                del self.schedules[sid]
            return [s for s in self.schedules.values() if s.start <= now]

    def holds_role(self, principal_id: str, role_id: str, scope: str = "/") -> bool:
        return any(not s.group and s.principal_id == principal_id and s.privilege == role_id
                   and s.scope == scope for s in self.active())

    def assign_by_hand(self, principal_id: str, role_id: str, scope: str = "/") -> Schedule:
        """A permanent assignment made outside PIM and gitjit (what the role assignments API
        makes); the tests prefer the real call through the SDK, this is for setting up."""
        return self._new_schedule(principal_id, role_id, scope, self.clock(), None,
                                  f"hand-{next(self._ids)}", group=False)

    def members(self, group_id: str) -> set[str]:
        group = self.groups[group_id]
        return group.members | {s.principal_id for s in self.active()
                                if s.group and s.privilege == group_id and s.scope == "member"}

    def owners(self, group_id: str) -> set[str]:
        group = self.groups[group_id]
        return group.owners | {s.principal_id for s in self.active()
                               if s.group and s.privilege == group_id and s.scope == "owner"}

    def _new_schedule(self, principal_id: str, privilege: str, scope: str, start: datetime,
                      end: datetime | None, created_using: str | None, *, group: bool,
                      schedule_id: str | None = None) -> Schedule:
        schedule = Schedule(schedule_id or str(uuid.uuid4()), principal_id, privilege, scope,
                            start, end, created_using, self.clock(), group=group)
        with self._lock:
            self.schedules[schedule.id] = schedule
        return schedule

    # -- tokens ------------------------------------------------------------------------------

    def openid_configuration(self, tenant: str) -> dict[str, Any]:
        base = f"{self.url}/{tenant}"
        return {"token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "issuer": f"{self.url}/{self.tenant_id}/v2.0",
                "jwks_uri": f"{self.url}/{tenant}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "token"],
                "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                          "private_key_jwt"]}

    def issue_token(self, tenant: str, form: dict[str, str]) -> dict[str, Any]:
        self.token_requests.append({k: v for k, v in form.items()
                                    if k not in ("client_secret", "client_assertion")})
        if tenant not in (self.tenant_id, self.domain):
            raise _oauth("invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            raise _oauth("unsupported_grant_type", 70003, "Only client_credentials here.")
        app = self.apps.get(form.get("client_id", ""))
        if app is None:
            raise _oauth("unauthorized_client", 700016,
                         f"Application with identifier '{form.get('client_id')}' was not "
                         "found in the directory.")
        scopes = form.get("scope", "").split()
        if f"{GRAPH_RESOURCE}/.default" not in scopes:
            raise _oauth("invalid_scope", 1002012, f"The provided value for scope "
                         f"{form.get('scope')!r} is not valid.")
        if "client_secret" in form:
            if app.secret is None or not secrets.compare_digest(form["client_secret"],
                                                                app.secret):
                raise _oauth("invalid_client", 7000215, "Invalid client secret provided.")
        elif form.get("client_assertion_type") == \
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            self._check_assertion(app, tenant, form.get("client_assertion", ""))
        else:
            raise _oauth("invalid_client", 7000218, "The request body must contain "
                         "'client_assertion' or 'client_secret'.")
        token = "emu." + secrets.token_urlsafe(32)
        self._tokens[token] = (app.client_id,
                               datetime.now(UTC) + timedelta(seconds=TOKEN_LIFETIME))
        return {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME,
                "ext_expires_in": TOKEN_LIFETIME, "access_token": token}

    def _check_assertion(self, app: App, tenant: str, assertion: str) -> None:
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise _oauth("invalid_client", 50027, "Invalid JWT token.") from None
        if claims.get("iss") == app.client_id:
            self._check_certificate(app, tenant, assertion, header)
            return
        matching = [f for f in app.federated if f[0] == claims.get("iss")]
        if not matching:
            raise _oauth("invalid_client", 700211, f"No matching federated identity record "
                         f"found for presented assertion issuer '{claims.get('iss')}'.")
        try:
            verified = jwt.decode(assertion, self._github_key.public_key(),
                                  algorithms=["RS256"], audience=[f[2] for f in matching],
                                  issuer=GITHUB_ISSUER)
        except jwt.PyJWTError as exc:
            raise _oauth("invalid_client", 700024, f"Client assertion is not valid: "
                         f"{exc}") from None
        if not any(f[1] == verified.get("sub") and f[2] in _aud(verified) for f in matching):
            raise _oauth("invalid_client", 700213, f"No matching federated identity record "
                         f"found for presented assertion subject '{verified.get('sub')}'.")

    def _check_certificate(self, app: App, tenant: str, assertion: str,
                           header: dict[str, Any]) -> None:
        for cert in app.certificates:
            der = cert.public_bytes(serialization.Encoding.DER)
            thumbs = {_b64url(hashlib.sha1(der).digest()),  # noqa: S324 - x5t is SHA-1
                      _b64url(hashlib.sha256(der).digest())}
            # MSAL keeps base64's padding; RFC 7515 leaves it out: accept both.
            given = {str(header.get(k, "")).rstrip("=") for k in ("x5t", "x5t#S256")}
            if given & thumbs:
                try:
                    jwt.decode(assertion, cert.public_key(), algorithms=["RS256", "PS256"],  # type: ignore[arg-type]
                               audience=f"{self.url}/{tenant}/oauth2/v2.0/token",
                               issuer=app.client_id)
                except jwt.PyJWTError as exc:
                    raise _oauth("invalid_client", 700027, f"Client assertion failed "
                                 f"signature validation: {exc}") from None
                return
        raise _oauth("invalid_client", 700027, "The certificate with identifier used to sign "
                     "the client assertion is not registered on application.")

    def app_of(self, authorization: str | None) -> App:
        scheme, _, token = (authorization or "").partition(" ")
        held = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if held is None or held[1] <= datetime.now(UTC):
            raise GraphError(401, "InvalidAuthenticationToken",
                             "Access token is empty." if not token else
                             "Access token validation failure. Invalid audience.")
        return self.apps[held[0]]

    # -- Graph ---------------------------------------------------------------------------------

    def graph(self, method: str, path: str, query: dict[str, str], body: Any,
              app: App) -> tuple[int, Parsable | None]:
        route = _match(method, path)
        if route is None:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment "
                             f"'{path.split('/')[-1]}'.")
        handler, permissions, params = route
        if not app.permissions & set(permissions):
            raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to "
                             f"complete the operation. (needs one of: {', '.join(permissions)})")
        with self._lock:
            return handler(self, app, query, body, *params)

    def page(self, items: list[Parsable], query: dict[str, str], path: str,
             response: Callable[[], Any]) -> tuple[int, Parsable]:
        skip = int(query.get("$skiptoken", "0") or "0")
        out = response()
        out.value = items[skip: skip + self.page_size]
        if skip + self.page_size < len(items):
            rest = {k: v for k, v in query.items() if k != "$skiptoken"}
            rest["$skiptoken"] = str(skip + self.page_size)
            out.odata_next_link = f"{self.url}/v1.0/{path}?{urllib.parse.urlencode(rest)}"
        out.additional_data["@odata.context"] = f"{GRAPH_RESOURCE}/v1.0/$metadata#{path}"
        return 200, out

    def directory_object(self, object_id: str, select: set[str] | None = None
                         ) -> DirectoryObject | None:
        user = self.users.get(object_id)
        if user is not None:
            return _user_model(user, select)
        group = self.groups.get(object_id)
        if group is not None:
            return GroupModel(id=group.id, display_name=group.display_name,
                              is_assignable_to_role=group.role_assignable,
                              odata_type="#microsoft.graph.group")
        if object_id in self.service_principals:
            return ServicePrincipal(id=object_id,
                                    display_name=self.service_principals[object_id],
                                    odata_type="#microsoft.graph.servicePrincipal")
        return None

    def find_schedule(self, principal_id: str, privilege: str, scope: str, group: bool
                      ) -> Schedule | None:
        for s in self.active():
            if (s.principal_id, s.privilege, s.scope, s.group) == \
                    (principal_id, privilege, scope, group):
                return s
        for s in self.schedules.values():  # a future-dated one counts too
            if (s.principal_id, s.privilege, s.scope, s.group) == \
                    (principal_id, privilege, scope, group):
                return s
        return None

    def check_policy(self, role_id: str | None, info: RequestSchedule | None,
                     justification: str | None, ticket: TicketInfo | None
                     ) -> tuple[datetime, datetime | None]:
        """(start, end) of a request's schedule, or the PIM rule it breaks."""
        policy = self.policies.get(role_id or "", RolePolicy(max_duration=timedelta(days=365)))
        failed: list[str] = []
        if info is None or info.expiration is None:
            raise GraphError(400, "InvalidScheduleInfo", "scheduleInfo is required.")
        start = info.start_date_time or self.clock()
        expiration = info.expiration
        end: datetime | None = None
        if expiration.type == ExpirationPatternType.AfterDateTime and expiration.end_date_time:
            end = expiration.end_date_time
        elif expiration.type == ExpirationPatternType.AfterDuration and expiration.duration:
            end = start + expiration.duration
        elif expiration.type != ExpirationPatternType.NoExpiration:
            raise GraphError(400, "InvalidScheduleInfo", "The expiration is not valid.")
        if end is not None and end <= start:
            raise GraphError(400, "InvalidScheduleInfo", "The end is before the start.")
        if policy.max_duration is not None and (end is None or end - start >
                                                policy.max_duration):
            failed.append("ExpirationRule")
        if policy.require_justification and not justification:
            failed.append("JustificationRule")
        if policy.require_ticket and (ticket is None or not ticket.ticket_number):
            failed.append("TicketingRule")
        if policy.require_mfa:
            failed.append("MfaRule")  # an app has no session that was challenged for MFA
        if failed:
            raise GraphError(400, "RoleAssignmentRequestPolicyValidationFailed",
                             f"The following policy rules failed: {json.dumps(failed)}")
        return start, end


def _aud(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    return aud if isinstance(aud, list) else [str(aud)]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class _OAuthError(Exception):
    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body["error_description"])
        self.body = body


def _oauth(error: str, code: int, text: str) -> _OAuthError:
    return _OAuthError({"error": error, "error_description": f"AADSTS{code}: {text}",
                        "error_codes": [code], "timestamp": datetime.now(UTC).isoformat(),
                        "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4())})


def _user_model(user: User, select: set[str] | None = None) -> UserModel:
    model = UserModel(id=user.id, odata_type="#microsoft.graph.user")
    values = {"userPrincipalName": ("user_principal_name", user.upn),
              "displayName": ("display_name", user.display_name),
              "accountEnabled": ("account_enabled", user.enabled),
              "userType": ("user_type", user.user_type)}
    for name, (attr, value) in values.items():
        if select is None or name in select:
            setattr(model, attr, value)
    return model


# ---------------------------------------------------------------------------------------------
# Routes


Handler = Callable[..., tuple[int, Parsable | None]]
_ROUTES: list[tuple[str, re.Pattern[str], Handler, tuple[str, ...]]] = []
_BODY_MODELS: dict[Handler, type[Parsable]] = {}


def route(method: str, pattern: str, permissions: tuple[str, ...],
          body: type[Parsable] | None = None) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _ROUTES.append((method, re.compile(pattern), fn, permissions))
        if body is not None:
            _BODY_MODELS[fn] = body
        return fn
    return register


def _match(method: str, path: str) -> tuple[Handler, tuple[str, ...], tuple[str, ...]] | None:
    for m, pattern, fn, permissions in _ROUTES:
        found = pattern.fullmatch(path)
        if m == method and found is not None:
            return fn, permissions, tuple(urllib.parse.unquote(g) for g in found.groups())
    return None


def body_model(method: str, path: str) -> type[Parsable] | None:
    found = _match(method, path)
    return _BODY_MODELS.get(found[0]) if found is not None else None


_CLAUSE = re.compile(r"\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*")


def parse_filter(text: str | None, allowed: set[str]) -> dict[str, str]:
    """``a eq 'x' and b eq 'y'`` -> {a: x, b: y}; anything else is a 400, as Graph answers
    filters a resource does not support."""
    if not text:
        return {}
    out: dict[str, str] = {}
    for clause in re.split(r"\s+and\s+", text.strip()):
        found = _CLAUSE.fullmatch(clause)
        if found is None or found.group(1) not in allowed:
            raise GraphError(400, "BadRequest", f"Invalid filter clause: {clause!r}")
        out[found.group(1)] = found.group(2).replace("''", "'")
    return out


@route("GET", r"users/([^/]+)", READ_USERS)
def _get_user(emu: GraphEmulator, app: App, query: dict[str, str], body: Any,
              key: str) -> tuple[int, Parsable | None]:
    select = set(query["$select"].split(",")) if query.get("$select") else None
    for user in emu.users.values():
        if user.id == key.lower() or user.upn.lower() == key.lower():
            return 200, _user_model(user, select)
    raise GraphError(404, "Request_ResourceNotFound", f"Resource '{key}' does not exist or "
                     "one of its queried reference-property objects are not present.")


@route("GET", r"users", READ_USERS)
def _list_users(emu: GraphEmulator, app: App, query: dict[str, str], body: Any
                ) -> tuple[int, Parsable | None]:
    wanted = parse_filter(query.get("$filter"), {"userPrincipalName"})
    select = set(query["$select"].split(",")) if query.get("$select") else None
    found = [_user_model(u, select) for u in sorted(emu.users.values(), key=lambda u: u.upn)
             if "userPrincipalName" not in wanted
             or u.upn.lower() == wanted["userPrincipalName"].lower()]
    return emu.page(list(found), query, "users", UserCollectionResponse)


def _members(emu: GraphEmulator, group_id: str, seen: set[str]) -> list[str]:
    out: list[str] = []
    for member in sorted(emu.members(group_id)):
        out.append(member)
        if member in emu.groups and member not in seen:
            seen.add(member)
            out += _members(emu, member, seen)
    return list(dict.fromkeys(out))


@route("GET", r"groups/([^/]+)/transitiveMembers", READ_MEMBERS)
def _transitive_members(emu: GraphEmulator, app: App, query: dict[str, str], body: Any,
                        group_id: str) -> tuple[int, Parsable | None]:
    if group_id not in emu.groups:
        raise GraphError(404, "Request_ResourceNotFound", f"Resource '{group_id}' does not "
                         "exist.")
    objects = [emu.directory_object(m) for m in _members(emu, group_id, {group_id})]
    return emu.page([o for o in objects if o is not None], query,
                    f"groups/{group_id}/transitiveMembers", DirectoryObjectCollectionResponse)


@route("GET", r"groups/([^/]+)/owners", READ_MEMBERS)
def _owners(emu: GraphEmulator, app: App, query: dict[str, str], body: Any,
            group_id: str) -> tuple[int, Parsable | None]:
    if group_id not in emu.groups:
        raise GraphError(404, "Request_ResourceNotFound", f"Resource '{group_id}' does not "
                         "exist.")
    objects = [emu.directory_object(m) for m in sorted(emu.owners(group_id))]
    return emu.page([o for o in objects if o is not None], query,
                    f"groups/{group_id}/owners", DirectoryObjectCollectionResponse)


@route("POST", r"groups/([^/]+)/members/\$ref", ("GroupMember.ReadWrite.All",),
       body=ReferenceCreate)
def _add_member(emu: GraphEmulator, app: App, query: dict[str, str], body: ReferenceCreate,
                group_id: str) -> tuple[int, Parsable | None]:
    member = (body.odata_id or "").rstrip("/").split("/")[-1]
    if group_id not in emu.groups or emu.directory_object(member) is None:
        raise GraphError(404, "Request_ResourceNotFound", "Resource does not exist.")
    emu.groups[group_id].members.add(member)
    return 204, None


def _role_schedule_model(emu: GraphEmulator, s: Schedule) -> UnifiedRoleAssignmentSchedule:
    return UnifiedRoleAssignmentSchedule(
        id=s.id, principal_id=s.principal_id, role_definition_id=s.privilege,
        directory_scope_id=s.scope, created_using=s.created_using, created_date_time=s.created,
        modified_date_time=s.modified, status="Provisioned", assignment_type="Assigned",
        member_type="Direct", schedule_info=_schedule_info(s))


def _schedule_info(s: Schedule) -> RequestSchedule:
    if s.end is None:
        return RequestSchedule(start_date_time=s.start, expiration=ExpirationPattern(
            type=ExpirationPatternType.NoExpiration))
    return RequestSchedule(start_date_time=s.start, expiration=ExpirationPattern(
        type=ExpirationPatternType.AfterDateTime, end_date_time=s.end))


@route("GET", r"roleManagement/directory/roleAssignmentSchedules", READ_ROLE_SCHEDULES)
def _role_schedules(emu: GraphEmulator, app: App, query: dict[str, str], body: Any
                    ) -> tuple[int, Parsable | None]:
    wanted = parse_filter(query.get("$filter"), {"principalId", "roleDefinitionId"})
    items = [_role_schedule_model(emu, s) for s in _role_listing(emu, wanted, future=True)]
    return emu.page(list(items), query, "roleManagement/directory/roleAssignmentSchedules",
                    UnifiedRoleAssignmentScheduleCollectionResponse)


def _role_listing(emu: GraphEmulator, wanted: dict[str, str], *, future: bool
                  ) -> list[Schedule]:
    emu.active()  # drops what ended
    pool = list(emu.schedules.values()) if future else emu.active()
    return sorted((s for s in pool if not s.group
                   and s.principal_id == wanted.get("principalId", s.principal_id)
                   and s.privilege == wanted.get("roleDefinitionId", s.privilege)),
                  key=lambda s: (s.created, s.id))


@route("GET", r"roleManagement/directory/roleAssignmentScheduleInstances", READ_ROLE_SCHEDULES)
def _role_instances(emu: GraphEmulator, app: App, query: dict[str, str], body: Any
                    ) -> tuple[int, Parsable | None]:
    wanted = parse_filter(query.get("$filter"), {"principalId", "roleDefinitionId"})
    expand = query.get("$expand", "")
    if expand not in ("", "principal"):
        raise GraphError(400, "BadRequest", f"Could not expand {expand!r}.")
    items = []
    for s in _role_listing(emu, wanted, future=False):
        instance = UnifiedRoleAssignmentScheduleInstance(
            id=f"{s.id}-1", principal_id=s.principal_id, role_definition_id=s.privilege,
            directory_scope_id=s.scope, start_date_time=s.start, end_date_time=s.end,
            assignment_type="Assigned", member_type="Direct", role_assignment_schedule_id=s.id,
            role_assignment_origin_id=f"{s.id}-origin")
        if expand:
            instance.principal = emu.directory_object(s.principal_id)
        items.append(instance)
    return emu.page(list(items), query,
                    "roleManagement/directory/roleAssignmentScheduleInstances",
                    UnifiedRoleAssignmentScheduleInstanceCollectionResponse)


@route("GET", r"roleManagement/directory/roleAssignmentScheduleRequests", READ_ROLE_SCHEDULES)
def _role_requests(emu: GraphEmulator, app: App, query: dict[str, str], body: Any
                   ) -> tuple[int, Parsable | None]:
    wanted = parse_filter(query.get("$filter"), {"principalId", "roleDefinitionId"})
    items = [r for r in emu.role_requests
             if r.principal_id == wanted.get("principalId", r.principal_id)
             and r.role_definition_id == wanted.get("roleDefinitionId", r.role_definition_id)]
    return emu.page(list(items), query, "roleManagement/directory/roleAssignmentScheduleRequests",
                    UnifiedRoleAssignmentScheduleRequestCollectionResponse)


def _created_by(app: App) -> IdentitySet:
    return IdentitySet(application=Identity(id=app.client_id, display_name=app.name))


@route("POST", r"roleManagement/directory/roleAssignmentScheduleRequests",
       WRITE_ROLE_SCHEDULES, body=UnifiedRoleAssignmentScheduleRequest)
def _post_role_request(emu: GraphEmulator, app: App, query: dict[str, str],
                       body: UnifiedRoleAssignmentScheduleRequest
                       ) -> tuple[int, Parsable | None]:
    action = body.action
    principal, role = body.principal_id or "", body.role_definition_id or ""
    scope = body.directory_scope_id
    if emu.directory_object(principal) is None:
        raise GraphError(400, "InvalidPrincipal", f"The principal {principal!r} is not valid.")
    if role not in emu.roles:
        raise GraphError(400, "RoleNotFound", f"The role definition {role!r} does not exist.")
    if not scope:
        raise GraphError(400, "InvalidScope", "Either directoryScopeId or appScopeId is "
                         "required.")
    now = emu.clock()
    existing = emu.find_schedule(principal, role, scope, group=False)
    request_id = str(uuid.uuid4())
    if action == UnifiedRoleScheduleRequestActions.AdminAssign:
        if existing is not None:
            raise GraphError(400, "RoleAssignmentExists", "The Role assignment already exists.")
        start, end = emu.check_policy(role, body.schedule_info, body.justification,
                                      body.ticket_info)
        schedule = emu._new_schedule(principal, role, scope, start, end, request_id,
                                     group=False, schedule_id=request_id)
        status = "Provisioned"
    elif action in (UnifiedRoleScheduleRequestActions.AdminUpdate,
                    UnifiedRoleScheduleRequestActions.AdminExtend):
        if existing is None:
            raise GraphError(400, "RoleAssignmentDoesNotExist",
                             "The Role assignment does not exist.")
        start, end = emu.check_policy(role, body.schedule_info, body.justification,
                                      body.ticket_info)
        existing.start, existing.end, existing.modified = start, end, now
        schedule, status = existing, "Provisioned"
    elif action == UnifiedRoleScheduleRequestActions.AdminRemove:
        if existing is None:
            raise GraphError(400, "RoleAssignmentDoesNotExist",
                             "The Role assignment does not exist.")
        del emu.schedules[existing.id]
        schedule, status = existing, "Revoked"
    else:
        raise GraphError(400, "UnsupportedAction", f"An application cannot make {action} "
                         "requests.")
    made = UnifiedRoleAssignmentScheduleRequest(
        id=request_id, status=status, created_date_time=now, completed_date_time=now,
        action=action, principal_id=principal, role_definition_id=role,
        directory_scope_id=scope, is_validation_only=False, target_schedule_id=schedule.id,
        justification=body.justification, custom_data=body.custom_data,
        created_by=_created_by(app), schedule_info=body.schedule_info,
        ticket_info=body.ticket_info)
    emu.role_requests.append(made)
    return 201, made


@route("POST", r"roleManagement/directory/roleAssignments",
       ("RoleManagement.ReadWrite.Directory",), body=UnifiedRoleAssignment)
def _post_role_assignment(emu: GraphEmulator, app: App, query: dict[str, str],
                          body: UnifiedRoleAssignment) -> tuple[int, Parsable | None]:
    principal, role = body.principal_id or "", body.role_definition_id or ""
    scope = body.directory_scope_id or "/"
    if emu.directory_object(principal) is None or role not in emu.roles:
        raise GraphError(400, "Request_BadRequest", "Invalid principal or role definition.")
    if emu.find_schedule(principal, role, scope, group=False) is not None:
        raise GraphError(400, "Request_BadRequest", "A conflicting object with one or more "
                         "of the specified property values is present in the directory.")
    assignment_id = f"{uuid.uuid4().hex}-1"
    emu._new_schedule(principal, role, scope, emu.clock(), None, assignment_id, group=False)
    return 201, UnifiedRoleAssignment(id=assignment_id, principal_id=principal,
                                      role_definition_id=role, directory_scope_id=scope)


def _group_schedule_model(s: Schedule) -> PrivilegedAccessGroupAssignmentSchedule:
    return PrivilegedAccessGroupAssignmentSchedule(
        id=s.id, principal_id=s.principal_id, group_id=s.privilege,
        access_id=PrivilegedAccessGroupRelationships(s.scope), created_using=s.created_using,
        created_date_time=s.created, modified_date_time=s.modified, status="Provisioned",
        assignment_type=PrivilegedAccessGroupAssignmentType.Assigned,
        member_type=PrivilegedAccessGroupMemberType.Direct, schedule_info=_schedule_info(s))


def _group_filter(query: dict[str, str]) -> dict[str, str]:
    wanted = parse_filter(query.get("$filter"), {"groupId", "principalId"})
    if not wanted:
        raise GraphError(400, "BadRequest", "This method requires the $filter query "
                         "parameter to scope the request to a principalId or a groupId.")
    return wanted


@route("GET", r"identityGovernance/privilegedAccess/group/assignmentSchedules",
       READ_GROUP_SCHEDULES)
def _group_schedules(emu: GraphEmulator, app: App, query: dict[str, str], body: Any
                     ) -> tuple[int, Parsable | None]:
    wanted = _group_filter(query)
    emu.active()
    items = [_group_schedule_model(s)
             for s in sorted(emu.schedules.values(), key=lambda s: (s.created, s.id))
             if s.group and s.privilege == wanted.get("groupId", s.privilege)
             and s.principal_id == wanted.get("principalId", s.principal_id)]
    return emu.page(list(items), query,
                    "identityGovernance/privilegedAccess/group/assignmentSchedules",
                    PrivilegedAccessGroupAssignmentScheduleCollectionResponse)


@route("GET", r"identityGovernance/privilegedAccess/group/assignmentScheduleRequests",
       READ_GROUP_SCHEDULES)
def _group_requests(emu: GraphEmulator, app: App, query: dict[str, str], body: Any
                    ) -> tuple[int, Parsable | None]:
    wanted = _group_filter(query)
    items = [r for r in emu.group_requests
             if r.group_id == wanted.get("groupId", r.group_id)
             and r.principal_id == wanted.get("principalId", r.principal_id)]
    return emu.page(list(items), query,
                    "identityGovernance/privilegedAccess/group/assignmentScheduleRequests",
                    PrivilegedAccessGroupAssignmentScheduleRequestCollectionResponse)


@route("POST", r"identityGovernance/privilegedAccess/group/assignmentScheduleRequests",
       WRITE_GROUP_SCHEDULES, body=PrivilegedAccessGroupAssignmentScheduleRequest)
def _post_group_request(emu: GraphEmulator, app: App, query: dict[str, str],
                        body: PrivilegedAccessGroupAssignmentScheduleRequest
                        ) -> tuple[int, Parsable | None]:
    principal, group = body.principal_id or "", body.group_id or ""
    access = body.access_id.value if body.access_id is not None else ""
    if group not in emu.groups:
        raise GraphError(400, "GroupNotFound", f"The group {group!r} does not exist.")
    if emu.directory_object(principal) is None:
        raise GraphError(400, "InvalidPrincipal", f"The principal {principal!r} is not valid.")
    if access not in ("member", "owner"):
        raise GraphError(400, "InvalidAccessId", "accessId must be member or owner.")
    now = emu.clock()
    existing = emu.find_schedule(principal, group, access, group=True)
    request_id = str(uuid.uuid4())
    action = body.action
    if action == ScheduleRequestActions.AdminAssign:
        if existing is not None:
            raise GraphError(400, "RoleAssignmentExists", "The Role assignment already exists.")
        start, end = emu.check_policy(None, body.schedule_info, body.justification,
                                      body.ticket_info)
        schedule = emu._new_schedule(principal, group, access, start, end, request_id,
                                     group=True, schedule_id=request_id)
        status = "Provisioned"
    elif action in (ScheduleRequestActions.AdminUpdate, ScheduleRequestActions.AdminExtend):
        if existing is None:
            raise GraphError(400, "RoleAssignmentDoesNotExist",
                             "The Role assignment does not exist.")
        start, end = emu.check_policy(None, body.schedule_info, body.justification,
                                      body.ticket_info)
        existing.start, existing.end, existing.modified = start, end, now
        schedule, status = existing, "Provisioned"
    elif action == ScheduleRequestActions.AdminRemove:
        if existing is None:
            raise GraphError(400, "RoleAssignmentDoesNotExist",
                             "The Role assignment does not exist.")
        del emu.schedules[existing.id]
        schedule, status = existing, "Revoked"
    else:
        raise GraphError(400, "UnsupportedAction", f"An application cannot make {action} "
                         "requests.")
    made = PrivilegedAccessGroupAssignmentScheduleRequest(
        id=request_id, status=status, created_date_time=now, completed_date_time=now,
        action=action, access_id=body.access_id, principal_id=principal, group_id=group,
        is_validation_only=False, target_schedule_id=schedule.id,
        justification=body.justification, custom_data=body.custom_data,
        created_by=_created_by(app), schedule_info=body.schedule_info,
        ticket_info=body.ticket_info)
    emu.group_requests.append(made)
    return 201, made


# ---------------------------------------------------------------------------------------------
# Round trips through the SDK's models


def serialize(model: Parsable) -> bytes:
    writer = JsonSerializationWriter()
    writer.write_object_value(None, model)
    return bytes(writer.get_serialized_content())


def parse(raw: Any, kind: type[Parsable]) -> Parsable:
    node = JsonParseNode(raw)
    return node.get_object_value(kind)  # type: ignore[arg-type]


def unknown_fields(model: Any, where: str = "$") -> list[str]:
    """Every property a model carried that its kiota class does not declare."""
    found: list[str] = []
    extra = getattr(model, "additional_data", None) or {}
    found += [f"{where}.{key}" for key in extra if key not in _ALLOWED_EXTRA]
    if is_dataclass(model):
        for f in fields(model):
            if f.name in ("additional_data", "backing_store"):
                continue
            value = getattr(model, f.name, None)
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, Parsable):
                        found += unknown_fields(item, f"{where}.{f.name}[{i}]")
            elif isinstance(value, Parsable):
                found += unknown_fields(value, f"{where}.{f.name}")
    return found


def check_request(raw: Any, kind: type[Parsable]) -> tuple[Parsable, list[str]]:
    """The request body as its model, and what did not survive the round trip."""
    model = parse(raw, kind)
    problems = [f"request property {p} is unknown to {kind.__name__}"
                for p in unknown_fields(model)]
    again = json.loads(serialize(model))
    if again != raw:
        problems.append(f"request body changed in a round trip through {kind.__name__}: "
                        f"{json.dumps(raw, sort_keys=True)} != "
                        f"{json.dumps(again, sort_keys=True)}")
    return model, problems


def check_reply(model: Parsable) -> tuple[bytes, list[str]]:
    """The reply's JSON, and what did not survive a round trip through its model."""
    data = serialize(model)
    problems = [f"reply property {p} is unknown to {type(model).__name__}"
                for p in unknown_fields(model)]
    back = parse(json.loads(data), type(model))
    if serialize(back) != data:
        problems.append(f"reply changed in a round trip through {type(model).__name__}: "
                        f"{data.decode()} != {serialize(back).decode()}")
    return data, problems


def error_body(status: int, code: str, message: str) -> bytes:
    return serialize(ODataError(error=MainError(code=code, message=message)))


# ---------------------------------------------------------------------------------------------
# HTTP


def _handler(emu: GraphEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: the tests read emu.received instead

        def do_GET(self) -> None:  # noqa: N802
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def _serve(self, method: str) -> None:
            try:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = url.path.lstrip("/")
                if path.startswith("v1.0/"):
                    self._graph(method, path.removeprefix("v1.0/"), query, raw)
                elif path == "github-actions/idtoken":
                    self._github(query)
                else:
                    self._login(method, path, raw)
            except Exception:  # a bug in the emulator: say so loudly
                emu.violations.append(f"emulator error on {method} {self.path}:\n"
                                      f"{traceback.format_exc()}")
                self._send(500, b'{"error": "emulator error"}')

        def _login(self, method: str, path: str, raw: bytes) -> None:
            parts = path.split("/")
            if method == "GET" and len(parts) == 4 and parts[1:] == \
                    ["v2.0", ".well-known", "openid-configuration"]:
                self._send(200, json.dumps(emu.openid_configuration(parts[0])).encode())
                return
            if method == "POST" and len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
                form = dict(urllib.parse.parse_qsl(raw.decode("utf-8")))
                try:
                    body = emu.issue_token(parts[0], form)
                except _OAuthError as exc:
                    status = 401 if exc.body["error"] == "invalid_client" else 400
                    self._send(status, json.dumps(exc.body).encode())
                    return
                self._send(200, json.dumps(body).encode())
                return
            self._send(404, b'{"error": "not_found"}')

        def _github(self, query: dict[str, str]) -> None:
            scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or token != emu.github_runtime_token:
                self._send(401, b'{"message": "Bad credentials"}')
                return
            value = emu.github_token(query.get("audience") or GITHUB_ISSUER)
            self._send(200, json.dumps({"count": len(value), "value": value}).encode())

        def _graph(self, method: str, path: str, query: dict[str, str], raw: bytes) -> None:
            body: Any = json.loads(raw) if raw else None
            emu.received.append((method, path + (f"?{urllib.parse.urlencode(query)}"
                                                 if query else ""), body))
            try:
                app = emu.app_of(self.headers.get("Authorization"))
                model: Any = None
                kind = body_model(method, path)
                if kind is not None:
                    model, problems = check_request(body, kind)
                    if problems:
                        self._violation(problems)
                        return
                status, reply = emu.graph(method, path, query, model, app)
            except GraphError as exc:
                status, reply = exc.status, ODataError(error=MainError(code=exc.code,
                                                                       message=exc.message))
            if reply is None:
                self._send(status, b"")
                return
            data, problems = check_reply(reply)
            if problems:
                self._violation(problems)
                return
            self._send(status, data)

        def _violation(self, problems: list[str]) -> None:
            emu.violations.extend(problems)
            self._send(500, error_body(500, "EmulatorSchemaViolation", "; ".join(problems)))

        def _send(self, status: int, data: bytes) -> None:
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@functools.cache
def _keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """The CA's, the server's and the GitHub issuer's keys: made once per test process
    (RSA key generation is most of an emulator's start-up)."""
    return tuple(rsa.generate_private_key(public_exponent=65537, key_size=2048)  # type: ignore[return-value]
                 for _ in range(3))


def _tls(folder: Path) -> tuple[str, ssl.SSLContext]:
    """A CA of its own (written to ``ca.pem``) and a server certificate for 127.0.0.1."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key, key, _ = _keys()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gitjit Graph emulator CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(now + timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return str(ca_file), context


def certificate_pem(common_name: str = "gitjit") -> tuple[str, x509.Certificate]:
    """A self-signed client certificate with its key, as PEM (what certificate_env holds)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC) - timedelta(minutes=5)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + timedelta(days=2))
            .sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()) + \
        cert.public_bytes(serialization.Encoding.PEM)
    return pem.decode("ascii"), cert


__all__ = ["ADMIN_PERMISSIONS", "LEAST_PERMISSIONS", "GraphEmulator", "RolePolicy",
           "certificate_pem"]
