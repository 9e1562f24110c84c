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
