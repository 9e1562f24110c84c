"""Real access histories for the report's tests, made with gitjit's own code.

A repository with a local forge and a recording target: every grant is requested on its own
branch (a commit dated when it was asked for), reviewed and merged in the local forge,
activated with ``gitjit activate --now`` and ended with ``gitjit reconcile --now``, all signed
with the test lifecycle key. ``ordinary()`` is three weeks of a team's everyday access with
no pattern worth reporting; ``planted()`` is the same weeks plus exactly one of each pattern
the acceptance names.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.adapters.git import GitRepository
from engine.adapters.localforge import LocalForge
from engine.cli import run
from engine.core.models import Login, ReviewState
from tests import signing
from tests.gitrepo import GitRepoBuilder

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 2, tzinfo=UTC)
"""A Monday: day 0 of the history."""
CONFIGURED = datetime(2026, 9, 1, tzinfo=UTC)
"""When the configuration landed: long before the period, so eligibility is old enough."""
UNTIL = datetime(2026, 11, 23, tzinfo=UTC)
SINCE = UNTIL - timedelta(days=30)

POLICIES = {
    "db": """\
apiVersion: gitjit/v1
kind: Policy
id: db
description: Administrator of the orders database
target: {provider: recording, connection: rec, role: admin}
requesters: [group:sre]
approvals:
  - {from: [group:dba], count: 1}
duration: {default: 1h, max: 4h}
justification: {min_length: 10}
active_hours: {days: [mon, tue, wed, thu, fri], between: "07:00-19:00", timezone: UTC}
break_glass: {max_duration: 1h, review_within: 24h}
""",
    "reporting": """\
apiVersion: gitjit/v1
kind: Policy
id: reporting
description: Read access to the reporting warehouse
target: {provider: recording, connection: rec, role: reporting}
requesters: [group:dba]
approvals:
  - {from: [user:frank, user:alice], count: 1}
duration: {default: 1h, max: 4h}
""",
}
GROUPS = """\
apiVersion: gitjit/v1
kind: Groups
groups:
  sre: [{sre}]
  dba: [dave, erin]
"""
SETTINGS = """\
apiVersion: gitjit/v1
kind: Settings
connections:
  rec: {{provider: recording, path: "{path}"}}
