"""gitjit recertify (in progress)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

FORGES = ("none", "local", "github")


@dataclass(frozen=True)
class RecertifyOptions:
    repo: Path
    branch: str
    now: datetime
    forge: str
    format: str


def run(options: RecertifyOptions) -> int:
    raise NotImplementedError
