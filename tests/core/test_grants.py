"""Grant files: canonical paths and typed content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.core.grants import GrantPath, canonical_path, grant_id, load_grant, parse_path
from tests.core.builders import SCHEMAS, grant_bytes, grant_fields

LIMIT = 64 * 1024


@pytest.mark.parametrize(("path", "parts"), [
    ("grants/prod-db-admin/bob-20261127T0912Z.yaml", ("prod-db-admin", "bob", "20261127T0912Z")),
    ("grants/db/mary-jane-20261127T0912Z.yaml", ("db", "mary-jane", "20261127T0912Z")),
    ("grants/db/a-b-c-20261127T091230Z.yaml", ("db", "a-b-c", "20261127T091230Z")),
    ("grants/db/Bob-20261127T0912Z.yaml", ("db", "bob", "20261127T0912Z")),
    ("grants/db/x-2026-20261127T0912Z.yaml", ("db", "x-2026", "20261127T0912Z")),
    ("grants/db/" + "a" * 39 + "-20261127T0912Z.yaml", ("db", "a" * 39, "20261127T0912Z")),
])
def test_canonical_paths(path: str, parts: tuple[str, str, str]) -> None:
    assert parse_path(path) == GrantPath(*parts)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", [
    "grants/db/bob-20261127T0912Z.yml",
    "grants/db/bob-20261127T0912.yaml",
    "grants/db/bob-2026112T0912Z.yaml",
    "grants/db/bob.yaml",
    "grants/db/-bob-20261127T0912Z.yaml",
    "grants/db/bob--x-20261127T0912Z.yaml",
    "grants/db/bob_x-20261127T0912Z.yaml",
    "grants/DB/bob-20261127T0912Z.yaml",
    "grants/-db/bob-20261127T0912Z.yaml",
    "grants/db/sub/bob-20261127T0912Z.yaml",
    "grants/bob-20261127T0912Z.yaml",
    "policies/db/bob-20261127T0912Z.yaml",
    "grants/db/bob-20261127T0912Z.yaml/x",
    "grants/db/b\u00f6b-20261127T0912Z.yaml",
])
def test_not_canonical(path: str) -> None:
    assert parse_path(path) is None


def test_canonical_path_round_trip() -> None:
    at = datetime(2026, 11, 27, 9, 12, 59, tzinfo=UTC)
    path = canonical_path("db", "mary-jane", at)
    assert path == "grants/db/mary-jane-20261127T0912Z.yaml"
    assert parse_path(path) == GrantPath("db", "mary-jane", "20261127T0912Z")  # type: ignore[arg-type]
    assert grant_id(path) == "db/mary-jane-20261127T0912Z"


def test_load_grant_types_the_fields() -> None:
    fields = grant_fields(requester="Mary-Jane", duration="1h30m", ticket="INC-1",
                          start="2026-11-30T10:00:00+01:00", extends="db/mary-jane-20261127T0912Z",
                          break_glass="true")
    path = "grants/db/mary-jane-20261130T0900Z.yaml"
    loaded = load_grant(path, grant_bytes(fields), SCHEMAS, LIMIT)
    assert loaded.findings == ()
    grant = loaded.grant
    assert grant is not None
    assert (grant.id, grant.policy, grant.requester, grant.duration) == (
        "db/mary-jane-20261130T0900Z", "db", "mary-jane", timedelta(minutes=90))
    assert grant.start == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert (grant.ticket, grant.extends, grant.break_glass) == (
        "INC-1", "db/mary-jane-20261127T0912Z", True)
    assert grant.lines["requester"] == 4 and grant.lines["break_glass"] == 10


def test_requester_and_path_compare_case_insensitively() -> None:
    fields = grant_fields(requester="bob")
    for path in ("grants/db/BOB-20261130T0900Z.yaml", "grants/db/bob-20261130T0900Z.yaml"):
        assert load_grant(path, grant_bytes(fields), SCHEMAS, LIMIT).grant is not None
    loaded = load_grant("grants/db/BOB-20261130T0900Z.yaml",
                        grant_bytes(grant_fields(requester="Bob")), SCHEMAS, LIMIT)
    assert loaded.grant is not None and loaded.grant.requester == "bob"


def test_path_must_agree_with_content() -> None:
    loaded = load_grant("grants/web/alice-20261130T0900Z.yaml", grant_bytes(grant_fields()),
                        SCHEMAS, LIMIT)
    assert loaded.grant is None
    assert [f.render() for f in loaded.findings] == [
        "grants/web/alice-20261130T0900Z.yaml:3: grant.path-mismatch: policy 'db' disagrees "
        "with the folder 'web'; the grant must live in grants/db/",
        "grants/web/alice-20261130T0900Z.yaml:4: grant.path-mismatch: requester 'bob' "
        "disagrees with the file name, which names 'alice'",
    ]
    odd = load_grant("grants/db/bob.yaml", grant_bytes(grant_fields()), SCHEMAS, LIMIT)
    assert [f.code for f in odd.findings] == ["grant.path"]


def test_grant_values_are_checked() -> None:
    path = "grants/db/bob-20261130T0900Z.yaml"
    zero = load_grant(path, grant_bytes(grant_fields(duration="0m")), SCHEMAS, LIMIT)
    assert zero.grant is None
    assert [f.render() for f in zero.findings] == [
        f"{path}:5: value.duration: duration '0m' is zero; write whole numbers of days, hours, "
        "minutes and seconds in that order, such as 30m, 2h, 1h30m, 1d or 1d12h, or ISO 8601 "
        "such as PT2H or P1DT2H30M (no months or years)"]
    naive = load_grant(path, grant_bytes(grant_fields(start="2026-11-30T10:00:00")), SCHEMAS,
                       LIMIT)
    assert naive.grant is None
    assert [f.code for f in naive.findings] == ["schema.invalid"]


def test_size_cap() -> None:
    raw = grant_bytes(grant_fields())
    loaded = load_grant("grants/db/bob-20261130T0900Z.yaml", raw, SCHEMAS, len(raw) - 1)
    assert [f.code for f in loaded.findings] == ["yaml.too-large"]
    assert load_grant("grants/db/bob-20261130T0900Z.yaml", raw, SCHEMAS, len(raw)).grant