removal: push
"""
GRANT = """\
apiVersion: gitjit/v1
kind: Grant
policy: {policy}
requester: {requester}
duration: {duration}
justification: {justification}
"""
TASKS = (
    "Rebuild the stale index on the orders table",
    "Check replication lag on the orders primary",
    "Vacuum the bloated invoices table after the import",
    "Read the slow query log for the checkout incident",
    "Rotate the reporting role's connection limits",
    "Inspect locks held by the nightly batch job",
    "Verify the partition scheme before the migration",
    "Export the monthly revenue figures for finance",
    "Compare row counts after the archive job ran",
    "Look into the failed backup verification",
)


@dataclass(frozen=True)
class Grant:
    """One planned grant: who asks for what, when, who reviews it and how it ends."""

    requester: str
    policy: str
    at: datetime
    reviewer: str | None
    review_after: timedelta = timedelta(minutes=6)
    review_body: str = ""
    justification: str = ""
    break_glass: bool = False
    reconcile_after: timedelta = timedelta(minutes=1)
    """How long after its expiry reconcile runs (and revokes it)."""
    later_review: tuple[str, timedelta, ReviewState] | None = None
    """A review on the merged pull request: (reviewer, after activation, state)."""


@dataclass
class History:
    """The repository the plan was played into."""

    path: Path
    grants: list[Grant] = field(default_factory=list)

    def report(self, *args: str) -> int:
        return run(["report", "--repo", str(self.path), "--since", SINCE.isoformat(),
                    "--until", UNTIL.isoformat(), *args])


def day(index: int, hour: int, minute: int = 0) -> datetime:
    """Weekday ``index`` (0 is Monday 2026-11-02; weekends skipped) at hour:minute UTC."""
    week, weekday = divmod(index, 5)
    return START + timedelta(days=7 * week + weekday, hours=hour, minutes=minute)


def ordinary_plan() -> list[Grant]:
    """Three weeks of everyday access: each engineer asks every third day, the DBAs approve
    within minutes (and say something now and then), the DBAs read the warehouse a few times,
    one break-glass grant is reviewed the same afternoon, and everyone ends on time."""
    plan: list[Grant] = []
    task = iter(f"{TASKS[i % len(TASKS)]} (week {i // 5 + 1}, item {i})" for i in range(100))
    for d in range(15):
        engineer, hour = (("alice", 9), ("bob", 10), ("carol", 11))[d % 3]
        reviewer = "erin" if engineer == "bob" and d in (1, 7) else "dave"
        plan.append(Grant(engineer, "db", day(d, hour), reviewer,
                          review_after=timedelta(minutes=5 + d % 4),
                          review_body="Checked the reason, fine." if d % 2 else "",
                          justification=next(task)))
        if d % 5 == 0:
            plan.append(Grant("dave", "reporting", day(d, 13), "frank",
                              review_after=timedelta(minutes=10), justification=next(task)))
        if d % 5 == 2:
            plan.append(Grant("erin", "reporting", day(d, 14), "alice",
                              review_after=timedelta(minutes=12), justification=next(task)))
    plan.append(Grant("carol", "db", day(7, 15), None, break_glass=True,
                      justification="Orders primary down, failing over by hand (INC-77)",
                      later_review=("dave", timedelta(hours=3), ReviewState.COMMENTED)))
    return plan


PLANTED = {
    "report.fast-approval": "erin approves three of bob's requests five seconds after the push",
    "report.reciprocal-approvals": "alice approves dave's request; dave approves hers",
    "report.break-glass-unreviewed": "bob's break-glass grant is never reviewed",
    "report.too-many-activations": "carol activates db four times in one day",
    "report.unused-eligibility": "gus is in group sre and never asks for anything",
    "report.reused-justification": "three grants say the same thing word for word",
    "report.late-revocation": "reconcile ends one of erin's grants two hours late",
}


def planted_plan() -> list[Grant]:
    plan = ordinary_plan()
    for d in (2, 8, 14):
        plan.append(Grant("bob", "db", day(d, 16), "erin", review_after=timedelta(seconds=5),
                          justification=f"Confirm the invoice totals after run {d}"))
    plan.append(Grant("dave", "reporting", day(11, 13), "alice",
                      justification="Reconcile the warehouse with the ledger exports"))
    plan.append(Grant("bob", "db", day(12, 15), None, break_glass=True,
                      justification="Checkout failing with deadlocks, need to kill sessions"))
    plan += [Grant("carol", "db", day(9, hour, 30), "dave",
                   justification=f"Step {n} of the manual data repair for ticket backlog")
             for n, hour in enumerate((9, 11, 13, 15), 1)]
    same = "Routine maintenance of the orders database"
    plan += [Grant(who, "db", day(d, 16), "dave", justification=same)
             for who, d in (("alice", 3), ("bob", 6), ("carol", 13))]
    plan.append(Grant("erin", "reporting", day(4, 14), "frank", justification=(
        "Pull the quarterly churn numbers for the board"), reconcile_after=timedelta(hours=2)))
    return plan


def build(path: Path, plan: list[Grant], *, extra_sre: tuple[str, ...] = (),
          settings: str = "") -> History:
    """Play ``plan`` into a new repository at ``path``, event by event in time order."""
    builder = GitRepoBuilder.init(path, initial_commit=False)
    recording = path.parent / f"{path.name}-recording.json"
    shutil.copytree(ROOT / "schemas", path / "schemas")
    for name, text in POLICIES.items():
        builder.write(f"policies/{name}.yaml", text)
    builder.write("policies/groups.yaml",
                  GROUPS.format(sre=", ".join(["alice", "bob", "carol", *extra_sre])))
    builder.write("policies/settings.yaml", SETTINGS.format(path=recording) + settings)
    signing.install(path)
    builder.commit("access configuration", date=CONFIGURED)
    forge = LocalForge(GitRepository(path))
    # One timeline: requests, reviews and merges as people make them, activate just after
    # each merge and reconcile when each grant's time is up (plus its delay).
    timeline: list[tuple[datetime, int, str, Grant]] = []
    for grant in plan:
        merged = (grant.at + (grant.review_after if grant.reviewer else timedelta(0))
                  + timedelta(minutes=1))
        timeline += [(grant.at, 0, "request", grant), (merged, 2, "merge", grant),
                     (merged + timedelta(seconds=30), 3, "activate", grant),
                     (merged + timedelta(hours=1) + grant.reconcile_after, 4, "reconcile",
                      grant)]
        if grant.reviewer:
            timeline.append((grant.at + grant.review_after, 1, "review", grant))
        if grant.later_review is not None:
            timeline.append((merged + grant.later_review[1], 5, "later-review", grant))
    numbers: dict[Grant, int] = {}
    for when, _order, action, grant in sorted(timeline, key=lambda e: (e[0], e[1])):
        if action == "request":
            numbers[grant] = _request(builder, forge, grant)
        elif action == "review":
            assert grant.reviewer is not None
            forge.submit_review(numbers[grant], grant.reviewer, ReviewState.APPROVED,
                                at=when, body=grant.review_body)
        elif action == "merge":
            forge.merge(numbers[grant], grant.reviewer or grant.requester, at=when)
        elif action == "later-review":
            assert grant.later_review is not None
            forge.submit_review(numbers[grant], grant.later_review[0], grant.later_review[2],
                                at=when, body="Reviewed the emergency use: justified.")
        else:
            code = run([action, "--repo", str(path), "--now", when.isoformat()])
            assert code == 0, f"{action} at {when} failed"
        builder.git("reset", "--quiet", "--hard", "main")
    return History(path, plan)


def _request(builder: GitRepoBuilder, forge: LocalForge, grant: Grant) -> int:
    path = f"grants/{grant.policy}/{grant.requester}-{grant.at:%Y%m%dT%H%MZ}.yaml"
    branch = f"access/{grant.policy}/{grant.requester}-{grant.at:%Y%m%dT%H%MZ}"
    builder.branch(branch, "main")
    builder.checkout(branch)
    text = GRANT.format(policy=grant.policy, requester=grant.requester, duration="1h",
                        justification=grant.justification)
    builder.write(path, text + ("break_glass: true\n" if grant.break_glass else ""))
    builder.commit(f"request {grant.policy}", date=grant.at)
    builder.checkout("main")
    pull = forge.open_pull_request(author=Login(grant.requester), head_ref=branch,
                                   base="main", title=f"request {grant.policy}", body="",
                                   at=grant.at)
    return pull.number
