"""The two kinds of privilege the Entra target gives, behind one shape: a directory role
through PIM (``roleAssignmentScheduleRequests``) and membership or ownership of a group
through PIM for Groups (``assignmentScheduleRequests``).

Both are given and taken by schedule requests; both keep, per principal, at most one active
schedule, which Entra itself ends at its end time. gitjit recognizes its own requests by
``customData: "gitjit grant <grant id>"`` (see docs/targets/entra.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from msgraph.generated.models.expiration_pattern import ExpirationPattern
from msgraph.generated.models.expiration_pattern_type import ExpirationPatternType
from msgraph.generated.models.privileged_access_group_assignment_schedule_request import (
    PrivilegedAccessGroupAssignmentScheduleRequest,
)
from msgraph.generated.models.privileged_access_group_relationships import (
    PrivilegedAccessGroupRelationships,
)
from msgraph.generated.models.request_schedule import RequestSchedule
from msgraph.generated.models.schedule_request_actions import ScheduleRequestActions
from msgraph.generated.models.ticket_info import TicketInfo
from msgraph.generated.models.unified_role_assignment_schedule_request import (
    UnifiedRoleAssignmentScheduleRequest,
)
from msgraph.generated.models.unified_role_schedule_request_actions import (
    UnifiedRoleScheduleRequestActions,
)

from engine.core.grants import parse_path
from engine.core.models import GrantId, Target
from engine.targets.base import TargetError
from engine.targets.entra.graph import Session
from engine.targets.entra.settings import ACCESS_KINDS, DEFAULT_SCOPE, WHERE, is_guid

MARKER = "gitjit grant "
_MARKER = re.compile(r"gitjit grant (\S+)")
JUSTIFICATION_MAX = 500
# Request states after which the schedule exists (or is being made); anything else failed.
ACCEPTED = frozenset({"provisioned", "granted", "schedulecreated", "pendingprovisioning",
                      "pendingschedulecreation"})
GIVING = frozenset({"adminassign", "adminupdate", "adminextend", "adminrenew"})


def marker(grant_id: str) -> str:
    return MARKER + grant_id


def grant_of(custom_data: str | None) -> GrantId | None:
    """The grant id a request's customData names, if it is gitjit's marker for a real id."""
    match = _MARKER.fullmatch(custom_data or "")
    if match is None or parse_path(f"grants/{match.group(1)}.yaml") is None:
        return None
    return GrantId(match.group(1))


def justification(text: str, grant_id: str) -> str:
    """The grant's justification, marked with its id, within PIM's length limit."""
    suffix = f" ({marker(grant_id)})"
    body = " ".join(text.split()) or "approved in git"
    room = JUSTIFICATION_MAX - len(suffix)
    if len(body) > room:
        body = body[: room - 3].rstrip() + "..."
    return body + suffix


@dataclass(frozen=True)
class Schedule:
    """An active assignment schedule, as both APIs describe it."""

    id: str
    principal_id: str
    start: datetime | None
    end: datetime | None
    """None: no end (a permanent assignment)."""


@dataclass(frozen=True)
class Request:
    schedule_id: str
    grant_id: GrantId | None
    """The grant gitjit's marker names; None for a request gitjit did not make."""
    created: datetime | None
    giving: bool
    """Whether it assigns or changes an assignment (rather than removing one)."""


@dataclass(frozen=True)
class Ask:
    """One schedule request to make."""

    action: str
    """adminAssign, adminUpdate or adminRemove."""
    principal_id: str
    justification: str
    custom_data: str
    start: datetime | None = None
    end: datetime | None = None
    ticket: str | None = None
    ticket_system: str | None = None


class Privilege(Protocol):
    @property
    def description(self) -> str:
        """For messages and ManagedAssignment.privilege, e.g. 'directory role <id> at /'."""
        ...

    async def schedules(self, session: Session) -> list[Schedule]: ...
    async def requests(self, session: Session, principal_ids: set[str]) -> list[Request]: ...
    async def ask(self, session: Session, ask: Ask) -> str: ...


def privilege_of(target: Target | Mapping[str, str]) -> Privilege:
    """The privilege a policy's target names; TargetError when its params do not say one."""
    params = dict(target.params) if isinstance(target, Target) else dict(target)
    role, group = params.get("role_id"), params.get("group_id")
    if role and not group:
        if not is_guid(role):
            raise TargetError(f"{WHERE}: role_id {role!r} is not a role definition id (GUID)")
        if params.get("access"):
            raise TargetError(f"{WHERE}: 'access' is for group_id targets; remove it")
        return Role(role.lower(), params.get("directory_scope") or DEFAULT_SCOPE)
    if group and not role:
        if not is_guid(group):
            raise TargetError(f"{WHERE}: group_id {group!r} is not a group object id (GUID)")
        access = params.get("access") or ACCESS_KINDS[0]
        if access not in ACCESS_KINDS:
            raise TargetError(f"{WHERE}: unknown access {access!r}; use member or owner")
        if params.get("directory_scope"):
            raise TargetError(f"{WHERE}: 'directory_scope' is for role_id targets; remove it")
        return Group(group.lower(), access)
    raise TargetError(f"{WHERE}: the policy's target must name exactly one of role_id (a "
                      "directory role) and group_id (a group governed by PIM for Groups)")


