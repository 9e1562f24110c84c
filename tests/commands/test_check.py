"""``gitjit check`` through the real CLI over real repositories with bad files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.cli import run
from tests.commands.conftest import GRANT, POLICY, PROJECT
from tests.gitrepo import GitRepoBuilder


def gitjit(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out, err = capsys.readouterr()
    return code, out, err


@dataclass(frozen=True)
class BadFile:
    name: str
    setup: Callable[[GitRepoBuilder], object]
    code: str
    path: str
    line: int
    message: str
    summary: str
    """The summary line: a broken configuration judges no grants against policies."""


def _grant(text: str) -> str:
    return GRANT.replace("requester: ana\n", text)


CASES = [
    BadFile(
        "symlink",
        lambda r: r.symlink("grants/reports-read/ben-20261130T0900Z.yaml",
                            "ana-20261130T0900Z.yaml"),
        "grant.not-regular-file", "grants/reports-read/ben-20261130T0900Z.yaml", 0,
        "a symlink under grants/; only regular files (mode 100644) can be grants",
        "1 policy, 1 grant, 1 error, 0 warnings",
    ),
    BadFile(
        "unknown-group",
        lambda r: r.write("policies/reports-read.yaml",
                          POLICY.replace("[group:leads]", "[group:lead]")),
        "config.unknown-group", "policies/reports-read.yaml", 8,
        "unknown group 'lead' in approval step 1: did you mean 'leads'? define it in "
        "policies/groups.yaml",
        "0 policies, 1 grant, 1 error, 0 warnings",
    ),
    BadFile(
        "unknown-policy",
        lambda r: r.write("grants/reports-write/ana-20261130T0900Z.yaml",
                          GRANT.replace("policy: reports-read", "policy: reports-write")),
        "grant.unknown-policy", "grants/reports-write/ana-20261130T0900Z.yaml", 3,
        "unknown policy 'reports-write'; did you mean 'reports-read'? known policies: "
        "reports-read",
        "1 policy, 2 grants, 1 error, 0 warnings",
    ),
    BadFile(
        "path-mismatch",
        lambda r: r.write("grants/reports-read/ben-20261130T0900Z.yaml", GRANT),
        "grant.path-mismatch", "grants/reports-read/ben-20261130T0900Z.yaml", 4,
        "requester 'ana' disagrees with the file name, which names 'ben'",
        "1 policy, 1 grant, 1 error, 0 warnings",
    ),
    BadFile(
        "anchor",
        lambda r: r.write("grants/reports-read/ben-20261130T0900Z.yaml",
                          _grant("requester: &who ben\n").replace(
                              "justification: Monthly revenue report for finance",
                              "justification: *who")),
        "yaml.anchor", "grants/reports-read/ben-20261130T0900Z.yaml", 4,
        "anchor '&who' is not allowed; remove it and write values out in full",
        "1 policy, 1 grant, 1 error, 0 warnings",
    ),
    BadFile(
        "tag",
        lambda r: r.write("grants/reports-read/ben-20261130T0900Z.yaml",
                          _grant("requester: !!str ben\n")),
        "yaml.tag", "grants/reports-read/ben-20261130T0900Z.yaml", 4,
        "tag '!!str' is not allowed; remove it, every value is plain text typed by the schema",
        "1 policy, 1 grant, 1 error, 0 warnings",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_bad_file_is_a_finding_at_its_place(case: BadFile, small_repo: GitRepoBuilder,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    case.setup(small_repo)
    small_repo.commit(f"add a bad file: {case.name}")
    repo = str(small_repo.path)
    where = f"{case.path}:{case.line}" if case.line else case.path

    code, out, err = gitjit(["check", "--repo", repo], capsys)
    assert (code, err) == (1, "")
    assert out == f"{where}: {case.code}: {case.message}\n{case.summary}\n"

    code, out, err = gitjit(["check", "--repo", repo, "--format", "json"], capsys)
    assert (code, err) == (1, "")
    result = json.loads(out)
    assert result["ok"] is False
    assert result["findings"] == [{"code": case.code, "severity": "error", "path": case.path,
                                   "line": case.line, "message": case.message}]
    assert result["summary"]["errors"] == 1

    code, out, err = gitjit(["check", "--repo", repo, "--format", "github"], capsys)
    assert (code, err) == (1, "")
    line = f",line={case.line}" if case.line else ""
    assert out.splitlines()[0] == (f"::error file={case.path}{line},title={case.code}::"
                                   f"{case.message}")


def test_a_clean_repository_passes(small_repo: GitRepoBuilder,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["check", "--repo", str(small_repo.path)], capsys)
    assert (code, out, err) == (0, "1 policy, 1 grant, 0 errors, 0 warnings\n", "")


def test_a_clean_repository_in_json(small_repo: GitRepoBuilder,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["check", "--repo", str(small_repo.path), "--format", "json"],
                            capsys)
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "version": 1,
        "ok": True,
        "summary": {"policies": 1, "grants": 1, "files": 5, "errors": 0, "warnings": 0,
                    "notices": 0},
        "findings": [],
    }


def test_findings_from_several_files_are_sorted_by_place(
        small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    for case in (CASES[2], CASES[0]):
        case.setup(small_repo)
    code, out, _ = gitjit(["check", "--repo", str(small_repo.path)], capsys)
    assert code == 1
    assert [line.split(": ")[0] for line in out.splitlines()] == [
        "grants/reports-read/ben-20261130T0900Z.yaml",
        "grants/reports-write/ana-20261130T0900Z.yaml:3",
        "1 policy, 2 grants, 2 errors, 0 warnings",
    ]


def test_a_broken_policy_does_not_hide_the_other_grants_findings(
        small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    """One run shows the schema error of one policy, and still what is wrong with the grants
    of the others; the grants of the broken policy itself are not called unknown."""
    small_repo.write("policies/reports-admin.yaml", POLICY.replace(
        "id: reports-read", "id: reports-admin").replace("max: 2h", "max: 2 hours"))
    small_repo.write("grants/reports-admin/lea-20261130T0900Z.yaml", GRANT.replace(
        "reports-read", "reports-admin").replace("ana", "lea"))
    small_repo.write("grants/reports-read/lea-20261130T0900Z.yaml", GRANT.replace(
        "ana", "lea").replace("duration: 1h", "duration: 3h"))
    code, out, _ = gitjit(["check", "--repo", str(small_repo.path)], capsys)
    assert code == 1
    assert out.splitlines() == [
        "warning: grants/reports-read/lea-20261130T0900Z.yaml:4: grant.requester-not-eligible:"
        " lea may no longer request policy 'reports-read'",
        "warning: grants/reports-read/lea-20261130T0900Z.yaml:5: grant.duration-exceeds-max: "
        "duration '3h' exceeds today's maximum '2h' (policies/reports-read.yaml)",
        "policies/reports-admin.yaml:9: schema.invalid: $.duration.max: '2 hours' is not a "
        "duration; write a duration such as 30m, 2h, 1h30m, 1d or PT2H (no months or years)",
        "0 policies, 3 grants, 1 error, 2 warnings",
    ]


def test_a_missing_repository_folder_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-repo"
    code, out, err = gitjit(["check", "--repo", str(missing)], capsys)
    assert (code, out, err) == (2, "", f"gitjit: error: --repo {missing}: no such directory\n")


def test_an_unknown_format_is_a_usage_error(small_repo: GitRepoBuilder,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["check", "--repo", str(small_repo.path), "--format", "markdown"],
                            capsys)
    assert (code, out) == (2, "")
    assert "Invalid value for '--format': 'markdown' is not one of" in err


def test_check_passes_on_this_repository(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["check", "--repo", str(PROJECT)], capsys)
    assert (code, err) == (0, "")
    assert out.endswith(" 0 errors, 0 warnings\n"), out


def test_policy_tests_pass_on_this_repository(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["test", str(PROJECT)], capsys)
    assert (code, err) == (0, "")
    assert out.endswith(" 0 failed\n"), out
    assert "FAIL" not in out


def test_the_installed_console_script(small_repo: GitRepoBuilder) -> None:
    """The package is installed (editable): the `gitjit` entry point runs the same CLI."""
    script = shutil.which("gitjit")
    assert script is not None, "gitjit is not on PATH; run 'pip install -e .'"

    result = subprocess.run([script, "--help"], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("Usage: gitjit [OPTIONS] COMMAND [ARGS]...\n")
    for command in ("check", "check-pr", "explain", "test"):
        assert f"\n  {command} " in result.stdout

    result = subprocess.run([script, "check", "--repo", str(PROJECT)], capture_output=True,
                            text=True, check=False)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.endswith(" 0 errors, 0 warnings\n")

    small_repo.symlink("grants/reports-read/ben-20261130T0900Z.yaml", "ana-20261130T0900Z.yaml")
    result = subprocess.run([script, "check", "--repo", str(small_repo.path)],
                            capture_output=True, text=True, check=False)
    assert (result.returncode, result.stderr) == (1, "")
    assert result.stdout == (
        "grants/reports-read/ben-20261130T0900Z.yaml: grant.not-regular-file: a symlink under "
        "grants/; only regular files (mode 100644) can be grants\n"
        "1 policy, 1 grant, 1 error, 0 warnings\n")

    result = subprocess.run([script, "check", "--repo", str(small_repo.path / "missing")],
                            capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"gitjit: error: --repo {small_repo.path / 'missing'}: no such " \
                            "directory\n"


def test_now_flags_committed_grants_whose_time_is_up(
        repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    root = PROJECT
    shutil.copytree(root / "schemas", repo.path / "schemas")
    shutil.copytree(root / "policies", repo.path / "policies")
    (repo.path / "policies" / "settings.yaml").write_text(
        (root / "policies" / "settings.yaml").read_text().replace(
            'admins: ["@acme/gitjit-admins"]\n', ""))
    shutil.copytree(root / "grants" / "prod-db-admin", repo.path / "grants" / "prod-db-admin")
    repo.commit("a grant lands", date="2026-11-30T09:00:00+00:00")
    path = "grants/prod-db-admin/bob-20261130T0912Z.yaml"

    assert run(["check", "--repo", str(repo.path), "--now", "2026-11-30T09:30:00Z"]) == 0
    assert "grant.expired" not in capsys.readouterr().out
    assert run(["check", "--repo", str(repo.path), "--now", "2026-11-30T12:00:00Z"]) == 0
    assert (f"notice: {path}: grant.expired: expired at 2026-11-30 11:00 UTC and awaits "
            "removal; reconcile removes it") in capsys.readouterr().out.splitlines()


def _many_grants(repo: GitRepoBuilder, count: int) -> None:
    for index in range(count):
        repo.write(f"grants/reports-read/ana-20261130T{index // 60:02d}{index % 60:02d}Z.yaml",
                   GRANT)


def test_check_in_several_processes_finds_what_one_finds(small_repo: GitRepoBuilder) -> None:
    _many_grants(small_repo, 120)
    # Bad files spread over the list, so that every process meets some.
    bad = "grants/reports-read/ben-20261130T09{}Z.yaml"
    small_repo.write(bad.format("01"), _grant("requester: &who ben\n"))
    small_repo.write(bad.format("02"), _grant("requester: !!str ben\n"))
    small_repo.write(bad.format("03"), GRANT)
    small_repo.symlink(bad.format("04"), "ana-20261130T0900Z.yaml")
    small_repo.write("grants/reports-read/ana-20261130T0059Z.yaml", "requester: [\n")
    small_repo.write("grants/reports-read/zoe-20261130T0900Z.yaml",
                     GRANT.replace("ana", "zoe"))
    small_repo.commit("many grants, some bad", date="2026-11-30T09:00:00+00:00")
    outputs = set()
    for jobs in ("1", "2", "3"):
        for args in ([], ["--format", "json"], ["--now", "2026-12-01T00:00:00Z"]):
            # A fresh process: forking needs one without other threads.
            result = subprocess.run([sys.executable, "-m", "engine", "check", "--repo",
                                     str(small_repo.path), "--jobs", jobs, *args],
                                    capture_output=True, text=True, check=False)
            assert (result.returncode, result.stderr) == (1, "")
            outputs.add((tuple(args), result.stdout))
    assert len(outputs) == 3
    text = dict(outputs)[()]
    assert "grants/reports-read/ana-20261130T0059Z.yaml:2: yaml.syntax: " in text
    assert "grants/reports-read/ben-20261130T0904Z.yaml: grant.not-regular-file: " in text
    assert "grants/reports-read/zoe-20261130T0900Z.yaml:4: grant.requester-not-eligible: " \
        in text
    assert text.endswith("1 policy, 121 grants, 5 errors, 1 warning\n")
    assert dict(outputs)[("--now", "2026-12-01T00:00:00Z")].count("grant.expired") == 121


def test_an_oversized_policy_file_gets_configuration_advice_with_its_whole_size(
        small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    small_repo.write("policies/huge.yaml", "# padding\n" * 300_000)
    small_repo.commit("a three-megabyte policy file")

    code, out, err = gitjit(["check", "--repo", str(small_repo.path)], capsys)

    assert (code, err) == (1, "")
    assert out.splitlines()[0] == (
        "policies/huge.yaml: yaml.too-large: file is 3000000 bytes, over the cap of 524288 "
        "bytes; trim it (a policy file holds one policy; split a long groups file or move "
        "test cases into several files under policies/tests/)")
