"""Time the lifecycle commands on real histories of 1,000 and 10,000 grants (issue 14, item 3).

For each size it builds the history (benchmarks/lifehistory.py: main with a merge per grant
and a signed removal per cycle of ten, the local forge's pull requests, the signed ledger with
an ``activated`` and an ``expired`` record per grant), then times, each run in a fresh process:

- ``activate, nothing to do``: every merged grant already activated;
- ``activate, one new merge``: the same, but one grant merged since the last run;
- ``reconcile, nothing due``: ten live grants (applied again, as every run does), none ending;
- ``reconcile, one expiry``: the same, at the moment the first of them runs out: it is
  revoked, its end recorded and its file removed by one signed commit;
- ``status`` and ``audit verify`` in the settled state;

and, in the same run, three floors:

- ``start-up``: ``python -m engine --version``, what any gitjit command costs at least. A
  command whose cost does not grow with history keeps the same ratio to it at every size;
- ``git log -p``: ``git log -p --first-parent main -- grants/`` plus ``git log -p
  gitjit/ledger``, git reading every grant commit and every record;
- ``git signatures``: git checking every ledger commit's signature against the allowed
  signers (``git log --format=%G?``), which ``audit verify`` must do at least.

The figures are ratios: a command's time over its floor's (best wall times of the same run),
and how that ratio changes from the smallest to the largest history. Seconds alone depend on
the machine and on what else it runs.

Before every run the repository is put back in the state the command starts from (the refs,
the forge's state, the target's file), so every run does the same work, and every run's output
is checked (activate: one activated; reconcile: one revoked; audit verify: intact), so the
figures never time an error path. Commands take turns run by run, so a machine busy with other
work slows them alike. The gitjit commands but ``audit verify`` also run once in this process,
to count the git processes they start.

Usage (from the project root):
  python -m benchmarks.lifecycle                       # 1,000 and 10,000 grants, best of 3
  python -m benchmarks.lifecycle --grants 1000         # one size
  python -m benchmarks.lifecycle --grants 100,1000 --format json
  python -m benchmarks.lifecycle --grants 1000 --profile   # also cProfile activate, reconcile
  python -m benchmarks.lifecycle --keep /tmp/hist      # build there; reuse what is there
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pickle  # noqa: S403 - the benchmark's own cache of what it built (--keep)
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.lifehistory import DURATION, Built, build
from benchmarks.run import GNU_TIME, Sample, _child_env, counting_git
from engine.adapters.git import scrubbed_env
from engine.core.grants import grant_id
from engine.core.models import GrantId

DEFAULT_SIZES = (1_000, 10_000)
DEFAULT_RUNS = 3
SETTLED, START, ONE_MERGE = "settled", "start", "one merge"


@dataclass(frozen=True)
class Command:
    name: str
    state: str
    """The state it starts from (SETTLED, START, ONE_MERGE)."""
    floor: str | None = None
    """The floor its ratio is taken against (None: it is a floor)."""
    gitjit: bool = True


COMMANDS = (
    Command("activate, nothing to do", SETTLED, "start-up"),
    Command("activate, one new merge", ONE_MERGE, "start-up"),
    Command("reconcile, nothing due", SETTLED, "start-up"),
    Command("reconcile, one expiry", SETTLED, "start-up"),
    Command("status", SETTLED, "start-up"),
    Command("audit verify", SETTLED, "git signatures"),
    Command("start-up", SETTLED, gitjit=False),
    Command("git log -p", SETTLED, gitjit=False),
    Command("git signatures", SETTLED, gitjit=False),
)
AGAINST_GIT_LOG = ("audit verify",)
"""Also given as a ratio to ``git log -p`` (issue 14: audit verify within 2x of git log)."""
IN_PROCESS = ("activate, nothing to do", "activate, one new merge", "reconcile, nothing due",
              "reconcile, one expiry", "status")
"""Run once in this process to count their git processes (audit verify takes minutes at
10,000 grants: it is checked on its timed runs' output only)."""


@dataclass(frozen=True)
class State:
    """What a lifecycle run changes: the refs, the forge's state, the target's file."""

    refs: dict[str, str]
    forge: bytes
    recording: bytes


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=scrubbed_env(), capture_output=True,
                          text=True, check=True).stdout


def snapshot(built: Built) -> State:
    refs = dict(line.split(" ", 1)[::-1] for line in
                _git(built.repo, "for-each-ref", "--format=%(objectname) %(refname)")
                .splitlines())
    return State(refs, (built.repo / ".git" / "gitjit" / "forge.json").read_bytes(),
                 built.recording.read_bytes())


