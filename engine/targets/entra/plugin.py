"""The Entra ID target: directory roles through PIM, and PIM for Groups.

apply makes an ``adminAssign`` schedule request whose schedule is the grant's window, with
the grant's justification and ticket; Entra itself ends the assignment at the window's end,
so the target enforces expiry (``EXPIRY = "target"``). revoke ends it early with
``adminRemove`` and then checks that Entra really removed it. Both are idempotent.

This module imports no Microsoft SDK, so the schemas can be read without the ``entra``
extra; the SDK is loaded when a plugin is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine.core.models import Login, Target
from engine.targets.base import Assignment, Holder, ManagedAssignment, TargetError
from engine.targets.entra.settings import (
    CONNECTION_SCHEMA,
    TARGET_SCHEMA,
    WHERE,
    Connection,
    read_connection,
)

if TYPE_CHECKING:
    from engine.targets.entra.graph import Graph, Session
    from engine.targets.entra.principals import Principals
    from engine.targets.entra.privileges import Privilege, Request, Schedule


class EntraTarget:
    name = "entra"
    TARGET_SCHEMA = TARGET_SCHEMA
    CONNECTION_SCHEMA = CONNECTION_SCHEMA
    EXPIRY = "target"

    def __init__(self, connection: Mapping[str, str]) -> None:
        self.conn: Connection = read_connection(connection)
        try:
            from engine.targets.entra.auth import credential
            from engine.targets.entra.graph import Graph
            from engine.targets.entra.principals import Principals
        except ImportError as exc:
            raise TargetError(f"{WHERE}: the Microsoft Graph SDK is not installed ({exc.name} "
                              "is missing); install gitjit with the entra extra: "
                              "pip install 'gitjit[entra]'") from None
        self.graph: Graph = Graph(self.conn, credential(self.conn))
        self.principals: Principals = Principals(self.conn)

    # -- protocol -------------------------------------------------------------------------

    def native_expiry(self, assignment: Assignment) -> bool:
        # Every schedule gitjit writes ends at the grant's expiry (or, when two grants of one
        # person overlap, at the later of their ends), and Entra removes it then.
        return True

    def apply(self, assignment: Assignment) -> None:
        privilege = self._privilege(assignment.target)
        self.graph.run(lambda session: self._apply(session, privilege, assignment))

    def revoke(self, assignment: Assignment) -> None:
        privilege = self._privilege(assignment.target)
        self.graph.run(lambda session: self._revoke(session, privilege, assignment))

    def list_managed(self) -> list[ManagedAssignment]:
        return self.graph.run(self._list_managed)

    def holders(self, target: Target) -> list[Holder]:
        privilege = self._privilege(target)
        return self.graph.run(lambda session: self._holders(session, privilege))

    # -- operations -----------------------------------------------------------------------

    def _privilege(self, target: Target) -> Privilege:
        from engine.targets.entra.privileges import Group, privilege_of

        privilege = privilege_of(target)
        if isinstance(privilege, Group) and privilege.group_id not in self.conn.groups:
            raise TargetError(
                f"{WHERE}: group {privilege.group_id} is not in the connection's 'groups'; "
                "add it there (policies/settings.yaml), so that gitjit can list and clean up "
                "what it assigns in that group")
        return privilege

    async def _apply(self, session: Session, privilege: Privilege, a: Assignment) -> None:
        from engine.targets.entra.privileges import Ask, justification, marker, owner

        user = await self.principals.resolve(session, a.login)
        mine = [s for s in await privilege.schedules(session) if s.principal_id == user.id]
        ask = Ask(action="adminAssign", principal_id=user.id,
                  justification=justification(a.justification or "", a.grant_id),
                  custom_data=marker(a.grant_id), start=a.activated_at, end=a.expires_at,
                  ticket=a.ticket, ticket_system=self.conn.ticket_system)
        if not mine:
            await privilege.ask(session, ask)
            return
        requests = await privilege.requests(session, {user.id})
        for schedule in mine:
            held_by = owner(schedule, requests)
            if held_by is None and not _touched(schedule, requests):
                raise TargetError(
                    f"{WHERE}: {user.upn or user.id} (GitHub login {a.login!r}) already holds "
                    f"{privilege.description} through an assignment gitjit did not make "
                    f"(schedule {schedule.id}, {_until(schedule)}); gitjit gives only what "
                    "it can also take away: remove that assignment in PIM (it is access "
                    "outside gitjit), then run reconcile again")
            if held_by == a.grant_id:
                wanted = a.expires_at
            elif schedule.end is not None and schedule.end >= a.expires_at:
                continue  # another grant's longer schedule covers this one
            else:
                wanted = a.expires_at
            if schedule.end != wanted:
                # Also brings back a schedule someone lengthened by hand, or made permanent.
                start = schedule.start if schedule.start is not None else a.activated_at
                await privilege.ask(session, Ask(
                    action="adminUpdate", principal_id=user.id,
                    justification=ask.justification, custom_data=ask.custom_data,
                    start=min(start, a.activated_at), end=wanted, ticket=a.ticket,
                    ticket_system=self.conn.ticket_system))

    async def _revoke(self, session: Session, privilege: Privilege, a: Assignment) -> None:
        from engine.targets.entra.privileges import Ask, justification, marker

        try:
            user_id: str | None = (await self.principals.resolve(session, a.login)).id
        except TargetError:
            # The mapping changed or the user is gone: what this grant gave is still found by
            # its marker below, and nothing else can be this login's.
            user_id = None
        schedules = await privilege.schedules(session)
        requests = await privilege.requests(session, {s.principal_id for s in schedules})
        foreign: list[Schedule] = []
        removing: list[Schedule] = []
        for schedule in schedules:
            ours = _touched(schedule, requests)
            if schedule.principal_id == user_id:
                (removing if ours else foreign).append(schedule)
            elif any(r.grant_id == a.grant_id for r in requests
                     if r.schedule_id == schedule.id):
                removing.append(schedule)
        for schedule in removing:
            await privilege.ask(session, Ask(
                action="adminRemove", principal_id=schedule.principal_id,
                justification=justification("the grant is over, relinquished or revoked",
                                            a.grant_id),
                custom_data=marker(a.grant_id)))
        left = [s for s in await privilege.schedules(session)
                if s.id in {r.id for r in removing}]
        problems = []
        if left:
            problems.append(f"PIM still lists {len(left)} schedule(s) gitjit asked to remove "
                            f"({', '.join(s.id for s in left)}); reconcile checks again")
        if foreign:
            problems.append(
                f"the login still holds {privilege.description} through an assignment gitjit "
                f"did not make ({', '.join(f'schedule {s.id}, {_until(s)}' for s in foreign)})"
                "; gitjit does not take away what it did not give: remove it in PIM, and "
                "until then this grant is not recorded as ended")
        if problems:
            raise TargetError(f"{WHERE}: grant {a.grant_id}: {'; '.join(problems)}")

    async def _list_managed(self, session: Session) -> list[ManagedAssignment]:
        from engine.targets.entra.privileges import Group, Role, owner

        privileges: list[Privilege] = []
        for found in await session.role_schedules():
            if found.role_definition_id and (found.assignment_type or "").lower() \
                    == "assigned" and not found.app_scope_id:
                role = Role(found.role_definition_id.lower(), found.directory_scope_id or "/")
                if role not in privileges:
                    privileges.append(role)
        privileges += [Group(gid, access) for gid in sorted(self.conn.groups)
                       for access in ("member", "owner")]
        out: list[ManagedAssignment] = []
        for privilege in privileges:
            schedules = await privilege.schedules(session)
            requests = await privilege.requests(session, {s.principal_id for s in schedules})
            for schedule in schedules:
                gid = owner(schedule, requests)
                if gid is None:
                    continue
                out.append(ManagedAssignment(
                    principal=schedule.principal_id, privilege=privilege.description,
                    grant_id=gid, expires_at=schedule.end, details={"schedule": schedule.id}))
        return out

    async def _holders(self, session: Session, privilege: Privilege) -> list[Holder]:
        from engine.targets.entra.privileges import Group, Role

        found: list[tuple[Any, str]] = []
        if isinstance(privilege, Role):
            for instance in await session.role_instances(privilege.role_id):
                if (instance.directory_scope_id or "") != privilege.scope or \
                        instance.app_scope_id or instance.principal is None:
                    continue
                how = f"{(instance.assignment_type or 'assigned').lower()}" + (
                    f" until {instance.end_date_time.isoformat()}"
                    if instance.end_date_time else " permanently")
                principal = instance.principal
                if _kind(principal) == "group" and principal.id:
                    found += [(member, f"{how}, through group {principal.id}")
                              for member in await session.transitive_members(principal.id)]
                else:
                    found.append((principal, how))
        else:
            assert isinstance(privilege, Group)
            members = (await session.transitive_members(privilege.group_id)
                       if privilege.access == "member"
                       else await session.owners(privilege.group_id))
            found = [(member, privilege.access) for member in members]
        holders: dict[tuple[str, str], Holder] = {}
        for principal, how in found:
            if not principal.id or _kind(principal) == "group":
                continue  # a nested group's own members are listed by transitiveMembers
            kind = _kind(principal)
            upn = getattr(principal, "user_principal_name", None)
            login: Login | None = (await self.principals.login_of(session, principal.id, upn)
                                   if kind == "user" else None)
            key = (principal.id.lower(), how)
            holders[key] = Holder(
                principal=principal.id.lower(), login=login, privilege=privilege.description,
                details={"kind": kind, "how": how, **({"upn": upn} if upn else {})})
        return [holders[key] for key in sorted(holders)]


def _touched(schedule: Schedule, requests: list[Request]) -> bool:
    """Whether gitjit made or changed this schedule (any request of its own names it)."""
    return any(r.schedule_id == schedule.id and r.grant_id is not None for r in requests)


def _until(schedule: Schedule) -> str:
    return f"until {schedule.end.isoformat()}" if schedule.end is not None else "permanent"


def _kind(principal: Any) -> str:
    """'user', 'group', 'servicePrincipal' ... from a directory object's @odata.type."""
    odata = getattr(principal, "odata_type", None) or ""
    return odata.removeprefix("#microsoft.graph.") or "directoryObject"
