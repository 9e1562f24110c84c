"""Progress on a terminal: check, audit, report, activate and reconcile show it on stderr
when it is a terminal, erase it when done, and never show it with --format json. A real
pseudo-terminal stands for the user's; the progress shows at once (GITJIT_PROGRESS_AFTER=0)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

from benchmarks.lifehistory import Built, build
from tests.commands.test_audit import history  # noqa: F401 - the fixture
from tests.commands.test_check import _many_grants
from tests.gitrepo import GitRepoBuilder

ERASE = "\r\x1b[K"


def on_a_terminal(*args: str) -> tuple[str, str]:
    """Run gitjit with stderr on a terminal and stdout in a pipe: (stdout, what the terminal
    showed)."""
    reader, writer = pty.openpty()
    env = {**os.environ, "GITJIT_PROGRESS_AFTER": "0", "TERM": "xterm"}
    env.pop("GITJIT_PROGRESS", None)
    try:
        result = subprocess.run([sys.executable, "-m", "engine", *args],
                                stdout=subprocess.PIPE, stderr=writer, env=env, check=False,
                                timeout=120)
        os.close(writer)
        chunks = []
        while True:
            try:
                chunk = os.read(reader, 1 << 16)
            except OSError:  # the terminal's other side is closed: all is read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(reader)
    return result.stdout.decode("utf-8"), b"".join(chunks).decode("utf-8")


def test_check_shows_progress_on_a_terminal_but_never_in_json(
        small_repo: GitRepoBuilder) -> None:
    _many_grants(small_repo, 300)
    out, screen = on_a_terminal("check", "--repo", str(small_repo.path))
    assert out == "1 policy, 301 grants, 0 errors, 0 warnings\n"
    assert "checking grants: " in screen
    assert screen.endswith(ERASE)

    out, screen = on_a_terminal("check", "--repo", str(small_repo.path), "--format", "json")
    assert out.startswith("{")
    assert screen == ""


def test_audit_shows_progress_on_a_terminal_but_never_in_json(
        history: GitRepoBuilder) -> None:  # noqa: F811 - the fixture
    out, screen = on_a_terminal("audit", "--repo", str(history.path))
    assert out.startswith("reports-read/")
    assert "reading grants: 1 of 2 (50%)" in screen
    assert screen.endswith(ERASE)

    out, screen = on_a_terminal("audit", "--repo", str(history.path), "--format", "json")
    assert out.startswith("{")
    assert screen == ""


@pytest.fixture(scope="module")
def lifecycle_history(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A signed lifecycle history of 30 grants: ten merged and not yet activated, ten whose
    time is up at its ``now`` (benchmarks/lifehistory.py, the lifecycle benchmark's own)."""
    return build(tmp_path_factory.mktemp("life") / "repo", grants=30, policies=3,
                 requesters=20)


def test_report_shows_progress_on_a_terminal_but_never_in_json(
        history: GitRepoBuilder) -> None:  # noqa: F811 - the fixture
    base = ["report", "--repo", str(history.path), "--forge", "none", "--until",
            "2026-12-31T00:00:00Z"]
    out, screen = on_a_terminal(*base)
    assert "reading grants: 1 of 2 (50%)" in screen
    assert screen.endswith(ERASE)

    out, screen = on_a_terminal(*base, "--format", "json")
    assert json.loads(out)["period"]
    assert screen == ""


def test_activate_and_reconcile_show_progress_on_a_terminal_but_never_in_json(
        lifecycle_history: Built) -> None:
    made = lifecycle_history
    now = made.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    base = ["--repo", str(made.repo), "--now", now]
    out, screen = on_a_terminal("activate", *base)
    assert out.endswith("activate: 10 activated\n")
    assert "activate: verifying merged grants: 1 of 10 (10%)" in screen
    assert screen.endswith(ERASE)

    out, screen = on_a_terminal("reconcile", *base)
    assert out.endswith("reconcile: 10 applied, 1 removed, 10 revoked\n")
    assert "reconcile: checking live grants: 1 of 10 (10%)" in screen
    assert "reconcile: applying live grants: 1 of 10 (10%)" in screen
    assert "reconcile: ending grants: 1 of 10 (10%)" in screen
    # The bar is erased before the removal commit's note about the checked-out branch.
    assert screen.endswith(ERASE + "updated your checkout of main to the removal\r\n")

    # Nothing left to do; in JSON the terminal shows nothing at all.
    for command in ("activate", "reconcile"):
        out, screen = on_a_terminal(command, *base, "--format", "json")
        assert json.loads(out)["ok"] is True
        assert screen == ""