def restore(built: Built, state: State) -> None:
    now = snapshot(built)
    for ref in set(now.refs) - set(state.refs):
        _git(built.repo, "update-ref", "-d", ref)
    for ref, sha in state.refs.items():
        if now.refs.get(ref) != sha:
            _git(built.repo, "update-ref", ref, sha)
    (built.repo / ".git" / "gitjit" / "forge.json").write_bytes(state.forge)
    built.recording.write_bytes(state.recording)


def first_pending(built: Built) -> GrantId:
    """The grant of the newest batch that was merged first."""
    return min((GrantId(grant_id(path)) for path in built.pending),
               key=lambda gid: (built.expected[gid].activated_at, gid))


def when(built: Built, command: str) -> datetime:
    """``--now`` of the run: NOW, or for one expiry the moment the first live grant (the
    earliest merged of the batch activated last) has run out and no other has."""
    if command != "reconcile, one expiry":
        return built.now
    merged = min(record.activated_at for record in built.expected.values()
                 if record.activated_at is not None)
    # The batch's grants were merged 30 s apart: 15 s after the first ends, only it has.
    return merged + DURATION + timedelta(seconds=15)


def argv(built: Built, command: str) -> list[str]:
    repo = str(built.repo)
    now = when(built, command).strftime("%Y-%m-%dT%H:%M:%SZ")
    python = [sys.executable, "-m", "engine"]
    verb = command.split(",")[0]
    if verb in ("activate", "reconcile"):
        return [*python, verb, "--repo", repo, "--now", now, "--format", "json"]
    if command == "status":
        return [*python, "status", "--repo", repo, "--now", now, "--format", "json"]
    if command == "audit verify":
        return [*python, "audit", "verify", "--repo", repo]
    if command == "start-up":
        return [*python, "--version"]
    if command == "git log -p":
        return ["sh", "-c", f"cd '{repo}' && git log -p --first-parent main -- grants/ "
                            ">/dev/null && git log -p gitjit/ledger >/dev/null"]
    if command == "git signatures":
        signers = built.repo / ".git" / "bench-allowed-signers"
        return ["git", "-C", repo, "-c", f"gpg.ssh.allowedSignersFile={signers}",
                "log", "--format=%G?", "gitjit/ledger"]
    raise ValueError(command)


def check_work(built: Built, command: str, code: int, output: str) -> None:
    """The command did what the benchmark times it for, or the figures would mean nothing."""
    if code != 0:
        raise RuntimeError(f"{command} exited {code}: {output[-2000:]}")
    live = len(built.pending)
    wanted = {"activate, nothing to do": {},
              "activate, one new merge": {"activated": 1},
              "reconcile, nothing due": {"applied": live},
              "reconcile, one expiry": {"applied": live - 1, "revoked": 1, "removed": 1}}
    if command in wanted:
        actions = Counter(step["action"] for step in json.loads(output)["steps"])
        if dict(actions) != wanted[command]:
            raise RuntimeError(f"{command} did {dict(actions)}, expected {wanted[command]}")
    elif command == "status":
        json.loads(output)
    elif command == "audit verify" and "intact" not in output:
        raise RuntimeError(f"audit verify: {output[-2000:]}")
    elif command == "git signatures" and set(output.split()) != {"G"}:
        raise RuntimeError(f"git signatures: not every ledger commit is good: "
                           f"{sorted(Counter(output.split()).items())}")


def timed(args: Sequence[str]) -> tuple[Sample, int, str]:
    """Wall time, CPU time and peak RSS of one run in a fresh child, with its exit code and
    output (benchmarks/run.py's ``timed_run``, keeping the output to check it)."""
    with tempfile.TemporaryDirectory() as scratch:
        out, err = Path(scratch) / "stdout", Path(scratch) / "stderr"
        peak = Path(scratch) / "peak"
        wrapper = [str(GNU_TIME), "-f", "%M", "-o", str(peak)] if GNU_TIME.exists() else []
        # stdout alone is checked (it may be JSON); stderr (notes, warnings) only explains a
        # failed run.
        with out.open("wb") as sink, err.open("wb") as notes:
            started = time.perf_counter()
            child = subprocess.Popen([*wrapper, *args], stdin=subprocess.DEVNULL, stdout=sink,
                                     stderr=notes, env=_child_env())
            _, status, usage = os.wait4(child.pid, 0)
            elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must know
        rss = int(peak.read_text().split()[-1]) if wrapper else usage.ru_maxrss
        text = out.read_text(encoding="utf-8", errors="replace")
        if child.returncode != 0:
            text += err.read_text(encoding="utf-8", errors="replace")
    return Sample(elapsed, usage.ru_utime + usage.ru_stime, rss), child.returncode, text


