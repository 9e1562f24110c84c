"""Time ``gitjit report`` over N grants against reading the same history with git alone.

The repository is benchmarks/generate.py's (N grants in real git history), plus a ledger with
an ``activated`` and an ``expired`` record for every grant, written the way gitjit writes
records (canonical JSON, chained) and ending in a commit signed with a fresh lifecycle key
that ``policies/allowed_signers`` lists. The report reads what every gitjit command reads: the
newest signed ledger tree (one signature check), the history of grants/ and its blobs.

The baseline is git reading the same range itself: ``git log -p --first-parent main --
grants/`` (every grant commit with the grants' contents) plus ``git log -p gitjit/ledger``
(every record). The figure that matters is the ratio report / git log, not the seconds: it
says whether the report's own work stays within a small factor of just reading the history.

Usage (from the project root):
  python -m benchmarks.report                 # 10,000 grants, best of 5
  python -m benchmarks.report --grants 1000 --runs 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.generate import APPROVERS, Generated, generate
from engine.adapters.git import GitRepository, scrubbed_env
from engine.adapters.signing import CommitSigner, generate_key
from engine.core.grants import grant_id
from engine.core.ledger import (
    INDEX_PATH,
    KEYS_DIR,
    RECORDS_DIR,
    AppliedTarget,
    CountedReview,
    Event,
    ExpiryEnforcer,
    Record,
    build_index,
    chain,
    commit_message,
    index_json,
    key_path,
    record_key,
    record_path,
    to_json,
)
from engine.core.models import GrantId, ReviewState


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(["git", *args], cwd=repo, env=scrubbed_env(), input=stdin,
                            capture_output=True, check=True)
    return result.stdout


def _hash_objects(repo: Path, folder: Path, contents: Sequence[bytes]) -> list[str]:
    """Write each content as a blob with one git process; their ids, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for number, content in enumerate(contents):
        file = folder / f"{number}"
        file.write_bytes(content)
        files.append(file)
    out = _git(repo, "hash-object", "-w", "--no-filters", "--stdin-paths",
               stdin="".join(f"{file}\n" for file in files).encode())
    for file in files:
        file.unlink()
    return out.decode("ascii").split()


def _mktree(repo: Path, entries: Sequence[tuple[str, str, str]]) -> str:
    """A tree of (mode and type, object id, name) entries."""
    listing = "".join(f"{kind} {sha}\t{name}\0" for kind, sha, name in entries)
    return _git(repo, "mktree", "-z", stdin=listing.encode()).decode("ascii").strip()


def add_ledger(made: Generated, key_dir: Path) -> int:
    """An activated and an expired record per grant on gitjit/ledger, its tip signed; the
    key listed in policies/allowed_signers on main. Returns the number of records."""
    repo = GitRepository(made.repo)
    log = _git(made.repo, "log", "--first-parent", "--reverse", "--format=%H %ct",
               "--name-only", "main", "--", "grants/").decode()
    landed: list[tuple[str, str, int]] = []
    sha, stamp = "", 0
    for line in log.splitlines():
        if not line:
            continue
        if line.startswith("grants/"):
            landed.append((line, sha, stamp))
        else:
            sha, raw = line.split()
            stamp = int(raw)
    records: list[Record] = []
    previous: Record | None = None
    for number, (path, commit, stamp) in enumerate(landed, 1):
        gid = GrantId(grant_id(path))
        policy, rest = gid.split("/", 1)
        requester = rest.rsplit("-", 1)[0]
        at = datetime.fromtimestamp(stamp, UTC)
        active = Record(event=Event.ACTIVATED, grant_id=gid, policy=policy, requester=requester,
                        at=at, pull_request=number, merge_sha=commit, engine_version="0.1.0",
                        activated_at=at, expires_at=at + timedelta(hours=1),
                        expiry_enforced_by=ExpiryEnforcer.GITJIT,
                        target=AppliedTarget("postgres", "orders-prod",
                                             (("role", f"role_{policy}"),)),
                        reviews=tuple(CountedReview(login, ReviewState.APPROVED, commit,
                                                    at - timedelta(minutes=10))
                                      for login in APPROVERS))
        previous = chain(active, previous)
        records.append(previous)
        ended = Record(event=Event.EXPIRED, grant_id=gid, policy=policy, requester=requester,
                       at=at + timedelta(hours=1, minutes=1), engine_version="0.1.0",
                       ended_at=at + timedelta(hours=1))
        previous = chain(ended, previous)
        records.append(previous)
    paths = [record_path(record) for record in records]
    blobs = _hash_objects(made.repo, key_dir / "objects",
                          [to_json(record) for record in records]
                          + [path.encode() for path in paths])
    record_blobs, key_blobs = blobs[:len(records)], blobs[len(records):]
    folder = _mktree(made.repo, [("100644 blob", blob, path.removeprefix(RECORDS_DIR))
                                 for blob, path in zip(record_blobs, paths, strict=True)])
    # keys/<2 hex>/<sha256 of the idempotency key> holds each record's path, as Ledger.append
    # writes it; index.json the newest record's number and hash and the open grants.
    shards: dict[str, list[tuple[str, str, str]]] = {}
    for record, blob in zip(records, key_blobs, strict=True):
        shard, name = key_path(record_key(record)).removeprefix(KEYS_DIR).split("/")
        shards.setdefault(shard, []).append(("100644 blob", blob, name))
    keys = _mktree(made.repo, [("040000 tree", _mktree(made.repo, entries), shard)
                               for shard, entries in shards.items()])
    index = _hash_objects(made.repo, key_dir / "objects",
                          [index_json(build_index(records))])[0]
    tree = _mktree(made.repo, [("040000 tree", folder, RECORDS_DIR.rstrip("/")),
                               ("040000 tree", keys, KEYS_DIR.rstrip("/")),
                               ("100644 blob", index, INDEX_PATH)])
    key = key_dir / "lifecycle"
    signers_line = generate_key(key)
    signer = CommitSigner(key)
    tip = repo.commit_tree(tree, [], commit_message(records[-1]), signing=signer.config())
    _git(made.repo, "update-ref", "refs/heads/gitjit/ledger", tip)
    (made.repo / "policies" / "allowed_signers").write_text(signers_line + "\n", "ascii")
    _git(made.repo, "add", "policies/allowed_signers")
    _git(made.repo, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
         "commit", "--quiet", "-m", "the benchmark's lifecycle key")
    return len(records)


