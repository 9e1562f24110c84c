"""gitjit test: run the policy tests under policies/tests/ against the policies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.adapters.worktree import WorkTree
from engine.commands.repository import read_config
from engine.core import policytest
from engine.core.findings import Severity
from engine.core.report import CheckReport
from engine.core.values import plural
from engine.reporters import CHECK_FORMATS
from engine.targets.registry import catalog


@dataclass(frozen=True)
class TestOptions:
    repo: Path
    only: str | None
    """Run only test files whose path starts with this (relative to the repository)."""
    verbose: bool


def run(options: TestOptions) -> int:
    loaded = read_config(WorkTree(options.repo), catalog())
    errors = [f for f in loaded.result.findings if f.severity is Severity.ERROR]
    if errors:
        # Tests judge with the configuration: a broken one must be fixed first.
        print(CHECK_FORMATS["text"](CheckReport(tuple(errors), 0, 0, loaded.files)), end="")
        print("configuration has errors; fix them (gitjit check) before running policy tests")
        return 2
    results = policytest.run(loaded.result, loaded.schemas, loaded.result.tests, options.only)
    for result in results:
        if not result.passed:
            print(f"FAIL {result.failure().render()}")
        elif options.verbose:
            print(f"PASS {result.path}:{result.line}: {result.name}")
    failed = sum(1 for r in results if not r.passed)
    files = len({r.path for r in results})
    print(f"{plural(len(results), 'test')} in {plural(files, 'file')}, "
          f"{len(results) - failed} passed, {failed} failed")
    if not results:
        print("no policy tests found: add PolicyTest files under policies/tests/")
        return 1
    return 1 if failed else 0
