from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.core.audit import (
    Ended,
    Ending,
    GrantHistory,
    RemovalCommit,
    RemovalInfo,
    build_lifecycles,
    since,
)
from engine.core.ledger import AppliedTarget, Event, ExpiryEnforcer, Record
from engine.core.models import GrantId
from engine.core.trailers import Removal, RemovalKind

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
GID = GrantId("db/bob-20261130T0900Z")
PATH = f"grants/{GID}.yaml"
C1, C2, C3 = "1" * 40, "2" * 40, "3" * 40
TARGET = AppliedTarget("recording", None, (("role", "admin"),))


def record(event: Event, seq: int, at: datetime, gid: GrantId = GID, **extra: object) -> Record:
    fields: dict[str, object] = {"detail": "why"} if event in (Event.REFUSED, Event.ALERT) else {}
    fields.update(extra)
    return Record(seq=seq, prev="" if seq == 1 else "0" * 64, event=event, grant_id=gid,
                  policy="db", requester=gid.split("/")[1].split("-")[0], at=at,
                  engine_version="0.1.0", **fields)  # type: ignore[arg-type]


def test_ledger_end_wins_over_trailer_and_deletion() -> None:
    history = GrantHistory(PATH, None, C1, T0, C2, T0 + timedelta(hours=1))
    records = [
        record(Event.ACTIVATED, 1, T0, activated_at=T0, expires_at=T0 + timedelta(hours=1),
               expiry_enforced_by=ExpiryEnforcer.GITJIT, target=TARGET),
        record(Event.RELINQUISHED, 2, T0 + timedelta(minutes=10), pull_request=9),
    ]
    (life,) = build_lifecycles([history], records, [])
    assert life.ended == Ended(Ending.RELINQUISHED, T0 + timedelta(minutes=10))
    assert life.removal == RemovalInfo(C2, T0 + timedelta(hours=1))
    assert (life.requester, life.policy, life.records) == ("bob", "db", (1, 2))


def test_trailer_names_the_removal_commit_and_the_end() -> None:
    history = GrantHistory(PATH, None, C1, T0, C3, T0 + timedelta(hours=2))
    expired, revoked = T0 + timedelta(hours=1), T0 + timedelta(hours=1, minutes=1)
    removal = RemovalCommit(C3, T0 + timedelta(hours=2),
                            (Removal(RemovalKind.EXPIRED, GID, expired, revoked),))
    (life,) = build_lifecycles([history], [], [removal])
    assert life.ended == Ended(Ending.EXPIRED, revoked)
    assert life.removal == RemovalInfo(C3, T0 + timedelta(hours=2), expired, revoked)


def test_a_trailer_counts_only_on_the_commit_that_deleted_the_file() -> None:
    expired, revoked = T0 + timedelta(hours=1), T0 + timedelta(hours=1, minutes=1)
    removal = RemovalCommit(C3, T0 + timedelta(hours=2),
                            (Removal(RemovalKind.EXPIRED, GID, expired, revoked),))
    still_there = GrantHistory(PATH, None, C1, T0)
    (life,) = build_lifecycles([still_there], [], [removal])
    assert (life.ended, life.removal) == (None, None)
    deleted_elsewhere = GrantHistory(PATH, None, C1, T0, C2, T0 + timedelta(hours=3))
    (life,) = build_lifecycles([deleted_elsewhere], [], [removal])
    assert life.ended == Ended(Ending.REMOVED, T0 + timedelta(hours=3))
    assert life.removal == RemovalInfo(C2, T0 + timedelta(hours=3))


def test_deleted_without_any_word_is_removed() -> None:
    history = GrantHistory(PATH, None, C1, T0, C2, T0 + timedelta(hours=2))
    (life,) = build_lifecycles([history], [], [])
    assert life.ended == Ended(Ending.REMOVED, T0 + timedelta(hours=2))


def test_ledger_only_grants_and_order_and_since() -> None:
    other = GrantId("db/amy-20261130T0800Z")
    records = [record(Event.REFUSED, 1, T0 - timedelta(hours=1), other),
               record(Event.ALERT, 2, T0 - timedelta(hours=1), other)]
    lives = build_lifecycles([GrantHistory(PATH, None, C1, T0)], records, [])
    assert [life.grant_id for life in lives] == [other, GID]
    amy, bob = lives
    assert amy.landed_commit is None and amy.path == "grants/db/amy-20261130T0800Z.yaml"
    assert amy.ended == Ended(Ending.REFUSED, T0 - timedelta(hours=1), "why")
    assert len(amy.alerts) == 1
    assert bob.ended is None
    assert since(lives, T0) == [bob]
    assert since(lives, T0 + timedelta(seconds=1)) == []
