"""A table and a role per test on the session's PostgreSQL, for the action tests (import the
fixture `orders` into a conftest or test module to use it)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from psycopg import sql

from tests.targets.pg import Conn, PgServer

_suffixes = itertools.count(1)


@dataclass(frozen=True)
class Orders:
    """A table of orders and the role actions run as; both removed after the test."""

    table: str
    role: str
    admin: Conn

    def rows(self) -> list[tuple[object, ...]]:
        return self.admin.execute(sql.SQL("SELECT id, status, note, attempts FROM {} ORDER BY id")
                                  .format(sql.Identifier(self.table))).fetchall()

    def attempts(self) -> int:
        row = self.admin.execute(sql.SQL("SELECT sum(attempts) FROM {}")
                                 .format(sql.Identifier(self.table))).fetchone()
        assert row is not None
        return int(str(row[0] or 0))


@pytest.fixture
def orders(pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Orders]:
    suffix = f"a{next(_suffixes)}"
    table, role = f"orders_{suffix}", f"orders_fixer_{suffix}"
    monkeypatch.setenv("GITJIT_ORDERS_DSN", pg_server.dsn())
    with pg_server.connect() as admin:
        ident, who = sql.Identifier(table), sql.Identifier(role)
        admin.execute(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, day text NOT NULL, "
                              "status text NOT NULL, note text, attempts int NOT NULL "
                              "DEFAULT 0)").format(ident))
        admin.execute(sql.SQL("INSERT INTO {} (id, day, status) VALUES (1, 'mon', 'open'), "
                              "(2, 'mon', 'open'), (3, 'mon', 'open'), (4, 'tue', 'open')")
                      .format(ident))
        admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(who))
        admin.execute(sql.SQL("GRANT SELECT, UPDATE ON {} TO {}").format(ident, who))
        try:
            yield Orders(table, role, admin)
        finally:
            admin.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(who))
