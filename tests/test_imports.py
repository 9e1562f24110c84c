"""Start-up: a command imports only what it uses.

PyGithub (with requests, PyJWT and the crypto libraries), jinja2, apprise, psycopg and the
target drivers took most of gitjit's start-up, and 'gitjit --help' or 'gitjit check' use none
of them. Each case runs gitjit in a fresh interpreter and lists the modules loaded by the end.

The checks read every target's declarations (``engine.targets.registry.catalog()``), so the
first-party targets keep their client libraries in driver modules, loaded when a target works;
pglast, which parses SQL, loads only for a configuration that has SQL in it.
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

from engine import __version__
from tests.gitrepo import GitRepoBuilder

PROJECT = Path(__file__).resolve().parents[1]
CLIENTS = ("github", "requests", "jwt", "jinja2", "apprise", "psycopg", "boto3", "botocore",
           "msgraph", "azure", "pglast")
DRIVERS = ("engine.targets.postgres_driver", "engine.targets.github_team_driver",
           "engine.targets.aws.driver", "engine.targets.entra.auth", "engine.targets.entra.graph",
           "engine.targets.entra.principals", "engine.targets.entra.privileges")
HEAVY = (*CLIENTS, *DRIVERS, "engine.lifecycle", "engine.adapters.notify",
         "engine.adapters.github")


def loaded_by(args: list[str], *, missing: str = "") -> tuple[int, list[str]]:
    code, modules, _ = run_gitjit(args, missing=missing)
    return code, modules


def run_gitjit(args: list[str], *, missing: str = "") -> tuple[int, list[str], str]:
    """Exit code, loaded modules and output of gitjit in a fresh interpreter; with
    ``missing``, as if that module were not installed (``import`` fails, and importlib's
    find_spec finds nothing)."""
    script = textwrap.dedent(f"""\
        import contextlib, io, json, sys
        if {missing!r}:
            sys.modules[{missing!r}] = None
        from engine.cli import run
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = run({args!r})
        print(json.dumps([code, sorted(sys.modules), out.getvalue()]))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, cwd=PROJECT)
    code, modules, output = json.loads(result.stdout)
    return code, modules, output


def heavy(modules: list[str]) -> list[str]:
    """The heavy packages and modules among ``modules`` (a package once, with its parts)."""
    return sorted({h for h in HEAVY for m in modules if m == h or m.startswith(h + ".")})


def test_help_imports_no_command() -> None:
    code, modules = loaded_by(["--help"])
    assert code == 0
    assert heavy(modules) == []
    # Not even the YAML and schema machinery: help needs neither.
    assert [m for m in modules if m.split(".")[0] in ("yaml", "jsonschema")] == []


def test_check_imports_nothing_it_does_not_use() -> None:
    code, modules = loaded_by(["check", "--repo", str(PROJECT)])
    assert code == 0
    # The project's prod-db-admin policy has a runbook of SQL, which is parsed to be checked.
    assert heavy(modules) == ["pglast"]
    assert "engine.core.strictyaml" in modules
    # Every target's declarations were read, and none of their drivers.
    assert {"engine.targets.postgres", "engine.targets.github_team", "engine.targets.aws.target",
            "engine.targets.entra.plugin"} <= set(modules)


def test_check_without_sql_loads_no_sql_parser(repo: GitRepoBuilder) -> None:
    shutil.copytree(PROJECT / "schemas", repo.path / "schemas")
    shutil.copytree(PROJECT / "policies", repo.path / "policies",
                    ignore=shutil.ignore_patterns("tests"))
    policy = repo.path / "policies" / "prod-db-admin.yaml"
    text = policy.read_text("utf-8")
    policy.write_text(text[:text.index("\n# Actions:")] + "\n", "utf-8")
    code, modules, output = run_gitjit(["check", "--repo", str(repo.path)])
    assert (code, output.splitlines()[-1]) == (0, "5 policies, 0 grants, 0 errors, 1 warning")
    assert heavy(modules) == []


@pytest.mark.parametrize("args", [["targets"], ["targets", "postgres"],
                                  ["targets", "--format", "json"]])
def test_the_target_catalog_reads_declarations_without_any_client(args: list[str]) -> None:
    code, modules, output = run_gitjit(args)
    assert code == 0
    assert heavy(modules) == []
    assert "not installed" not in output  # every first-party target was found, and usable


@pytest.mark.parametrize(("module", "provider", "install"), [
    ("psycopg", "postgres", "pip install 'gitjit[postgres]'"),
    ("boto3", "aws", "pip install 'gitjit[aws]'"),
    ("github", "github-team", "pip install --upgrade gitjit"),
])
def test_a_target_whose_client_is_missing_is_unavailable_naming_the_extra(
        module: str, provider: str, install: str) -> None:
    code, modules, output = run_gitjit(["check", "--repo", str(PROJECT)], missing=module)
    assert code == 1
    own = {"postgres": "engine.targets.postgres:PostgresTarget",
           "aws": "engine.targets.aws:AwsTarget",
           "github-team": "engine.targets.github_team:GitHubTeamTarget"}[provider]
    unavailable = [line for line in output.splitlines() if "target.unavailable" in line]
    assert unavailable, output
    assert all(line.endswith(
        f": target.unavailable: target provider {provider!r} (built-in (gitjit {__version__})) "
        f"is installed but cannot be used: cannot import {own} (No module named {module!r}); "
        f"install what it needs: {install}") for line in unavailable), unavailable
    # Found missing without importing anything else (its None in sys.modules is not a module).
    assert heavy([m for m in modules if m != module]) == ["pglast"]


def test_an_offline_verdict_imports_no_forge_client(repo: GitRepoBuilder) -> None:
    shutil.copytree(PROJECT / "schemas", repo.path / "schemas")
    shutil.copytree(PROJECT / "policies", repo.path / "policies")
    repo.commit("configuration")
    code, modules = loaded_by(["check-pr", "--repo", str(repo.path), "--base", "main",
                               "--head", "main", "--as", "bob",
                               "--now", "2026-11-30T09:00:00Z"])
    assert code == 1  # no change at all: denied as empty
    assert heavy(modules) == ["pglast"]  # the configuration's runbook is SQL


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
