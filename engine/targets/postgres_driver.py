"""The PostgreSQL target's work, on psycopg 3: what ``engine.targets.postgres.PostgresTarget``
(the declarations: its schemas and settings, read by the checks without psycopg) hands over
the first time it connects.

Bookkeeping: gitjit records every assignment in ``gitjit.managed`` (created on first use), so
revocation takes away only what gitjit gave: a membership the login already held before its
first grant is left alone, and overlapping grants keep the membership until the last one ends.
Rows are kept with ``revoked_at`` set, as history. Per-grant roles also carry
``COMMENT ON ROLE ... IS 'gitjit grant <id>'``, so they are found even without the table.

The table lives in the target database, so it is believed only where no grantee could have
written it: it must be owned by gitjit's own database user and shared with no one, and the
login and the granted role must not be able to become a superuser, a CREATEROLE role,
``pg_write_all_data`` or gitjit's user. Where they can, revocation takes the membership away
whatever the table says, and every revocation checks the catalog afterwards
(``pg_auth_members``, ``pg_roles``) and fails if the login still holds the role.

Every identifier goes through ``psycopg.sql.Identifier`` and every value through a bound
parameter or ``sql.Literal``; nothing is formatted into SQL text.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from engine.actions.model import Plan
from engine.core.models import GrantId, Login, Target
from engine.core.redaction import withhold
from engine.core.values import parse_login
from engine.targets.base import (
    ActionJob,
    ActionResult,
    Assignment,
    Holder,
    ManagedAssignment,
    TargetError,
)
from engine.targets.postgres import MODES, TERMINATE, login_role_name

Setting = Callable[[str], str | None]

SCHEMA = "gitjit"
COMMENT_PREFIX = "gitjit grant "
TERMINATE_WAIT_MS = 5000
_CONNINFO_KEYS = ("host", "port", "dbname", "user", "sslmode", "sslrootcert", "sslcert",
                  "sslkey", "connect_timeout", "application_name")

_TABLE = sql.Identifier(SCHEMA, "managed")
_CREATE = [
    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)),
    sql.SQL("""CREATE TABLE IF NOT EXISTS {} (
        grant_id text PRIMARY KEY,
        mode text NOT NULL,
        login text NOT NULL,
        member text NOT NULL,
        role text NOT NULL,
        held_before boolean NOT NULL,
        activated_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
    )""").format(_TABLE),
]


class PostgresDriver:
    """A PostgresTarget's operations on one settings connection (see that class)."""

    def __init__(self, connection: Mapping[str, str]) -> None:
        self._connection = dict(connection)

    def apply(self, assignment: Assignment) -> None:
        mode, role = _mode(assignment), _role(assignment)
        terminate = _terminate(assignment)
        with self._connect(assignment.setting) as conn:
            with conn.transaction():
                _ensure_bookkeeping(conn)
                _require_role(conn, role, "the granted role",
                              f"create it, or fix 'role' in policy {assignment.policy}")
                if mode == "membership":
                    granted = _apply_membership(conn, assignment, role)
                else:
                    _apply_login_role(conn, assignment, role)
                    granted = False
            if granted and terminate == "since-activation":
                # After the commit: every session that exists now predates the membership and
                # could switch to the role with SET ROLE, then keep it past the revocation.
                _end_sessions(conn, assignment.login, None,
                              f"gitjit granted {role!r} to {assignment.login!r} (grant "
                              f"{assignment.grant_id}) and, as terminate_sessions: "
                              f"since-activation asks, ended the sessions opened before, but",
                              "revocation ends them in any case")

    def probe(self, assignment: Assignment) -> str:
        """Read-only: connect, ``SELECT 1``, and look up the roles ``apply`` requires."""
        mode, role = _mode(assignment), _role(assignment)
        with self._connect(assignment.setting) as conn:
            conn.execute("SELECT 1").fetchone()
            _require_role(conn, role, "the granted role",
                          f"create it, or fix 'role' in policy {assignment.policy}")
            if mode == "membership":
                _require_role(conn, assignment.login, "the requester's role",
                              f"create a login role named {assignment.login!r} for them "
                              "first, or use mode: login-role")
        return f"connected and ran SELECT 1; role {role!r} exists"

    def revoke(self, assignment: Assignment) -> None:
        # terminate_sessions is not read: whatever it says, revocation ends every session
        # that could have used the role, and a bad value must not stop a revocation.
        mode = _mode(assignment)
        with self._connect(assignment.setting) as conn:
            if mode == "membership":
                _revoke_membership(conn, assignment, _role(assignment))
            else:
                _revoke_login_role(conn, assignment, _role(assignment))

    def run_action(self, job: ActionJob,
                   started: Callable[[], bool]) -> ActionResult | None:
        return run_action(job, started)  # on the job's connection

    def list_managed(self) -> list[ManagedAssignment]:
        with self._connect(self._connection.get) as conn, conn.transaction():
            out: list[ManagedAssignment] = []
            active_members: set[str] = set()
            if _has_bookkeeping(conn):
                _require_trustworthy_bookkeeping(conn, "list what it manages")
                rows = conn.execute(sql.SQL(
                    "SELECT grant_id, mode, login, member, role, expires_at FROM {} "
                    "WHERE revoked_at IS NULL ORDER BY grant_id").format(_TABLE)).fetchall()
                for grant_id, mode, login, member, role, expires_at in rows:
                    active_members.add(member)
                    out.append(ManagedAssignment(
                        principal=member, privilege=role, grant_id=GrantId(grant_id),
                        expires_at=expires_at if mode == "login-role" else None,
                        details={"mode": mode, "login": login},
                    ))
            # Per-grant roles are ours by name; list any the table does not account for (a
            # lost table, or a revocation that stopped half-way) so reconcile can clean up.
            for name, valid_until, comment, roles in conn.execute(
                "SELECT r.rolname, r.rolvaliduntil, shobj_description(r.oid, 'pg_authid'),"
                " coalesce(string_agg(g.rolname, ',' ORDER BY g.rolname), '')"
                " FROM pg_roles r"
                " LEFT JOIN pg_auth_members m ON m.member = r.oid"
                " LEFT JOIN pg_roles g ON g.oid = m.roleid"
                " WHERE r.rolname ~ '^gitjit_.+_[0-9a-f]{10}$'"
                " GROUP BY r.oid, r.rolname, r.rolvaliduntil"
                " ORDER BY r.rolname"
            ).fetchall():
                if name in active_members:
                    continue
                grant_id = (GrantId(comment[len(COMMENT_PREFIX):])
                            if comment and comment.startswith(COMMENT_PREFIX) else None)
                out.append(ManagedAssignment(
                    principal=name, privilege=roles, grant_id=grant_id,
                    expires_at=_finite(valid_until), details={"mode": "login-role"},
                ))
            return out

    def holders(self, target: Target) -> list[Holder]:
        """Every role that is a member of the target's role, directly or through other roles
        (``pg_auth_members``), whoever granted it: the catalog, never gitjit's own records.

        A role named like a forge login (lower-case, as gitjit grants to it) belongs to that
        login; a per-grant role ``gitjit_<login>_<hash>`` to its login. Superusers, who can
        become any role without a membership, are not listed."""
        params = dict(target.params)

        def setting(key: str) -> str | None:
            value = params.get(key)
            return value if value is not None else self._connection.get(key)

        role = setting("role")
        if not role:
            raise TargetError("postgres target: the target names no 'role' whose holders to "
                              "list; add 'role: <name>' to the policy's target")
        with self._connect(setting) as conn, conn.transaction():
            _require_role(conn, role, "the role", "create it, or fix 'role' in the policy")
            rows = conn.execute(
                "WITH RECURSIVE target AS (SELECT oid FROM pg_roles WHERE rolname = %s),"
                " held(member) AS ("
                "  SELECT m.member FROM pg_auth_members m, target WHERE m.roleid = target.oid"
                "  UNION"
                "  SELECT m.member FROM pg_auth_members m JOIN held h ON m.roleid = h.member)"
                " SELECT r.rolname, r.rolcanlogin, shobj_description(r.oid, 'pg_authid'),"
                "  bool_or(m.roleid = (SELECT oid FROM target)),"
                "  coalesce(string_agg(DISTINCT g.rolname, ',' ORDER BY g.rolname)"
                "   FILTER (WHERE m.roleid <> (SELECT oid FROM target)), '')"
                " FROM (SELECT DISTINCT member FROM held) h"
                " JOIN pg_roles r ON r.oid = h.member"
                " JOIN pg_auth_members m ON m.member = r.oid"
                "  AND (m.roleid = (SELECT oid FROM target)"
                "   OR m.roleid IN (SELECT member FROM held))"
                " JOIN pg_roles g ON g.oid = m.roleid"
                " GROUP BY r.oid, r.rolname, r.rolcanlogin ORDER BY r.rolname",
                [role]).fetchall()
        out: list[Holder] = []
        for name, can_login, comment, direct, through in rows:
            ways = (["directly"] if direct else []) + (
                [f"through {', '.join(through.split(','))}"] if through else [])
            details = {"how": " and ".join(ways), "can_login": str(bool(can_login)).lower()}
            if comment and comment.startswith(COMMENT_PREFIX):
                details["grant"] = comment[len(COMMENT_PREFIX):]
            out.append(Holder(principal=name, login=_login_of(name), privilege=role,
                              details=details))
        return out

    # -- connection -----------------------------------------------------------------------

    def remove_holder(self, target: Target, holder: Holder) -> None:
        """Take away a membership no grant backs (drift, with ``drift.action: revoke``): the
        holder's direct membership of the role, then every session of theirs. A membership
        through another role is left to a person (revoking the other role could take more
        than this)."""
        params = dict(target.params)

        def setting(key: str) -> str | None:
            value = params.get(key)
            return value if value is not None else self._connection.get(key)

        role = setting("role") or ""
        with self._connect(setting) as conn:
            with conn.transaction():
                if not _is_direct_member(conn, holder.principal, role):
                    raise TargetError(f"postgres target: {holder.principal!r} holds {role!r} "
                                      "only through other roles; revoke those by hand")
                conn.execute(sql.SQL("REVOKE {} FROM {}").format(
                    sql.Identifier(role), sql.Identifier(holder.principal)))
            with conn.transaction():
                _end_sessions(conn, holder.principal, None, "after removing drift,")
                if _holds(conn, holder.principal, role):
                    raise TargetError(f"postgres target: {holder.principal!r} still holds "
                                      f"{role!r} after the REVOKE; revoke it by hand")

    @contextmanager
    def _connect(self, setting: Setting) -> Iterator[psycopg.Connection[Any]]:
        conninfo, secrets, source = _conninfo(setting)
        try:
            conn = psycopg.connect(conninfo, autocommit=True)
        except psycopg.ProgrammingError:
            # libpq's parse errors quote the connection string, which may hold a password.
            raise TargetError(
                f"postgres target: {source} is not a valid PostgreSQL connection string "
                f"(use 'host=... dbname=... user=...' or a postgresql:// URI)") from None
        except psycopg.Error as exc:
            raise TargetError(f"postgres target: cannot connect ({source}): "
                              f"{_redact(str(exc), secrets)}") from None
        try:
            with conn:
                # A grantee may be able to create functions or tables in schemas on the
                # default search_path; gitjit's statements must reach the catalog's own.
                conn.execute("SET search_path = pg_catalog, pg_temp")
                yield conn
        except psycopg.Error as exc:
            raise TargetError(f"postgres target: {_redact(_describe(exc), secrets)}") from None


