"""gitjit codeowners: generate .github/CODEOWNERS from the policies, or check it for drift."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.adapters.worktree import WorkTree
from engine.commands.repository import read_config, require_config
from engine.core import codeowners
from engine.core.findings import Finding, Severity


@dataclass(frozen=True)
class CodeownersOptions:
    repo: Path
    write: bool


def drift(repo: Path, expected: str) -> Finding | None:
    """A finding when the repository's CODEOWNERS differs from what the policies imply."""
    path = repo / codeowners.PATH
    actual = path.read_text(encoding="utf-8") if path.is_file() else None
    if actual == expected:
        return None
    what = "is missing" if actual is None else "differs from what the policies imply"
    return Finding(codeowners.PATH, 0, "config.codeowners-drift",
                   f"{codeowners.PATH} {what}; run 'gitjit codeowners --write' and commit it",
                   Severity.WARNING)


def run(options: CodeownersOptions) -> int:
    config = require_config(read_config(WorkTree(options.repo)))
    text = codeowners.render(config)
    if not options.write:
        print(text, end="")
        return 0
    target = options.repo / codeowners.PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {codeowners.PATH}")
    return 0
