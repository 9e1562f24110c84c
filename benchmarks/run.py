"""Time ``gitjit check`` and ``gitjit check-pr`` on generated access repositories.

For each scenario it generates a repository (benchmarks/generate.py) in a temporary folder,
then runs each command k times, every run in a fresh child process, and reports the best wall
time, the CPU time of that run (user + system, of the process and every process it waited
for: git, check's worker) and the peak resident memory of the run (``ru_maxrss`` of that
child, through GNU time when present: the largest of gitjit's Python process and the git
processes it waited for). It also runs each command once in-process to count the git
processes it starts, and checks the exit codes: check must pass (0) and check-pr must approve
(0), or the figures would time an error path.

Beside ``gitjit check`` it times, in the same way and in the same run, the floor (PyYAML's C
loader parsing the same files in one process, benchmarks/floor.py) and the peer
(check-jsonschema validating the same files against the same schemas, when it is installed:
``pip install check-jsonschema``), and prints the ratios. It also times start-up: ``gitjit
--help`` against a bare ``python -c pass``.

The children run with bytecode caching on (PYTHONDONTWRITEBYTECODE is dropped, the cache goes
to a temporary folder), as an installed gitjit has it.

Usage (from the project root):
  python -m benchmarks.run            # the sizes in docs/benchmarks.md (about two minutes)
  python -m benchmarks.run --quick    # small sizes, a few seconds
  python -m benchmarks.run --profile  # also cProfile check-pr on the largest scenario

The check-pr rows answer one question: does the verdict on one pull request cost more when
the repository holds more grants that have nothing to do with it? It should not: check-pr
reads the changed blobs, the base configuration and the author's own grants only.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import io
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.generate import Generated, generate


@dataclass(frozen=True)
class Scenario:
    name: str
    grants: int
    policies: int
    own: int = 1
    commits: int = 10
    """How many commits the grants were merged in: 10 is a repository built in bulk; one per
    grant is the history a real access repository gets (one pull request per grant)."""
    bundled: bool = False
    """This project's own configuration (benchmarks/generate.py --bundled)."""
    peers: bool = True
    """Also time the floor and check-jsonschema on the same files."""


PEER_MAX_FILES = 20_000
"""check-jsonschema takes its files as arguments: more do not fit on a command line."""

FULL = (
    Scenario("bundled", 0, 4, own=0, bundled=True),
    Scenario("bundled, 10k", 10_000, 4, own=0, bundled=True),
    Scenario("1k", 1_000, 200),
    Scenario("10k", 10_000, 200),
    Scenario("10k, author owns 20", 10_000, 200, own=20, peers=False),
    Scenario("100k", 100_000, 200),
    Scenario("1k, 1 commit per grant", 1_000, 200, commits=1_000, peers=False),
    Scenario("10k, 1 commit per grant", 10_000, 200, commits=10_000, peers=False),
    Scenario("10k, 1 commit per grant, author owns 20", 10_000, 200, own=20, commits=10_000,
             peers=False),
)
QUICK = (
    Scenario("bundled", 0, 4, own=0, bundled=True),
    Scenario("100", 100, 20),
    Scenario("1k", 1_000, 20),
    Scenario("1k, author owns 20", 1_000, 20, own=20, peers=False),
    Scenario("1k, 1 commit per grant", 1_000, 20, commits=1_000, peers=False),
)


@dataclass(frozen=True)
class Measurement:
    scenario: Scenario
    command: str
    best: float
    """Best wall time of the runs, in seconds."""
    median: float
    cpu: float
    """CPU time (user + system, children included) of the best run, in seconds."""
    peak_rss_kib: int
    """The largest ru_maxrss of the runs, in KiB (Linux reports KiB)."""
    git_processes: int | None
    """None for the floor and the peer."""
    generate_seconds: float


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    rss_kib: int


GNU_TIME = Path("/usr/bin/time")


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "gitjit-bench-pyc"))
    return env


def timed_run(argv: Sequence[str], expect: int | Sequence[int]) -> Sample:
    """Wall time, CPU time and peak RSS (KiB) of one run of ``argv`` in a fresh child.

    The peak is ``ru_maxrss`` of that child alone (``os.wait4``), which covers the git
    processes it waited for. Through GNU time when present: a child forked straight from this
    script starts with this script's own high-water mark (Linux carries the parent's ``maxrss``
    across the fork and exec), so it would report at least this script's size."""
    with tempfile.TemporaryDirectory() as scratch:
        err, peak = Path(scratch) / "stderr", Path(scratch) / "peak"
        wrapper = [str(GNU_TIME), "-f", "%M", "-o", str(peak)] if GNU_TIME.exists() else []
        with err.open("wb") as sink:
            started = time.perf_counter()
            child = subprocess.Popen([*wrapper, *argv], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=sink, env=_child_env())
            _, status, usage = os.wait4(child.pid, 0)
            elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        expected = [expect] if isinstance(expect, int) else list(expect)
        if child.returncode not in expected:
            message = err.read_text(encoding="utf-8", errors="replace").strip()
            raise RuntimeError(f"{' '.join(argv)[:300]} exited {child.returncode}, expected "
                               f"{expect}: {message[-2000:]}")
        rss = int(peak.read_text().split()[-1]) if wrapper else usage.ru_maxrss
    return Sample(elapsed, usage.ru_utime + usage.ru_stime, rss)


