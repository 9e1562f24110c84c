"""gitjit test: run the policy tests under policies/tests/ against the policies."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from engine.adapters.worktree import WorkTree
from engine.commands.repository import read_config
from engine.core import policytest
from engine.core.findings import Severity
from engine.core.report import CheckReport
from engine.core.values import plural
from engine.reporters import CHECK_FORMATS
from engine.targets.registry import catalog

FORMATS = ("text", "json", "junit")
JSON_VERSION = 1


@dataclass(frozen=True)
class TestOptions:
    repo: Path
    only: str | None
    """Run only test files whose path starts with this (relative to the repository)."""
    verbose: bool
    format: str = "text"


def run(options: TestOptions) -> int:
    loaded = read_config(WorkTree(options.repo), catalog())
    errors = [f for f in loaded.result.findings if f.severity is Severity.ERROR]
    if errors:
        # Tests judge with the configuration: a broken one must be fixed first. In JSON and
        # JUnit the report goes to stderr, so that stdout is a document or nothing.
        report = CHECK_FORMATS["text"](CheckReport(tuple(errors), 0, 0, loaded.files))
        print(report + "configuration has errors; fix them (gitjit check) before running "
              "policy tests", file=sys.stdout if options.format == "text" else sys.stderr)
        return 2
    results = policytest.run(loaded.result, loaded.schemas, loaded.result.tests, options.only)
    failed = sum(1 for r in results if not r.passed)
    if options.format == "json":
        print(render_json(results))
    elif options.format == "junit":
        print(render_junit(results))
    else:
        print(render_text(results, options.verbose, options.only), end="")
    if not results and options.only is not None:
        return 1  # the tests asked for by path do not exist: likely a typo
    return 1 if failed else 0


def render_text(results: list[policytest.CaseResult], verbose: bool, only: str | None) -> str:
    lines = []
    for result in results:
        if not result.passed:
            lines.append(f"FAIL {result.failure().render()}")
        elif verbose:
            lines.append(f"PASS {result.path}:{result.line}: {result.name}")
    failed = sum(1 for r in results if not r.passed)
    files = len({r.path for r in results})
    lines.append(f"{plural(len(results), 'test')} in {plural(files, 'file')}, "
                 f"{len(results) - failed} passed, {failed} failed")
    if not results:
        lines.append(f"no policy tests under {only}" if only is not None else
                     "no policy tests yet: add PolicyTest files under policies/tests/ "
                     "(docs/file-formats.md#policytest)")
    return "\n".join(lines) + "\n"


def _case(result: policytest.CaseResult) -> dict[str, Any]:
    return {"file": result.path, "line": result.line, "name": result.name,
            "expected": result.expected, "got": result.decision.outcome.value,
            "passed": result.passed,
            "findings": sorted({f.code for f in result.decision.findings}),
            "message": None if result.passed else result.failure().message}


def render_json(results: list[policytest.CaseResult]) -> str:
    failed = sum(1 for r in results if not r.passed)
    return json.dumps({"version": JSON_VERSION, "tests": len(results),
                       "passed": len(results) - failed, "failed": failed,
                       "cases": [_case(r) for r in results]}, indent=2)


def render_junit(results: list[policytest.CaseResult]) -> str:
    """JUnit XML as CI systems read it: one testsuite per test file, one testcase per case,
    a failure element with gitjit's finding for each failing case."""
    failed = sum(1 for r in results if not r.passed)
    root = ElementTree.Element("testsuites", name="gitjit policy tests",
                               tests=str(len(results)), failures=str(failed), errors="0")
    for path in sorted({r.path for r in results}):
        cases = [r for r in results if r.path == path]
        suite = ElementTree.SubElement(
            root, "testsuite", name=path, tests=str(len(cases)),
            failures=str(sum(1 for r in cases if not r.passed)), errors="0", skipped="0")
        for result in cases:
            case = ElementTree.SubElement(suite, "testcase", classname=path, name=result.name,
                                          file=path, line=str(result.line))
            if not result.passed:
                finding = result.failure()
                failure = ElementTree.SubElement(case, "failure", message=finding.message,
                                                 type=finding.code)
                failure.text = finding.render()
    ElementTree.indent(root)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ElementTree.tostring(root, encoding="unicode"))
