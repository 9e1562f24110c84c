"""What a forge (GitHub, or the local forge) tells gitjit about pull requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from engine.core.models import Login


class PullRequestState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"


@dataclass(frozen=True)
class PullRequestInfo:
    number: int
    author: Login
    """The pull request's author as the forge reports it: the only requester identity."""
    base: str
    """The base branch's name, e.g. 'main'."""
    head_sha: str
    """The head commit as the forge last saw it (the one approvals must be given on)."""
    head_ref: str
    """The head branch's name."""
    state: PullRequestState
    title: str = ""
    body: str = ""
    merge_sha: str | None = None
    """The commit that landed the pull request on its base (merged pull requests only)."""
    merged_at: datetime | None = None
    """When the forge says it merged: the activation clock starts here (or at 'start')."""
    merged_by: Login | None = None
    author_id: int | None = None
    """The author's numeric account id, where the forge reports one (GitHub)."""
    opened_at: datetime | None = None
    """When it was opened, as the forge recorded it (None where the forge did not say)."""
    url: str = ""
    """Where people open it (GitHub's html_url); "" where the forge has no web page."""


@dataclass(frozen=True)
class Pushers:
    """Who pushed or wrote the commits of a pull request, as far as the forge can tell.

    What the forge cannot tie to an account is kept, not dropped: any approver may have
    written it, so the verdict treats each such identity as an approver who cannot be
    cleared (DESIGN.md section 4, docs/decisions.md)."""

    logins: frozenset[Login]
    """Accounts that authored, committed, co-authored or force-pushed commits, the author
    included."""
    unattributed: tuple[str, ...] = ()
    """Identities linked to no account, one per distinct e-mail address, described for a
    finding (e.g. 'x@corp.example (author of 1a2b3c4d5e6f)')."""
    unlisted: int = 0
    """Commits the forge would not list (GitHub lists at most 250): who wrote them is unknown."""
    author_id: int | None = None
    """The author's numeric account id, where the forge reports one: with the pushers, so that
    every caller of the verdict (activation too) checks it against an id pinned in groups."""

