"""What a command reports: the data every output format renders."""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.decision import Decision
from engine.core.findings import Finding, Severity


@dataclass(frozen=True)
class Tally:
    errors: int
    warnings: int
    notices: int

    @classmethod
    def of(cls, findings: tuple[Finding, ...]) -> Tally:
        def count(severity: Severity) -> int:
            return sum(1 for f in findings if f.severity is severity)

        return cls(count(Severity.ERROR), count(Severity.WARNING), count(Severity.NOTICE))


@dataclass(frozen=True)
class CheckReport:
    """The result of ``gitjit check``."""

    findings: tuple[Finding, ...]
    policies: int
    grants: int
    files: int

    @property
    def tally(self) -> Tally:
        return Tally.of(self.findings)


@dataclass(frozen=True)
class PullRequestReport:
    """The result of ``gitjit check-pr``."""

    decision: Decision
    author: str
    base: str
    head: str
