from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine.core import trailers
from engine.core.models import GrantId
from engine.core.trailers import Removal, RemovalKind

GID = GrantId("prod-db-admin/bob-20261127T0912Z")
EXPIRED = datetime(2026, 11, 27, 11, 41, 12, tzinfo=UTC)
REVOKED = datetime(2026, 11, 27, 11, 45, 3, tzinfo=UTC)


def test_format_removed() -> None:
    assert trailers.format_removed(GID, EXPIRED, REVOKED) == (
        "Gitjit-Removed: prod-db-admin/bob-20261127T0912Z; expired-at=2026-11-27T11:41:12Z; "
        "revoked-at=2026-11-27T11:45:03Z"
    )


def test_format_refused() -> None:
    assert trailers.format_refused(GID) == "Gitjit-Refused: prod-db-admin/bob-20261127T0912Z"


def test_format_converts_to_utc_and_keeps_fractions() -> None:
    paris = timezone(timedelta(hours=1))
    line = trailers.format_removed(
        GID, datetime(2026, 11, 27, 12, 41, 12, tzinfo=paris),
        datetime(2026, 11, 27, 11, 45, 3, 250000, tzinfo=UTC),
    )
    assert line.endswith("expired-at=2026-11-27T11:41:12Z; revoked-at=2026-11-27T11:45:03.250000Z")


def test_format_rejects_naive_times_and_bad_ids() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        trailers.format_removed(GID, datetime(2026, 1, 1), REVOKED)  # noqa: DTZ001
    with pytest.raises(ValueError, match="is not a grant id"):
        trailers.format_refused("bad id; revoked-at=x")
    with pytest.raises(ValueError, match="is not a grant id"):
        trailers.format_removed("a\nGitjit-Refused: b", EXPIRED, REVOKED)


def test_round_trip_of_a_removal_commit() -> None:
    other = GrantId("prod-db-admin/alice-20261127T1003Z")
    message = (
        "gitjit: remove 2 expired grants and 1 refused grant\n\n"
        "Access ended; the ledger has the details.\n\n"
        f"{trailers.format_removed(GID, EXPIRED, REVOKED)}\n"
        f"{trailers.format_removed(other, EXPIRED, REVOKED + timedelta(microseconds=5))}\n"
        f"{trailers.format_refused('ops/eve-20261127T0800Z')}\n"
    )
    assert trailers.parse(message) == [
        Removal(RemovalKind.EXPIRED, GID, EXPIRED, REVOKED),
        Removal(RemovalKind.EXPIRED, other, EXPIRED,
                REVOKED + timedelta(microseconds=5)),
        Removal(RemovalKind.REFUSED, GrantId("ops/eve-20261127T0800Z")),
    ]


def test_parse_reads_only_the_last_paragraph() -> None:
    quoted = trailers.format_refused(GID)
    message = f"subject\n\nThis body quotes\n{quoted}\n\nSigned-off-by: x <x@example.invalid>\n"
    assert trailers.parse(message) == []
    assert trailers.parse(quoted) == []  # a subject alone has no trailer block


@pytest.mark.parametrize("line", [
    "Gitjit-Removed: a/b; expired-at=2026-11-27T11:41:12+01:00; revoked-at=2026-11-27T11:45:03Z",
    "Gitjit-Removed: a/b; expired-at=2026-11-27T11:41:12Z",
    "Gitjit-Removed: a/b expired-at=2026-11-27T11:41:12Z; revoked-at=2026-11-27T11:45:03Z",
    "Gitjit-Refused: ../etc",
    "Gitjit-Refused: a/b extra",
    "gitjit-refused: a/b",
])
def test_parse_ignores_lines_not_in_the_format(line: str) -> None:
    assert trailers.parse(f"subject\n\n{line}\n") == []
