"""JSON Schema validation of loaded documents (draft 2020-12, formats asserted, no remote refs).

STUB: the signatures below are the contract; the implementation is being written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.core.findings import Finding
from engine.core.strictyaml import Document

KINDS = ("Policy", "Groups", "Settings", "PolicyTest", "Grant")
API_VERSION = "gitjit/v1"

SchemaSet = Mapping[str, Mapping[str, Any]]
"""The schema of each kind, by kind name."""


def validate(doc: Document, expected: frozenset[str], schemas: SchemaSet) -> list[Finding]:
    """Check apiVersion, that ``kind`` is one of ``expected``, then the kind's schema.

    Returns findings with codes schema.api-version, schema.kind or schema.invalid, each
    at the line of the offending node and with a message naming the JSON path."""
    raise NotImplementedError
