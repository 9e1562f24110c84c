"""The signals the planted history does not plant, each on data built for it (the core is pure:
lifecycles and ledger records in, findings out), with the edge that keeps it quiet."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from engine.adapters.git import GitRepository
from engine.adapters.schemas import load_schemas
from engine.core.audit import Ended, Ending, Lifecycle
from engine.core.config import ConfigFile, build_config
from engine.core.ledger import AppliedTarget, CountedReview, Event, ExpiryEnforcer, Record
from engine.core.models import Config, Grant, GrantId, Login, PolicyId, ReviewState
from engine.report.model import Facts, ForgePull, ForgeReview, Period, Thresholds
from engine.report.signals import (
    approval_rings,
    approves_everything,
    break_glass_reviews,
    extends_chains,
    justifications,
    ledger_events,
    outside_active_hours,
    unusual_hours,
)
from engine.report.thresholds import from_settings
from tests.report.history import ROOT

T0 = datetime(2026, 11, 2, 10, tzinfo=UTC)  # a Monday
PERIOD = Period(T0 - timedelta(days=1), T0 + timedelta(days=20))
SHA = "a" * 40
POLICY = """\
apiVersion: gitjit/v1
kind: Policy
id: db
description: Orders database
target: {provider: recording, role: admin}
requesters: [group:team]
approvals:
  - {from: [group:team], count: 1}
duration: {default: 1h, max: 1d}
active_hours: {days: [mon, tue, wed, thu, fri], between: "08:00-18:00", timezone: Europe/Berlin}
break_glass: {max_duration: 1h, review_within: 24h}
"""
GROUPS = """\
apiVersion: gitjit/v1
kind: Groups
groups:
  team: [ann, ben, cat, dan]
