"""The command target runs a runbook's argv once: parameters as data, never through a shell,
with the minimal environment; secrets in its output are redacted before anything keeps it."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.adapters.git import GitRepository
from engine.adapters.ledger import Ledger
from engine.adapters.localforge import LocalForge
from engine.cli import run
from engine.commands.repository import read_signers
from tests.gitrepo import GitRepoBuilder

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SCRIPT = f"""#!{sys.executable}
import json, os, sys
with open(sys.argv[1], "w") as out:
    json.dump({{"argv": sys.argv[2:], "env": dict(os.environ), "cwd": os.getcwd()}}, out)
print("reindexed", sys.argv[2:])
print("the token is", os.environ.get("RUNBOOK_TOKEN"))
print("password=hunter22 and postgresql://app:s3cret@db/orders")
"""
POLICY = """\
apiVersion: gitjit/v1
kind: Policy
id: ops-reindex
description: Reindex a table with the ops tool
target: {{provider: command, connection: ops}}
requesters: [user:bob]
approvals:
  - {{from: [user:dave], count: 1}}
actions:
  timeout: 20s
  runbooks:
    reindex:
      description: Rebuild one table's search index
      params:
        table: {{type: choice, values: [orders, payments]}}
        note: {{type: text}}
      argv: ["{script}", "{out}", "--table={{table}}", "{{note}}"]
"""
SETTINGS = """\
apiVersion: gitjit/v1
kind: Settings
connections:
  ops: {provider: command, token_env: RUNBOOK_TOKEN}
