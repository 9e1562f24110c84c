"""Generate a large access repository to benchmark gitjit on.

The repository has M policies shaped like policies/prod-db-admin.yaml, a groups file with about
500 requesters, the project's settings and schemas, and N expired grants at canonical paths
spread over the policies and the requesters. History is written with one ``git fast-import``
stream (a configuration commit, then the grants in ``--commits`` large commits), so 10,000
grants take a second or two rather than the minutes one ``git commit`` per grant would.

On top of main, branch ``pr`` adds one grant for one requester (the "author"), and a reviews
file (GitHub's JSON) holds one DBA's and one security engineer's approval of the PR's head, so
``gitjit check-pr`` approves it at ``NOW``. The author owns ``--own`` of the N grants, all
expired, so they are read (limits, 'extends') but do not count against the limit of one.

With ``--bundled`` the configuration is this project's own (policies/, groups, settings,
policy tests and schemas, as shipped), the N grants are prod-db-admin grants of the SRE group,
the author is bob, and dave and sam approve.

Usage:
  python -m benchmarks.generate DIR [--grants 10000] [--policies 200] [--own 1] [--bundled]

It prints the check and check-pr command lines to run on the result.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.adapters.git import scrubbed_env

PROJECT = Path(__file__).resolve().parent.parent
"""This project's checkout: its schemas/ and settings are copied into every generated repo."""

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
"""When check-pr judges the generated pull request: a Monday, 10:00 in Berlin, inside the
policies' active hours."""

BASE = "main"
HEAD = "pr"
AUTHOR = "dev0000"
APPROVERS = ("dba1", "sec1")
"""One approver per approval step of every generated policy (group:dba, then group:security)."""

_GRANT_INTERVAL = timedelta(minutes=20)
_LAST_GRANT = NOW - timedelta(days=7)
"""The newest generated grant is a week old: with durations of an hour, every grant has
expired by NOW, so none counts against max_active_per_requester."""

_IDENTITY = b"gitjit benchmark <benchmark@example.invalid>"


POLICY_TEMPLATE = """\
# Generated policy, shaped like policies/prod-db-admin.yaml: two approval steps, a ticket,
# office hours, one live grant per requester, auto-approval for on-call and break glass.
apiVersion: gitjit/v1
kind: Policy
id: {id}
description: Role {role} on the production orders database (generated)
target: {{provider: postgres, connection: orders-prod, role: {role}}}
requesters: [group:engineers]
approvals:
  - {{from: [group:dba], count: 1}}
  - {{from: [group:security], count: 1}}
duration: {{default: 1h, max: 4h}}
justification: {{min_length: 20}}
ticket: {{required: true, pattern: "^(INC|CHG)-[0-9]+$"}}
active_hours: {{days: [mon, tue, wed, thu, fri], between: "07:00-19:00", timezone: Europe/Berlin}}
limits: {{max_active_per_requester: 1}}
auto_approve: {{max_duration: 30m, requesters: [group:oncall]}}
break_glass: {{max_duration: 1h, review_within: 24h}}
notify: [sre-teams, security-email]
"""

GRANT_TEMPLATE = """\
apiVersion: gitjit/v1
kind: Grant
policy: {policy}
requester: {requester}
duration: 1h
justification: Investigate replication lag on the orders primary ({ticket})
ticket: {ticket}
"""


@dataclass(frozen=True)
class Generated:
    """What was generated, and what check-pr needs to judge its pull request."""

    repo: Path
    reviews: Path
    base: str
    head: str
    head_sha: str
    author: str
    grant: str
    """The path of the grant the pull request adds."""
    now: str
    grants: int
    policies: int
    requesters: int
    own: int
    commits: int

    def check_args(self) -> list[str]:
        return ["check", "--repo", str(self.repo)]

    def check_pr_args(self) -> list[str]:
        return ["check-pr", "--repo", str(self.repo), "--base", self.base, "--head", self.head,
                "--as", self.author, "--reviews", str(self.reviews), "--now", self.now]


def policy_id(index: int) -> str:
    return f"db-role-{index:04d}"


def requester(index: int) -> str:
    return f"dev{index:04d}"


def _stamp(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%MZ")


def _settings() -> str:
    """The project's settings without its admins: the generated repository has no CODEOWNERS
    file to keep in step (gitjit check would warn about the drift)."""
    text = (PROJECT / "policies" / "settings.yaml").read_text(encoding="utf-8")
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith("admins:"))


def _git_env() -> dict[str, str]:
    # The engine's own scrubbing: no inherited GIT_* variable may point git elsewhere.
    return scrubbed_env()


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(["git", *args], cwd=repo, env=_git_env(), input=stdin,
                            capture_output=True, check=False)
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"git {args[0]} failed in {repo}: {message}")
    return result.stdout


