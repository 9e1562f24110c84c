"""The README's example is real: rebuilt here, its command's output must match the README."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from engine.cli import run
from tests.gitrepo import GitRepoBuilder

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _example() -> tuple[list[str], str]:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- example: [^>]+ -->\n```console\n\$ (.*?)\n(.*?)```", text, re.S)
    assert block, "README lost its example block"
    return shlex.split(block[1]), block[2]


def _grant_from_readme() -> tuple[str, str]:
    text = README.read_text(encoding="utf-8")
    path = re.search(r"A requester adds `(grants/[^`]+)`", text)
    body = re.search(r"```yaml\n(apiVersion: gitjit/v1\nkind: Grant\n.*?)```", text, re.S)
    assert path and body
    return path[1], body[1]


def test_readme_example_output_is_what_gitjit_prints(
    repo: GitRepoBuilder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(ROOT / "policies", repo.path / "policies")
    shutil.copytree(ROOT / "schemas", repo.path / "schemas")
    repo.commit("access configuration")
    repo.branch("request")
    repo.checkout("request")
    path, body = _grant_from_readme()
    repo.write(path, body)
    head = repo.commit("request prod-db-admin")
    reviews = [{"id": 1, "user": {"login": "dave", "type": "User"}, "state": "APPROVED",
                "commit_id": head, "submitted_at": "2026-11-30T08:55:00Z"}]
    (tmp_path / "reviews.json").write_text(json.dumps(reviews), encoding="utf-8")

    args, expected = _example()
    assert args[0] == "gitjit"
    args = [a.replace("reviews.json", str(tmp_path / "reviews.json")) for a in args[1:]]
    code = run([*args, "--repo", str(repo.path)])
    assert capsys.readouterr().out == expected
    assert code == 4


def test_ci_runs_exactly_the_readme_test_command() -> None:
    quick_start = re.search(r"```sh\n(.*?)\n(.*?)\n```", README.read_text(encoding="utf-8"), re.S)
    assert quick_start, "README lost its two quick-start commands"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == quick_start[2]