@contextlib.contextmanager
def counting_git() -> Iterator[collections.Counter[str]]:
    """Count the git processes gitjit starts in this process, by git subcommand (every one
    starts through Popen: subprocess.run and the long-lived object reader alike)."""
    counts: collections.Counter[str] = collections.Counter()
    real = subprocess.Popen

    class Counting(real):  # type: ignore[misc,valid-type]
        def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
            if isinstance(args, list | tuple) and args and args[0] == "git":
                counts[str(args[1])] += 1
            super().__init__(args, *rest, **kwargs)

    subprocess.Popen = Counting  # type: ignore[misc]
    try:
        yield counts
    finally:
        subprocess.Popen = real  # type: ignore[misc]


def in_process(args: Sequence[str], profile: cProfile.Profile | None = None
               ) -> collections.Counter[str]:
    """Run gitjit in this process (output discarded) and count its git subprocesses."""
    from engine.cli import run

    call: Callable[[], int] = lambda: run(list(args))  # noqa: E731
    with counting_git() as counts, contextlib.redirect_stdout(io.StringIO()):
        if profile is not None:
            profile.runcall(call)
        else:
            call()
    return counts


def _measured(scenario: Scenario, command: str, samples: Sequence[Sample],
              git: int | None, generate_seconds: float) -> Measurement:
    best = min(samples, key=lambda s: s.wall)
    return Measurement(scenario, command, best.wall, statistics.median(s.wall for s in samples),
                       best.cpu, max(s.rss_kib for s in samples), git, generate_seconds)


def peer_commands(repo: Path) -> list[list[str]] | None:
    """check-jsonschema over the files gitjit check reads, one run per schema; None when it
    is not installed."""
    found = shutil.which("check-jsonschema", path=f"{Path(sys.executable).parent}"
                         f"{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        return None
    config = {"groups.yaml", "settings.yaml"}
    groups: list[tuple[str, list[Path]]] = [
        ("grant", sorted(repo.glob("grants/*/*.yaml"))),
        ("policy", sorted(p for p in repo.glob("policies/*.yaml") if p.name not in config)),
        ("groups", [repo / "policies" / "groups.yaml"]),
        ("settings", [repo / "policies" / "settings.yaml"]),
        ("policytest", sorted(repo.glob("policies/tests/*.yaml"))),
    ]
    return [[found, "--schemafile", str(repo / "schemas" / f"{kind}.schema.json"),
             *map(str, files)] for kind, files in groups if files and files[0].is_file()]


PEER_RUNS = 3
"""check-jsonschema takes seconds a run: at most this many."""


def measure(made: Generated, scenario: Scenario, runs: int, gitjit: Sequence[str],
            generate_seconds: float) -> list[Measurement]:
    """Each command ``runs`` times. gitjit check, the floor and the peer take turns, run by
    run, so that a machine busy with other work slows all three alike."""
    floor_argv = [sys.executable, "-m", "benchmarks.floor", str(made.repo)]
    peers = peer_commands(made.repo) if scenario.peers else None
    if peers is not None and scenario.grants > PEER_MAX_FILES:
        peers = None
    samples: dict[str, list[Sample]] = collections.defaultdict(list)
    for index in range(runs):
        samples["check"].append(timed_run([*gitjit, *made.check_args()], expect=0))
        if scenario.peers:
            samples["floor"].append(timed_run(floor_argv, 0))
        if peers is not None and index < PEER_RUNS:
            # The schemas type every value as text, and check-jsonschema's YAML loader reads
            # 'count: 1' as a number: it reports the policies invalid (exit 1) after the same
            # work.
            one = [timed_run(argv, (0, 1)) for argv in peers]
            samples["check-jsonschema"].append(Sample(
                sum(s.wall for s in one), sum(s.cpu for s in one), max(s.rss_kib for s in one)))
        samples["check-pr"].append(timed_run([*gitjit, *made.check_pr_args()], expect=0))
    git = {"check": sum(in_process(made.check_args()).values()),
           "check-pr": sum(in_process(made.check_pr_args()).values())}
    return [_measured(scenario, command, samples[command], git.get(command), generate_seconds)
            for command in ("check", "floor", "check-jsonschema", "check-pr")
            if samples[command]]


def startup(runs: int, gitjit: Sequence[str]) -> list[str]:
    """Start-up: gitjit --help against a bare interpreter."""
    bare = [timed_run([sys.executable, "-c", "pass"], 0) for _ in range(runs)]
    helped = [timed_run([*gitjit, "--help"], 0) for _ in range(runs)]
    a, b = min(s.wall for s in bare), min(s.wall for s in helped)
    return [f"start-up: python -c pass {a:.3f}s, gitjit --help {b:.3f}s "
            f"(gitjit's own share {b - a:.3f}s)"]


def machine() -> str:
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.1f} GiB memory"
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False)
    return (f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}){memory}, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"{git.stdout.strip()}")


