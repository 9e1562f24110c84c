"""Fixtures for the target tests: one real PostgreSQL server per session (see pg.py)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.targets.pg import Conn, PgServer

_suffixes = itertools.count(1)


@pytest.fixture
def uniq() -> str:
    """A fresh suffix per test: roles are global to the cluster, so tests must not share them."""
    return f"t{next(_suffixes)}"


@pytest.fixture
def admin(pg_server: PgServer) -> Iterator[Conn]:
    with pg_server.connect() as conn:
        yield conn


@pytest.fixture
def dsn_env(pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The name of an environment variable holding the superuser's connection string."""
    monkeypatch.setenv("GITJIT_TEST_PG_DSN", pg_server.dsn())
    return "GITJIT_TEST_PG_DSN"