def _login_of(role: str) -> Login | None:
    """The forge login whose access a role is: the role gitjit grants to in membership mode
    (named exactly like the lower-cased login), or a per-grant role of login-role mode. A
    role whose name only resembles a login (``Alice``) is nobody's: gitjit never granted it."""
    match = _PER_GRANT.fullmatch(role)
    name = match.group(1) if match else role
    try:
        login = parse_login(name)
    except ValueError:
        return None
    return login if login == name else None


_PER_GRANT = re.compile(r"gitjit_(.+)_[0-9a-f]{10}")


# -- settings -----------------------------------------------------------------------------

def _choice(assignment: Assignment, key: str, allowed: tuple[str, ...]) -> str:
    """A setting that must be one of ``allowed``; the first is the default."""
    value = assignment.setting(key) or allowed[0]
    if value not in allowed:
        raise TargetError(f"postgres target: unknown {key} {value!r} in policy "
                          f"{assignment.policy}; use one of: {', '.join(allowed)}")
    return value


def _mode(assignment: Assignment) -> str:
    return _choice(assignment, "mode", MODES)


def _terminate(assignment: Assignment) -> str:
    return _choice(assignment, "terminate_sessions", TERMINATE)


def _role(assignment: Assignment) -> str:
    role = assignment.setting("role")
    if not role:
        raise TargetError(f"postgres target: policy {assignment.policy} names no 'role' to "
                          f"grant; add 'role: <name>' to its target")
    return role


