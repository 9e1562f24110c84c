"""Fixtures for the whole suite: an isolated git identity, no network, throwaway repositories."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gitrepo import PINNED_DATE, GitRepoBuilder, RepoFactory
from tests.targets.pg import PgServer, running_server

AUTHOR_NAME = "Test Author"
AUTHOR_EMAIL = "author@example.invalid"
COMMITTER_NAME = "Test Committer"
COMMITTER_EMAIL = "committer@example.invalid"

_GITCONFIG = f"""\
[init]
\tdefaultBranch = main
[user]
\tname = {AUTHOR_NAME}
\temail = {AUTHOR_EMAIL}
[commit]
\tgpgsign = false
[tag]
\tgpgsign = false
[core]
\thooksPath = /dev/null
"""


class NetworkBlockedError(RuntimeError):
    """A test tried to reach beyond loopback."""


@pytest.fixture(autouse=True)
def git_identity(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME with a minimal gitconfig and a pinned author, committer and date.

    Nothing from the developer's ~/.gitconfig, XDG config or GIT_* variables reaches git.
    """
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(_GITCONFIG, encoding="utf-8")
    for key in list(os.environ):
        if key.startswith("GIT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", AUTHOR_NAME)
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL)
    monkeypatch.setenv("GIT_AUTHOR_DATE", PINNED_DATE)
    monkeypatch.setenv("GIT_COMMITTER_NAME", COMMITTER_NAME)
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", COMMITTER_EMAIL)
    monkeypatch.setenv("GIT_COMMITTER_DATE", PINNED_DATE)
    return home


def _is_loopback(family: int, address: Any) -> bool:
    if family == getattr(socket, "AF_UNIX", None):
        return True
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        # A name other than localhost would need DNS: that is the network.
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Block every connection that is not loopback or a unix socket."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection

    def refuse(address: Any) -> NetworkBlockedError:
        return NetworkBlockedError(
            f"network access to {address!r} is blocked in tests; use a loopback server"
        )

    def connect(self: socket.socket, address: Any) -> None:
        if not _is_loopback(self.family, address):
            raise refuse(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _is_loopback(self.family, address):
            raise refuse(address)
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        # Checked before name resolution, so a blocked host costs no DNS query either.
        if not _is_loopback(socket.AF_INET, address):
            raise refuse(address)
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)


@pytest.fixture
def repo_factory(tmp_path: Path) -> Iterator[RepoFactory]:
    """Makes fresh repositories: ``repo_factory("upstream", initial_commit=False)``."""
    yield RepoFactory(tmp_path)


@pytest.fixture
def repo(repo_factory: RepoFactory) -> GitRepoBuilder:
    """A fresh repository on branch main with one commit (README.md)."""
    return repo_factory("repo")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One real PostgreSQL server for the whole session, started on first use (see pg.py)."""
    with running_server() as server:
        yield server
