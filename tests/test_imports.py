"""Start-up: a command imports only what it uses.

PyGithub (with requests, PyJWT and the crypto libraries), jinja2, apprise, psycopg and the
target drivers took most of gitjit's start-up, and 'gitjit --help' or 'gitjit check' use none
of them. Each case runs gitjit in a fresh interpreter and lists the modules loaded by the end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest

from tests.gitrepo import GitRepoBuilder

PROJECT = Path(__file__).resolve().parents[1]
HEAVY = ("github", "requests", "jwt", "jinja2", "apprise", "psycopg", "engine.targets",
         "engine.lifecycle", "engine.adapters.notify", "engine.adapters.github")


def loaded_by(args: list[str]) -> tuple[int, list[str]]:
    script = textwrap.dedent(f"""\
        import contextlib, io, json, sys
        from engine.cli import run
        with contextlib.redirect_stdout(io.StringIO()):
            code = run({args!r})
        print(json.dumps([code, sorted(sys.modules)]))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, cwd=PROJECT)
    code, modules = json.loads(result.stdout)
    return code, modules


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_help_imports_no_command() -> None:
    code, modules = loaded_by(["--help"])
    assert code == 0
    assert heavy(modules) == []
    # Not even the YAML and schema machinery: help needs neither.
    assert [m for m in modules if m.split(".")[0] in ("yaml", "jsonschema")] == []


def test_check_imports_nothing_it_does_not_use() -> None:
    code, modules = loaded_by(["check", "--repo", str(PROJECT)])
    assert code == 0
    assert heavy(modules) == []
    assert "engine.core.strictyaml" in modules


def test_an_offline_verdict_imports_no_forge_client(repo: GitRepoBuilder) -> None:
    shutil.copytree(PROJECT / "schemas", repo.path / "schemas")
    shutil.copytree(PROJECT / "policies", repo.path / "policies")
    repo.commit("configuration")
    code, modules = loaded_by(["check-pr", "--repo", str(repo.path), "--base", "main",
                               "--head", "main", "--author", "bob",
                               "--now", "2026-11-30T09:00:00Z"])
    assert code == 1  # no change at all: denied as empty
    assert heavy(modules) == []


@pytest.mark.parametrize(("args", "needed"), [
    (["check-pr", "--help"], []),
    (["local", "--help"], []),
    (["audit", "--help"], []),
])
def test_a_commands_help_loads_no_client(args: list[str], needed: list[str]) -> None:
    code, modules = loaded_by(args)
    assert code == 0
    assert heavy(modules) == needed


def test_the_local_group_loads_when_used_and_reads_as_its_own_help() -> None:
    from engine.cli import cli, local_group
    from engine.commands.local import group

    ctx = click.Context(cli)
    assert local_group.get_short_help_str() == group.get_short_help_str()
    assert local_group.list_commands(ctx) == group.list_commands(ctx)
    assert local_group.get_help(ctx) == group.get_help(ctx)
