"""gitjit codeowners generates CODEOWNERS from the policies; gitjit check reports drift."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.cli import run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def access(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    return tmp_path


def test_generated_file_gives_grants_to_approvers_and_the_rest_to_admins(
        access: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["codeowners", "--repo", str(access)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "*  @acme/gitjit-admins" in lines
    assert "/grants/prod-db-admin/  @dave @erin @sam @sue" in lines
    # The last matching line wins in CODEOWNERS: grants come after the catch-all.
    assert lines.index("*  @acme/gitjit-admins") < lines.index(
        "/grants/prod-db-admin/  @dave @erin @sam @sue")


def test_check_warns_on_drift_until_the_file_is_written(
        access: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["check", "--repo", str(access)]) == 0  # a warning does not fail the check
    assert ("warning: .github/CODEOWNERS: config.codeowners-drift: .github/CODEOWNERS is "
            "missing; run 'gitjit codeowners --write' and commit it") in capsys.readouterr().out
    assert run(["codeowners", "--write", "--repo", str(access)]) == 0
    capsys.readouterr()
    assert run(["check", "--repo", str(access)]) == 0
    assert "codeowners-drift" not in capsys.readouterr().out
    (access / "policies" / "groups.yaml").write_text(
        (access / "policies" / "groups.yaml").read_text().replace("dave", "dora"))
    run(["check", "--repo", str(access)])
    assert "differs from what the policies imply" in capsys.readouterr().out


def test_this_repository_has_no_drift(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["check", "--repo", str(ROOT)]) == 0
    assert "codeowners-drift" not in capsys.readouterr().out
