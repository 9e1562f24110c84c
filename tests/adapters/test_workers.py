"""engine.adapters.workers: slices in forked children give what one process gives.

Each scenario runs in a fresh interpreter: forking needs a process with no other thread, and
the test process may have some (servers other tests started)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Sequence

import pytest

from engine.adapters import workers


def run_script(body: str) -> str:
    script = textwrap.dedent("""\
        import os, sys
        from engine.adapters import workers
        from engine.errors import GitjitError
        assert workers.can_split(), "a fresh interpreter on Linux can fork"
    """) + textwrap.dedent(body)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(sys.platform != "linux", reason="workers fork on Linux only")
def test_slices_run_in_separate_processes_and_come_back_in_order() -> None:
    out = run_script("""
        ticks = []
        def work(part, report):
            for item in part:
                report(1)
            return (os.getpid(), [item * item for item in part])
        parts = workers.split(list(range(100)), work, jobs=3, report=ticks.append)
        print(len({pid for pid, _ in parts}), parts[0][0] == os.getpid())
        print([square for _, squares in parts for square in squares] == [i * i for i in range(100)])
        print(sum(ticks))
    """)
    assert out == "3 True\nTrue\n100\n"


@pytest.mark.skipif(sys.platform != "linux", reason="workers fork on Linux only")
def test_a_gitjit_error_in_a_child_is_raised_as_itself() -> None:
    out = run_script("""
        def work(part, report):
            if 7 in part:
                raise GitjitError("grants/x.yaml: cannot read: Input/output error")
            return len(part)
        try:
            workers.split(list(range(10)), work, jobs=2)
        except GitjitError as exc:
            print("GitjitError:", exc)
    """)
    assert out == "GitjitError: grants/x.yaml: cannot read: Input/output error\n"


@pytest.mark.skipif(sys.platform != "linux", reason="workers fork on Linux only")
def test_a_bug_in_a_child_is_an_internal_error_here() -> None:
    out = run_script("""
        def work(part, report):
            return 1 // (0 if 9 in part else 1)
        try:
            workers.split(list(range(10)), work, jobs=2)
        except RuntimeError as exc:
            print("RuntimeError:", exc)
    """)
    assert out == "RuntimeError: a worker process failed: ZeroDivisionError: integer division " \
                  "or modulo by zero\n"


@pytest.mark.skipif(sys.platform != "linux", reason="workers fork on Linux only")
def test_a_child_that_dies_is_an_error_not_a_short_result() -> None:
    out = run_script("""
        def work(part, report):
            if 9 in part:
                os._exit(7)
            return len(part)
        try:
            workers.split(list(range(10)), work, jobs=2)
        except RuntimeError as exc:
            print("RuntimeError:", exc)
    """)
    assert out.startswith("RuntimeError: a worker process ended without a result")


def test_one_job_or_few_items_run_here() -> None:
    def work(part: Sequence[int], report: workers.Report) -> list[int]:
        report(len(part))
        return list(part)

    ticks: list[int] = []
    assert workers.split([1, 2, 3], work, jobs=1, report=ticks.append) == [[1, 2, 3]]
    assert workers.split([1], work, jobs=4, report=ticks.append) == [[1]]
    assert workers.split(list[int](), work, jobs=4) == [[]]
    assert ticks == [3, 1]
