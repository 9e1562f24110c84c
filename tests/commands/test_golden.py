"""The main commands' text output as a person sees it on an 80-column terminal, with and
without colour, pinned in tests/golden/ (GITJIT_UPDATE_GOLDEN=1 rewrites the files; review
the diff). Each run is the real CLI over a real repository; stdout is a terminal of no size
of its own, which gitjit takes as 80 columns."""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from engine.cli import run
from tests.commands.conftest import GRANT
from tests.commands.test_audit import history as history  # noqa: F401  # the fixture
from tests.commands.test_check_pr import REVIEW, _request
from tests.commands.test_status import ANA, BEN_PATH, T0, activated, ledger, merge_request
from tests.commands.test_test import TESTS
from tests.gitrepo import GitRepoBuilder

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SHA = re.compile(r"\b[0-9a-f]{12}\b")
WIDTH = 80


class Terminal(io.StringIO):
    """A terminal that does not say its size, as a pseudo-terminal without one would."""

    def isatty(self) -> bool:
        return True


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[GitRepoBuilder, Path], list[str]]
    """Prepares the repository and gives the command's arguments."""
    exit: int
    table: bool = False
    """A table (status, audit) keeps its rows whole; its other lines fit 80 columns."""


def _check(repo: GitRepoBuilder, _: Path) -> list[str]:
    repo.write("grants/reports-read/ben-20261130T0900Z.yaml",
               GRANT.replace("requester: ana", "requester: !!str ben"))
    repo.write("grants/reports-read/ana-20261130T0930Z.yaml", GRANT.replace("1h", "9h"))
    repo.commit("two bad grants")
    return ["check", "--repo", str(repo.path), "--now", "2026-11-30T12:00:00Z"]


def _check_pr(repo: GitRepoBuilder, _: Path) -> list[str]:
    _request(repo)
    return ["check-pr", "--repo", str(repo.path), "--base", "main", "--head", "pr",
            "--author", "ana", "--now", "2026-12-01T09:00:00Z"]


def _check_pr_approved(repo: GitRepoBuilder, tmp: Path) -> list[str]:
    _request(repo)
    reviews = tmp / "reviews.json"
    reviews.write_text(REVIEW % repo.sha("pr"), encoding="utf-8")
    return ["check-pr", "--repo", str(repo.path), "--base", "main", "--head", "pr",
            "--author", "ana", "--now", "2026-12-01T09:00:00Z", "--reviews", str(reviews)]


def _test(repo: GitRepoBuilder, _: Path) -> list[str]:
    repo.write("policies/tests/reports-read.yaml", TESTS)
    return ["test", "-v", str(repo.path)]


def _explain(repo: GitRepoBuilder, _: Path) -> list[str]:
    return ["explain", "reports-read", "--repo", str(repo.path)]


def _audit(repo: GitRepoBuilder, _: Path) -> list[str]:
    return ["audit", "--repo", str(repo.path)]


def _status(repo: GitRepoBuilder, _: Path) -> list[str]:
    ledger(repo).append(activated(repo, ANA, at=T0 + timedelta(seconds=30), start=T0))
    merge_request(repo, BEN_PATH, GRANT.replace("ana", "ben"), T0 + timedelta(hours=1))
    return ["status", "--repo", str(repo.path), "--now", "2026-01-05T09:20:10Z"]


CASES = [
    Case("check", _check, 1),
    Case("check-pr-pending", _check_pr, 4),
    Case("check-pr-approved", _check_pr_approved, 0),
    Case("test", _test, 1),
    Case("explain", _explain, 0),
    Case("status", _status, 0),
    Case("audit", _audit, 0, table=True),
]


def _shown(args: list[str], monkeypatch: pytest.MonkeyPatch, colour: bool) -> tuple[int, str]:
    for name in ("COLUMNS", "FORCE_COLOR", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    if not colour:
        monkeypatch.setenv("NO_COLOR", "1")
    terminal = Terminal()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", terminal)
        code = run(args)
    return code, terminal.getvalue()


def _without_shas(shown: str) -> str:
    """Commit ids in order of appearance, as placeholders of the same width (the wrapping
    stays the same): the test key is made per run, so the commits it signs differ."""
    seen: dict[str, str] = {}

    def name(match: re.Match[str]) -> str:
        return seen.setdefault(match.group(0), f"<sha{len(seen) + 1:07d}>")

    return SHA.sub(name, shown)


def _pinned(name: str, shown: str) -> None:
    shown = _without_shas(shown)
    path = GOLDEN / name
    if os.environ.get("GITJIT_UPDATE_GOLDEN"):
        path.write_text(shown, encoding="utf-8")
    assert path.is_file(), f"{path} is missing; run with GITJIT_UPDATE_GOLDEN=1 to write it"
    assert shown == path.read_text(encoding="utf-8"), f"{name} changed; see {path}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_output_at_80_columns_with_and_without_colour(
        case: Case, small_repo: GitRepoBuilder, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    if case.name == "audit":
        request.getfixturevalue("history")  # small_repo with a whole lifecycle recorded
    args = case.setup(small_repo, tmp_path)

    code, plain = _shown(args, monkeypatch, colour=False)
    assert code == case.exit
    assert "\x1b" not in plain
    for line in plain.splitlines():
        assert len(line) <= WIDTH or (case.table and "  " in line.strip()), line
    _pinned(f"{case.name}.txt", plain)

    code, coloured = _shown(args, monkeypatch, colour=True)
    assert code == case.exit
    assert ANSI.sub("", coloured) == plain
    _pinned(f"{case.name}.colour.txt", coloured)