def _conninfo(setting: Setting) -> tuple[str, list[str], str]:
    """(conninfo, secrets to keep out of messages, where it came from for messages)."""
    dsn_env = setting("dsn_env")
    if dsn_env:
        dsn = os.environ.get(dsn_env)
        if not dsn:
            raise TargetError(f"postgres target: environment variable {dsn_env} (named by "
                              f"dsn_env) is not set; set it to the database's connection string")
        return dsn, [dsn], f"connection string from ${dsn_env}"
    params = {key: value for key in _CONNINFO_KEYS if (value := setting(key))}
    if "host" not in params and "dbname" not in params:
        raise TargetError("postgres target: the connection names no database; set dsn_env "
                          "(an environment variable holding the connection string) or "
                          "host, dbname and user in policies/settings.yaml")
    secrets: list[str] = []
    password_env = setting("password_env")
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise TargetError(f"postgres target: environment variable {password_env} (named "
                              f"by password_env) is not set; set it to the password")
        params["password"] = password
        secrets.append(password)
    try:
        conninfo = psycopg.conninfo.make_conninfo(**params)
    except psycopg.ProgrammingError:
        raise TargetError("postgres target: the connection settings do not form a valid "
                          "PostgreSQL connection string; check host, port and dbname") from None
    where = f"host={params.get('host', '')} dbname={params.get('dbname', '')}"
    return conninfo, secrets, where


def _redact(message: str, secrets: list[str]) -> str:
    """The server's message, unless it holds a secret anywhere: then none of it. The server's
    messages are well known, so any cut-out part would say where, and so what, the password
    is (engine/core/redaction.py)."""
    return withhold(message, secrets, "(the server's message is withheld: it contains the "
                                      "connection's password or connection string)")


def _describe(exc: psycopg.Error) -> str:
    diag = exc.diag
    text = diag.message_primary or str(exc).strip()
    if diag.message_detail:
        text += f" ({diag.message_detail})"
    if diag.message_hint:
        text += f"; hint: {diag.message_hint}"
    return text


