from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.core.ledger import AppliedTarget, Event, ExpiryEnforcer, Record
from engine.core.models import Grant, GrantId, Login, PolicyId
from engine.core.status import GrantFile, GrantState, build_status

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PATH = "grants/db/bob-20261130T0900Z.yaml"
GID = GrantId("db/bob-20261130T0900Z")


def grant(path: str = PATH, *, start: datetime | None = None) -> Grant:
    return Grant(id=GrantId(path[7:-5]), path=path, policy=PolicyId("db"),
                 requester=Login(path.split("/")[2].split("-")[0]), duration=timedelta(hours=2),
                 justification="incident", start=start)


def activated(gid: GrantId = GID, *, seq: int = 1, start: datetime = T0) -> Record:
    return Record(seq=seq, prev="" if seq == 1 else "0" * 64, event=Event.ACTIVATED,
                  grant_id=gid, policy="db", requester=gid.split("/")[1].split("-")[0],
                  at=start, engine_version="0.1.0", activated_at=start,
                  expires_at=start + timedelta(hours=2), pull_request=3,
                  expiry_enforced_by=ExpiryEnforcer.TARGET,
                  target=AppliedTarget("recording", None, ()))


def state_at(now: datetime, records: list[Record]) -> GrantState:
    report = build_status("main", [GrantFile(PATH, grant(), T0)], records, now, "ref")
    return report.grants[0].state


def test_states_follow_the_activated_window() -> None:
    records = [activated(start=T0 + timedelta(hours=1))]
    assert state_at(T0, records) is GrantState.SCHEDULED
    assert state_at(T0 + timedelta(hours=1), records) is GrantState.ACTIVE
    assert state_at(T0 + timedelta(hours=3) - timedelta(microseconds=1),
                    records) is GrantState.ACTIVE
    # Expiry is a fact of time: no expired record is needed.
    assert state_at(T0 + timedelta(hours=3), records) is GrantState.EXPIRED


def test_no_verdict_awaits_activation_with_the_window_it_would_get() -> None:
    start = T0 + timedelta(hours=4)
    report = build_status("main", [GrantFile(PATH, grant(start=start), T0)], [], T0, None)
    (row,) = report.grants
    assert (row.state, row.activated_at, row.expires_at, row.remaining) == (
        GrantState.AWAITING_ACTIVATION, start, start + timedelta(hours=2), None)


def test_refused_and_unreadable_file() -> None:
    refused = Record(seq=1, event=Event.REFUSED, grant_id=GID, policy="", requester="",
                     at=T0, engine_version="0.1.0", detail="pushed directly")
    report = build_status("main", [GrantFile(PATH, None, None)], [refused], T0, "ref")
    (row,) = report.grants
    assert (row.state, row.requester, row.policy, row.detail) == (
        GrantState.REFUSED, "bob", "db", "pushed directly")


def test_remaining_enforcer_and_summary() -> None:
    other = "grants/db/amy-20261130T0800Z.yaml"
    files = [GrantFile(PATH, grant(), T0), GrantFile(other, grant(other), T0)]
    report = build_status("main", files, [activated()], T0 + timedelta(minutes=30), "ref")
    assert [row.grant_id for row in report.grants] == ["db/amy-20261130T0800Z", GID]
    bob = report.grants[1]
    assert (bob.remaining, bob.expiry_enforced_by, bob.pull_request) == (
        timedelta(hours=1, minutes=30), ExpiryEnforcer.TARGET, 3)
    assert report.summary() == (
        "1 active, 0 scheduled, 0 expired awaiting removal, 1 awaiting activation, "
        "0 refused awaiting removal, 0 ended awaiting removal"
    )
