"""A real PostgreSQL server for the target tests: finding, starting and stopping it.

initdb + pg_ctl in a fresh directory under /tmp, listening on a unix socket only (no TCP).
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` system user,
which the Debian ``postgresql`` package creates (.ci/run installs it when it is missing).
Missing binaries fail the tests rather than skip them: a skipped database test proves nothing.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from engine.core.models import GrantId, Login, PolicyId, Target
from engine.targets.base import Assignment

SERVER_USER = "postgres"
"""The system user that runs the server when the tests run as root."""

Conn = psycopg.Connection[tuple[object, ...]]


def find_bin(name: str) -> str:
    """``name`` on PATH, else the newest /usr/lib/postgresql/<version>/bin/<name>."""
    on_path = shutil.which(name)
    if on_path:
        return on_path

    def version(path: str) -> int:
        match = re.search(r"/postgresql/(\d+)/bin/", path)
        return int(match.group(1)) if match else 0

    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=version)
    if not candidates:
        pytest.fail(f"PostgreSQL's {name} was found neither on PATH nor under "
                    f"/usr/lib/postgresql/*/bin; install the server (Debian: apt-get install "
                    f"postgresql; .ci/run does this) to run the PostgreSQL target tests",
                    pytrace=False)
    return candidates[-1]


def _free_port() -> int:
    # The port only names the socket file (.s.PGSQL.<port>) since TCP is off.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as_prefix() -> list[str]:
    """How to run the server's commands: directly, or as root through runuser."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        pytest.fail(f"running as root, but there is no {SERVER_USER!r} system user to run "
                    f"PostgreSQL as (initdb refuses root); install the postgresql package "
                    f"(it creates the user) or run the tests as a normal user", pytrace=False)
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.fail("running as root and runuser (util-linux) is missing; run the tests as "
                    "a normal user", pytrace=False)
    return [runuser, "-u", SERVER_USER, "--"]


@dataclass(frozen=True)
class PgServer:
    socket_dir: str
    port: int

    def dsn(self, user: str = "postgres", dbname: str = "postgres") -> str:
        return psycopg.conninfo.make_conninfo(host=self.socket_dir, port=str(self.port),
                                              user=user, dbname=dbname, connect_timeout="5")

    def connect(self, user: str = "postgres") -> Conn:
        return psycopg.connect(self.dsn(user), autocommit=True)


@contextmanager
def running_server() -> Iterator[PgServer]:
    initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
    prefix = _run_as_prefix()
    # Not pytest's tmp_path: that lives under a root-only directory the server user cannot
    # enter, and unix socket paths must stay short (about 100 bytes).
    base = Path(tempfile.mkdtemp(prefix="gitjit-pg-"))
    data, log = base / "data", base / "server.log"

    def run(*args: str) -> None:
        proc = subprocess.run([*prefix, *args], capture_output=True, text=True, cwd=base,
                              check=False, timeout=120)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip()[-2000:]
            if log.exists():
                detail += "\nserver log:\n" + log.read_text(errors="replace")[-2000:]
            pytest.fail(f"{Path(args[0]).name} failed (exit {proc.returncode}): {detail}",
                        pytrace=False)

    try:
        if prefix:
            shutil.chown(base, user=SERVER_USER)
        run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync",
            "-E", "UTF8", "--locale=C")
        # Durability is worthless for a throwaway server; skipping it makes the tests fast.
        port = _free_port()
        options = (f"-k {base} -c listen_addresses='' -p {port} -c fsync=off "
                   f"-c full_page_writes=off -c synchronous_commit=off")
        run(pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start")
        try:
            yield PgServer(str(base), port)
        finally:
            subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, check=False, timeout=60)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def create_role(conn: Conn, name: str, *, login: bool = False) -> None:
    conn.execute(sql.SQL("CREATE ROLE {} " + ("LOGIN" if login else "NOLOGIN"))
                 .format(sql.Identifier(name)))


def is_member(conn: Conn, member: str, role: str) -> bool:
    return conn.execute(
        "SELECT pg_has_role(%s, %s, 'MEMBER')", [member, role]).fetchone() == (True,)


def is_alive(conn: Conn) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


NOW = datetime.now(UTC).replace(microsecond=0)
"""The activation times are relative to the real clock: the server judges sessions by it."""


def assignment(login: str, role: str, dsn_env: str, *, mode: str = "membership",
               grant: str | None = None, policy: str = "prod-db-admin",
               activated: datetime | None = None, hours: int = 2,
               **params: str) -> Assignment:
    activated_at = activated or NOW - timedelta(minutes=5)
    target_params = {"connection": "orders-test", "role": role, **params}
    return Assignment(
        grant_id=GrantId(grant or f"{policy}/{login}-20261130T1030Z"),
        login=Login(login),
        policy=PolicyId(policy),
        target=Target("postgres", tuple(sorted(target_params.items()))),
        connection={"provider": "postgres", "dsn_env": dsn_env, "mode": mode},
        activated_at=activated_at,
        expires_at=activated_at + timedelta(hours=hours),
    )