def _finite(value: object) -> datetime | None:
    # rolvaliduntil 'infinity' comes back as datetime.max without a zone; treat as no expiry.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    return None


# -- bookkeeping --------------------------------------------------------------------------

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class _Row:
    """A ``gitjit.managed`` row: what gitjit recorded giving for one grant."""

    member: str
    role: str
    held_before: bool
    revoked_at: datetime | None


def _has_bookkeeping(conn: Conn) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", [f"{SCHEMA}.managed"]).fetchone()
    return row is not None and row[0] is not None


def _ensure_bookkeeping(conn: Conn) -> None:
    if not _has_bookkeeping(conn):
        for statement in _CREATE:
            conn.execute(statement)
    _require_trustworthy_bookkeeping(conn, "grant anything")


def _bookkeeping_doubts(conn: Conn) -> list[str]:
    """Why ``gitjit.managed`` may hold what someone other than gitjit's user wrote.

    The owner of the table or of its schema can rewrite or replace it; so can anyone it is
    shared with, and triggers or rules can change what a write does. gitjit's user creates
    the schema and table itself, so anything else means someone prepared or changed them.
    """
    doubts: list[str] = []
    schema = conn.execute(
        "SELECT pg_get_userbyid(nspowner), nspowner = (SELECT oid FROM pg_roles"
        " WHERE rolname = current_user) FROM pg_namespace WHERE nspname = %s",
        [SCHEMA]).fetchone()
    if schema is None:
        return doubts
    if not schema[1]:
        doubts.append(f"schema {SCHEMA} is owned by {schema[0]!r}, not by gitjit's database "
                      f"user")
    table = conn.execute(
        "SELECT c.oid, c.relkind, pg_get_userbyid(c.relowner), c.relowner = (SELECT oid"
        " FROM pg_roles WHERE rolname = current_user), c.relrowsecurity"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = 'managed'", [SCHEMA]).fetchone()
    if table is None:
        return doubts
    oid, kind, owner, ours, row_security = table
    if kind != "r":
        doubts.append(f"{SCHEMA}.managed is not a plain table (relkind {kind!r})")
    if not ours:
        doubts.append(f"{SCHEMA}.managed is owned by {owner!r}, not by gitjit's database user")
    shared = [name for (name,) in conn.execute(
        "SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC'"
        " ELSE pg_get_userbyid(a.grantee) END FROM ("
        "  SELECT (aclexplode(relacl)).grantee FROM pg_class WHERE oid = %(t)s"
        "  UNION ALL SELECT (aclexplode(attacl)).grantee FROM pg_attribute"
        "  WHERE attrelid = %(t)s AND attacl IS NOT NULL) a"
        " WHERE a.grantee <> (SELECT relowner FROM pg_class WHERE oid = %(t)s) ORDER BY 1",
        {"t": oid}).fetchall()]
    if shared:
        doubts.append(f"{SCHEMA}.managed is shared with {', '.join(map(repr, shared))}")
    extras = conn.execute(
        "SELECT (SELECT count(*) FROM pg_trigger WHERE tgrelid = %(t)s)"
        " + (SELECT count(*) FROM pg_rewrite WHERE ev_class = %(t)s)"
        " + (SELECT count(*) FROM pg_policy WHERE polrelid = %(t)s)", {"t": oid}).fetchone()
    if row_security or (extras is not None and extras[0]):
        doubts.append(f"{SCHEMA}.managed has triggers, rules or row security that gitjit did "
                      f"not create")
    return doubts


def _require_trustworthy_bookkeeping(conn: Conn, what: str) -> None:
    doubts = _bookkeeping_doubts(conn)
    if doubts:
        raise TargetError(
            f"postgres target: will not {what}: gitjit's records in {SCHEMA}.managed could "
            f"have been written by someone else ({'; '.join(doubts)}); a grantee able to "
            f"write them could keep access after revocation. Give the schema and table to "
            f"gitjit's database user alone (ALTER SCHEMA {SCHEMA} OWNER TO ...; ALTER TABLE "
            f"{SCHEMA}.managed OWNER TO ...; REVOKE ALL ON {SCHEMA}.managed FROM ...)")


def _grantee_powers(conn: Conn, login: str, roles: list[str]) -> list[str]:
    """What lets the granted roles, or the login, rewrite gitjit's records.

    Directly or through roles they can become: SUPERUSER can do anything; CREATEROLE can
    alter other roles and grant itself gitjit's user or pg_write_all_data (PostgreSQL 15 and
    earlier); pg_write_all_data and gitjit's own user can write the table.
    pg_has_role(..., 'MEMBER') follows every membership, with or without INHERIT, and counts
    a superuser as a member of every role. The login's own reasons leave out what it has only
    through the granted roles, which are named already.
    """
    found: list[str] = []
    for names, besides in ((roles, []), ([login], roles)):
        for who, via, superuser, createrole, writer, gitjit, who_super in conn.execute(
            "SELECT p.rolname, r.rolname, r.rolsuper, r.rolcreaterole,"
            " r.rolname = 'pg_write_all_data', r.rolname = current_user, p.rolsuper"
            " FROM pg_roles p JOIN pg_roles r ON pg_has_role(p.oid, r.oid, 'MEMBER')"
            " WHERE p.rolname = ANY(%(names)s) AND (r.rolsuper OR r.rolcreaterole"
            " OR r.rolname IN ('pg_write_all_data', current_user))"
            " AND (p.rolsuper OR NOT EXISTS (SELECT 1 FROM pg_roles g"
            "  WHERE g.rolname = ANY(%(besides)s) AND pg_has_role(g.oid, r.oid, 'MEMBER')))"
            " ORDER BY array_position(%(names)s, p.rolname::text), r.rolname",
            {"names": names, "besides": besides}
        ).fetchall():
            if who_super and who != via:
                continue  # a superuser "can become" every role; its own attribute says it all
            powers = " and ".join(power for power, has in (("SUPERUSER", superuser),
                                                           ("CREATEROLE", createrole)) if has)
            if gitjit:
                found.append(f"{who!r} " + ("is" if who == via else f"can become {via!r},")
                             + " gitjit's own database user")
            elif writer:
                found.append(f"{who!r} can become pg_write_all_data")
            elif who == via:
                found.append(f"{who!r} has {powers}")
            else:
                found.append(f"{who!r} can become {via!r}, which has {powers}")
    return list(dict.fromkeys(found))


def _row(conn: Conn, grant_id: str) -> _Row | None:
    if not _has_bookkeeping(conn):
        return None
    row = conn.execute(sql.SQL(
        "SELECT member, role, held_before, revoked_at FROM {} WHERE grant_id = %s FOR UPDATE"
    ).format(_TABLE), [grant_id]).fetchone()
    return None if row is None else _Row(str(row[0]), str(row[1]), bool(row[2]), row[3])


def _record(conn: Conn, a: Assignment, mode: str, member: str, role: str,
            held_before: bool) -> None:
    conn.execute(sql.SQL(
        "INSERT INTO {} (grant_id, mode, login, member, role, held_before, activated_at,"
        " expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (grant_id) DO UPDATE SET held_before = EXCLUDED.held_before,"
        " member = EXCLUDED.member, role = EXCLUDED.role, revoked_at = NULL,"
        " applied_at = now()"
    ).format(_TABLE), [a.grant_id, mode, a.login, member, role, held_before, a.activated_at,
                       a.expires_at])


def _role_exists(conn: Conn, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone() is not None


def _require_role(conn: Conn, name: str, what: str, fix: str) -> None:
    if not _role_exists(conn, name):
        raise TargetError(f"postgres target: {what} {name!r} does not exist in the database; "
                          f"{fix}")


def _is_direct_member(conn: Conn, member: str, role: str) -> bool:
    return conn.execute(
        "SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
        " JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = %s AND u.rolname = %s",
        [role, member]).fetchone() is not None


def _holds(conn: Conn, member: str, role: str) -> bool:
    """Whether ``member`` has ``role`` through any chain of memberships (or as a superuser)."""
    row = conn.execute(
        "SELECT pg_has_role(u.oid, r.oid, 'MEMBER') FROM pg_roles u, pg_roles r"
        " WHERE u.rolname = %s AND r.rolname = %s", [member, role]).fetchone()
    return row is not None and bool(row[0])


def _end_sessions(conn: Conn, user: str, started_by: datetime | None, context: str,
                  then: str = "run reconcile again to retry") -> None:
    """Ends ``user``'s sessions in every database (those started by ``started_by``, if given).

    A role is cluster-wide, so a session in any database could have switched to it. Without
    pg_read_all_stats, other users' backend_start reads as NULL: such a session is ended too
    (fail closed). Waits for them to exit; TargetError if any survive.
    """
    rows = conn.execute(sql.SQL(
        "SELECT pid, pg_terminate_backend(pid, {}) FROM pg_stat_activity"
        " WHERE pid <> pg_backend_pid() AND usename = %s AND (backend_start IS NULL"
        " OR %s::timestamptz IS NULL OR backend_start <= %s::timestamptz)"
    ).format(sql.Literal(TERMINATE_WAIT_MS)), [user, started_by, started_by]).fetchall()
    survivors = sorted(pid for pid, ended in rows if not ended)
    if survivors:
        raise TargetError(
            f"postgres target: {context} sessions {survivors} of {user!r} did not end within "
            f"{TERMINATE_WAIT_MS} ms; the connecting user needs pg_signal_backend; {then}")


# -- membership mode ----------------------------------------------------------------------

def _apply_membership(conn: Conn, a: Assignment, role: str) -> bool:
    """Gives ``role`` to the login unless it already holds it; True if gitjit granted it now."""
    _require_role(conn, a.login, "the requester's role",
                  f"create a login role named {a.login!r} for them first (gitjit grants "
                  f"membership, it does not create people), or use mode: login-role")
    row = _row(conn, a.grant_id)
    if row is not None and row.revoked_at is None:
        if (row.member, row.role) != (a.login, role):
            raise TargetError(
                f"postgres target: grant {a.grant_id} was applied as {row.role!r} for "
                f"{row.member!r}, but its policy now gives {role!r} to {a.login!r}; gitjit "
                f"keeps what it gave until the grant ends (revocation takes back what was "
                f"recorded), so it will not add a second role now")
        held_before = row.held_before
    else:
        # Overlapping grants share one membership; the first of them learns whether the
        # login held it before gitjit, and the rest inherit that answer.
        other = conn.execute(sql.SQL(
            "SELECT held_before FROM {} WHERE mode = 'membership' AND member = %s AND role = %s"
            " AND revoked_at IS NULL AND grant_id <> %s LIMIT 1"
        ).format(_TABLE), [a.login, role, a.grant_id]).fetchone()
        held_before = bool(other[0]) if other else _holds(conn, a.login, role)
    if held_before and not _holds(conn, a.login, role):
        held_before = False  # what gave it before is gone: from now on this grant gives it
    granted = False
    if not held_before and not _is_direct_member(conn, a.login, role):
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role),
                                                      sql.Identifier(a.login)))
        granted = True
    if row is None or row.revoked_at is not None or row.held_before != held_before:
        _record(conn, a, "membership", a.login, role, held_before)
    return granted