"""


def _config() -> Config:
    schemas = load_schemas(GitRepository(ROOT).worktree())
    result = build_config([ConfigFile("policies/db.yaml", "100644", POLICY.encode()),
                           ConfigFile("policies/groups.yaml", "100644", GROUPS.encode())],
                          schemas)
    assert result.config is not None, result.findings
    return result.config


CONFIG = _config()


def grant(requester: str, at: datetime, *, approvers: tuple[str, ...] = ("dan",),
          justification: str = "Investigating the nightly batch job failure", ticket: str = "",
          hours: float = 1, extends: str | None = None, break_glass: bool = False,
          number: int = 1, name: str = "") -> Lifecycle:
    gid = GrantId(f"db/{requester}-{at:%Y%m%dT%H%MZ}{name}")
    record = Record(seq=number, event=Event.ACTIVATED, grant_id=gid, policy="db",
                    requester=requester, at=at, pull_request=number, engine_version="0.1.0",
                    activated_at=at, expires_at=at + timedelta(hours=hours),
                    expiry_enforced_by=ExpiryEnforcer.GITJIT,
                    target=AppliedTarget("recording", None, (("role", "admin"),)),
                    reviews=tuple(CountedReview(a, ReviewState.APPROVED, SHA, at)
                                  for a in approvers),
                    break_glass=break_glass,
                    review_by=at + timedelta(hours=24) if break_glass else None,
                    prev="0" * 64 if number > 1 else "")
    return Lifecycle(
        grant_id=gid, path=f"grants/{gid}.yaml", policy="db", requester=requester,
        grant=Grant(gid, f"grants/{gid}.yaml", PolicyId("db"), Login(requester),
                    timedelta(hours=hours), justification, ticket or None,
                    extends=GrantId(extends) if extends else None, break_glass=break_glass),
        landed_commit=SHA, landed_at=at, activation=record, refusal=None, ended=None,
        removal=None, alerts=(), records=(number,))


def facts(*lifecycles: Lifecycle, **changes: object) -> Facts:
    base = Facts(period=PERIOD, config=CONFIG, lifecycles=lifecycles, records=())
    return replace(base, **changes)  # type: ignore[arg-type]


T = Thresholds()


def test_approval_rings_of_three_but_not_a_chain() -> None:
    ring = [grant("ann", T0, approvers=("ben",), number=1),
            grant("ben", T0 + timedelta(hours=1), approvers=("cat",), number=2),
            grant("cat", T0 + timedelta(hours=2), approvers=("ann",), number=3)]
    [found] = approval_rings(facts(*ring), T)
    assert (found.code, found.subject) == ("report.approval-ring", "ann->cat->ben")
    assert found.message == "each approved the next one's grants: ann -> cat -> ben -> ann"
    assert approval_rings(facts(*ring[:2]), T) == []


def test_an_approver_who_approves_everything_needs_the_forge_and_silence() -> None:
    pulls = tuple(ForgePull(n, "ann", "merged", "b", SHA, T0, None, T0, (
        ForgeReview("dan", ReviewState.APPROVED, SHA, T0 + timedelta(minutes=n)),))
        for n in range(1, 11))
    [found] = approves_everything(facts(pulls=pulls), T)
    assert found.message == ("dan reviewed 10 pull requests, approved 10, and never commented "
                             "or requested changes")
    spoke = (*pulls[:9], replace(pulls[9], reviews=(
        ForgeReview("dan", ReviewState.APPROVED, SHA, T0, commented=True),)))
    assert approves_everything(facts(pulls=spoke), T) == []
    assert approves_everything(facts(pulls=pulls[:9]), T) == []
    assert approves_everything(facts(), T) == []  # no forge: nothing to say


def test_a_break_glass_review_after_the_deadline_is_late() -> None:
    glass = grant("ann", T0, approvers=(), break_glass=True, number=7)
    late = (ForgePull(7, "ann", "merged", "b", SHA, T0, None, T0, (
        ForgeReview("ann", ReviewState.APPROVED, SHA, T0 + timedelta(hours=1)),  # herself
        ForgeReview("ben", ReviewState.COMMENTED, SHA, T0 + timedelta(hours=30)))),)
    [found] = break_glass_reviews(facts(glass, pulls=late), T)
    assert (found.code, found.evidence.people) == ("report.break-glass-late-review",
                                                   ("ann", "ben"))
    on_time = (replace(late[0], reviews=(
        ForgeReview("ben", ReviewState.APPROVED, SHA, T0 + timedelta(hours=2)),)),)
    assert break_glass_reviews(facts(glass, pulls=on_time), T) == []


def test_outside_active_hours_in_the_policy_time_zone() -> None:
    # 17:30 UTC is 18:30 in Berlin in November: outside 08:00-18:00; 16:30 UTC is inside.
    late = grant("ann", T0.replace(hour=17, minute=30))
    fine = grant("ben", T0.replace(hour=16, minute=30))
    glass = grant("cat", T0.replace(hour=23), break_glass=True, approvers=())
    [found] = outside_active_hours(facts(late, fine, glass), T)
    assert found.message == ("ann had 1 activation(s) of db outside its active hours "
                             "(mon,tue,wed,thu,fri 08:00-18:00 Europe/Berlin): Mon 18:30")


def test_an_unusual_hour_needs_a_history() -> None:
    usual = [grant("ann", T0 - timedelta(days=30 - n), number=n + 1) for n in range(10)]
    night = grant("ann", T0.replace(hour=3), number=11)
    [found] = unusual_hours(facts(*usual, night), T)
    assert found.message.startswith("ann activated access at 2026-11-02T03:00Z: none of "
                                    "their 10 earlier activations was within 3h")
    assert unusual_hours(facts(*usual[1:], night), T) == []


def test_short_justifications_and_reused_tickets() -> None:
    usual = [grant(who, T0 + timedelta(hours=n), number=n + 1, ticket="INC-1" if n < 3 else "")
             for n, who in enumerate(("ann", "ben", "cat", "ann", "ben"))]
    terse = grant("cat", T0 + timedelta(days=1), justification="fix", number=9)
    found = {f.code: f for f in justifications(facts(*usual, terse), T)}
    assert found["report.short-justification"].message == (
        "cat's justification has 3 characters, against a median of 43 for db: 'fix'")
    assert found["report.reused-ticket"].message == (
        "ticket INC-1 was given for 3 grants of 3 people (ann, ben, cat)")
    # the same justification five times: reused, and said so once
    assert found["report.reused-justification"].evidence.grants[0] == usual[0].grant_id


def test_a_chain_of_extensions_that_covers_a_day() -> None:
    first = grant("ann", T0, hours=10, number=1)
    second = grant("ann", T0 + timedelta(hours=9), hours=10, extends=first.grant_id, number=2)
    third = grant("ann", T0 + timedelta(hours=18), hours=10, extends=second.grant_id,
                  number=3)
    [found] = extends_chains(facts(first, second, third), T)
    assert found.message == ("ann extended db/ann-20261102T1000Z 2 time(s): 3 grants "
                             "covering 1d4h from 2026-11-02T10:00Z")
    assert extends_chains(facts(first, second), T) == []  # 19 hours


def _alert(seq: int, at: datetime, code: str, grant_id: str = "", subject: str = "") -> Record:
    return Record(seq=seq, event=Event.ALERT, grant_id=GrantId(grant_id),
                  policy="db" if grant_id else "", requester="ann" if grant_id else "",
                  at=at, engine_version="0.1.0", detail=f"{code} seen", code=code,
                  subject=subject, prev="0" * 64)


def test_drift_held_after_end_refusals_and_alerts() -> None:
    ended = grant("ann", T0)
    ended = replace(ended, ended=Ended(Ending.EXPIRED, T0 + timedelta(hours=1)))
    records = (
        _alert(2, T0 + timedelta(hours=3), "target.drift", ended.grant_id, "admin:ann"),
        _alert(3, T0 + timedelta(hours=4), "target.drift", "", "admin:mallory"),
        Record(seq=4, event=Event.REFUSED, grant_id=GrantId("db/ben-20261102T1100Z"),
               policy="db", requester="ben", at=T0 + timedelta(hours=5), pull_request=4,
               engine_version="0.1.0", detail="merged without approval", prev="0" * 64),
        _alert(5, T0 + timedelta(hours=5), "activation.refused", "db/ben-20261102T1100Z"),
        _alert(6, T0 + timedelta(hours=6), "ledger.forged", "", "f" * 40),
        _alert(7, PERIOD.until + timedelta(hours=1), "ledger.forged"),
    )
    found = ledger_events(facts(ended, records=records,
                                ledger_problems=("commit ffffffffffff: not signed",)), T)
    assert [(f.code, f.subject) for f in found] == [
        ("report.held-after-end", ended.grant_id),
        ("report.drift", "admin:mallory"),
        ("report.refused-activation", "db/ben-20261102T1100Z"),
        ("report.alert", "ledger.forged"),
        ("report.ledger-untrusted", "ledger"),
    ]
    assert found[0].message.startswith("db/ann-20261102T1000Z ended at 2026-11-02T11:00Z, yet "
                                       "the target still held its access at 2026-11-02T13:00Z")


def test_thresholds_come_from_settings() -> None:
    tuned = from_settings({"too_many_activations": {"count": "5", "window": "12h"},
                           "late_revocation": {"after": "90s"}})
    assert (tuned.activations_count, tuned.activations_window,
            tuned.late_revocation_after) == (5, timedelta(hours=12), timedelta(seconds=90))
    with pytest.raises(ValueError, match=r"report.ticket.owner is not a report setting"):
        from_settings({"ticket": {"owner": "1"}})
