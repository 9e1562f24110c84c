"""The benchmark generator makes a valid access repository and a pull request gitjit approves.

Correctness only: the benchmarks time these commands, so a generator whose repository fails
check, or whose pull request is pending or denied, would time an error path. No timing here.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from benchmarks.generate import AUTHOR, Generated, generate
from benchmarks.report import add_ledger
from engine.adapters.git import GitRepository
from engine.adapters.ledger import LEDGER_REF, Ledger
from engine.cli import run
from engine.commands.repository import read_signers
from engine.core.ledger import record_key


def _json(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, Any]:
    code = run([*args, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def made(tmp_path: Path) -> Generated:
    return generate(tmp_path / "repo", grants=50, policies=5, own=3)


def test_the_generated_repository_passes_check(made: Generated,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _json(capsys, made.check_args())
    assert report["findings"] == []
    assert report["summary"] == {"policies": 5, "grants": 50, "files": 58, "errors": 0,
                                 "warnings": 0, "notices": 0}
    assert (code, report["ok"]) == (0, True)


def test_check_pr_approves_the_generated_request(made: Generated,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, verdict = _json(capsys, made.check_pr_args())
    assert verdict["findings"] == []
    assert (verdict["decision"], verdict["kind"], verdict["author"]) == (
        "approved", "request", AUTHOR)
    assert verdict["grant"]["path"] == made.grant == (
        "grants/db-role-0000/dev0000-20261130T0830Z.yaml")
    assert [(c["reviewer"], c["step"], c["commit"]) for c in verdict["counted"]] == [
        ("dba1", 1, made.head_sha), ("sec1", 2, made.head_sha)]
    assert code == 0


def test_the_author_owns_the_asked_number_of_expired_grants(made: Generated) -> None:
    listed = subprocess.run(["git", "ls-tree", "-r", "--name-only", "main", "grants/"],
                            cwd=made.repo, capture_output=True, text=True, check=True).stdout
    mine = [path for path in listed.splitlines() if f"/{AUTHOR}-" in path]
    assert len(listed.splitlines()) == 50
    # Three, in different policies; the first in the policy the pull request asks for.
    assert sorted(path.split("/")[1] for path in mine) == [
        "db-role-0000", "db-role-0001", "db-role-0002"]


def test_the_pull_request_adds_exactly_one_grant(made: Generated) -> None:
    diff = subprocess.run(["git", "diff", "--name-status", "main...pr"], cwd=made.repo,
                          capture_output=True, text=True, check=True).stdout
    assert diff == f"A\t{made.grant}\n"


def test_generate_refuses_a_directory_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "keep.txt").write_text("mine\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"repo is not empty; give a new directory$"):
        generate(tmp_path / "repo", grants=5, policies=1)


def test_the_bundled_configuration_passes_check_and_approves(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    made = generate(tmp_path / "repo", grants=40, own=2, bundled=True)
    code, report = _json(capsys, made.check_args())
    # The project's settings name admins, and a generated repository has no CODEOWNERS.
    assert [f["code"] for f in report["findings"]] == ["config.codeowners-drift"]
    # Every YAML file in policies/ but groups.yaml and settings.yaml is a policy.
    policies = len(list((Path(__file__).parents[1] / "policies").glob("*.yaml"))) - 2
    assert (code, report["summary"]["grants"], report["summary"]["policies"]) == (0, 40, policies)
    code, verdict = _json(capsys, made.check_pr_args())
    assert (code, verdict["decision"], verdict["author"]) == (0, "approved", "bob")
    assert [c["reviewer"] for c in verdict["counted"]] == ["dave", "sam"]


def test_the_report_benchmark_ledger_is_one_gitjit_reads_as_its_own(tmp_path: Path) -> None:
    # benchmarks/report.py times the report over this ledger: it must be trusted, indexed as
    # gitjit indexes (or every read would rebuild the index from all records) and complete.
    made = generate(tmp_path / "repo", grants=12, policies=3, commits=12)
    count = add_ledger(made, tmp_path / "keys")
    repo = GitRepository(made.repo)
    ledger = Ledger(repo, ref=LEDGER_REF, signers=read_signers(repo.tree(repo.resolve("main"))))
    state = ledger.state()
    assert (state.problem, state.forged, state.unreadable) == ("", (), ())
    assert state.trusted == state.tip
    assert state.index is not None and state.index.seq == count == 24
    assert [f.code for f in ledger.verify("main") if f.code == "ledger.index"] == []
    records = ledger.records()
    assert ledger.find([record_key(r) for r in records]) == {record_key(r): r for r in records}