def groups_yaml(requesters: int) -> str:
    engineers = ", ".join(requester(i) for i in range(requesters))
    # On-call engineers may request too (auto_approve only narrows the requesters); the
    # author is never one of them, so the PR needs real approvals.
    oncall = ", ".join(requester(i) for i in range(max(1, requesters - 5), requesters))
    return ("# Generated groups: every engineer may request every policy.\n"
            "apiVersion: gitjit/v1\nkind: Groups\ngroups:\n"
            f"  engineers: [{engineers}]\n"
            f"  oncall: [{oncall}]\n"
            "  dba: [dba1, dba2]\n"
            "  security: [sec1, sec2]\n")


@dataclass(frozen=True)
class _Grant:
    path: str
    text: str
    at: datetime


@dataclass(frozen=True)
class _Layout:
    """Who is who in a generated repository."""

    author: str
    approvers: tuple[str, ...]
    policies: tuple[str, ...]
    """The policies grants are spread over; the pull request asks for the first."""
    others: tuple[str, ...]
    """The requesters of the grants the author does not own."""


BUNDLED = _Layout("bob", ("dave", "sam"), ("prod-db-admin",), ("alice", "carol", "erin", "oscar"))
"""The bundled configuration's prod-db-admin: requested by the SRE group, approved by a DBA
and a security engineer (policies/groups.yaml)."""


def _generated_layout(policies: int, requesters: int) -> _Layout:
    return _Layout(AUTHOR, APPROVERS, tuple(policy_id(i) for i in range(policies)),
                   tuple(requester(i) for i in range(1, requesters)))


