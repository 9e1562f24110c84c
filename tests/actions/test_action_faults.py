"""A crash or a failure at each step of running an action, then activate again: never twice.

Faults are injected at every port call an action's run makes (the target's preparation and
run, the ledger appends of ``started``, the outcome and the alert, the outcome comment), as a
crash (the run dies) or as a failure the run reports; then activate runs again without
faults, later. Whatever the step, the operation ran at most once (the table counts it), one
``started`` and one outcome are recorded, an outcome of ``completed`` means it ran, and an
interrupted run ends ``unknown`` with an alert."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import pytest

from engine.actions.lifecycle import COMMENT_KEY
from engine.adapters.localforge import LocalForge
from engine.adapters.signing import find_signer
from engine.errors import GitjitError
from engine.lifecycle.activation import activate
from engine.lifecycle.context import Lifecycle
from engine.targets.base import ActionJob, ActionResult, TargetPlugin
from engine.targets.registry import create_target
from tests.actions.fixtures import Orders
from tests.actions.world import T0, ActionWorld
from tests.gitrepo import GitRepoBuilder
from tests.lifecycle.test_faults import Crash, Faults, FaultyLedger, FaultyRepository

pytestmark = pytest.mark.postgres
ACTION = f"actions/orders-fix/bob-{T0:%Y%m%dT%H%MZ}"
CALLS = 8
"""Port calls of a fault-free run: prepare, before and after the started append (2), after
the run, the outcome append (2), the comment, and nothing else."""


class FaultyActions:
    """The real target, with a fault point before it prepares, around ``started`` and after
    the operation ran."""

    def __init__(self, inner: TargetPlugin, faults: Faults) -> None:
        self.inner, self.faults, self.name = inner, faults, inner.name

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def run_action(self, job: ActionJob, started: Callable[[], bool]) -> ActionResult | None:
        self.faults.tick("prepare")

        def record_start() -> bool:
            written = started()
            self.faults.tick("after started")
            return written

        result = self.inner.run_action(job, record_start)  # type: ignore[attr-defined]
        self.faults.tick("after run")
        return result  # type: ignore[no-any-return]


class FaultyForge(LocalForge):
    faults: Faults

    def comment(self, number: int, key: str, body: str) -> None:
        self.faults.tick("comment")
        super().comment(number, key, body)


def _life(world: ActionWorld, faults: Faults) -> Lifecycle:
    repo = FaultyRepository(world.builder.path)
    repo.faults = faults
    forge = FaultyForge(repo)
    forge.faults = faults

    def factory(connection: Mapping[str, str]) -> TargetPlugin:
        return FaultyActions(create_target(connection), faults)  # type: ignore[return-value]

    return Lifecycle(repo, forge, FaultyLedger(repo, faults), "main", factory,
                     signer=find_signer(repo))


def _merged(repo: GitRepoBuilder, orders: Orders) -> ActionWorld:
    world = ActionWorld(repo, orders)
    assert world.request("--runbook", "cancel-order", "--param", "order_id=1",
                         "--param", "reason=duplicate charge") == 0
    assert world.approve_and_merge(1) == 0
    return world


def _activate(world: ActionWorld, faults: Faults, at: datetime) -> None:
    try:
        activate(_life(world, faults), at)
    except Crash:
        pass


def test_the_fault_points_cover_every_call(repo: GitRepoBuilder, orders: Orders) -> None:
    world = _merged(repo, orders)
    faults = Faults(None, Crash)
    activate(_life(world, faults), T0 + timedelta(minutes=3))
    assert faults.calls == CALLS
    assert orders.attempts() == 1


@pytest.mark.parametrize("kind", [Crash, GitjitError])
@pytest.mark.parametrize("at", range(1, CALLS + 1))
def test_a_fault_at_any_step_never_runs_the_action_twice(
        repo: GitRepoBuilder, orders: Orders, at: int, kind: type[Exception]) -> None:
    world = _merged(repo, orders)
    _activate(world, Faults(at, kind), T0 + timedelta(minutes=3))
    for minutes in (10, 20):  # the reruns
        _activate(world, Faults(None, kind), T0 + timedelta(minutes=minutes))

    ran = orders.attempts()
    assert ran <= 1
    story = world.story()
    assert story.count(("started", ACTION)) == 1
    outcomes = [event for event, gid in story if event in ("completed", "failed", "unknown")]
    assert len(outcomes) == 1, story
    if outcomes == ["completed"]:
        assert ran == 1
    else:
        # Interrupted between start and outcome: sealed unknown and alerted, never rerun.
        assert outcomes == ["unknown"]
        alerts = [r for r in world.records() if r.code == "action.outcome-unknown"]
        assert len(alerts) == 1
    if at <= 1:  # before the start: nothing ran, the rerun ran it
        assert (ran, outcomes) == (1, ["completed"])
    # The comment is told at most once, as notifications are: a fault after the outcome is
    # recorded (the append's end, the comment itself) loses it; the ledger keeps the outcome.
    comment = world.comments(1).get(COMMENT_KEY, "")
    assert f"action {outcomes[0]}" in comment or at >= CALLS - 1