def in_process(args: Sequence[str], profile: cProfile.Profile | None = None
               ) -> tuple[int, str, Counter[str]]:
    """Run gitjit in this process: exit code, output, git processes by subcommand."""
    from engine.cli import run

    out = io.StringIO()
    with counting_git() as counts, contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(io.StringIO()):
        code = profile.runcall(run, list(args)) if profile else run(list(args))
    return code, out.getvalue(), counts


@dataclass(frozen=True)
class Row:
    grants: int
    records: int
    command: str
    best: float
    median: float
    cpu: float
    rss_mib: float
    git: int | None
    floor: str | None
    ratio: float | None
    """best / the floor's best, same size, same run."""
    cpu_ratio: float | None
    """CPU time of the best run / the floor's (steadier on a busy machine)."""


@dataclass
class Result:
    machine: str
    runs: int
    built: dict[int, float] = field(default_factory=dict)
    """Seconds to build each size."""
    rows: list[Row] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)

    def find(self, grants: int, command: str) -> Row | None:
        return next((r for r in self.rows if (r.grants, r.command) == (grants, command)), None)

    def growth(self) -> list[dict[str, Any]]:
        """Each command's ratio to its floor at the largest size over that at the smallest."""
        sizes = sorted(self.built)
        if len(sizes) < 2:
            return []
        small, large = sizes[0], sizes[-1]
        out = []
        for command in COMMANDS:
            a, b = self.find(small, command.name), self.find(large, command.name)
            if a is None or b is None:
                continue
            out.append({"command": command.name, "from": small, "to": large,
                        "seconds": b.best / a.best, "cpu": b.cpu / a.cpu,
                        "ratio": (b.ratio / a.ratio) if a.ratio and b.ratio else None,
                        "cpu_ratio": (b.cpu_ratio / a.cpu_ratio)
                        if a.cpu_ratio and b.cpu_ratio else None})
        return out

    def as_json(self) -> dict[str, Any]:
        return {"machine": self.machine, "runs": self.runs,
                "built": [{"grants": g, "seconds": round(s, 2)} for g, s in self.built.items()],
                "rows": [asdict(row) for row in self.rows], "growth": self.growth()}


def chosen(names: Sequence[str] | None) -> tuple[Command, ...]:
    """The commands named (all when None), with the floors their ratios need."""
    if not names:
        return COMMANDS
    unknown = set(names) - {c.name for c in COMMANDS}
    if unknown:
        raise ValueError(f"no command {', '.join(sorted(unknown))}; the commands are: "
                         + "; ".join(c.name for c in COMMANDS))
    wanted = set(names) | {c.floor for c in COMMANDS if c.name in names and c.floor}
    return tuple(c for c in COMMANDS if c.name in wanted)


def measure(built: Built, runs: int, result: Result, profile: bool,
            commands: Sequence[Command] = COMMANDS) -> None:
    start = snapshot(built)
    (built.repo / ".git" / "bench-allowed-signers").write_text(
        _git(built.repo, "show", "main:policies/allowed_signers"), encoding="utf-8")
    # The settled state, made by gitjit itself: the new batch activated, the batch whose time
    # was up at NOW revoked and removed.
    for verb in ("activate", "reconcile"):
        code, output, _ = in_process([verb, "--repo", str(built.repo), "--now",
                                      built.now.strftime("%Y-%m-%dT%H:%M:%SZ"), "--format",
                                      "json"])
        if code != 0:
            raise RuntimeError(f"{verb} to settle the history exited {code}: {output[-2000:]}")
    settled = snapshot(built)
    restore(built, start)
    _git(built.repo, "update-ref", "refs/heads/main",
         built.expected[first_pending(built)].merge_sha or "")
    states = {START: start, SETTLED: settled, ONE_MERGE: snapshot(built)}

    git: dict[str, int] = {}
    for name in (c.name for c in commands if c.name in IN_PROCESS):
        command = next(c for c in COMMANDS if c.name == name)
        restore(built, states[command.state])
        code, output, counts = in_process(argv(built, name)[3:])
        check_work(built, name, code, output)
        git[name] = sum(counts.values())
    if profile:
        for name in ("activate, one new merge", "reconcile, one expiry"):
            command = next(c for c in COMMANDS if c.name == name)
            restore(built, states[command.state])
            profiler = cProfile.Profile()
            in_process(argv(built, name)[3:], profiler)
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(30)
            result.profiles[f"{name}, {built.grants:,} grants"] = text.getvalue()

    samples: dict[str, list[Sample]] = {c.name: [] for c in commands}
    for _ in range(runs):
        for command in commands:
            restore(built, states[command.state])
            sample, code, output = timed(argv(built, command.name))
            check_work(built, command.name, code, output)
            samples[command.name].append(sample)
    restore(built, start)
    top = {name: min(found, key=lambda s: s.wall) for name, found in samples.items()}
    for command in commands:
        found, mine = samples[command.name], top[command.name]
        floor = top[command.floor] if command.floor else None
        result.rows.append(Row(
            built.grants, built.records, command.name, mine.wall,
            statistics.median(s.wall for s in found), mine.cpu,
            max(s.rss_kib for s in found) / 1024, git.get(command.name), command.floor,
            mine.wall / floor.wall if floor else None,
            mine.cpu / floor.cpu if floor and floor.cpu else None))