def _revoke_membership(conn: Conn, a: Assignment, policy_role: str) -> None:
    login = a.login
    with conn.transaction():
        row = _row(conn, a.grant_id)
        roles = list(dict.fromkeys([row.role if row else policy_role, policy_role]))
        doubts = _bookkeeping_doubts(conn) + _grantee_powers(conn, login, roles)
        if row is not None and row.member != login:
            doubts.append(f"the record names {row.member!r} as the member, not {login!r}")
        covered = row is not None and conn.execute(sql.SQL(
            "SELECT 1 FROM {} WHERE mode = 'membership' AND member = %s AND role = %s"
            " AND revoked_at IS NULL AND grant_id <> %s LIMIT 1"
        ).format(_TABLE), [row.member, row.role, a.grant_id]).fetchone() is not None
        if not doubts:
            if row is None:
                return  # gitjit never recorded giving this: nothing of ours to take away
            if row.held_before or covered:
                conn.execute(sql.SQL("UPDATE {} SET revoked_at = coalesce(revoked_at, now())"
                                     " WHERE grant_id = %s").format(_TABLE), [a.grant_id])
                return
            # Only the call that ends the grant revokes: a repeated revoke must not take away
            # a membership someone gave the login by other means afterwards.
            ending = row.revoked_at is None
            to_revoke = [row.role] if ending and _is_direct_member(conn, login, row.role) else []
            check = [row.role]
        else:
            # Whoever could rewrite the record may have: revoke what the grant could have given
            # whatever it says, and say what was not believed.
            ending = True
            to_revoke = [r for r in roles if _is_direct_member(conn, login, r)]
            check = roles
        for role in to_revoke:
            conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(role),
                                                             sql.Identifier(login)))
    overridden = _overridden(row, login, covered, to_revoke) if doubts else ""
    # Stamped after the commit, so every session that could have switched to the role (one
    # started before the REVOKE took effect) started by revoked_at; later ones cannot have.
    until: datetime | None = None
    if row is not None:
        stamp = conn.execute(sql.SQL(
            "UPDATE {} SET revoked_at = CASE WHEN %s THEN clock_timestamp() ELSE revoked_at END,"
            " held_before = held_before AND %s WHERE grant_id = %s RETURNING revoked_at"
        ).format(_TABLE), [ending, not doubts, a.grant_id]).fetchone()
        until = stamp[0] if stamp is not None else None
    _end_sessions(conn, login, None if doubts else until,
                  f"gitjit revoked {row.role if row else policy_role!r} from {login!r} "
                  f"(grant {a.grant_id}), but")
    left = _still_held(conn, login, check)
    if overridden or left:
        parts = []
        if overridden:
            parts.append(f"gitjit's record of this grant was not believed, because "
                         f"{'; '.join(doubts)} (anyone who can do that could have rewritten "
                         f"{SCHEMA}.managed): {overridden}")
        if left:
            parts.append(f"after the revocation {'; '.join(left)}: gitjit does not take "
                         f"away memberships it did not give, so remove it by hand (REVOKE ... "
                         f"FROM {login}) and run reconcile again; until then this grant is not "
                         f"recorded as ended")
        raise TargetError(f"postgres target: grant {a.grant_id}: {'. '.join(parts)}")