def plan_grants(grants: int, policies: int, requesters: int, own: int,
                layout: _Layout | None = None) -> list[_Grant]:
    """N grants, oldest first, one every 20 minutes up to a week before NOW.

    The author owns ``own`` of them, spread evenly through history and over the policies
    (the first in the policy of the pull request); the others go round-robin over the other
    requesters and, independently, over the policies.
    """
    who_is = layout or _generated_layout(policies, requesters)
    names, others = who_is.policies, who_is.others
    if own > grants:
        raise ValueError(f"--own {own} is more than --grants {grants}")
    mine = {index * grants // own: index for index in range(own)} if own else {}
    first = _LAST_GRANT - _GRANT_INTERVAL * (grants - 1)
    planned = []
    for index in range(grants):
        at = first + _GRANT_INTERVAL * index
        if index in mine:
            who, policy = who_is.author, names[mine[index] % len(names)]
        else:
            who, policy = others[index % len(others)], names[index % len(names)]
        ticket = f"INC-{index + 1}"
        text = GRANT_TEMPLATE.format(policy=policy, requester=who, ticket=ticket)
        planned.append(_Grant(f"grants/{policy}/{who}-{_stamp(at)}.yaml", text, at))
    return planned


class _Stream:
    """A ``git fast-import`` stream, built in memory (a few MB for 10,000 grants)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.marks = 0

    def _data(self, raw: bytes) -> None:
        self.parts += [b"data %d\n" % len(raw), raw, b"\n"]

    def commit(self, branch: str, at: datetime, message: str, files: Sequence[tuple[str, str]],
               parent: int | None = None) -> int:
        self.marks += 1
        stamp = b"%d +0000" % int(at.timestamp())
        self.parts += [b"commit refs/heads/%s\n" % branch.encode(), b"mark :%d\n" % self.marks,
                       b"author " + _IDENTITY + b" " + stamp + b"\n",
                       b"committer " + _IDENTITY + b" " + stamp + b"\n"]
        self._data(message.encode())
        if parent is not None:
            self.parts.append(b"from :%d\n" % parent)
        for path, text in files:
            self.parts.append(b"M 100644 inline %s\n" % path.encode())
            self._data(text.encode())
        return self.marks

    def bytes(self) -> bytes:
        return b"".join([*self.parts, b"done\n"])


def _bundled_configuration() -> list[tuple[str, str]]:
    """This project's own control plane, file by file, as it ships."""
    return [(path.relative_to(PROJECT).as_posix(), path.read_text(encoding="utf-8"))
            for folder in ("policies", "schemas")
            for path in sorted((PROJECT / folder).rglob("*")) if path.is_file()]


def generate(dest: Path, grants: int = 10_000, policies: int = 200, requesters: int = 500,
             own: int = 1, commits: int = 10, bundled: bool = False) -> Generated:
    """Write the repository into ``dest`` (which must not exist or be empty) and the reviews
    file beside it, ``<dest>.reviews.json``. ``bundled``: this project's configuration
    instead of M generated policies (``policies`` and ``requesters`` are then ignored)."""
    if policies < 1 or requesters < 2 or commits < 1 or grants < 0:
        raise ValueError("need at least 1 policy, 2 requesters and 1 commit")
    dest = dest.resolve()
    if dest.exists() and any(dest.iterdir()):
        raise ValueError(f"{dest} is not empty; give a new directory")
    dest.mkdir(parents=True, exist_ok=True)
    _git(dest, "init", "--quiet", f"--initial-branch={BASE}")

    layout = BUNDLED if bundled else _generated_layout(policies, requesters)
    if bundled:
        config = _bundled_configuration()
        policies = len([p for p, _ in config if p.count("/") == 1 and p.startswith("policies/")
                        and p not in ("policies/groups.yaml", "policies/settings.yaml")
                        and p.endswith(".yaml")])
        requesters = len(layout.others) + 1
    else:
        config = [("policies/groups.yaml", groups_yaml(requesters)),
                  ("policies/settings.yaml", _settings()),
                  ("policies/allowed_signers",
                   (PROJECT / "policies" / "allowed_signers").read_text(encoding="ascii"))]
        config += [(f"policies/{policy_id(i)}.yaml",
                    POLICY_TEMPLATE.format(id=policy_id(i), role=f"orders_role_{i:04d}"))
                   for i in range(policies)]
        config += [(f"schemas/{path.name}", path.read_text(encoding="utf-8"))
                   for path in sorted((PROJECT / "schemas").glob("*.schema.json"))]

    planned = plan_grants(grants, policies, requesters, own, layout)
    stream = _Stream()
    start = (planned[0].at if planned else _LAST_GRANT) - timedelta(days=1)
    tip = stream.commit(BASE, start, "Configuration: policies, groups, settings, schemas\n",
                        config)
    for chunk in range(commits):
        batch = planned[chunk * len(planned) // commits:(chunk + 1) * len(planned) // commits]
        if batch:
            # Committed just after its newest grant was requested: that is when they landed.
            landed = batch[-1].at + timedelta(minutes=5)
            tip = stream.commit(BASE, landed, f"Grants, batch {chunk + 1} of {commits}\n",
                                [(g.path, g.text) for g in batch])

    policy, author = layout.policies[0], layout.author
    requested = NOW - timedelta(minutes=30)
    grant = f"grants/{policy}/{author}-{_stamp(requested)}.yaml"
    text = GRANT_TEMPLATE.format(policy=policy, requester=author, ticket="INC-424242")
    stream.commit(HEAD, requested, f"Request {policy} for {author}\n", [(grant, text)],
                  parent=tip)
    _git(dest, "fast-import", "--quiet", "--done", stdin=stream.bytes())
    # fast-import writes objects and refs only: check out main so `gitjit check` sees files.
    _git(dest, "reset", "--hard", "--quiet", BASE)

    head_sha = _git(dest, "rev-parse", "--verify", f"{HEAD}^{{commit}}").decode().strip()
    reviews = dest.with_name(dest.name + ".reviews.json")
    reviewed = NOW - timedelta(minutes=10)
    reviews.write_text(json.dumps([
        {"id": index + 1, "user": {"login": login, "type": "User"}, "state": "APPROVED",
         "commit_id": head_sha, "submitted_at": reviewed.strftime("%Y-%m-%dT%H:%M:%SZ")}
        for index, login in enumerate(layout.approvers)], indent=2) + "\n", encoding="utf-8")
    return Generated(repo=dest, reviews=reviews, base=BASE, head=HEAD, head_sha=head_sha,
                     author=author, grant=grant, now=NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     grants=grants, policies=policies, requesters=requesters, own=own,
                     commits=commits)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generate",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("dest", type=Path, help="a new (or empty) directory for the repository")
    parser.add_argument("--grants", type=int, default=10_000, help="N grants (default 10000)")
    parser.add_argument("--policies", type=int, default=200, help="M policies (default 200)")
    parser.add_argument("--requesters", type=int, default=500,
                        help="engineers who may request (default 500)")
    parser.add_argument("--own", type=int, default=1,
                        help="how many of the N grants the PR's author owns (default 1)")
    parser.add_argument("--commits", type=int, default=10,
                        help="commits the grants are spread over (default 10)")
    parser.add_argument("--bundled", action="store_true",
                        help="this project's own configuration instead of M generated policies")
    args = parser.parse_args(argv)
    try:
        made = generate(args.dest, args.grants, args.policies, args.requesters, args.own,
                        args.commits, args.bundled)
    except (ValueError, RuntimeError) as exc:
        print(f"generate: error: {exc}", file=sys.stderr)
        return 2
    print(f"generated {made.repo}: {made.grants} grants, {made.policies} policies, "
          f"{made.requesters} requesters, {made.commits} grant commits")
    print("gitjit " + shlex.join(made.check_args()))
    print("gitjit " + shlex.join(made.check_pr_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
