"""The Entra target's settings: its JSON Schemas, and the connection read into one frozen value.

Nothing here needs the Microsoft Graph SDK, so ``gitjit check`` and ``gitjit targets`` can read
the schemas where the ``entra`` extra is not installed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from engine.core.models import Login
from engine.core.values import parse_login
from engine.targets.base import TargetError

WHERE = "entra target"

GUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_GUID = re.compile(GUID)
_ENV = "^[A-Z_][A-Z0-9_]{0,127}$"
_LOGIN = r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}"
# One "login: principal" per line; blank lines and '#' comments are allowed.
_MAP_LINE = re.compile(rf"\s*(?:#.*|({_LOGIN})\s*:\s*([^\s#]+)\s*(?:#.*)?)?")
_MAP_PATTERN = (r"^(?:[ \t]*(?:#[^\n]*|[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}[ \t]*:[ \t]*"
                r"[^\s#]+[ \t]*(?:#[^\n]*)?)?(?:\n|$))*$")
UPN_PATTERN = r"^[A-Za-z0-9._%+'-]*\{login\}[A-Za-z0-9._%+'-]*@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"
_UPN_PATTERN = re.compile(UPN_PATTERN)

AUTH_METHODS = ("github-oidc", "client-secret", "certificate")
ACCESS_KINDS = ("member", "owner")
GITHUB_AUDIENCE = "api://AzureADTokenExchange"
DEFAULT_SCOPE = "/"


@dataclass(frozen=True)
class Cloud:
    authority: str
    """Where tokens come from (Microsoft Entra's login host)."""
    graph: str
    """Microsoft Graph's host, without a version."""


CLOUDS: dict[str, Cloud] = {
    "global": Cloud("https://login.microsoftonline.com", "https://graph.microsoft.com"),
    "usgov": Cloud("https://login.microsoftonline.us", "https://graph.microsoft.us"),
    "usgov-dod": Cloud("https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
    "china": Cloud("https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
}

TARGET_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "entra target",
    "description": "A Microsoft Entra ID directory role (role_id, directory_scope) or a group "
                   "governed by PIM for Groups (group_id, access), given through Privileged "
                   "Identity Management with the grant's window as its schedule.",
    "type": "object",
    "properties": {
        "role_id": {
            "type": "string", "pattern": GUID,
            "description": "The directory role's definition id (for built-in roles, the role "
                           "template id, e.g. fe930be7-5e62-47db-91af-98c3a49a38b1 for User "
                           "Administrator).",
            "errorMessage": "is not a role definition id; write the role's GUID",
        },
        "directory_scope": {
            "type": "string", "pattern": "^/(?:administrativeUnits/[0-9a-fA-F-]{36}|"
                                         "[0-9a-fA-F-]{36})?$",
            "description": "Where the role applies: '/' for the whole tenant (default), "
                           "'/administrativeUnits/<id>' or '/<object id>'.",
            "errorMessage": "is not a directory scope; write '/', "
                            "'/administrativeUnits/<id>' or '/<object id>'",
        },
        "group_id": {
            "type": "string", "pattern": GUID,
            "description": "The object id of a group governed by PIM for Groups.",
            "errorMessage": "is not a group object id; write the group's GUID",
        },
        "access": {
            "enum": list(ACCESS_KINDS),
            "description": "With group_id: 'member' (default) or 'owner' of the group.",
            "errorMessage": "is not a group access kind; write member or owner",
        },
    },
    "oneOf": [
        {"required": ["role_id"], "not": {"anyOf": [{"required": ["group_id"]},
                                                   {"required": ["access"]}]}},
        {"required": ["group_id"], "not": {"anyOf": [{"required": ["role_id"]},
                                                    {"required": ["directory_scope"]}]}},
    ],
    "additionalProperties": False,
}

CONNECTION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "entra connection",
    "description": "A Microsoft Entra tenant and the app registration gitjit acts as.",
    "type": "object",
    "properties": {
        "tenant_id": {
            "type": "string",
            "pattern": r"^(?:[0-9a-fA-F-]{36}|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)$",
            "description": "The tenant's id (a GUID) or one of its domain names.",
            "errorMessage": "is not a tenant id; write the tenant's GUID or domain name",
        },
        "client_id": {
            "type": "string", "pattern": GUID,
            "description": "The application (client) id of gitjit's app registration.",
            "errorMessage": "is not an application (client) id; write the app's GUID",
        },
        "auth": {
            "enum": list(AUTH_METHODS),
            "description": "How gitjit signs in: github-oidc (workload identity federation "
                           "from the GitHub Actions OIDC token, no stored secret), "
                           "client-secret or certificate.",
            "errorMessage": "is not an authentication method; write github-oidc, "
                            "client-secret or certificate",
        },
        "client_secret_env": {"type": "string", "pattern": _ENV,
                              "description": "auth: client-secret: the variable holding it."},
        "certificate_env": {"type": "string", "pattern": _ENV,
                            "description": "auth: certificate: the variable holding the PEM "
                                           "certificate with its private key."},
        "certificate_password_env": {"type": "string", "pattern": _ENV,
                                     "description": "The variable holding the private key's "
                                                    "password, if it has one."},
        "oidc_audience": {"type": "string", "minLength": 1, "maxLength": 200,
                          "description": "auth: github-oidc: the audience of the GitHub token "
                                         f"(default {GITHUB_AUDIENCE})."},
        "cloud": {"enum": list(CLOUDS),
                  "description": "The Microsoft cloud: global (default), usgov, usgov-dod or "
                                 "china.",
                  "errorMessage": "is not a Microsoft cloud; write global, usgov, usgov-dod "
                                  "or china"},
        "authority_host": {"type": "string", "pattern": "^https://",
                           "description": "For the Graph emulator and local tests only: a "
                                          "loopback https URL instead of the cloud's login "
                                          "host."},
        "graph_endpoint": {"type": "string", "pattern": "^https://",
                           "description": "For the Graph emulator and local tests only: a "
                                          "loopback https URL instead of the cloud's Graph."},
        "users": {"type": "string", "pattern": _MAP_PATTERN,
                  "description": "GitHub login to Entra user, one 'login: object-id-or-UPN' "
                                 "per line; wins over upn_pattern.",
                  "errorMessage": "is not a login map; write one 'login: object-id-or-UPN' "
                                  "per line"},
        "upn_pattern": {"type": "string", "pattern": UPN_PATTERN,
                        "description": "The user principal name of a GitHub login, looked up "
                                       "in Graph, e.g. '{login}@contoso.com'.",
                        "errorMessage": "is not a UPN pattern; write e.g. '{login}@contoso.com'"},
        "groups": {"type": "string",
                   "pattern": r"^\s*[0-9a-fA-F-]{36}(?:[\s,]+[0-9a-fA-F-]{36})*\s*$",
                   "description": "The object ids of the PIM-governed groups policies may "
                                  "name through this connection (space or comma separated).",
                   "errorMessage": "is not a list of group ids; separate GUIDs with spaces "
                                   "or commas"},
        "ticket_system": {"type": "string", "minLength": 1, "maxLength": 100,
                          "description": "The name of the system grants' tickets live in, "
                                         "written into PIM's ticketInfo."},
    },
    "required": ["tenant_id", "client_id", "auth"],
    "allOf": [
        {"if": {"properties": {"auth": {"const": "client-secret"}}, "required": ["auth"]},
         "then": {"required": ["client_secret_env"]}},
        {"if": {"properties": {"auth": {"const": "certificate"}}, "required": ["auth"]},
         "then": {"required": ["certificate_env"]}},
        {"anyOf": [{"required": ["users"]}, {"required": ["upn_pattern"]}]},
    ],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Connection:
    """One ``provider: entra`` connection, checked."""

    tenant_id: str
    client_id: str
    auth: str
    secret_env: str | None
    """client-secret: the variable holding the secret; certificate: the PEM's variable."""
    password_env: str | None
    audience: str
    authority: str
    graph: str
    """Graph's base URL with the version, e.g. https://graph.microsoft.com/v1.0."""
    scope: str
    """The token scope: the cloud's Graph resource (also when the endpoint is an emulator)."""
    loopback: bool
    """Whether the endpoints were moved to loopback (the Graph emulator)."""
    users: tuple[tuple[Login, str], ...]
    upn_pattern: str | None
    groups: frozenset[str]
    ticket_system: str | None


def read_connection(raw: Mapping[str, str]) -> Connection:
    """The connection's settings, or a TargetError that names the setting to fix."""
    tenant, client = _required(raw, "tenant_id"), _required(raw, "client_id")
    if _GUID.fullmatch(client) is None:
        raise TargetError(f"{WHERE}: client_id {client!r} is not an application (client) id; "
                          "copy the app registration's GUID into policies/settings.yaml")
    auth = _required(raw, "auth")
    if auth not in AUTH_METHODS:
        raise TargetError(f"{WHERE}: unknown auth {auth!r}; use one of: "
                          f"{', '.join(AUTH_METHODS)}")
    secret_env = password_env = None
    if auth == "client-secret":
        secret_env = _required(raw, "client_secret_env")
    elif auth == "certificate":
        secret_env = _required(raw, "certificate_env")
        password_env = raw.get("certificate_password_env") or None
    cloud_name = raw.get("cloud", "global")
    cloud = CLOUDS.get(cloud_name)
    if cloud is None:
        raise TargetError(f"{WHERE}: unknown cloud {cloud_name!r}; use one of: "
                          f"{', '.join(CLOUDS)}")
    authority = _endpoint(raw, "authority_host", cloud.authority)
    graph = _endpoint(raw, "graph_endpoint", cloud.graph)
    pattern = raw.get("upn_pattern") or None
    if pattern is not None and _UPN_PATTERN.fullmatch(pattern) is None:
        raise TargetError(f"{WHERE}: upn_pattern {pattern!r} is not a UPN pattern; write "
                          "e.g. '{login}@contoso.com' (exactly one {login}, then @ and the "
                          "domain)")
    users = _users(raw.get("users", ""))
    if not users and pattern is None:
        raise TargetError(f"{WHERE}: the connection maps no GitHub login to an Entra user; "
                          "add 'users' (one 'login: object-id-or-UPN' per line) or "
                          "'upn_pattern' (e.g. '{login}@contoso.com')")
    return Connection(
        tenant_id=tenant, client_id=client, auth=auth, secret_env=secret_env,
        password_env=password_env, audience=raw.get("oidc_audience") or GITHUB_AUDIENCE,
        authority=authority, graph=graph.rstrip("/") + "/v1.0",
        scope=cloud.graph + "/.default",
        loopback=authority != cloud.authority or graph != cloud.graph,
        users=users, upn_pattern=pattern, groups=_groups(raw.get("groups", "")),
        ticket_system=raw.get("ticket_system") or None,
    )


def _required(raw: Mapping[str, str], key: str) -> str:
    value = raw.get(key)
    if not value:
        raise TargetError(f"{WHERE}: missing setting {key!r}; add it to the connection in "
                          "policies/settings.yaml")
    return value


def _endpoint(raw: Mapping[str, str], key: str, default: str) -> str:
    """An endpoint override: loopback https only, so a settings change cannot send gitjit's
    credentials (a client secret, a signed assertion) to a host someone else runs."""
    value = raw.get(key)
    if not value:
        return default
    parts = urlsplit(value)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "https" or not loopback or parts.username or parts.password:
        raise TargetError(f"{WHERE}: {key} {value!r} must be an https URL on this machine's "
                          "loopback (127.0.0.1, ::1, localhost): it exists for the Graph "
                          "emulator; for a national cloud set 'cloud' instead")
    return value.rstrip("/")


def _users(text: str) -> tuple[tuple[Login, str], ...]:
    out: dict[Login, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = _MAP_LINE.fullmatch(line)
        if match is None:
            raise TargetError(f"{WHERE}: line {number} of 'users' ({line.strip()!r}) is not "
                              "'login: object-id-or-UPN'")
        if match.group(1) is None:
            continue
        login = parse_login(match.group(1))
        if login in out:
            # Two lines for one person (GitHub logins ignore case): which one counts would be
            # an accident of order, so neither does.
            raise TargetError(f"{WHERE}: 'users' maps {login!r} twice (logins ignore case); "
                              "keep one line per login")
        out[login] = match.group(2)
    seen: dict[str, Login] = {}
    for login, principal in out.items():
        key = principal.lower()
        if key in seen:
            raise TargetError(f"{WHERE}: 'users' maps both {seen[key]!r} and {login!r} to "
                              f"{principal!r}; one Entra user belongs to one GitHub login")
        seen[key] = login
    return tuple(sorted(out.items()))


def _groups(text: str) -> frozenset[str]:
    ids = [part for part in re.split(r"[\s,]+", text.strip()) if part]
    for gid in ids:
        if _GUID.fullmatch(gid) is None:
            raise TargetError(f"{WHERE}: {gid!r} in 'groups' is not a group object id (GUID)")
    return frozenset(gid.lower() for gid in ids)


def is_guid(text: str) -> bool:
    return _GUID.fullmatch(text) is not None
