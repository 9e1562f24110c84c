"""docs/findings.md documents every finding code, with the fix the code registry gives."""

from __future__ import annotations

import re
from pathlib import Path

from engine.core.codes import CODES

DOC = Path(__file__).resolve().parents[1] / "docs" / "findings.md"


def _rows() -> dict[str, str]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `([a-z-]+\.[a-z-]+)` \| (.*) \| (.*) \|$", line)
        if match:
            rows[match[1]] = match[3]
    return rows


def test_every_code_is_documented_with_its_fix() -> None:
    rows = _rows()
    assert sorted(rows) == sorted(CODES)
    for code, info in CODES.items():
        assert rows[code] == info.fix, code


def test_every_code_used_in_the_engine_is_registered() -> None:
    engine = Path(__file__).resolve().parents[1] / "engine"
    used = set()
    for source in engine.rglob("*.py"):
        used |= set(re.findall(r'"((?:yaml|schema|value|config|grant|pr|approval|identity|test'
                               r'|ledger|action)\.[a-z-]+)"', source.read_text(encoding="utf-8")))
    assert used - set(CODES) == set()
