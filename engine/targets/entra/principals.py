"""GitHub login to Entra user and back: the explicit ``users`` map first, then ``upn_pattern``.

Fail closed: a login that maps to no user, to a user Graph cannot find, to several users, to
a disabled account, to a guest found by pattern, or to a user that another login also maps to,
is an error that says which of these it is. Nothing is guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from msgraph.generated.models.user import User

from engine.core.models import Login
from engine.core.values import parse_login
from engine.targets.base import TargetError
from engine.targets.entra.graph import Session
from engine.targets.entra.settings import WHERE, Connection


@dataclass(frozen=True)
class EntraUser:
    id: str
    """The user's object id (what PIM schedules name as the principal)."""
    upn: str
    enabled: bool
    guest: bool


def _entra_user(user: User) -> EntraUser | None:
    if not user.id:
        return None
    return EntraUser(id=user.id.lower(), upn=user.user_principal_name or "",
                     enabled=user.account_enabled is not False,
                     guest=(user.user_type or "Member").lower() == "guest")


class Principals:
    """The connection's mapping; the explicit map is looked up once per plugin."""

    def __init__(self, conn: Connection) -> None:
        self.users = dict(conn.users)
        self.pattern = conn.upn_pattern
        self._reverse: re.Pattern[str] | None = None
        if conn.upn_pattern is not None:
            before, _, after = conn.upn_pattern.partition("{login}")
            self._reverse = re.compile(re.escape(before) + r"(.+)" + re.escape(after),
                                       re.IGNORECASE)
        self._mapped: dict[str, Login] | None = None

    async def mapped(self, session: Session) -> dict[str, Login]:
        """Object id -> login for every user the explicit map names and Graph knows."""
        if self._mapped is None:
            found: dict[str, Login] = {}
            for login, value in sorted(self.users.items()):
                user = await session.user(value)
                entra = _entra_user(user) if user is not None else None
                if entra is None:
                    continue  # reported when that login is resolved; never the same as another
                other = found.get(entra.id)
                if other is not None:
                    raise TargetError(f"{WHERE}: 'users' maps both {other!r} and {login!r} to "
                                      f"the same Entra user ({entra.id}); one Entra user "
                                      "belongs to one GitHub login")
                found[entra.id] = login
            self._mapped = found
        return self._mapped

    async def resolve(self, session: Session, login: Login) -> EntraUser:
        """The Entra user a login stands for, or a TargetError saying why there is none."""
        value = self.users.get(login)
        if value is not None:
            user = await session.user(value)
            entra = _entra_user(user) if user is not None else None
            if entra is None:
                raise TargetError(f"{WHERE}: 'users' maps GitHub login {login!r} to {value!r}, "
                                  "which is no user in the tenant; fix the line in 'users'")
            await self.mapped(session)
            self._require_enabled(login, entra, "'users'")
            return entra
        if self.pattern is None:
            raise TargetError(f"{WHERE}: no Entra user for GitHub login {login!r}: it is not "
                              "in the connection's 'users' and there is no 'upn_pattern'; "
                              "add a line for it to 'users'")
        upn = self.pattern.replace("{login}", login)
        found = [u for u in (_entra_user(x) for x in await session.users_with_upn(upn))
                 if u is not None]
        exact = [u for u in found if u.upn.lower() == upn.lower()]
        if not exact:
            raise TargetError(f"{WHERE}: no Entra user for GitHub login {login!r}: no user has "
                              f"the UPN {upn!r} (from upn_pattern); add the login to 'users'")
        if len(exact) > 1:
            ids = ", ".join(sorted(u.id for u in exact))
            raise TargetError(f"{WHERE}: GitHub login {login!r} is ambiguous: {len(exact)} "
                              f"users have the UPN {upn!r} ({ids}); map it in 'users' by "
                              "object id")
        entra = exact[0]
        if entra.guest:
            raise TargetError(f"{WHERE}: {upn!r} (from upn_pattern for {login!r}) is a guest "
                              "account; gitjit gives a guest privileges only when 'users' "
                              "names it explicitly")
        owner = (await self.mapped(session)).get(entra.id)
        if owner is not None and owner != login:
            raise TargetError(f"{WHERE}: GitHub login {login!r} is ambiguous: upn_pattern "
                              f"gives {upn!r}, which 'users' maps to {owner!r}; map "
                              f"{login!r} in 'users' too, or fix the line for {owner!r}")
        self._require_enabled(login, entra, "upn_pattern")
        return entra

    async def login_of(self, session: Session, object_id: str, upn: str | None
                       ) -> Login | None:
        """The GitHub login an Entra user belongs to, or None when the mapping cannot tell."""
        mapped = await self.mapped(session)
        login = mapped.get(object_id.lower())
        if login is not None:
            return login
        if self._reverse is None or not upn:
            return None
        match = self._reverse.fullmatch(upn)
        if match is None:
            return None
        try:
            candidate = parse_login(match.group(1))
        except ValueError:
            return None
        # A login the map names belongs to the user the map names, not to this one.
        return None if candidate in self.users else candidate

    @staticmethod
    def _require_enabled(login: Login, user: EntraUser, via: str) -> None:
        if not user.enabled:
            raise TargetError(f"{WHERE}: the Entra user {user.upn or user.id} (for GitHub "
                              f"login {login!r}, through {via}) is disabled; enable it or fix "
                              "the mapping")
