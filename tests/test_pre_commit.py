""".pre-commit-hooks.yaml: any access repository runs gitjit check (and its policy tests)
before each commit.

The manifest is loaded by pre-commit's own loader (its schema, not ours), and the hooks run for
real: `pre-commit try-repo` installs this checkout into its own virtual environment, as an
access repository's `.pre-commit-config.yaml` would, and runs the hooks on a repository made by
`gitjit init`; a broken grant then fails the commit with gitjit's finding."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from pre_commit.clientlib import load_manifest

from engine.cli import run
from tests.packaging import release_locks

PROJECT = Path(__file__).resolve().parents[1]
MANIFEST = PROJECT / ".pre-commit-hooks.yaml"


def test_the_manifest_is_valid_for_pre_commit_and_runs_on_the_whole_tree() -> None:
    hooks = {hook["id"]: hook for hook in load_manifest(str(MANIFEST))}
    assert sorted(hooks) == ["gitjit-check", "gitjit-test"]
    raw = {hook["id"]: hook for hook in yaml.safe_load(MANIFEST.read_text("utf-8"))}
    for hook_id, entry in (("gitjit-check", "gitjit check"), ("gitjit-test", "gitjit test")):
        hook = hooks[hook_id]
        assert (hook["name"], hook["entry"], hook["language"]) == (entry, entry, "python")
        # One file's change can break another (a grant and its policy): gitjit judges the
        # whole working tree, never the list of files pre-commit passes.
        assert raw[hook_id]["pass_filenames"] is False
        assert hook["files"].startswith("^(policies")
        # The installed package's script is the entry, so the hook runs the repository's
        # pinned gitjit release (rev), never a gitjit found on PATH.
        assert hook["entry"].split()[0] in _console_scripts()


def _console_scripts() -> set[str]:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text("utf-8"))["project"]
    return set(project["scripts"])


def _hook_repository(where: Path) -> tuple[Path, str]:
    """This checkout as pre-commit fetches a hook repository: a git repository at a commit
    (its working tree as it is, like 'pre-commit try-repo', but made once, so both runs below
    share one installed hook environment)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=PROJECT,
        capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = PROJECT / name
        if source.is_file():
            (where / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, where / name)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "gitjit"]):
        subprocess.run(["git", *args], cwd=where, check=True)
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                         text=True, check=True).stdout.strip()
    return where, rev


def _pre_commit(access: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PRE_COMMIT_HOME"] = str(home)
    # The suite's fixtures give each test a private HOME; pip still needs this machine's
    # index configuration to install the hook's environment.
    user = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".config" / "pip" / "pip.conf"
    if user.is_file():
        env["PIP_CONFIG_FILE"] = str(user)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"],
        cwd=access, env=env, capture_output=True, text=True, check=False, timeout=600)


def test_the_hooks_pass_on_a_new_repository_and_stop_a_broken_grant(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    lock = release_locks(tmp_path_factory.mktemp("release"))
    access = tmp_path / "access"
    assert run(["init", str(access), "--release-lock", str(lock)]) == 0
    hooks, rev = _hook_repository(tmp_path_factory.mktemp("gitjit"))
    # What docs/new-repository.md tells an access repository to write, with this checkout as
    # the hook repository.
    (access / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks}\n    rev: {rev}\n    hooks:\n      - id: gitjit-check\n"
        "      - id: gitjit-test\n", encoding="utf-8")
    subprocess.run(["git", "add", ".pre-commit-config.yaml"], cwd=access, check=True)
    home = tmp_path / "pre-commit"

    result = _pre_commit(access, home)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "gitjit check" in result.stdout and "Passed" in result.stdout
    grant = access / "grants" / "db-admin" / "alice-20261130T0900Z.yaml"
    grant.parent.mkdir(parents=True)
    grant.write_text("apiVersion: gitjit/v1\nkind: Grant\npolicy: db-admin\nrequester: alice\n"
                     "duration: 48x\njustification: Replication lag on the primary\n",
                     encoding="utf-8")
    subprocess.run(["git", "add", "grants"], cwd=access, check=True)
    result = _pre_commit(access, home)
    assert result.returncode == 1, f"{result.stdout}\n{result.stderr}"
    assert "grants/db-admin/alice-20261130T0900Z.yaml:5: schema.invalid" in result.stdout
