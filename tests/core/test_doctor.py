"""The doctor's pure judgement: rulesets on gitjit's branches, the heartbeat's source, removal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.core.doctor import Beat, Result, Snapshot, diagnose, removal_setting

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
APP = 7
ONLY_APP = [{"actor_type": "Integration", "actor_id": APP, "bypass_mode": "always"}]
ALL = ("creation", "update", "deletion", "non_fast_forward")


def ruleset(rid: int, bypass: list[dict[str, Any]], *kinds: str) -> dict[str, Any]:
    return {"id": rid, "name": f"r{rid}", "enforcement": "active", "bypass_actors": bypass,
            "rules": [{"type": k} for k in kinds]}


def rules_of(*rulesets: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": rule["type"], "ruleset_id": r["id"]} for r in rulesets
            for rule in r["rules"]]


def snap(*branch_rulesets: dict[str, Any], app_id: int | None = APP,
         beats: tuple[Beat, ...] = (), removal: str | None = None) -> Snapshot:
    rules = rules_of(*branch_rulesets)
    return Snapshot(default_branch="main", protection=None, rules=[], rulesets=branch_rulesets,
                    ledger_rules=rules, ledger_protection=None, workflow={},
                    namespace_rules=rules, beats=beats, app_id=app_id, removal=removal)


def result(results: list[Result], start: str) -> Result:
    return next(r for r in results if r.requirement.startswith(start))


def ledger(s: Snapshot) -> Result:
    return result(diagnose(s, NOW), "only the gitjit App creates and updates gitjit/ledger")


def test_one_ruleset_with_the_app_alone_passes() -> None:
    assert ledger(snap(ruleset(1, ONLY_APP, *ALL))).passed


def test_a_second_ruleset_without_the_app_blocks_gitjit_itself() -> None:
    # Every ruleset applies: the App must bypass each one that restricts updates.
    got = ledger(snap(ruleset(1, ONLY_APP, *ALL), ruleset(2, [], "update")))
    assert not got.passed
    assert got.detail == ("the gitjit App itself may not update it (add it as the ruleset's "
                          "bypass actor, mode 'always')")


def test_a_pull_request_only_bypass_does_not_let_the_app_push() -> None:
    mode = [{"actor_type": "Integration", "actor_id": APP, "bypass_mode": "pull_request"}]
    assert not ledger(snap(ruleset(1, mode, *ALL))).passed


def test_bypass_actors_that_cannot_be_read_fail() -> None:
    hidden = {k: v for k, v in ruleset(1, ONLY_APP, *ALL).items() if k != "bypass_actors"}
    assert "needs an admin's token" in ledger(snap(hidden)).detail


@pytest.mark.parametrize(("beats", "fresh", "forged"), [
    ((Beat("check run", "gitjit", APP, True, NOW - timedelta(minutes=5)),), True, ""),
    ((Beat("check run", "gitjit", APP, True, NOW - timedelta(hours=2)),), False, ""),
    ((Beat("check run", "other", APP + 1, True, NOW),), False, "other (check run)"),
    ((Beat("commit status", "github-actions[bot]", None, True, NOW),), False,
     "github-actions[bot] (commit status)"),
    ((Beat("check run", "gitjit", APP, False, NOW),), False, ""),
])
def test_app_mode_counts_only_the_apps_check_run(beats: tuple[Beat, ...], fresh: bool,
                                                  forged: str) -> None:
    results = diagnose(snap(beats=beats), NOW)
    assert result(results, "reconcile succeeded").passed is fresh
    assert result(results, "nobody but gitjit").detail == (
        f"ignored, posted by {forged}" if forged else "none forged")


def test_token_mode_counts_only_github_actions_statuses() -> None:
    beats = (Beat("commit status", "mallory", None, True, NOW),
             Beat("commit status", "github-actions[bot]", None, True, NOW - timedelta(hours=1)))
    results = diagnose(snap(app_id=None, beats=beats), NOW)
    assert not result(results, "reconcile succeeded").passed
    assert result(results, "nobody but gitjit").detail == (
        "ignored, posted by mallory (commit status)")
    assert not result(results, "only gitjit can write").passed


def test_removal_setting_reads_the_key_or_says_why_not() -> None:
    assert removal_setting(None) == (None, None)
    assert removal_setting(b"apiVersion: gitjit/v1\nkind: Settings\n") == (None, None)
    assert removal_setting(b"kind: Settings\nremoval: push\n") == ("push", None)
    value, problem = removal_setting(b"removal: push\nremoval: push\n")
    assert value is None and problem is not None and "removal" in problem
