"""The acceptance suite: example pull requests under tests/scenarios/ run through the real CLI.

Each folder under tests/scenarios/ is one pull request on a real throwaway git repository
(check-jsonschema's example directories, conftest's ``examples/``):

- ``scenario.yaml`` says what the repository and the pull request look like and what
  ``gitjit check-pr`` must conclude (see ``Scenario`` below for every key);
- ``base/`` (optional) is copied over this project's policies/ and schemas/ on main;
- ``main/`` holds the grants that are already on main (listed in ``main_grants``);
- ``head/`` is copied into the pull request branch (added or modified files);
- ``reviews.json`` (optional) is GitHub's REST "list reviews" JSON; a ``commit_id`` of
  "HEAD" or "OLD" becomes the head SHA or the SHA of the pull request's first commit;
- ``expected.txt`` (optional) is the whole text output, SHAs written as <HEAD>, <OLD>,
  <BASE> (and <HEAD12>, <OLD12> for 12-character prefixes); ``expected.md`` likewise the
  whole markdown output.

Files too big or too odd to commit (10,000 levels of nesting, 5 MB) are generated at test
time (``generate``). No scenario may ever end in exit 3 or a traceback.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.cli import run
from tests.gitrepo import GitRepoBuilder, RepoFactory

PROJECT = Path(__file__).resolve().parents[1]
SCENARIOS = PROJECT / "tests" / "scenarios"
EXIT_INTERNAL = 3

GENERATED_HEADER = (
    "apiVersion: gitjit/v1\nkind: Grant\npolicy: prod-db-admin\nrequester: bob\n"
    "duration: 2h\nticket: INC-1234\n"
)


def _deep_nesting() -> bytes:
    depth = 10_000
    return (GENERATED_HEADER + "justification: " + "[" * depth + "x" + "]" * depth
            + "\n").encode()


def _five_megabytes() -> bytes:
    padding = "# " + "x" * 98 + "\n"
    body = GENERATED_HEADER + "justification: too big to read\n"
    return (body + padding * (5 * 1024 * 1024 // len(padding))).encode()


GENERATORS: dict[str, Callable[[], bytes]] = {
    "deep-nesting": _deep_nesting,
    "five-megabytes": _five_megabytes,
}


@dataclass(frozen=True)
class Scenario:
    name: str
    folder: Path
    spec: dict[str, Any]

    @property
    def pr(self) -> dict[str, Any]:
        pr: dict[str, Any] = self.spec.get("pr") or {}
        return pr

    @property
    def expect(self) -> dict[str, Any]:
        expect: dict[str, Any] = self.spec["expect"]
        return expect


@dataclass(frozen=True)
class Built:
    repo: GitRepoBuilder
    base: str
    old: str
    """The pull request's first commit."""
    head: str
    reviews: Path | None

    def placeholders(self, text: str) -> str:
        """Real SHAs written as placeholders, longest first."""
        for sha, name in ((self.head, "HEAD"), (self.old, "OLD"), (self.base, "BASE")):
            text = text.replace(sha, f"<{name}>").replace(sha[:12], f"<{name}12>")
        return text


def load_scenarios() -> list[Scenario]:
    found = []
    for spec_file in sorted(SCENARIOS.glob("*/scenario.yaml")):
        spec = yaml.safe_load(spec_file.read_text("utf-8"))
        found.append(Scenario(spec_file.parent.name, spec_file.parent, spec))
    return found


ALL = load_scenarios()
EVERY_FORMAT = frozenset({
    "request-break-glass", "request-changes-requested", "revoke-live-grant-approved",
    "control-plane-breaks-policy", "rename-grant", "yaml-deep-nesting", "empty-pull-request",
    "housekeeping-expired-grant",
})
"""Scenarios run in every output format, one of each kind and outcome; the rest in json (and
in text and markdown where they have an expected output)."""


def _overlay(source: Path, repo: GitRepoBuilder) -> None:
    if not source.is_dir():
        return
    for item in sorted(source.rglob("*")):
        if item.is_file():
            repo.write(item.relative_to(source).as_posix(), item.read_bytes())


def _date(value: str | datetime) -> datetime:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    assert when.tzinfo is not None, f"commit date {value!r} needs an offset"
    return when