def table(results: Sequence[Measurement], runs: int) -> str:
    lines = [f"| scenario | grants | policies | author's grants | grant commits | command "
             f"| best of {runs} (s) | median (s) | CPU (s) | peak RSS (MiB) | git processes |",
             "|---|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|"]
    for m in results:
        s = m.scenario
        git = "" if m.git_processes is None else str(m.git_processes)
        lines.append(f"| {s.name} | {s.grants:,} | {s.policies:,} | {s.own} | {s.commits:,} "
                     f"| {m.command} | {m.best:.2f} | {m.median:.2f} | {m.cpu:.2f} "
                     f"| {m.peak_rss_kib / 1024:.0f} | {git} |")
    return "\n".join(lines)


def ratios(results: Sequence[Measurement]) -> list[str]:
    """check against the floor and the peer measured in the same run (best wall times)."""
    out = []
    by = {(m.scenario, m.command): m for m in results}
    for m in results:
        if m.command != "check":
            continue
        floor, peer = by.get((m.scenario, "floor")), by.get((m.scenario, "check-jsonschema"))
        parts = []
        if floor is not None:
            parts.append(f"{m.best / floor.best:.2f}x the floor ({floor.best:.2f}s; CPU "
                         f"{m.cpu / floor.cpu:.2f}x)")
        if peer is not None:
            parts.append(f"check-jsonschema takes {peer.best / m.best:.1f}x as long "
                         f"({peer.best:.2f}s)")
        if parts:
            out.append(f"check, {m.scenario.name}: {m.best:.2f}s, " + ", ".join(parts))
    return out


def growth(results: Sequence[Measurement]) -> list[str]:
    """Sentences comparing check-pr across scenarios that differ in one thing only."""
    pr = {m.scenario: m for m in results if m.command == "check-pr"}
    out = []
    for small in pr:
        for large in pr:
            same_but_grants = (small.policies == large.policies and small.own == large.own
                               and small.grants < large.grants
                               and (small.commits == large.commits
                                    or (small.commits == small.grants
                                        and large.commits == large.grants)))
            if same_but_grants:
                a, b = pr[small], pr[large]
                more = (f"{large.grants / small.grants:.0f}x the grants" if small.grants
                        else f"{large.grants:,} grants instead of none")
                out.append(f"check-pr, {small.name} -> {large.name}: {a.best:.2f}s -> "
                           f"{b.best:.2f}s ({b.best / a.best:.2f}x for {more}; CPU "
                           f"{a.cpu:.2f}s -> {b.cpu:.2f}s), git processes "
                           f"{a.git_processes} -> {b.git_processes}")
    return out


def profile_check_pr(made: Generated, top: int = 15) -> str:
    profile = cProfile.Profile()
    counts = in_process(made.check_pr_args(), profile)
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text)
    stats.sort_stats("cumulative").print_stats(r"engine[/\\](commands|adapters|core)", top)
    git = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    return f"git subprocesses: {sum(counts.values())} ({git})\n{text.getvalue()}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run",
                                     description="Time gitjit check and check-pr.")
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs per command, the best is reported (default 5, quick 3)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only the scenario of this name (repeatable)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile check-pr on the last scenario and print the top calls")
    parser.add_argument("--gitjit", default=None, metavar="CMD",
                        help="the gitjit to time, e.g. 'gitjit' (default: this Python's "
                             "'-m engine', which skips any wrapper script's start-up)")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="generate the repositories here and keep them")
    args = parser.parse_args(argv)
    scenarios = [s for s in (QUICK if args.quick else FULL)
                 if not args.only or s.name in args.only]
    if not scenarios:
        parser.error(f"no scenario named {', '.join(args.only)}")
    runs = args.runs or (3 if args.quick else 5)
    gitjit = args.gitjit.split() if args.gitjit else [sys.executable, "-m", "engine"]

    print(f"machine: {machine()}", flush=True)
    results: list[Measurement] = []
    last: Generated | None = None
    with contextlib.ExitStack() as stack:
        root = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        for index, scenario in enumerate(scenarios):
            started = time.perf_counter()
            last = generate(root / f"repo-{index}", scenario.grants, scenario.policies,
                            own=scenario.own, commits=scenario.commits,
                            bundled=scenario.bundled)
            took = time.perf_counter() - started
            print(f"generated {scenario.name} in {took:.1f}s", file=sys.stderr, flush=True)
            results += measure(last, scenario, runs, gitjit, took)
        print()
        print(table(results, runs))
        print()
        for line in [*ratios(results), *growth(results), *startup(runs, gitjit)]:
            print(line)
        if args.profile and last is not None:
            print()
            print(f"cProfile of check-pr on {scenarios[-1].name}:")
            print(profile_check_pr(last))
    return 0


if __name__ == "__main__":
    sys.exit(main())
