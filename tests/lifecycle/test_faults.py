"""Crash anywhere in activate or reconcile, run again: the result converges.

A fault is injected at the n-th call of every port the lifecycle uses (target apply, revoke
and list, ledger append, the git ref update that lands a commit), as a crash (the run dies)
or as a failure the run reports; then the run is repeated without faults. Whatever n was, the
end state is the fault-free one: no lost revocation, no duplicate ledger record."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from engine.adapters.git import GitRepository
from engine.adapters.ledger import Ledger
from engine.core.ledger import Record
from engine.core.models import Login
from engine.errors import GitjitError
from engine.lifecycle.activation import activate
from engine.lifecycle.context import Lifecycle
from engine.lifecycle.reconciliation import reconcile
from engine.targets.base import Assignment, ManagedAssignment, TargetPlugin
from engine.targets.registry import create_target
from tests.gitrepo import GitRepoBuilder
from tests.lifecycle.world import T0, World, hours


class Crash(Exception):
    """Not a GitjitError: the run dies here, as on a killed runner."""


class Faults:
    """Counts calls through every port and fails the chosen one."""

    def __init__(self, at: int | None, kind: type[Exception]) -> None:
        self.at, self.kind, self.calls = at, kind, 0

    def tick(self, what: str) -> None:
        self.calls += 1
        if self.calls == self.at:
            raise self.kind(f"injected fault at call {self.calls} ({what})")


class FaultyTarget:
    def __init__(self, inner: TargetPlugin, faults: Faults) -> None:
        self.inner, self.faults, self.name = inner, faults, inner.name

    def native_expiry(self, assignment: Assignment) -> bool:
        return self.inner.native_expiry(assignment)

    def apply(self, assignment: Assignment) -> None:
        self.faults.tick("apply")
        self.inner.apply(assignment)

    def revoke(self, assignment: Assignment) -> None:
        self.faults.tick("revoke")
        self.inner.revoke(assignment)

    def list_managed(self) -> list[ManagedAssignment]:
        self.faults.tick("list")
        return self.inner.list_managed()


class FaultyLedger(Ledger):
    def __init__(self, repo: GitRepository, faults: Faults) -> None:
        super().__init__(repo)  # open_run trusts it with the branch's signers
        self.faults = faults

    def append(self, draft: Record, *, main: str | None = None) -> Record | None:
        self.faults.tick("before append")
        written = super().append(draft, main=main)
        self.faults.tick("after append")
        return written


class FaultyRepository(GitRepository):
    faults: Faults

    def update_ref(self, ref: str, new: str, old: str | None, *, message: str) -> bool:
        if ref.startswith("refs/heads/main"):
            self.faults.tick("before update-ref")
        return super().update_ref(ref, new, old, message=message)


def _life(world: World, faults: Faults) -> Lifecycle:
    repo = FaultyRepository(world.builder.path)
    repo.faults = faults

    def factory(connection: Mapping[str, str]) -> TargetPlugin:
        return FaultyTarget(create_target(connection), faults)

    return Lifecycle(repo, world.forge, FaultyLedger(repo, faults), "main", factory,
                     signer=world.signer)


def _story(world: World) -> None:
    """Two overlapping grants of bob's and one of alice's, merged with approvals."""
    for who, at, duration in (("bob", T0, "1h"), ("alice", T0, "2h"),
                              ("bob", T0 + hours(0.5), "2h")):
        number, _ = world.request(who, at, duration=duration)
        world.approve(number, "dave", at)
        world.merge(number, "dave", at)


CALLS = 24
"""How many port calls the fault-free story makes (a test keeps this exact)."""

STEPS: list[Callable[[Lifecycle], Any]] = [
    lambda life: activate(life, T0 + hours(0.5)),
    lambda life: reconcile(life, T0 + hours(1.5)),
    lambda life: reconcile(life, T0 + hours(3)),
]


def _outcome(world: World) -> tuple[Any, ...]:
    records = [(r.event, r.grant_id) for r in world.records()]
    assert len(records) == len(set(records)), "a state change was recorded twice"
    grants = {e.path for e in world.repo.tree("main").entries("grants/")}
    # Grants may be recorded in another order after a fault; each grant's own story may not.
    per_grant = sorted(records, key=lambda record: record[1])
    return tuple(per_grant), tuple(sorted(world.granted())), tuple(sorted(grants))


def _run(world: World, at: int | None, kind: type[Exception]) -> None:
    faults = Faults(at, kind)
    for step in STEPS:
        try:
            step(_life(world, faults))
        except Crash:
            pass
        step(_life(world, Faults(None, kind)))  # the rerun


_EXPECTED: list[tuple[Any, ...]] = []
"""The fault-free outcome, computed once per test process: it is the same for every case."""


@pytest.fixture
def expected(repo_factory: Any, tmp_path: Path) -> tuple[Any, ...]:
    if not _EXPECTED:
        world = World(repo_factory("expected"), tmp_path / "expected")
        _story(world)
        _run(world, None, Crash)
        outcome = _outcome(world)
        assert outcome[1] == () and outcome[2] == ()  # everything revoked and removed
        _EXPECTED.append(outcome)
    return _EXPECTED[0]


@pytest.mark.parametrize("kind", [Crash, GitjitError])
@pytest.mark.parametrize("at", range(1, CALLS + 1))
def test_a_fault_anywhere_then_a_rerun_converges(repo_factory: Any, tmp_path: Path,
                                                  expected: tuple[Any, ...], at: int,
                                                  kind: type[Exception]) -> None:
    world = World(repo_factory("faulty"), tmp_path / "faulty")
    _story(world)
    _run(world, at, kind)
    assert _outcome(world) == expected


def test_the_fault_points_cover_every_call(repo_factory: Any, tmp_path: Path) -> None:
    world = World(repo_factory("count"), tmp_path / "count")
    _story(world)
    faults = Faults(None, Crash)
    for step in STEPS:
        step(_life(world, faults))
    assert faults.calls == CALLS  # the parametrised range above reaches every call


def test_two_reconciles_at_once_never_double_apply_or_record(repo: GitRepoBuilder,
                                                             tmp_path: Path) -> None:
    world = World(repo, tmp_path)
    _story(world)
    activate(world.lifecycle(), T0 + hours(0.5))
    errors: list[BaseException] = []

    def run_one() -> None:
        try:
            reconcile(World.lifecycle(world), T0 + hours(3))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run_one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    events = world.events()
    assert len(events) == len(set(events))  # every apply and revoke happened once
    _outcome(world)  # asserts no duplicate record
    assert world.granted() == {}
    assert Login("bob")  # the story's requesters are plain logins
