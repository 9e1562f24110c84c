"""The ledger's records, their canonical JSON and the chain verification, without git."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.core.changes import NO_FILE, REGULAR_FILE, Change
from engine.core.findings import Finding
from engine.core.ledger import (
    AppliedTarget,
    CountedReview,
    Event,
    ExpiryEnforcer,
    LedgerCommit,
    Record,
    RecordError,
    chain,
    chain_records,
    commit_message,
    parse_record,
    read_chain,
    record_key,
    record_path,
    referenced_commits,
    to_json,
    verify_chain,
    verify_coverage,
    verify_references,
)
from engine.core.models import GrantId, ReviewState

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
GRANT = GrantId("prod-db/bob-20260105T0900Z")
BASE, HEAD, MERGE = "b" * 40, "c" * 40, "d" * 40


def draft(event: Event = Event.ACTIVATED, grant: str = GRANT, **changes: Any) -> Record:
    fields: dict[str, Any] = {
        "event": event,
        "grant_id": GrantId(grant),
        "policy": grant.split("/")[0],
        "requester": "bob",
        "at": AT,
        "engine_version": "0.1.0",
    }
    if event is Event.ACTIVATED:
        fields |= {
            "pull_request": 7,
            "base_sha": BASE,
            "head_sha": HEAD,
            "merge_sha": MERGE,
            "reviews": (
                CountedReview("dave", ReviewState.APPROVED, HEAD, AT - timedelta(hours=1)),
            ),
            "policy_blob": "e" * 40,
            "groups_blob": "f" * 40,
            "activated_at": AT,
            "expires_at": AT + timedelta(hours=2),
            "expiry_enforced_by": ExpiryEnforcer.TARGET,
            "target": AppliedTarget("postgres", "orders", (("role", "admin"),)),
        }
    if event in (Event.REFUSED, Event.ALERT):
        fields["detail"] = "merged without the required approvals"
    fields |= changes
    return Record(**fields)


def chained(drafts: Sequence[Record]) -> list[Record]:
    records: list[Record] = []
    for item in drafts:
        records.append(chain(item, records[-1] if records else None))
    return records


def three() -> list[Record]:
    return chained([
        draft(),
        draft(Event.ACTIVATED, "prod-db/alice-20260105T1000Z", requester="alice"),
        draft(Event.EXPIRED),
    ])


def sha(n: int) -> str:
    return f"{n:040x}"


def add(path: str, raw: bytes) -> tuple[Change, bytes]:
    blob = hashlib.sha1(raw).hexdigest()
    return Change("A", path, NO_FILE, REGULAR_FILE, "0" * 40, blob), raw


def commits_of(
    records: Sequence[Record], *, raws: dict[int, bytes] | None = None
) -> list[LedgerCommit]:
    """One well-formed ledger commit per record, each the child of the one before."""
    commits = []
    for index, record in enumerate(records):
        raw = (raws or {}).get(index, to_json(record))
        change, content = add(record_path(record), raw)
        commits.append(
            LedgerCommit(
                sha=sha(index + 1),
                parents=(sha(index),) if index else (),
                message=commit_message(record),
                changes=(change,),
                blobs={change.new_blob: content},
            )
        )
    return commits


def relinked(commits: Sequence[LedgerCommit]) -> list[LedgerCommit]:
    """The commits re-parented into one straight line, as a history rewrite would leave them."""
    return [
        replace(c, sha=sha(i + 1), parents=(sha(i),) if i else ()) for i, c in enumerate(commits)
    ]


def codes(findings: Sequence[Finding]) -> list[str]:
    return [f.code for f in findings]


# -- the record --------------------------------------------------------------------------


def test_canonical_json_is_sorted_compact_and_ends_with_a_newline() -> None:
    record = chain(draft(Event.EXPIRED), None)
    assert to_json(record) == (
        b'{"activated_at":null,"apiVersion":"gitjit/v1","at":"2026-01-05T09:30:00Z","base_'
        b'sha":null,"break_glass":false,"code":"","detail":"","ended_at":null,"engine_vers'
        b'ion":"0.1.0","event":"expired","expires_at":null,"expiry_enforced_by":null,"gran'
        b't_id":"prod-db/bob-20260105T0900Z","groups_blob":null,"head_sha":null,"kind":"Le'
        b'dgerRecord","merge_sha":null,"policy":"prod-db","policy_blob":null,"prev":"","pu'
        b'll_request":null,"requester":"bob","review_by":null,"reviews":[],"seq":1,"subjec'
        b't":"","target":null}\n'
    )


def test_round_trip_keeps_every_field() -> None:
    record = chain(draft(detail="naïve ‮ text"), None)
    raw = to_json(record)
    assert raw.isascii()
    assert parse_record(raw) == record


def test_fractions_of_a_second_survive_the_round_trip() -> None:
    record = chain(draft(Event.EXPIRED, at=AT.replace(microsecond=120)), None)
    assert b'"at":"2026-01-05T09:30:00.000120Z"' in to_json(record)
    assert parse_record(to_json(record)).at == AT.replace(microsecond=120)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "r.json: not a JSON document (Expecting value: line 1 column 1 (char 0))"),
        (b"[]\n", "r.json: expected a JSON object, got list"),
        (b'{"seq":1,"seq":2}', "r.json: not a JSON document (duplicate key 'seq')"),
        (b'{"seq":NaN}', "r.json: not a JSON document (NaN is not a JSON number)"),
    ],
)
def test_unreadable_bytes(raw: bytes, message: str) -> None:
    with pytest.raises(RecordError) as info:
        parse_record(raw, source="r.json")
    assert str(info.value) == message


def _edited(**fields: Any) -> bytes:
    document = json.loads(to_json(chain(draft(Event.EXPIRED), None)))
    for key, value in fields.items():
        if value is ...:
            del document[key]
        else:
            document[key] = value
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode() + b"\n"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"prev": ..., "extra": 1},
            "fields do not match a ledger record: missing prev; unknown extra",
        ),
        (
            {"kind": "Grant"},
            "apiVersion 'gitjit/v1' and kind 'Grant' must be 'gitjit/v1' and "
            "'LedgerRecord'",
        ),
        ({"seq": True}, "field 'seq' must be a whole number, got True"),
        ({"seq": 0}, "seq must be a whole number from 1, got 0"),
        (
            {"event": "granted"},
            "field 'event' must be one of activated, refused, expired, relinquished, "
            "revoked, superseded, retargeted, deferred, alert, started, completed, failed, "
            "unknown, notice, got 'granted'",
        ),
        (
            {"at": "2026-01-05T09:30:00+00:00"},
            "field 'at' must be a UTC timestamp such as 2026-01-05T09:00:00Z, got "
            "'2026-01-05T09:30:00+00:00'",
        ),
        (
            {"at": "2026-02-30T09:30:00Z"},
            "field 'at': '2026-02-30T09:30:00Z' is not a real time (day is out of range "
            "for month)",
        ),
        (
            {"merge_sha": "HEAD"},
            "invalid ledger record: merge_sha must be a full lower-case hex object name, "
            "got 'HEAD'",
        ),
        ({"requester": "Bob"}, "invalid ledger record: requester 'Bob' is not a lower-case login"),
        (
            {"grant_id": "../etc/passwd"},
            "invalid ledger record: grant_id '../etc/passwd' is not a grant id: path "
            "segments of letters, digits, '.', '_' and '-' joined by '/', at most 200 "
            "characters",
        ),
        ({"seq": 2}, "invalid ledger record: prev must be the SHA-256 (64 hex digits) of record 1"),
        (
            {"reviews": [{"reviewer": "dave"}]},
            "each review must be an object with exactly commit, reviewer, state, "
            "submitted_at",
        ),
    ],
)
def test_invalid_records_are_refused_with_the_field_named(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(RecordError) as info:
        parse_record(_edited(**fields), source="r.json")
    assert str(info.value) == f"r.json: {message}"


def test_a_valid_record_with_a_key_twice_is_refused_as_a_duplicate() -> None:
    # parse_record reads canonical bytes without json's hooks first (a ledger has thousands
    # of records); bytes that say one field twice must still meet the duplicate-key check.
    raw = to_json(chain(draft(Event.EXPIRED), None)).replace(
        b'"requester":"bob"', b'"requester":"eve","requester":"bob"')
    with pytest.raises(RecordError) as info:
        parse_record(raw, source="r.json")
    assert str(info.value) == "r.json: not a JSON document (duplicate key 'requester')"


@pytest.mark.parametrize("when", [
    datetime(2026, 1, 5, 9, 30, 7, tzinfo=UTC),
    datetime(2026, 1, 5, 9, 30, 7, 1, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1000, 1, 1, tzinfo=UTC),
    datetime(999, 1, 1, tzinfo=UTC),
])
def test_record_times_print_as_strftime_prints_them(when: datetime) -> None:
    # _time takes a shortcut through isoformat; the bytes of every record depend on it.
    expected = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if when.microsecond
                             else "%Y-%m-%dT%H:%M:%SZ")
    record = chain(draft(Event.EXPIRED, at=when), None)
    assert json.loads(to_json(record))["at"] == expected


def test_a_record_not_in_canonical_form_is_refused() -> None:
    raw = to_json(chain(draft(Event.EXPIRED), None)).replace(b'"seq":1', b'"seq": 1')
    with pytest.raises(RecordError) as info:
        parse_record(raw, source="r.json")
    assert str(info.value) == (
        "r.json: not in canonical form (sorted keys, no spaces, ASCII escapes, one trailing "
        "newline); gitjit never writes a record like this"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"at": datetime(2026, 1, 5, 9, 30)},
            "at must be a timezone-aware UTC datetime, got datetime.datetime(2026, 1, 5, "
            "9, 30)",
        ),
        ({"expires_at": None}, "an activated record needs activated_at and expires_at"),
        (
            {"expiry_enforced_by": None},
            "an activated record needs expiry_enforced_by ('target' or 'gitjit')",
        ),
        ({"expires_at": AT}, "expires_at must be after activated_at"),
        (
            {"event": "activated"},
            "event must be one of activated, refused, expired, relinquished, revoked, "
            "superseded, retargeted, deferred, alert, started, completed, failed, unknown, "
            "notice, got 'activated'",
        ),
        ({"pull_request": 0}, "pull_request must be a pull request number from 1, got 0"),
        ({"policy": ""}, "policy '' is not a policy id"),
    ],
)
def test_records_are_validated_on_construction(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        draft(**changes)
    assert str(info.value) == f"invalid ledger record: {message}"


def test_refusals_need_a_reason_and_may_concern_a_file_without_policy() -> None:
    with pytest.raises(ValueError, match="a refused record needs a detail saying why"):
        draft(Event.REFUSED, detail=" ")
    refused = draft(Event.REFUSED, grant="stray/file", policy="", requester="")
    assert refused.detail == "merged without the required approvals"


def test_chain_numbers_and_links_records() -> None:
    first, second, third = three()
    assert (first.seq, first.prev) == (1, "")
    assert second.seq == 2
    assert second.prev == hashlib.sha256(to_json(first)).hexdigest()
    assert third.prev == hashlib.sha256(to_json(second)).hexdigest()


def test_key_path_and_message() -> None:
    record = chain(draft(), None)
    assert record_key(record) == "activated prod-db/bob-20260105T0900Z"
    assert record_key(record) == record_key(draft())
    assert record_key(record) != record_key(draft(Event.EXPIRED))
    assert record_path(record) == "records/00000001-activated-prod-db_bob-20260105T0900Z.json"
    assert commit_message(record) == (
        "gitjit: activated prod-db/bob-20260105T0900Z\n\n"
        "Gitjit-Event: activated\n"
        "Gitjit-Grant: prod-db/bob-20260105T0900Z\n"
        "Gitjit-Seq: 1\n"
    )


# -- the chain ---------------------------------------------------------------------------


def test_a_well_formed_chain_has_no_findings() -> None:
    records = three()
    commits = commits_of(records)
    assert verify_chain(commits) == []
    assert chain_records(commits) == records
    assert verify_chain([]) == []


def test_a_removed_record_leaves_a_gap() -> None:
    commits = commits_of(three())
    findings = verify_chain(relinked([commits[0], commits[2]]))
    assert findings == [
        Finding(
            "records/00000003-expired-prod-db_bob-20260105T0900Z.json", 0, "ledger.seq-gap",
            "ledger record 2 is missing before record 3 (expired prod-db/bob-20260105T0900Z): "
            "records were removed from the ledger's history",
        )
    ]


def test_swapped_records_are_out_of_order() -> None:
    commits = commits_of(three())
    findings = verify_chain(relinked([commits[0], commits[2], commits[1]]))
    assert findings == [
        Finding(
            "records/00000002-activated-prod-db_alice-20260105T1000Z.json", 0, "ledger.seq-order",
            "ledger record 2 (activated prod-db/alice-20260105T1000Z) comes after record 3 in "
            "the ledger's history: records were reordered or a number was used twice",
        )
    ]


def test_a_rewritten_record_breaks_the_hash_its_successor_holds() -> None:
    records = three()
    forged = replace(records[1], requester="mallory")
    commits = commits_of([records[0], forged, records[2]])
    findings = verify_chain(commits)
    assert findings == [
        Finding(
            "records/00000002-activated-prod-db_alice-20260105T1000Z.json", 0, "ledger.rewritten",
            "ledger record 2 (activated prod-db/alice-20260105T1000Z) is not the record that "
            "record 3 (expired prod-db/bob-20260105T0900Z) was chained to (its hash differs "
            "from the prev that record 3 holds): record 2 was rewritten",
        )
    ]


def test_a_state_change_recorded_twice_is_a_duplicate() -> None:
    records = chained([draft(), draft(Event.EXPIRED), draft()])
    findings = verify_chain(commits_of(records))
    assert findings == [
        Finding(
            "records/00000003-activated-prod-db_bob-20260105T0900Z.json", 0, "ledger.duplicate",
            "ledger record 3 (activated prod-db/bob-20260105T0900Z) repeats record 1: the "
            "activated of grant prod-db/bob-20260105T0900Z is recorded twice",
        )
    ]


def test_a_commit_that_modifies_a_record_has_the_wrong_shape() -> None:
    commits = commits_of(three())
    path = record_path(three()[0])
    modify = LedgerCommit(
        sha=sha(4), parents=(sha(3),), message="fix typo\n",
        changes=(Change("M", path, REGULAR_FILE, REGULAR_FILE, "1" * 40, "2" * 40),),
    )
    findings = verify_chain([*commits, modify])
    assert findings == [
        Finding(
            "", 0, "ledger.commit-shape",
            f"ledger commit {sha(4)[:12]} adds no record under records/",
        ),
        Finding(
            path, 0, "ledger.commit-shape",
            f"ledger commit {sha(4)[:12]} modifies {path}: a ledger commit only adds one new "
            "record under records/, and records are never changed or removed",
        ),
    ]


def test_a_commit_adding_two_records_or_other_files_has_the_wrong_shape() -> None:
    first, second, _ = three()
    one, raw_one = add(record_path(first), to_json(first))
    two, raw_two = add(record_path(second), to_json(second))
    other, raw_other = add("README.md", b"hi\n")
    commit = LedgerCommit(
        sha=sha(1), parents=(), message=commit_message(first), changes=(other, one, two),
        blobs={one.new_blob: raw_one, two.new_blob: raw_two, other.new_blob: raw_other},
    )
    assert [f.message for f in verify_chain([commit])] == [
        f"ledger commit {sha(1)[:12]} adds README.md: a ledger commit only adds one new record "
        "under records/, and records are never changed or removed",
        f"ledger commit {sha(1)[:12]} adds 2 records ({one.path}, {two.path}); each commit adds "
        "exactly one",
    ]


def test_a_renamed_record_file_and_a_wrong_trailer_are_reported() -> None:
    (record,) = chained([draft()])
    change, raw = add("records/00000001-activated-other.json", to_json(record))
    commit = LedgerCommit(
        sha=sha(1), parents=(), message="gitjit: activated x\n\nGitjit-Seq: 9\n",
        changes=(change,), blobs={change.new_blob: raw},
    )
    assert [f.message for f in verify_chain([commit])] == [
        f"ledger commit {sha(1)[:12]} of record 1 (activated prod-db/bob-20260105T0900Z) has "
        "trailers Gitjit-Seq: 9 where the record says Gitjit-Event: activated, Gitjit-Grant: "
        "prod-db/bob-20260105T0900Z, Gitjit-Seq: 1",
        "ledger record 1 (activated prod-db/bob-20260105T0900Z) is stored as "
        "records/00000001-activated-other.json but its content names "
        "records/00000001-activated-prod-db_bob-20260105T0900Z.json: the file was renamed or "
        "its content replaced",
    ]


def test_a_merge_or_a_second_root_is_not_linear() -> None:
    commits = commits_of(three())
    commits[1] = replace(commits[1], parents=(sha(1), sha(99)))
    commits[2] = replace(commits[2], parents=())
    assert [f.message for f in verify_chain(commits)] == [
        f"ledger commit {sha(2)[:12]} has parents {sha(1)[:12]}, {sha(99)[:12]} where it should "
        "have one: the ledger is one straight line of commits, never merged or started again",
        f"ledger commit {sha(3)[:12]} has parents none where it should have one: the ledger is "
        "one straight line of commits, never merged or started again",
    ]


def test_an_unreadable_record_is_reported_and_not_counted_as_a_gap() -> None:
    records = three()
    commits = commits_of(records, raws={1: b"{broken\n"})
    path = record_path(records[1])
    findings = verify_chain(commits)
    assert codes(findings) == ["ledger.unreadable"]
    assert findings[0].path == path
    assert findings[0].message.startswith(f"{path} (ledger commit {sha(2)[:12]}): not a JSON")
    assert findings[0].message.endswith(": the record was damaged or not written by gitjit")
    with pytest.raises(RecordError, match="run 'gitjit audit verify' to check the ledger"):
        chain_records(commits)


# -- references and coverage -------------------------------------------------------------


def test_records_naming_commits_that_do_not_exist() -> None:
    stored, _ = read_chain(commits_of(three()))
    assert referenced_commits(stored) == {BASE, HEAD, MERGE}
    types: dict[str, str | None] = {BASE: "commit", HEAD: "blob", MERGE: None}
    findings = verify_references(stored, types)
    first = "ledger record 1 (activated prod-db/bob-20260105T0900Z)"
    assert [f.message for f in findings[:2]] == [
        f"{first} names head_sha {HEAD}, which is a blob, not a commit in this repository: "
        "fetch the full history (fetch-depth: 0), or the record points at history that was "
        "rewritten or never existed",
        f"{first} names merge_sha {MERGE}, which is no object in this repository: fetch the "
        "full history (fetch-depth: 0), or the record points at history that was rewritten or "
        "never existed",
    ]
    assert codes(findings) == ["ledger.missing-commit"] * 4


def test_grants_without_an_activation_or_refusal_are_unrecorded() -> None:
    stored, _ = read_chain(commits_of(three()))
    findings = verify_coverage(
        stored,
        [
            "grants/prod-db/bob-20260105T0900Z.yaml",
            "grants/prod-db/alice-20260105T1000Z.yaml",
            "grants/prod-db/carol-20260105T1100Z.yaml",
        ],
        "main",
    )
    assert findings == [
        Finding(
            "grants/prod-db/carol-20260105T1100Z.yaml", 0, "ledger.unrecorded-grant",
            "grant prod-db/carol-20260105T1100Z is on main but the ledger has no activated or "
            "refused record of it: it was never verified; run 'gitjit reconcile', and find out "
            "how it landed if reconcile has run since",
        )
    ]


def test_the_index_follows_announced_requests_until_they_are_settled() -> None:
    from engine.core.ledger import build_index, index_json, parse_index

    def notice(code: str, number: int, grant: str = GRANT) -> Record:
        return draft(Event.NOTICE, grant, code=code, subject=f"{code}:{number}",
                     pull_request=number)

    other = "prod-db/carol-20260105T0900Z"
    drafts = [notice("request.announced", 7), notice("request.reminded", 7),
              notice("request.announced", 8, other), notice("request.announced", 9, "x/y-1"),
              notice("request.closed", 9, "x/y-1"), draft(Event.ACTIVATED)]
    records = chain_records_of(drafts)
    index = build_index(records)
    # 7's grant was activated and 9 was closed: only 8 is still a request gitjit told of.
    assert {n: r.grant for n, r in index.requests.items()} == {8: other}
    assert index.requests[8].announced == record_path(records[2])
    assert parse_index(index_json(index)) == index
    assert build_index(records[:2]).requests[7].grant == GRANT


def chain_records_of(drafts: Sequence[Record]) -> list[Record]:
    records: list[Record] = []
    for item in drafts:
        records.append(chain(item, records[-1] if records else None))
    return records
