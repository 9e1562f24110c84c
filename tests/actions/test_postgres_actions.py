"""Actions end to end through the CLI against a real PostgreSQL server (issue 12).

A runbook is requested with `gitjit request --runbook --param`, approved and merged with the
local forge, and run by `gitjit activate` exactly once; the row guard rolls back; free-form
SQL outside the policy's classes is denied before merge with the parser's reason; a change
after approval leaves the approvals stale."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from engine.cli import run
from tests.actions.fixtures import Orders
from tests.actions.world import T0, ActionWorld
from tests.gitrepo import GitRepoBuilder

pytestmark = pytest.mark.postgres
ACTION = f"actions/orders-fix/bob-{T0:%Y%m%dT%H%MZ}"


def test_a_runbook_is_requested_approved_merged_and_run_once(
        repo: GitRepoBuilder, orders: Orders, capsys: pytest.CaptureFixture[str]) -> None:
    world = ActionWorld(repo, orders)
    reason = "duplicate'); DROP TABLE x; --"
    assert world.request("--runbook", "cancel-order", "--param", "order_id=2",
                         "--param", f"reason={reason}") == 0
    out = capsys.readouterr().out
    assert f"runs: UPDATE {orders.table} SET status = 'cancelled', note = $1" in out
    assert '$1="duplicate\'); DROP TABLE x; --", $2="2"' in out
    assert "opened pull request #1: pending" in out

    assert world.approve_and_merge(1) == 0
    assert world.activate(T0 + timedelta(minutes=3)) == 0
    out = capsys.readouterr().out
    assert f"completed: {ACTION} (1 rows," in out
    # Bound, never pasted: the note holds the text as written, and the table is still there.
    assert orders.rows()[1] == (2, "cancelled", reason, 1)
    assert [r[1] for r in orders.rows()] == ["open", "cancelled", "open", "open"]
    assert world.story() == [("started", ACTION), ("completed", ACTION)]
    started, completed = world.records()
    assert started.action is not None and completed.action is not None
    assert started.action.digest == completed.action.digest
    assert started.reviews[0].reviewer == "dave" and started.pull_request == 1
    assert completed.action.rows == 1 and "UPDATE 1" in completed.action.excerpt

    comment = world.comments(1)["outcome"]
    assert "### gitjit: action completed" in comment and "| rows changed | 1 |" in comment

    # Running activate again, later and again, never runs it twice.
    for minutes in (4, 60, 24 * 60):
        assert world.activate(T0 + timedelta(minutes=minutes)) == 0
    assert orders.attempts() == 1
    assert world.story() == [("started", ACTION), ("completed", ACTION)]


def test_the_row_guard_rolls_everything_back(repo: GitRepoBuilder, orders: Orders,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    world = ActionWorld(repo, orders)
    assert world.request("--runbook", "close-day", "--param", "day=mon") == 0
    assert world.approve_and_merge(1) == 0
    capsys.readouterr()
    assert world.activate(T0 + timedelta(minutes=3)) == 1
    out = capsys.readouterr().out
    assert (f"FAILED failed: {ACTION} (3 rows, ") in out
    assert "the row guard rolled everything back: 3 rows changed, the limit is 2" in out
    assert orders.attempts() == 0 and {r[1] for r in orders.rows()} == {"open"}
    assert world.story() == [("started", ACTION), ("failed", ACTION)]
    assert "### gitjit: action failed" in world.comments(1)["outcome"]
    # A failed action is over: the next run does not try again.
    assert world.activate(T0 + timedelta(minutes=10)) == 0
    assert world.story() == [("started", ACTION), ("failed", ACTION)]
    capsys.readouterr()
    assert run(["status", "--repo", world.path, "--format", "json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)["actions"]
    assert (shown["action_id"], shown["state"], shown["rows"]) == (ACTION, "failed", 3)
    assert shown["detail"].startswith("the row guard rolled everything back")


def test_a_dry_run_runs_and_records_nothing(repo: GitRepoBuilder, orders: Orders,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    world = ActionWorld(repo, orders)
    assert world.request("--runbook", "close-day", "--param", "day=tue") == 0
    assert world.approve_and_merge(1) == 0
    capsys.readouterr()
    assert world.cli("activate", "--dry-run", at=T0 + timedelta(minutes=3)) == 0
    assert f"would run: {ACTION} (sql " in capsys.readouterr().out
    assert orders.attempts() == 0 and world.story() == []


def test_free_form_sql_outside_the_policys_classes_is_denied_with_the_parsers_reason(
        repo: GitRepoBuilder, orders: Orders, capsys: pytest.CaptureFixture[str]) -> None:
    world = ActionWorld(repo, orders)
    assert world.request("--sql", f"DELETE FROM {orders.table} WHERE id = 3") == 1
    out = capsys.readouterr().out
    assert (f"{ACTION}.yaml:5: action.sql-class: the parser reads the statement as DELETE; "
            "policy 'orders-fix' allows only: select, update") in out
    assert "request not opened" in out
    assert world.request("--sql", f"UPDAT {orders.table} SET status = 'x' WHERE id = 3") == 1
    assert ('action.sql-syntax: PostgreSQL\'s parser rejects the statement: syntax error at '
            'or near "UPDAT", at index 0') in capsys.readouterr().out
    assert world.request("--sql", f"UPDATE {orders.table} SET status = 'x'") == 1
    assert ("action.sql-no-where: the statement: UPDATE without WHERE changes every row"
            in capsys.readouterr().out)
    # A DELETE hidden in a WITH is still a DELETE.
    assert world.request("--sql", f"WITH d AS (DELETE FROM {orders.table} WHERE id = 3 "
                         "RETURNING id) SELECT count(*) FROM d") == 1
    out = capsys.readouterr().out
    assert "the parser reads the statement as SELECT holding a DELETE" in out
    assert "calls count, which policy 'orders-fix' does not list" in out
    assert orders.attempts() == 0 and len(orders.rows()) == 4
    assert world.forge.pull_requests() == []


def test_free_form_sql_in_the_policys_classes_runs_once(
        repo: GitRepoBuilder, orders: Orders, capsys: pytest.CaptureFixture[str]) -> None:
    world = ActionWorld(repo, orders)
    assert world.request("--sql", f"UPDATE {orders.table} SET note = 'checked ' || now()::date, "
                         "attempts = attempts + 1 WHERE day = 'tue'") == 0
    assert world.approve_and_merge(1) == 0
    assert world.activate(T0 + timedelta(minutes=3)) == 0
    assert orders.attempts() == 1
    assert world.story() == [("started", ACTION), ("completed", ACTION)]


def test_a_change_after_approval_makes_the_approval_stale(
        repo: GitRepoBuilder, orders: Orders, capsys: pytest.CaptureFixture[str]) -> None:
    world = ActionWorld(repo, orders)
    assert world.request("--runbook", "cancel-order", "--param", "order_id=2",
                         "--param", "reason=duplicate charge") == 0
    assert world.cli("local", "review", "1", "--as", "dave", "--approve",
                     at=T0 + timedelta(minutes=1)) == 0
    # bob changes what runs after dave approved: another order.
    branch = f"action/orders-fix/bob-{T0:%Y%m%dT%H%MZ}"
    repo.checkout(branch)
    path = f"{ACTION}.yaml"
    text = (repo.path / path).read_text().replace('order_id: "2"', 'order_id: "3"')
    assert 'order_id: "3"' in text
    repo.write(path, text)
    repo.commit("another order")
    repo.checkout("main")
    assert run(["local", "push", "1", "--as", "bob", "--repo", world.path]) == 0
    capsys.readouterr()
    assert world.cli("local", "merge", "1", "--as", "dave", at=T0 + timedelta(minutes=3)) == 1
    out = capsys.readouterr().out
    assert "PENDING: action: bob asks to run runbook cancel-order of orders-fix" in out
    assert "approval.stale: approval by dave ignored: given on commit" in out
    assert '$1="duplicate charge", $2="3"' in out  # what would run now: the other order
    assert world.activate(T0 + timedelta(minutes=4)) == 0
    assert orders.attempts() == 0 and world.story() == []


def test_an_action_has_the_policys_role_and_not_gitjits_privileges(
        repo: GitRepoBuilder, orders: Orders, capsys: pytest.CaptureFixture[str]) -> None:
    """gitjit's database user here is a superuser; the action runs SET LOCAL ROLE to the
    policy's role, which may only SELECT and UPDATE the orders table."""
    world = ActionWorld(repo, orders)
    secret = f"{orders.table}_payroll"
    orders.admin.execute(f'CREATE TABLE "{secret}" (id int PRIMARY KEY, salary int)')
    orders.admin.execute(f'INSERT INTO "{secret}" VALUES (1, 100)')
    try:
        assert world.request("--sql", f'UPDATE "{secret}" SET salary = 1000000 WHERE id = 1') == 0
        assert world.approve_and_merge(1) == 0
        capsys.readouterr()
        assert world.activate(T0 + timedelta(minutes=3)) == 1
        out = capsys.readouterr().out
        assert f"FAILED failed: {ACTION}" in out and "permission denied for table" in out
        assert orders.admin.execute(f'SELECT salary FROM "{secret}"').fetchone() == (100,)
        # Free-form SQL cannot leave the role either: SET ROLE and set_config are refused.
        assert world.request("--sql", "SET ROLE postgres", at=T0 + timedelta(minutes=5)) == 1
        assert "action.sql-denied" in capsys.readouterr().out
    finally:
        orders.admin.execute(f'DROP TABLE IF EXISTS "{secret}"')