def _overridden(row: _Row | None, login: str, covered: bool, revoked: list[str]) -> str:
    """What an untrusted record claimed that gitjit did not act on, or "" if nothing."""
    if not revoked:
        return ""
    what = ", ".join(map(repr, revoked))
    if row is not None and row.member != login:
        return (f"it names {row.member!r} as the member; gitjit revoked {what} from "
                f"{login!r}, whom the grant names")
    if row is None:
        return (f"it holds no record of giving {what}, yet the login was a member, so gitjit "
                f"revoked it; if that membership was meant to stay, grant it again by hand")
    if row.held_before:
        return (f"it says the login held {what} before the grant, so it would have been left "
                f"in place; gitjit revoked it; if the login is meant to hold it, grant it "
                f"again by hand")
    if covered:
        return ""  # another live grant of the same role is given again by the next reconcile
    if row.revoked_at is not None:
        return f"it says {what} was already revoked, yet the login was a member; revoked again"
    return ""


def _still_held(conn: Conn, login: str, roles: list[str]) -> list[str]:
    """How ``login`` still holds ``roles`` (or superuser, if they gave it), per the catalog."""
    me = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [login]).fetchone()
    if me is None:
        return []  # the login is gone, and with it every membership
    if me[0]:
        return [f"{login!r} is itself a superuser, which holds every role"]
    left: list[str] = []
    for role in roles:
        if not _holds(conn, login, role):
            continue
        through = [name for (name,) in conn.execute(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member"
            " JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.rolname = %s"
            " WHERE u.rolname = %s AND pg_has_role(g.oid, r.oid, 'MEMBER') ORDER BY 1",
            [role, login]).fetchall()]
        if role in through:
            left.append(f"{login!r} is still a member of {role!r}")
        else:
            left.append(f"{login!r} still holds {role!r} through "
                        f"{', '.join(map(repr, through))}")
    if not left:
        # A grant of a superuser role could have been used to make another one reachable.
        gave_super = conn.execute(
            "SELECT 1 FROM pg_roles g JOIN pg_roles s ON s.rolsuper AND"
            " pg_has_role(g.oid, s.oid, 'MEMBER') WHERE g.rolname = ANY(%s) LIMIT 1",
            [roles]).fetchone()
        if gave_super:
            supers = [name for (name,) in conn.execute(
                "SELECT s.rolname FROM pg_roles u JOIN pg_roles s ON s.rolsuper AND"
                " pg_has_role(u.oid, s.oid, 'MEMBER') WHERE u.rolname = %s ORDER BY 1",
                [login]).fetchall()]
            if supers:
                left.append(f"{login!r} can still become superuser role(s) "
                            f"{', '.join(map(repr, supers))}")
    return left


