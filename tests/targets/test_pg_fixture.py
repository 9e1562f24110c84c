"""The test server's own contract: missing PostgreSQL binaries fail loudly, never skip."""

from __future__ import annotations

import glob
import shutil

import pytest

from tests.targets import pg


def test_missing_binaries_fail_with_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(glob, "glob", lambda pattern: [])

    with pytest.raises(pytest.fail.Exception) as err:
        pg.find_bin("initdb")

    assert str(err.value) == (
        "PostgreSQL's initdb was found neither on PATH nor under /usr/lib/postgresql/*/bin; "
        "install the server (Debian: apt-get install postgresql; .ci/run does this) to run "
        "the PostgreSQL target tests")


def test_the_newest_installed_version_is_preferred(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(glob, "glob", lambda pattern: [
        "/usr/lib/postgresql/9/bin/initdb", "/usr/lib/postgresql/16/bin/initdb",
        "/usr/lib/postgresql/15/bin/initdb"])

    assert pg.find_bin("initdb") == "/usr/lib/postgresql/16/bin/initdb"