def build(scenario: Scenario, factory: RepoFactory) -> Built:
    repo = factory("access")
    for folder in ("policies", "schemas"):
        shutil.copytree(PROJECT / folder, repo.path / folder)
    _overlay(scenario.folder / "base", repo)
    for path in scenario.spec.get("remove_from_base", []):
        repo.remove(path)
    repo.commit("configuration")
    for grant in scenario.spec.get("main_grants", []):
        repo.write(grant["path"], (scenario.folder / "main" / grant["path"]).read_bytes())
        date = _date(grant["date"]) if "date" in grant else None
        repo.commit(f"add {grant['path']}", date=date)
    base = repo.sha("main")

    repo.branch("pr")
    repo.checkout("pr")
    pr = scenario.pr
    _overlay(scenario.folder / "head", repo)
    for path in pr.get("delete", []):
        repo.remove(path)
    for old, new in (pr.get("rename") or {}).items():
        content = repo.file(old).read_bytes()
        repo.remove(old)
        repo.write(new, content)
    for path, target in (pr.get("symlinks") or {}).items():
        repo.symlink(path, target)
    for generated in pr.get("generate", []):
        repo.write(generated["path"], GENERATORS[generated["kind"]]())
    old = repo.commit("pull request", allow_empty=True)
    head = repo.commit("a later push", allow_empty=True) if pr.get("extra_commit") else old

    reviews = None
    if (scenario.folder / "reviews.json").is_file():
        data = json.loads((scenario.folder / "reviews.json").read_text("utf-8"))
        for review in data:
            review["commit_id"] = {"HEAD": head, "OLD": old}.get(review["commit_id"],
                                                                  review["commit_id"])
        reviews = repo.path.parent / "reviews.json"
        reviews.write_text(json.dumps(data), encoding="utf-8")
    return Built(repo, base, old, head, reviews)


def check_pr_args(scenario: Scenario, built: Built, fmt: str) -> list[str]:
    pr = scenario.pr
    args = ["check-pr", "--repo", str(built.repo.path), "--base", "main", "--head", "pr",
            "--as", pr["author"], "--now", str(pr["now"]), "--format", fmt]
    if built.reviews is not None:
        args += ["--reviews", str(built.reviews)]
    if pr.get("pushers"):
        args += ["--pushers", ",".join(pr["pushers"])]
    return args


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out, err = capsys.readouterr()
    assert code != EXIT_INTERNAL, f"internal error (exit 3):\n{err}"
    assert "Traceback" not in out + err
    return code, out, err


def matches(actual: Any, expected: Any, where: str = "$") -> list[str]:
    """Differences between ``actual`` and the subset ``expected``: dicts compare only the
    keys given, lists compare element by element and must have the same length."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        problems = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{where}.{key}: missing")
            else:
                problems += matches(actual[key], value, f"{where}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected {expected!r}, got {actual!r}"]
        return [p for index, (a, e) in enumerate(zip(actual, expected, strict=True))
                for p in matches(a, e, f"{where}[{index}]")]
    return [] if actual == expected else [f"{where}: expected {expected!r}, got {actual!r}"]


def test_there_are_enough_scenarios() -> None:
    assert len(ALL) >= 20
    for scenario in ALL:
        assert scenario.spec.get("description"), f"{scenario.name}: describe the scenario"
        assert set(scenario.expect) <= {"exit", "decision", "kind", "codes", "json"}, \
            scenario.name
    assert EVERY_FORMAT <= {s.name for s in ALL}


@pytest.mark.parametrize("scenario", ALL, ids=[s.name for s in ALL])
def test_scenario(scenario: Scenario, repo_factory: RepoFactory,
                  capsys: pytest.CaptureFixture[str]) -> None:
    built = build(scenario, repo_factory)
    expect = scenario.expect

    code, out, err = run_cli(check_pr_args(scenario, built, "json"), capsys)
    assert (code, err) == (expect["exit"], "")
    result = json.loads(out)
    assert result["decision"] == expect["decision"]
    assert result["kind"] == expect["kind"]
    assert [f["code"] for f in result["findings"]] == expect["codes"]
    assert (result["base"], result["head"]) == (built.base, built.head)
    assert matches(result, expect.get("json", {})) == []

    # Text and markdown are compared whole where the scenario has them; every format gives
    # the same exit code (EVERY_FORMAT scenarios run them all).
    for fmt, expected_file in (("text", "expected.txt"), ("markdown", "expected.md"),
                               ("github", "")):
        expected = scenario.folder / expected_file
        if not expected.is_file() and scenario.name not in EVERY_FORMAT:
            continue
        code, out, err = run_cli(check_pr_args(scenario, built, fmt), capsys)
        assert (fmt, code, err) == (fmt, expect["exit"], "")
        assert out.endswith("\n")
        if expected.is_file():
            assert built.placeholders(out) == expected.read_text("utf-8")