# -- login-role mode ----------------------------------------------------------------------

def _apply_login_role(conn: Conn, a: Assignment, role: str) -> None:
    name = login_role_name(a.grant_id, a.login)
    ident, until = sql.Identifier(name), sql.Literal(a.expires_at.isoformat())
    if _role_exists(conn, name):
        conn.execute(sql.SQL("ALTER ROLE {} LOGIN VALID UNTIL {}").format(ident, until))
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), ident))
    else:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD NULL VALID UNTIL {} IN ROLE {}")
                     .format(ident, until, sql.Identifier(role)))
    conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(
        ident, sql.Literal(COMMENT_PREFIX + a.grant_id)))
    _record(conn, a, "login-role", name, role, held_before=False)


def _revoke_login_role(conn: Conn, a: Assignment, role: str) -> None:
    name = login_role_name(a.grant_id, a.login)
    ident = sql.Identifier(name)
    # Three steps, ordered so that stopping anywhere leaves less access, never more: no new
    # logins, then no open sessions, then no role. Running revoke again finishes the job.
    with conn.transaction():
        if _has_bookkeeping(conn):
            conn.execute(sql.SQL("UPDATE {} SET revoked_at = coalesce(revoked_at, now())"
                                 " WHERE grant_id = %s").format(_TABLE), [a.grant_id])
        if not _role_exists(conn, name):
            return
        conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(ident))
    _end_sessions(conn, name, None, f"role {name!r} can no longer log in, but")
    with conn.transaction():
        if not _role_exists(conn, name):
            return
        if _owns_anything(conn, name):
            # Work done during the grant (objects it created) goes to the granted role rather
            # than being dropped with the per-grant role.
            try:
                with conn.transaction():
                    if _role_exists(conn, role):
                        conn.execute(sql.SQL("REASSIGN OWNED BY {} TO {}")
                                     .format(ident, sql.Identifier(role)))
                    conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))
            except psycopg.errors.InsufficientPrivilege:
                raise TargetError(
                    f"postgres target: role {name!r} can no longer log in and its sessions "
                    f"ended, but it owns objects or holds privileges that gitjit's database "
                    f"user may not reassign (that needs the privileges of both {name!r} and "
                    f"{role!r}); as a superuser run REASSIGN OWNED BY and DROP OWNED BY for "
                    f"it, then revoke again") from None
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident))


def _owns_anything(conn: Conn, name: str) -> bool:
    """Whether the role owns objects or holds privileges in this database (or shared ones)."""
    return conn.execute(
        "SELECT 1 FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid"
        " WHERE d.refclassid = 'pg_authid'::regclass AND r.rolname = %s AND d.dbid IN"
        " (0, (SELECT oid FROM pg_database WHERE datname = current_database())) LIMIT 1",
        [name]).fetchone() is not None


