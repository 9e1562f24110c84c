"""The one strict YAML loader for every gitjit file (DESIGN.md section 4, "Input hardening").

STUB: the signatures below are the contract; the implementation is being written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Union

from engine.core.findings import Finding
from engine.errors import GitjitError

Value = Union[str, list["Value"], dict[str, "Value"]]
"""Every scalar stays a string; the schema and the code give it a type."""
KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 64 * 1024
    max_depth: int = 32
    max_nodes: int = 10_000


@dataclass(frozen=True)
class Document:
    path: str
    """Repository-relative path, for findings."""
    data: Value
    lines: Mapping[KeyPath, int] = field(default_factory=dict, compare=False)
    """1-based line of every node, keyed by its path from the root (root is ())."""

    def line(self, *keys: str | int) -> int:
        """The line of the node at ``keys``, or of its nearest existing ancestor."""
        path: KeyPath = tuple(keys)
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)


class LoadError(GitjitError):
    """The file cannot be loaded; ``finding`` says where and why."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.render())
        self.finding = finding


def load(raw: bytes, path: str, limits: Limits = Limits()) -> Document:
    """Parse exactly one YAML document under the strict rules, or raise LoadError."""
    raise NotImplementedError
