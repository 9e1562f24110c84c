"""What activate and reconcile share: their collaborators, their report, the branch's grants."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from engine import __version__
from engine.adapters.git import GitRepository
from engine.adapters.ledger import Ledger
from engine.adapters.remote import Remote
from engine.commands.repository import LoadedConfig, read_config, require_config
from engine.core.grants import GRANTS_DIR, grant_id
from engine.core.ledger import Event, Record
from engine.core.models import Config, GrantId
from engine.ports import Forge
from engine.targets.base import TargetPlugin
from engine.targets.registry import create_target

ENGINE_VERSION = __version__
T = TypeVar("T")
END_EVENTS = frozenset({Event.EXPIRED, Event.RELINQUISHED, Event.REVOKED})


@dataclass
class Lifecycle:
    """The collaborators of the lifecycle commands (ports, so tests can inject faults)."""

    repo: GitRepository
    forge: Forge
    ledger: Ledger
    branch: str = "main"
    target_factory: Callable[[Mapping[str, str]], TargetPlugin] = create_target
    remote: Remote | None = None
    """Set in GitHub mode: branches are fetched first and every write is pushed by lease."""

    def tip(self) -> str:
        if self.remote is not None:
            self.remote.fetch(self.branch)
        return self.repo.resolve(f"refs/heads/{self.branch}")

    def write(self, branch: str, write: Callable[[], T]) -> T:
        """Run a write to ``branch``; in GitHub mode, publish it (and redo it on a race)."""
        return write() if self.remote is None else self.remote.publish(branch, write)

    def config(self, tip: str) -> tuple[LoadedConfig, Config]:
        """The configuration at ``tip``: connections and policies for the targets."""
        loaded = read_config(self.repo.tree(tip))
        return loaded, require_config(loaded, self.branch)

    def grant_paths(self, tip: str) -> dict[GrantId, str]:
        return {grant_id(e.path): e.path for e in self.repo.tree(tip).entries(GRANTS_DIR)}


@dataclass(frozen=True)
class Step:
    """One thing a run did, or failed to do, for one grant."""

    grant: str
    action: str
    detail: str = ""
    failed: bool = False


@dataclass
class Report:
    command: str
    now: datetime
    dry_run: bool = False
    steps: list[Step] = field(default_factory=list)

    def add(self, grant: str, action: str, detail: str = "", failed: bool = False) -> None:
        self.steps.append(Step(grant, action, detail, failed))

    @property
    def failures(self) -> list[Step]:
        return [s for s in self.steps if s.failed]

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for step in self.steps:
            counts[step.action] = counts.get(step.action, 0) + 1
        parts = [f"{n} {action}" for action, n in sorted(counts.items())] or ["nothing to do"]
        prefix = "dry run: " if self.dry_run else ""
        return f"{prefix}{self.command}: {', '.join(parts)}"

    def render(self, fmt: str) -> str:
        if fmt == "json":
            return json.dumps({
                "command": self.command,
                "now": self.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "dry_run": self.dry_run,
                "ok": not self.failures,
                "steps": [{"grant": s.grant, "action": s.action, "detail": s.detail,
                           "failed": s.failed} for s in self.steps],
            }, indent=2) + "\n"
        lines = [f"{'FAILED ' if s.failed else ''}{s.action}: {s.grant}"
                 + (f" ({s.detail})" if s.detail else "") for s in self.steps]
        return "\n".join([*lines, self.summary()]) + "\n"


def verdicts(records: list[Record]) -> dict[GrantId, Record]:
    """Each grant's activated or refused record."""
    return {r.grant_id: r for r in records if r.event in (Event.ACTIVATED, Event.REFUSED)}


def endings(records: list[Record]) -> dict[GrantId, Record]:
    return {r.grant_id: r for r in records if r.event in END_EVENTS}