# -- actions ------------------------------------------------------------------------------

OUTPUT_ROWS = 200
"""Result rows an action's output keeps per statement (the record keeps an excerpt of it)."""
_CHANGING = ("INSERT", "UPDATE", "DELETE", "MERGE")


class _GuardExceeded(Exception):
    def __init__(self, rows: int) -> None:
        super().__init__(rows)
        self.rows = rows


def run_action(job: ActionJob, started: Callable[[], bool]) -> ActionResult | None:
    """Run the plan's statements once, in one transaction, with the plan's time limits.

    With a ``role`` in the policy's target, the transaction runs ``SET LOCAL ROLE`` to it
    first: the statements have that role's privileges, and nobody is granted the role. The
    row guard counts the rows the server reports changed; above it, everything is rolled
    back. Values are bound parameters ($1 ..), sent apart from the statement text."""
    plan = job.plan
    params = dict(plan.target)

    def setting(key: str) -> str | None:
        # As for grants: the policy's target is more specific than the shared connection.
        return params.get(key) or job.connection.get(key)

    conninfo, secrets, source = _conninfo(setting)
    role = dict(plan.target).get("role")
    try:
        conn = psycopg.connect(conninfo, autocommit=True)
    except psycopg.ProgrammingError:
        raise TargetError(f"postgres target: {source} is not a valid PostgreSQL connection "
                          "string") from None
    except psycopg.Error as exc:
        raise TargetError(f"postgres target: cannot connect ({source}): "
                          f"{_redact(str(exc), secrets)}; the action did not run") from None
    with conn:
        if role:
            _require_settable(conn, role, secrets)
        if not started():
            return None
        return _execute(conn, plan, role, secrets)


def _require_settable(conn: Conn, role: str, secrets: list[str]) -> None:
    try:
        row = conn.execute("SELECT pg_has_role(current_user, r.oid, 'MEMBER') FROM pg_roles r"
                           " WHERE r.rolname = %s", [role]).fetchone()
    except psycopg.Error as exc:
        raise TargetError(f"postgres target: {_redact(_describe(exc), secrets)}") from None
    if row is None:
        raise TargetError(f"postgres target: the action runs as role {role!r}, which does not "
                          "exist; the action did not run")
    if not row[0]:
        raise TargetError(f"postgres target: gitjit's database user cannot SET ROLE {role!r} "
                          "(it is not a member); the action did not run")


def _execute(conn: Conn, plan: Plan, role: str | None, secrets: list[str]) -> ActionResult:
    begun = time.monotonic()
    rows = 0
    output: list[str] = []
    committing = False

    def took() -> timedelta:
        return timedelta(seconds=time.monotonic() - begun)

    try:
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(
                sql.Literal(_ms(plan.timeout))))
            conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(
                sql.Literal(_ms(plan.lock_timeout))))
            if role:
                conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
            cursor = psycopg.RawCursor(conn)
            for statement in plan.statements:
                cursor.execute(statement.text, list(statement.values) or None)
                status = cursor.statusmessage or ""
                if status.split(" ")[0] in _CHANGING and cursor.rowcount >= 0:
                    rows += cursor.rowcount
                output += _result_text(cursor, status)
            if plan.max_rows is not None and rows > plan.max_rows:
                raise _GuardExceeded(rows)
            committing = True
    except _GuardExceeded as exc:
        return ActionResult("failed", took(), f"the row guard rolled everything back: "
                            f"{exc.rows} rows changed, the limit is {plan.max_rows}",
                            rows=exc.rows, output="\n".join(output))
    except psycopg.OperationalError as exc:
        if committing:
            return ActionResult("unknown", took(), "the connection failed while committing "
                                f"({_redact(_describe(exc), secrets)}): whether the work was "
                                "committed is not known; check the database",
                                rows=rows, output="\n".join(output))
        return ActionResult("failed", took(), f"{_redact(_describe(exc), secrets)}; "
                            "rolled back", output="\n".join(output))
    except psycopg.Error as exc:
        return ActionResult("failed", took(), f"{_redact(_describe(exc), secrets)}; "
                            "rolled back", output="\n".join(output))
    return ActionResult("completed", took(), rows=rows, output="\n".join(output))


def _ms(value: timedelta) -> int:
    return max(1, int(value.total_seconds() * 1000))


def _result_text(cursor: psycopg.RawCursor[Any], status: str) -> list[str]:
    lines = []
    if cursor.description:
        lines.append("\t".join(column.name for column in cursor.description))
        fetched = cursor.fetchmany(OUTPUT_ROWS + 1)
        lines += ["\t".join("NULL" if v is None else str(v) for v in row)
                  for row in fetched[:OUTPUT_ROWS]]
        if len(fetched) > OUTPUT_ROWS:
            lines.append(f"(more than {OUTPUT_ROWS} rows; the rest is not kept)")
    lines.append(status)
    return lines