def _schedule_info(ask: Ask) -> RequestSchedule | None:
    if ask.start is None or ask.end is None:
        return None
    return RequestSchedule(start_date_time=ask.start, expiration=ExpirationPattern(
        type=ExpirationPatternType.AfterDateTime, end_date_time=ask.end))


def _ticket(ask: Ask) -> TicketInfo | None:
    if ask.ticket is None:
        return None
    return TicketInfo(ticket_number=ask.ticket, ticket_system=ask.ticket_system)


def _end(info: RequestSchedule | None) -> datetime | None:
    expiration = info.expiration if info is not None else None
    if expiration is None or expiration.type == ExpirationPatternType.NoExpiration:
        return None
    if expiration.end_date_time is not None:
        return expiration.end_date_time
    if expiration.duration is not None and info is not None and info.start_date_time:
        return info.start_date_time + expiration.duration
    return None


def _action(value: Any) -> str:
    text = value.value if hasattr(value, "value") else value
    return str(text or "").lower()


def _checked(status: str | None, ask: Ask, description: str) -> str:
    done = ACCEPTED | ({"revoked"} if ask.action == "adminRemove" else set())
    if (status or "").lower() not in done:
        raise TargetError(f"{WHERE}: PIM did not carry out {ask.action} of {description} for "
                          f"{ask.principal_id}: its request is {status or 'without a status'}; "
                          "look it up in PIM's audit history")
    return status or ""


@dataclass(frozen=True)
class Role:
    role_id: str
    scope: str

    @property
    def description(self) -> str:
        return f"directory role {self.role_id} at {self.scope}"

    async def schedules(self, session: Session) -> list[Schedule]:
        found = await session.role_schedules(role_id=self.role_id)
        return [Schedule(s.id, s.principal_id.lower(),
                         s.schedule_info.start_date_time if s.schedule_info else None,
                         _end(s.schedule_info))
                for s in found
                if s.id and s.principal_id and (s.role_definition_id or "").lower() ==
                self.role_id and (s.directory_scope_id or "") == self.scope
                and not s.app_scope_id]

    async def requests(self, session: Session, principal_ids: set[str]) -> list[Request]:
        out: list[Request] = []
        for principal in sorted(principal_ids):
            for r in await session.role_requests(principal):
                if (r.role_definition_id or "").lower() != self.role_id or \
                        (r.directory_scope_id or "") != self.scope or not r.target_schedule_id:
                    continue
                if (r.status or "").lower() not in ACCEPTED | {"revoked"}:
                    continue
                out.append(Request(r.target_schedule_id, grant_of(r.custom_data),
                                   r.created_date_time, _action(r.action) in GIVING))
        return out

    async def ask(self, session: Session, ask: Ask) -> str:
        body = UnifiedRoleAssignmentScheduleRequest(
            action=UnifiedRoleScheduleRequestActions(ask.action),
            principal_id=ask.principal_id, role_definition_id=self.role_id,
            directory_scope_id=self.scope, justification=ask.justification,
            custom_data=ask.custom_data, schedule_info=_schedule_info(ask),
            ticket_info=_ticket(ask))
        made = await session.post_role_request(body)
        return _checked(made.status, ask, self.description)


@dataclass(frozen=True)
class Group:
    group_id: str
    access: str

    @property
    def description(self) -> str:
        return f"{self.access} of group {self.group_id}"

    async def schedules(self, session: Session) -> list[Schedule]:
        found = await session.group_schedules(self.group_id)
        return [Schedule(s.id, s.principal_id.lower(),
                         s.schedule_info.start_date_time if s.schedule_info else None,
                         _end(s.schedule_info))
                for s in found
                if s.id and s.principal_id and _action(s.access_id) == self.access
                and (s.group_id or "").lower() == self.group_id]

    async def requests(self, session: Session, principal_ids: set[str]) -> list[Request]:
        out: list[Request] = []
        for r in await session.group_requests(self.group_id):
            if (r.principal_id or "").lower() not in principal_ids or \
                    _action(r.access_id) != self.access or not r.target_schedule_id:
                continue
            if (r.status or "").lower() not in ACCEPTED | {"revoked"}:
                continue
            out.append(Request(r.target_schedule_id, grant_of(r.custom_data),
                               r.created_date_time, _action(r.action) in GIVING))
        return out

    async def ask(self, session: Session, ask: Ask) -> str:
        body = PrivilegedAccessGroupAssignmentScheduleRequest(
            action=ScheduleRequestActions(ask.action),
            access_id=PrivilegedAccessGroupRelationships(self.access),
            principal_id=ask.principal_id, group_id=self.group_id,
            justification=ask.justification, custom_data=ask.custom_data,
            schedule_info=_schedule_info(ask), ticket_info=_ticket(ask))
        made = await session.post_group_request(body)
        return _checked(made.status, ask, self.description)


def owner(schedule: Schedule, requests: list[Request]) -> GrantId | None:
    """The grant a schedule belongs to: the latest gitjit request that gave or changed it.

    None when gitjit made no request for it: then someone else assigned it (PIM by hand, the
    role assignments API, an access review ...), and gitjit neither claims nor removes it.
    """
    ours = [r for r in requests if r.schedule_id == schedule.id and r.grant_id is not None
            and r.giving]
    if not ours:
        return None
    latest = max(ours, key=lambda r: (r.created is not None, r.created or datetime.min))
    return latest.grant_id