def table(result: Result) -> str:
    lines = [f"| grants | ledger records | command | best of {result.runs} (s) | median (s) "
             "| CPU (s) | peak RSS (MiB) | git processes | ratio to floor (CPU) |",
             "|--:|--:|---|--:|--:|--:|--:|--:|---|"]
    for row in result.rows:
        git = "" if row.git is None else str(row.git)
        ratio = "(floor)"
        if row.ratio is not None:
            cpu = f" ({row.cpu_ratio:.2f}x)" if row.cpu_ratio is not None else ""
            ratio = f"{row.ratio:.2f}x {row.floor}{cpu}"
        lines.append(f"| {row.grants:,} | {row.records:,} | {row.command} | {row.best:.2f} | "
                     f"{row.median:.2f} | {row.cpu:.2f} | {row.rss_mib:.0f} | {git} | "
                     f"{ratio} |")
    return "\n".join(lines)


def sentences(result: Result) -> list[str]:
    lines = []
    for grow in result.growth():
        ratio = ""
        if grow["ratio"] and grow["cpu_ratio"]:
            ratio = (f"ratio to its floor {grow['ratio']:.2f}x (CPU {grow['cpu_ratio']:.2f}x), ")
        lines.append(f"{grow['command']}, {grow['from']:,} -> {grow['to']:,} grants: "
                     f"{ratio}seconds {grow['seconds']:.2f}x, CPU {grow['cpu']:.2f}x")
    for size in sorted(result.built):
        peer = result.find(size, "git log -p")
        for name in AGAINST_GIT_LOG:
            row = result.find(size, name)
            if row is None or peer is None:
                continue
            lines.append(f"{name}, {size:,} grants: {row.best / peer.best:.2f}x git log -p "
                         f"({peer.best:.2f}s)")
    return lines


def machine() -> str:
    return (f"{platform.python_implementation()} {platform.python_version()}, "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give numbers, e.g. 1000,10000") from None
    return sizes


def built_in(folder: Path, size: int, policies: int) -> tuple[Built, float]:
    """The history of ``size`` grants in ``folder``: built there, or the one built before."""
    cache = folder / f"history-{size}.built.pickle"
    if cache.is_file():
        made: Built = pickle.loads(cache.read_bytes())  # noqa: S301 - written below
        return made, 0.0
    started = time.perf_counter()
    made = build(folder / f"history-{size}", size, policies)
    took = time.perf_counter() - started
    cache.write_bytes(pickle.dumps(made))
    return made, took


def main(argv_: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lifecycle",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--grants", type=_sizes, default=list(DEFAULT_SIZES),
                        metavar="N[,N...]",
                        help="grants per history, comma-separated (multiples of 10, at "
                             "least 30; default 1000,10000)")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS,
                        help=f"runs per command, the best is reported (default {DEFAULT_RUNS})")
    parser.add_argument("--policies", type=int, default=20)
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--commands", type=lambda text: [n.strip() for n in text.split(";")],
                        default=None, metavar="NAME[;NAME...]",
                        help="time only these (with their floors), e.g. 'status;audit "
                             "verify'; default: all")
    parser.add_argument("--profile", action="store_true",
                        help="also cProfile activate and reconcile at each size")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="build the histories in DIR and keep them; a history already "
                             "there is reused")
    args = parser.parse_args(argv_)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        commands = chosen(args.commands)
    except ValueError as exc:
        parser.error(str(exc))
    result = Result(machine(), args.runs)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="gitjit-lifebench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for size in args.grants:
            try:
                made, took = built_in(folder, size, args.policies)
            except ValueError as exc:
                parser.error(str(exc))
            result.built[size] = took
            print(f"built {size:,} grants, {made.records:,} ledger records in {took:.0f}s",
                  file=sys.stderr, flush=True)
            measure(made, args.runs, result, args.profile, commands)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    if args.format == "json":
        print(json.dumps(result.as_json(), indent=2))
        return 0
    print(f"{result.machine}; best of {result.runs}")
    print()
    print(table(result))
    print()
    for line in sentences(result):
        print(line)
    for name, text in result.profiles.items():
        print(f"\n--- cProfile of {name} ---\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
