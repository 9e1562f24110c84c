"""The trailers of the commits that remove grant files from the default branch.

Reconcile removes expired grants with one commit whose message ends with one trailer per grant:

    Gitjit-Removed: <grant id>; expired-at=2026-11-27T11:41:12Z; revoked-at=2026-11-27T11:45:03Z

and a grant that failed re-verification with ``Gitjit-Refused: <grant id>``. Audit reads them
back from a clone alone. Only the message's last paragraph is read, as ``git interpret-trailers``
does, so a trailer quoted in the body of a commit never counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from engine.core.models import GrantId

REMOVED = "Gitjit-Removed"
REFUSED = "Gitjit-Refused"

_GRANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*")
_GRANT_ID_MAX = 200
_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z"
_REMOVED_LINE = re.compile(
    rf"{REMOVED}: (?P<id>\S+); expired-at=(?P<expired>{_TIME}); revoked-at=(?P<revoked>{_TIME})"
)
_REFUSED_LINE = re.compile(rf"{REFUSED}: (?P<id>\S+)")


class RemovalKind(StrEnum):
    EXPIRED = "expired"
    """Removed after its expiry; access was revoked at ``revoked_at``."""
    REFUSED = "refused"
    """Removed because it failed re-verification; it was never activated."""


@dataclass(frozen=True)
class Removal:
    """One grant a removal commit names in its trailers."""

    kind: RemovalKind
    grant_id: GrantId
    expired_at: datetime | None = None
    """When the grant expired (UTC); None for a refused grant."""
    revoked_at: datetime | None = None
    """When its access was removed (UTC); None for a refused grant."""


def format_time(when: datetime) -> str:
    """RFC 3339 in UTC with a 'Z', fractions only when there are any (as the ledger writes)."""
    if when.utcoffset() is None:
        raise ValueError(f"times must be timezone-aware, got {when!r}")
    when = when.astimezone(UTC)
    if when.microsecond:
        return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_id(grant_id: str) -> None:
    if len(grant_id) > _GRANT_ID_MAX or not _GRANT_ID.fullmatch(grant_id):
        raise ValueError(
            f"{grant_id!r} is not a grant id: path segments of letters, digits, '.', '_' and "
            f"'-' joined by '/', at most {_GRANT_ID_MAX} characters"
        )


def format_removed(grant_id: str, expired_at: datetime, revoked_at: datetime) -> str:
    """The trailer line (no newline) for a grant removed after it expired."""
    _check_id(grant_id)
    return (
        f"{REMOVED}: {grant_id}; expired-at={format_time(expired_at)}; "
        f"revoked-at={format_time(revoked_at)}"
    )


def format_refused(grant_id: str) -> str:
    """The trailer line (no newline) for a grant removed because it was refused."""
    _check_id(grant_id)
    return f"{REFUSED}: {grant_id}"


def parse(message: str) -> list[Removal]:
    """Every removal the message's trailer block names, in order; lines that do not match
    the format exactly are ignored (they were not written by gitjit)."""
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", message.strip()) if p.strip()]
    if len(paragraphs) < 2:
        # A subject alone has no trailer block.
        return []
    removals = []
    for line in paragraphs[-1].splitlines():
        line = line.rstrip()
        removed = _REMOVED_LINE.fullmatch(line)
        if removed:
            if _valid_id(removed["id"]):
                removals.append(Removal(
                    RemovalKind.EXPIRED, GrantId(removed["id"]),
                    _parse_time(removed["expired"]), _parse_time(removed["revoked"]),
                ))
            continue
        refused = _REFUSED_LINE.fullmatch(line)
        if refused and _valid_id(refused["id"]):
            removals.append(Removal(RemovalKind.REFUSED, GrantId(refused["id"])))
    return removals


def _valid_id(text: str) -> bool:
    return len(text) <= _GRANT_ID_MAX and _GRANT_ID.fullmatch(text) is not None


def _parse_time(text: str) -> datetime:
    base, _dot, fraction = text.removesuffix("Z").partition(".")
    when = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    if fraction:
        when += timedelta(microseconds=int(fraction.ljust(6, "0")))
    return when
