"""PostgreSQL target (psycopg 3): role membership, or a per-grant login role with VALID UNTIL.

Settings (connection entries, or the policy's target params, which win):

- ``role`` (required): the role the grant gives, e.g. ``orders_admin``.
- ``dsn_env``: the environment variable holding a libpq connection string or URI; or, instead,
  ``host``, ``port``, ``dbname``, ``user``, ``sslmode``, ``sslrootcert``, ``sslcert``,
  ``sslkey`` with the password in the variable named by ``password_env``.
- ``mode``: ``membership`` (default) grants ``role`` to the PostgreSQL role named like the
  requester's login; ``login-role`` creates a role per grant, ``gitjit_<login>_<hash>``,
  ``LOGIN PASSWORD NULL VALID UNTIL <expiry> IN ROLE <role>``.
- ``terminate_sessions``: which sessions revocation ends: ``since-activation`` (default: those
  that started while the grant was live) or ``all`` (every session started before revocation).

Bookkeeping: gitjit records every assignment in ``gitjit.managed`` (created on first use), so
revocation takes away only what gitjit gave: a membership the login already held before its
first grant is left alone, and overlapping grants keep the membership until the last one ends.
Rows are kept with ``revoked_at`` set, as history. Per-grant roles also carry
``COMMENT ON ROLE ... IS 'gitjit grant <id>'``, so they are found even without the table.

Every identifier goes through ``psycopg.sql.Identifier`` and every value through a bound
parameter or ``sql.Literal``; nothing is formatted into SQL text.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from engine.core.models import GrantId
from engine.targets.base import Assignment, ManagedAssignment, TargetError

Setting = Callable[[str], str | None]

MODES = ("membership", "login-role")
TERMINATE = ("since-activation", "all")
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


def login_role_name(grant_id: str, login: str) -> str:
    """The per-grant role: ``gitjit_<login>_<10 hex of sha256(grant id)>``, at most 63 bytes.

    A hash rather than the grant's stamp, because one person may hold grants of two policies
    with the same stamp; PostgreSQL truncates names beyond 63 bytes, which could merge roles.
    """
    digest = hashlib.sha256(grant_id.encode("utf-8")).hexdigest()[:10]
    short = login.encode("utf-8")[:45].decode("utf-8", "ignore")
    return f"gitjit_{short}_{digest}"


class PostgresTarget:
    name = "postgres"

    def __init__(self, connection: Mapping[str, str]) -> None:
        self._connection = dict(connection)

    # -- protocol -------------------------------------------------------------------------

    def native_expiry(self, assignment: Assignment) -> bool:
        # VALID UNTIL binds only password logins, and login roles have no password: an expired
        # role could still log in by cert, gss or ldap, and open sessions would live on. So
        # expiry is gitjit's job in both modes; VALID UNTIL is a second line of defence.
        return False

    def apply(self, assignment: Assignment) -> None:
        mode, role = _mode(assignment), _role(assignment)
        with self._connect(assignment.setting) as conn, conn.transaction():
            _ensure_bookkeeping(conn)
            _require_role(conn, role, "the granted role",
                          f"create it, or fix 'role' in policy {assignment.policy}")
            if mode == "membership":
                _apply_membership(conn, assignment, role)
            else:
                _apply_login_role(conn, assignment, role)

    def revoke(self, assignment: Assignment) -> None:
        mode = _mode(assignment)
        with self._connect(assignment.setting) as conn:
            if mode == "membership":
                _revoke_membership(conn, assignment, _terminate(assignment))
            else:
                _revoke_login_role(conn, assignment, _role(assignment))

    def list_managed(self) -> list[ManagedAssignment]:
        with self._connect(self._connection.get) as conn, conn.transaction():
            out: list[ManagedAssignment] = []
            active_members: set[str] = set()
            if _has_bookkeeping(conn):
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

    # -- connection -----------------------------------------------------------------------

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
                yield conn
        except psycopg.Error as exc:
            raise TargetError(f"postgres target: {_redact(_describe(exc), secrets)}") from None


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
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message


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

def _has_bookkeeping(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", [f"{SCHEMA}.managed"]).fetchone()
    return row is not None and row[0] is not None


def _ensure_bookkeeping(conn: psycopg.Connection[Any]) -> None:
    if not _has_bookkeeping(conn):
        for statement in _CREATE:
            conn.execute(statement)


def _row(conn: psycopg.Connection[Any], grant_id: str) -> tuple[Any, ...] | None:
    if not _has_bookkeeping(conn):
        return None
    return conn.execute(sql.SQL(
        "SELECT member, role, held_before, revoked_at FROM {} WHERE grant_id = %s FOR UPDATE"
    ).format(_TABLE), [grant_id]).fetchone()


def _record(conn: psycopg.Connection[Any], a: Assignment, mode: str, member: str, role: str,
            held_before: bool) -> None:
    conn.execute(sql.SQL(
        "INSERT INTO {} (grant_id, mode, login, member, role, held_before, activated_at,"
        " expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (grant_id) DO UPDATE SET held_before = EXCLUDED.held_before,"
        " revoked_at = NULL, applied_at = now()"
    ).format(_TABLE), [a.grant_id, mode, a.login, member, role, held_before, a.activated_at,
                       a.expires_at])


def _role_exists(conn: psycopg.Connection[Any], name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone() is not None


def _require_role(conn: psycopg.Connection[Any], name: str, what: str, fix: str) -> None:
    if not _role_exists(conn, name):
        raise TargetError(f"postgres target: {what} {name!r} does not exist in the database; "
                          f"{fix}")


def _is_direct_member(conn: psycopg.Connection[Any], member: str, role: str) -> bool:
    return conn.execute(
        "SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
        " JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = %s AND u.rolname = %s",
        [role, member]).fetchone() is not None


def _terminate_sessions(conn: psycopg.Connection[Any], where: sql.Composable,
                        params: list[Any]) -> None:
    """Ends the matching sessions and waits for them to exit; TargetError if any survive."""
    rows = conn.execute(sql.SQL(
        "SELECT pid, pg_terminate_backend(pid, {}) FROM pg_stat_activity"
        " WHERE pid <> pg_backend_pid() AND {}"
    ).format(sql.Literal(TERMINATE_WAIT_MS), where), params).fetchall()
    survivors = sorted(pid for pid, ended in rows if not ended)
    if survivors:
        raise TargetError(
            f"postgres target: access was revoked but sessions {survivors} did not end within "
            f"{TERMINATE_WAIT_MS} ms; the connecting user needs pg_signal_backend; run revoke "
            f"again to retry")


# -- membership mode ----------------------------------------------------------------------

def _apply_membership(conn: psycopg.Connection[Any], a: Assignment, role: str) -> None:
    _require_role(conn, a.login, "the requester's role",
                  f"create a login role named {a.login!r} for them first (gitjit grants "
                  f"membership, it does not create people), or use mode: login-role")
    row = _row(conn, a.grant_id)
    if row is not None and row[3] is None:
        held_before = bool(row[2])
    else:
        # Overlapping grants share one membership; the first of them learns whether the
        # login held it before gitjit, and the rest inherit that answer.
        other = conn.execute(sql.SQL(
            "SELECT held_before FROM {} WHERE mode = 'membership' AND member = %s AND role = %s"
            " AND revoked_at IS NULL AND grant_id <> %s LIMIT 1"
        ).format(_TABLE), [a.login, role, a.grant_id]).fetchone()
        held_before = bool(other[0]) if other else _is_direct_member(conn, a.login, role)
        _record(conn, a, "membership", a.login, role, held_before)
    if not held_before:
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role),
                                                      sql.Identifier(a.login)))


def _revoke_membership(conn: psycopg.Connection[Any], a: Assignment, terminate: str) -> None:
    with conn.transaction():
        row = _row(conn, a.grant_id)
        if row is None:
            return  # gitjit never recorded giving this: nothing of ours to take away
        member, role, held_before, revoked_at = row
        if revoked_at is None:
            conn.execute(sql.SQL("UPDATE {} SET revoked_at = now() WHERE grant_id = %s")
                         .format(_TABLE), [a.grant_id])
        still_covered = conn.execute(sql.SQL(
            "SELECT 1 FROM {} WHERE mode = 'membership' AND member = %s AND role = %s"
            " AND revoked_at IS NULL LIMIT 1").format(_TABLE), [member, role]).fetchone()
        if held_before or still_covered:
            return
        # Only the call that ends the grant revokes: a repeated revoke must not take away a
        # membership someone gave the login by other means afterwards.
        if revoked_at is None and _is_direct_member(conn, member, role):
            conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(role),
                                                             sql.Identifier(member)))
    # After the commit, so a session started from here on cannot have the membership.
    # Without pg_read_all_stats, backend_start of other users' sessions reads as NULL: a
    # session whose start cannot be seen is ended too (fail closed).
    since = "AND backend_start >= m.activated_at" if terminate == "since-activation" else ""
    _terminate_sessions(conn, sql.SQL(
        "usename = %s AND (backend_start IS NULL OR EXISTS (SELECT 1 FROM {} m"
        " WHERE m.grant_id = %s AND backend_start <= m.revoked_at " + since + "))"
    ).format(_TABLE), [member, a.grant_id])


# -- login-role mode ----------------------------------------------------------------------

def _apply_login_role(conn: psycopg.Connection[Any], a: Assignment, role: str) -> None:
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


def _revoke_login_role(conn: psycopg.Connection[Any], a: Assignment, role: str) -> None:
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
    _terminate_sessions(conn, sql.SQL("usename = %s"), [name])
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


def _owns_anything(conn: psycopg.Connection[Any], name: str) -> bool:
    """Whether the role owns objects or holds privileges in this database (or shared ones)."""
    return conn.execute(
        "SELECT 1 FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid"
        " WHERE d.refclassid = 'pg_authid'::regclass AND r.rolname = %s AND d.dbid IN"
        " (0, (SELECT oid FROM pg_database WHERE datname = current_database())) LIMIT 1",
        [name]).fetchone() is not None
