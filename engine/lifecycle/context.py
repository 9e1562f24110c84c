"""What activate and reconcile share: their collaborators, their report, and the opening of a
run (the branch's tip, its configuration, and the ledger as gitjit may trust it)."""

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
from engine.adapters.signing import NOT_CONFIGURED, CommitSigner, listed
from engine.commands.repository import LoadedConfig, read_config, require_config
from engine.core.grants import GRANTS_DIR, grant_id
from engine.core.ledger import END_EVENTS, Event, LedgerState, Record
from engine.core.models import Config, GrantId, RemovalMode, removal_mode
from engine.core.values import plural
from engine.ports import Forge
from engine.targets.base import TargetPlugin
from engine.targets.registry import create_target

ENGINE_VERSION = __version__
T = TypeVar("T")


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
    signer: CommitSigner | None = None
    """The key gitjit signs its commits with; None: this run cannot write."""

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

    def removal(self, config: Config) -> RemovalMode:
        return removal_mode(config.settings, on_github=self.remote is not None)

    def signing(self) -> Mapping[str, str]:
        """The git configuration that signs one commit of gitjit's."""
        if self.signer is None:
            raise AssertionError("a run without a signing key never writes")
        return self.signer.config()


@dataclass(frozen=True)
class Run:
    """What one run starts from."""

    tip: str
    loaded: LoadedConfig
    config: Config
    state: LedgerState
    """The ledger as gitjit may trust it, when the run opened."""
    cannot_write: str
    """Why this run cannot write records or commits ("" when it can)."""


def open_run(life: Lifecycle) -> Run:
    """The tip, its configuration, and the ledger read with the tip's allowed signers."""
    tip = life.tip()
    loaded, config = life.config(tip)
    life.ledger.trust(config.signers, life.signer, tip)
    cannot_write = ""
    if config.signers is None:
        cannot_write = f"{NOT_CONFIGURED}; gitjit writes nothing that nobody could verify"
    elif life.signer is None:
        cannot_write = ("this run has no signing key (set GITJIT_SIGNING_KEY, or run 'gitjit "
                        "local keygen' in a local repository), so it can write no record")
    elif not listed(life.signer, config.signers):
        cannot_write = (f"the signing key {life.signer.fingerprint()} is not listed in "
                        f"{config.signers.path}, so nothing it signs would be trusted; add its "
                        "line there (through a reviewed pull request)")
    return Run(tip, loaded, config, life.ledger.state(), cannot_write)


_FAILED_NOUNS = {"activate": "activation", "revoke": "revocation", "remove": "removal",
                 "record": "record", "run": "action run", "list": "listing",
                 "notices": "notice", "bind": "binding", "retarget": "retargeting"}
"""What a failed step of an action is called in the summary ('1 activation failed')."""


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
        """What the run did, then what failed, by name: 'activate: 2 activated; 1 activation
        failed' (a failed step's action is what it tried, never counted as done)."""
        done: dict[str, int] = {}
        failed: dict[str, int] = {}
        for step in self.steps:
            counts = failed if step.failed else done
            counts[step.action] = counts.get(step.action, 0) + 1
        parts = [f"{n} {action}" for action, n in sorted(done.items())]
        parts += [f"{plural(n, _FAILED_NOUNS[action])} failed" if action in _FAILED_NOUNS
                  else f"{plural(n, 'failed step')} ({action})"
                  for action, n in sorted(failed.items())]
        prefix = "dry run: " if self.dry_run else ""
        return f"{prefix}{self.command}: {', '.join(parts) or 'nothing to do'}"

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
