"""PostgreSQL target (psycopg 3): role membership, or a per-grant login role with VALID UNTIL.

Settings (``TARGET_SCHEMA`` and ``CONNECTION_SCHEMA`` below say which belong to a policy's
target and which to its connection; at run time the policy's target params win):

- ``role`` (required): the role the grant gives, e.g. ``orders_admin``.
- ``dsn_env``: the environment variable holding a libpq connection string or URI; or, instead,
  ``host``, ``port``, ``dbname``, ``user``, ``sslmode``, ``sslrootcert``, ``sslcert``,
  ``sslkey`` with the password in the variable named by ``password_env``.
- ``mode``: ``membership`` (default) grants ``role`` to the PostgreSQL role named like the
  requester's login; ``login-role`` creates a role per grant, ``gitjit_<login>_<hash>``,
  ``LOGIN PASSWORD NULL VALID UNTIL <expiry> IN ROLE <role>``.
- ``terminate_sessions`` (membership mode): when the login's sessions that predate the grant
  end. ``all`` (default): at revocation, with every other session of the login. A session
  keeps a role it switched to with ``SET ROLE`` after the REVOKE, and any session alive during
  the grant could have switched, so revocation ends all of them. ``since-activation``: at
  apply, right after the GRANT, so revocation then only meets sessions opened during the grant
  (and still ends all of them).

This module holds the target's declarations (its schemas, ``EXPIRY``, ``REQUIRES``) and
imports no psycopg, so ``gitjit check``, the verdict and ``gitjit targets`` read them without
it. The work (bookkeeping in ``gitjit.managed``, the checks that decide whether it is
believed, every statement) is in ``engine.targets.postgres_driver``, loaded the first time the
target connects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING

from engine.core.models import Target
from engine.targets import schemas as s
from engine.targets.base import (
    ActionJob,
    ActionResult,
    Assignment,
    Holder,
    ManagedAssignment,
    TargetError,
)

if TYPE_CHECKING:
    from engine.targets.postgres_driver import PostgresDriver

MODES = ("membership", "login-role")
TERMINATE = ("all", "since-activation")


def login_role_name(grant_id: str, login: str) -> str:
    """The per-grant role: ``gitjit_<login>_<10 hex of sha256(grant id)>``, at most 63 bytes.

    A hash rather than the grant's stamp, because one person may hold grants of two policies
    with the same stamp; PostgreSQL truncates names beyond 63 bytes, which could merge roles.
    """
    digest = hashlib.sha256(grant_id.encode("utf-8")).hexdigest()[:10]
    short = login.encode("utf-8")[:45].decode("utf-8", "ignore")
    return f"gitjit_{short}_{digest}"


_MODE = s.choice("membership (default): grant the role to the login's own PostgreSQL role; "
                 "login-role: create a login role per grant", *MODES)
_TERMINATE = s.choice("membership mode: when the login's sessions opened before the grant "
                      "end, at revocation (all, the default) or at apply (since-activation)",
                      *TERMINATE)


class PostgresTarget:
    """The declarations, and the protocol's methods handing over to ``PostgresDriver``
    (imported, with psycopg, the first time the target works)."""

    name = "postgres"

    REQUIRES = ("psycopg",)
    """What the driver imports: without it the provider is unusable (the postgres extra)."""
    TARGET_SCHEMA = s.mapping("postgres target", {
        "role": s.text("The role the grant gives, e.g. orders_admin; it must exist.",
                       maxLength=63),
        "mode": _MODE,
        "terminate_sessions": _TERMINATE,
    }, required=("role",))
    CONNECTION_SCHEMA = s.mapping("postgres connection", {
        "dsn_env": {**s.ENV_VAR, "description": "The environment variable holding a libpq "
                    "connection string or postgresql:// URI (instead of host, dbname ...)."},
        "host": s.text("The server's host name, or a directory holding its unix socket."),
        "port": {"type": "string", "pattern": "^[0-9]{1,5}$", "description": "The port.",
                 "errorMessage": "is not a port number; write e.g. 5432"},
        "dbname": s.text("The database."),
        "user": s.text("gitjit's database user."),
        "password_env": {**s.ENV_VAR, "description": "The environment variable holding the "
                         "password of gitjit's database user."},
        "sslmode": s.choice("libpq's sslmode; verify-full in production.", "disable", "allow",
                            "prefer", "require", "verify-ca", "verify-full"),
        "sslrootcert": s.text("libpq's sslrootcert: the CA certificate file."),
        "sslcert": s.text("libpq's sslcert: gitjit's client certificate file."),
        "sslkey": s.text("libpq's sslkey: gitjit's client key file."),
        "connect_timeout": {"type": "string", "pattern": "^[0-9]{1,4}$",
                            "description": "Seconds to wait for a connection.",
                            "errorMessage": "is not a number of seconds; write e.g. 10"},
        "application_name": s.text("How gitjit's sessions are named in pg_stat_activity."),
        "mode": {**_MODE, "description": "The default mode for policies that do not say."},
        "terminate_sessions": {**_TERMINATE, "description": "The default for policies that "
                               "do not say."},
    }, anyOf=[{"required": ["dsn_env"]}, {"required": ["host"]}, {"required": ["dbname"]}])
    EXPIRY = "gitjit"
    """VALID UNTIL binds password logins only, so gitjit's reconcile ends access (below)."""

    def __init__(self, connection: Mapping[str, str]) -> None:
        self._connection = dict(connection)

    @cached_property
    def _driver(self) -> PostgresDriver:
        try:
            from engine.targets.postgres_driver import PostgresDriver
        except ImportError as exc:  # found by REQUIRES, yet broken (libpq, a partial install)
            raise TargetError(f"postgres target: cannot load psycopg ({exc}); install it with "
                              "pip install 'gitjit[postgres]'") from exc
        return PostgresDriver(self._connection)

    # -- protocol -------------------------------------------------------------------------

    def native_expiry(self, assignment: Assignment) -> bool:
        # VALID UNTIL binds only password logins, and login roles have no password: an expired
        # role could still log in by cert, gss or ldap, and open sessions would live on. So
        # expiry is gitjit's job in both modes; VALID UNTIL is a second line of defence.
        return False

    def apply(self, assignment: Assignment) -> None:
        self._driver.apply(assignment)

    def revoke(self, assignment: Assignment) -> None:
        self._driver.revoke(assignment)

    def probe(self, assignment: Assignment) -> str:
        return self._driver.probe(assignment)

    def list_managed(self) -> list[ManagedAssignment]:
        return self._driver.list_managed()

    def holders(self, target: Target) -> list[Holder]:
        return self._driver.holders(target)

    def remove_holder(self, target: Target, holder: Holder) -> None:
        self._driver.remove_holder(target, holder)

    def run_action(self, job: ActionJob,
                   started: Callable[[], bool]) -> ActionResult | None:
        return self._driver.run_action(job, started)
