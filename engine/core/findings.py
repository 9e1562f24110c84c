"""Findings: what gitjit reports about a file, with a stable code, a place and a fix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from engine.core.codes import CODES


class Severity(StrEnum):
    ERROR = "error"
    """Makes the file or pull request fail."""
    WARNING = "warning"
    """Worth a look; does not fail anything."""
    NOTICE = "notice"
    """Information, e.g. why a review did not count."""


@dataclass(frozen=True, order=True)
class Finding:
    """One problem found in one place. Sorted by path, then line, then code."""

    path: str
    """Repository-relative path with forward slashes, or "" when no file is concerned."""
    line: int
    """1-based line number; 0 when the finding concerns the whole file or no file."""
    code: str
    """A stable code from ``engine.core.codes.CODES``; documented in docs/findings.md."""
    message: str
    """One sentence that says what is wrong and how to fix it."""
    severity: Severity = Severity.ERROR

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unregistered finding code {self.code!r}")

    def location(self) -> str:
        if not self.path:
            return ""
        return f"{self.path}:{self.line}" if self.line else self.path

    def render(self) -> str:
        where = self.location()
        return f"{where}: {self.code}: {self.message}" if where else f"{self.code}: {self.message}"


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.ERROR]
