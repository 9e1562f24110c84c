"""When a grant is active: a fact of time, computed the same way by every command."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from engine.core.models import Grant


class State(StrEnum):
    SCHEDULED = "scheduled"
    """Landed, but its start is still ahead."""
    ACTIVE = "active"
    EXPIRED = "expired"
    """From its expiry on, whether or not its removal commit has landed yet."""


@dataclass(frozen=True)
class Window:
    activated_at: datetime
    expires_at: datetime

    def state(self, now: datetime) -> State:
        if now < self.activated_at:
            return State.SCHEDULED
        return State.ACTIVE if now < self.expires_at else State.EXPIRED


def window(grant: Grant, landed_at: datetime) -> Window:
    """A grant activates when it lands or at its start, whichever is later, and lasts its
    duration from then: the clock never starts at request time."""
    activated = max(landed_at, grant.start) if grant.start else landed_at
    return Window(activated, activated + grant.duration)