"""
GROUPS = "apiVersion: gitjit/v1\nkind: Groups\ngroups: {}\n"


@pytest.fixture
def world(repo: GitRepoBuilder, tmp_path: Path) -> tuple[GitRepoBuilder, Path]:
    script = tmp_path / "ops-tool"
    script.write_text(SCRIPT)
    script.chmod(0o755)
    out = tmp_path / "ran.json"
    shutil.copytree(ROOT / "schemas", repo.path / "schemas")
    repo.write("policies/ops-reindex.yaml", POLICY.format(script=script, out=out))
    repo.write("policies/groups.yaml", GROUPS)
    repo.write("policies/settings.yaml", SETTINGS)
    assert run(["local", "keygen", "--repo", str(repo.path)]) == 0
    repo.commit("access configuration")
    return repo, out


def _cli(repo: GitRepoBuilder, *args: str, at: datetime) -> int:
    return run([*args, "--repo", str(repo.path), "--now", at.isoformat()])


def test_a_runbook_runs_its_program_with_parameters_as_data_and_a_minimal_environment(
        world: tuple[GitRepoBuilder, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    repo, out = world
    monkeypatch.setenv("RUNBOOK_TOKEN", "tok-0123456789abcdef")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_the_app_token")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "another connection's secret")
    monkeypatch.chdir(tmp_path)
    note = "$(touch pwned); rm -rf ~ `id` > x; echo $HOME"
    assert _cli(repo, "request", "ops-reindex", "--as", "bob", "--runbook", "reindex",
                "--param", "table=orders", "--param", f"note={note}", "--justification",
                "Search results miss yesterday's orders (INC-77)", "--forge", "local",
                at=T0) == 0
    assert _cli(repo, "local", "review", "1", "--as", "dave", "--approve",
                at=T0 + timedelta(minutes=1)) == 0
    assert _cli(repo, "local", "merge", "1", "--as", "dave", at=T0 + timedelta(minutes=2)) == 0
    capsys.readouterr()
    assert _cli(repo, "activate", at=T0 + timedelta(minutes=3)) == 0
    assert "completed: actions/ops-reindex/bob-20261130T0900Z (exit 0," in capsys.readouterr().out

    ran = json.loads(out.read_text())
    assert ran["argv"] == ["--table=orders", note]  # one argument each, no shell
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "x").exists()
    # No GITHUB_TOKEN, no other secret. (LC_CTYPE is set by the Python that runs the script:
    # its C-locale coercion, PEP 538, inside the child.)
    assert sorted(set(ran["env"]) - {"LC_CTYPE"}) == ["PATH", "RUNBOOK_TOKEN"]
    assert Path(ran["cwd"]).name.startswith("gitjit-action-")

    repository = GitRepository(repo.path)
    records = Ledger(repository, signers=read_signers(repository.tree("main"))).records()
    assert [str(r.event) for r in records] == ["started", "completed"]
    sealed = records[-1].action
    assert sealed is not None and sealed.exit_code == 0
    assert "the token is [redacted]" in sealed.excerpt
    assert "password=[redacted]" in sealed.excerpt
    assert "postgresql://app:[redacted]@db/orders" in sealed.excerpt
    for secret in ("tok-0123456789abcdef", "hunter22", "s3cret"):
        assert secret not in sealed.excerpt
        assert secret not in LocalForge(repository).comments(1)["outcome"]

    # Again: never twice.
    out.unlink()
    assert _cli(repo, "activate", at=T0 + timedelta(minutes=30)) == 0
    assert not out.exists()


def test_a_parameter_that_would_be_read_as_an_option_is_denied(
        world: tuple[GitRepoBuilder, Path], capsys: pytest.CaptureFixture[str]) -> None:
    repo, _ = world
    assert _cli(repo, "request", "ops-reindex", "--as", "bob", "--runbook", "reindex",
                "--param", "table=orders", "--param", "note=--delete-everything",
                "--justification", "Search results miss yesterday's orders (INC-77)",
                at=T0) == 1
    assert ("action.param-value: parameter 'note' starts with '-', and it begins an argument "
            "of") in capsys.readouterr().out
    assert _cli(repo, "request", "ops-reindex", "--as", "bob", "--runbook", "reindex",
                "--param", "table=users", "--param", "note=x",
                "--justification", "Search results miss yesterday's orders (INC-77)",
                at=T0) == 1
    assert ("action.param-value: parameter 'table' is 'users', not one of orders, payments"
            in capsys.readouterr().out)


def _de_bruijn(alphabet: str, n: int) -> str:
    """A text that holds every string of length ``n`` over ``alphabet`` exactly once."""
    k, a, out = len(alphabet), [0] * len(alphabet) * n, []

    def db(t: int, p: int) -> None:
        if t > n:
            if n % p == 0:
                out.extend(a[1:p + 1])
            return
        a[t] = a[t - p]
        db(t + 1, p)
        for j in range(a[t - p] + 1, k):
            a[t] = j
            db(t + 1, t)

    db(1, 1)
    sequence = "".join(alphabet[i] for i in out)
    return sequence + sequence[:n - 1]


def test_a_requester_cannot_read_a_secret_off_where_its_redaction_lands(
        world: tuple[GitRepoBuilder, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The attack: the runbook echoes a text parameter, and the requester passes a text that
    holds every possible 4-character secret over the alphabet once. Cutting the secret out of
    it would show at which offset it sat, and so the secret; the whole value is redacted."""
    repo, _ = world
    monkeypatch.setenv("RUNBOOK_TOKEN", "caba")
    probe = _de_bruijn("abc", 4)
    assert _cli(repo, "request", "ops-reindex", "--as", "bob", "--runbook", "reindex",
                "--param", "table=orders", "--param", f"note={probe}", "--justification",
                "Search results miss yesterday's orders (INC-77)", "--forge", "local",
                at=T0) == 0
    assert _cli(repo, "local", "review", "1", "--as", "dave", "--approve",
                at=T0 + timedelta(minutes=1)) == 0
    assert _cli(repo, "local", "merge", "1", "--as", "dave", at=T0 + timedelta(minutes=2)) == 0
    assert _cli(repo, "activate", at=T0 + timedelta(minutes=3)) == 0
    capsys.readouterr()

    repository = GitRepository(repo.path)
    sealed = Ledger(repository, signers=read_signers(repository.tree("main"))).records()[-1]
    assert sealed.action is not None
    shown = [sealed.action.excerpt, LocalForge(repository).comments(1)["outcome"]]
    for text in shown:
        assert "reindexed ['--table=orders', '[redacted]']" in text
        assert probe[:20] not in text and "caba" not in text