def timed(command: Sequence[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one run (CPU: user + system of the child and of every process
    it waited for, git included)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, env=scrubbed_env(), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)[:300]} failed")
    return elapsed, usage.ru_utime + usage.ru_stime


def best(commands: Sequence[Sequence[str]], cwd: Path, runs: int) -> list[tuple[float, float]]:
    """Each command's best wall time and its best CPU time over ``runs`` rounds. The commands
    take turns round by round, so that a machine busy with other work slows them alike."""
    walls: list[list[float]] = [[] for _ in commands]
    cpus: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for number, command in enumerate(commands):
            wall, cpu = timed(command, cwd)
            walls[number].append(wall)
            cpus[number].append(cpu)
    return [(min(wall), min(cpu)) for wall, cpu in zip(walls, cpus, strict=True)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report",
                                     description="Time gitjit report against git log.")
    parser.add_argument("--grants", type=int, default=10_000)
    parser.add_argument("--policies", type=int, default=200)
    parser.add_argument("--commits", type=int, default=10_000,
                        help="commits the grants are spread over (default: one per grant)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        made = generate(root / "repo", args.grants, args.policies, commits=args.commits)
        count = add_ledger(made, root / "keys")
        until = "2026-11-30T00:00:00Z"
        since = "2026-01-01T00:00:00Z"
        report = [sys.executable, "-m", "engine", "report", "--repo", str(made.repo),
                  "--since", since, "--until", until, "--format", "json"]
        check = subprocess.run(report, capture_output=True, text=True, env=scrubbed_env(),
                               check=False)
        if check.returncode != 0:
            print(f"report failed: {check.stderr}", file=sys.stderr)
            return 1
        git_log = ["sh", "-c", "git log -p --first-parent main -- grants/ >/dev/null && "
                               "git log -p gitjit/ledger >/dev/null"]
        startup = [sys.executable, "-m", "engine", "--version"]
        (took, took_cpu), (baseline, baseline_cpu), (python, python_cpu) = best(
            [report, git_log, startup], made.repo, args.runs)
        print(f"{args.grants:,} grants in {args.commits:,} commits, {count:,} ledger records, "
              f"{args.policies} policies; best of {args.runs}, taking turns")
        print("| command | wall (s) | CPU (s) |")
        print("|---|--:|--:|")
        print(f"| gitjit report --format json | {took:.2f} | {took_cpu:.2f} |")
        print(f"| git log -p of grants/ and of the ledger | {baseline:.2f} | {baseline_cpu:.2f} |")
        print(f"| python -m engine --version (start-up) | {python:.2f} | {python_cpu:.2f} |")
        print(f"ratio report / git log: wall {took / baseline:.2f} (without start-up "
              f"{(took - python) / baseline:.2f}); CPU {took_cpu / baseline_cpu:.2f} (without "
              f"start-up {(took_cpu - python_cpu) / baseline_cpu:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
