"""docs/json-output.md cannot drift from what the JSON reporter prints.

The examples must have exactly the keys the reporter produces, and every field the reporter
produces must have a row in the section's table (and no row may name a field that is gone).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from engine.core.ledger import parse_record
from engine.reporters import jsonout
from tests.reporters import samples

PROJECT = Path(__file__).resolve().parents[1]
DOC = (PROJECT / "docs" / "json-output.md").read_text("utf-8")


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", DOC, re.M | re.S)
    assert match, f"docs/json-output.md has no section '## {title}'"
    return match.group(1)


def json_blocks(text: str) -> list[Any]:
    return [json.loads(block) for block in re.findall(r"^```json\n(.*?)^```", text, re.M | re.S)]


def documented_fields(text: str) -> list[str]:
    return re.findall(r"^\| `([^`]+)` \|", text, re.M)


def shape(value: Any) -> Any:
    """The keys of a JSON value, recursively; a list's shape is its first element's."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value and isinstance(value[0], (dict, list)) else []
    return None


def fields(value: Any, prefix: str = "") -> set[str]:
    """Dotted paths of every key: 'summary.errors', 'findings[].code', 'grant.id'."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            found.add(path)
            found |= fields(item, path)
    elif isinstance(value, list) and value:
        found |= fields(value[0], f"{prefix}[]")
    return found


def merged_shape(a: Any, b: Any) -> Any:
    """Where one example has an empty list or null, the other may show its items."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {key: merged_shape(a.get(key), b.get(key)) for key in a}
    if isinstance(a, list) and isinstance(b, list):
        return a or b
    return a if a is not None else b


# Reports with every optional part filled, so every nested key is printed at least once.
CHECK = json.loads(jsonout.check(samples.check_report()))
PULL_REQUEST = merged_shape(merged_shape(
    shape(json.loads(jsonout.pull_request(samples.pending()))),
    shape(json.loads(jsonout.pull_request(samples.revoke())))),
    shape(json.loads(jsonout.pull_request(samples.action()))))
FINDING_FIELDS = {f"findings[].{key}" for key in CHECK["findings"][0]}


def test_the_check_example_has_exactly_the_reporters_keys() -> None:
    examples = json_blocks(section("check"))
    assert len(examples) == 1
    assert shape(examples[0]) == shape(CHECK)


def test_the_check_pr_example_has_exactly_the_reporters_keys() -> None:
    examples = json_blocks(section("check-pr"))
    assert len(examples) == 1
    example = examples[0]
    assert list(example) == list(PULL_REQUEST)
    for key, value in PULL_REQUEST.items():
        documented = shape(example[key])
        if documented in (None, []) and key in ("grant", "deleted", "missing", "counted",
                                                "action"):
            continue  # the example may leave an optional part empty
        assert documented == value, key


def test_the_check_pr_example_is_a_real_verdict() -> None:
    example = json_blocks(section("check-pr"))[0]
    assert example["decision"] in ("approved", "denied", "pending")
    assert re.fullmatch(r"[0-9a-f]{40}", example["base"])
    assert re.fullmatch(r"[0-9a-f]{40}", example["head"])
    assert example["missing"] and example["counted"] and example["grant"], \
        "the example should show a grant, a missing step and a counted approval"


@pytest.mark.parametrize(("title", "produced"), [
    ("Findings", FINDING_FIELDS),
    ("check", fields(CHECK) - FINDING_FIELDS),
    ("check-pr", fields(PULL_REQUEST) - FINDING_FIELDS),
])
def test_every_field_has_a_row_and_every_row_a_field(title: str, produced: set[str]) -> None:
    documented = documented_fields(section(title))
    assert len(documented) == len(set(documented)), "a field is documented twice"
    assert set(documented) == produced


def test_the_exit_codes_match_the_cli() -> None:
    from engine import cli

    rows = dict(re.findall(r"^\| ([0-9]) \| (.*) \|$", section("Exit codes"), re.M))
    assert sorted(rows) == ["0", "1", "2", "3", "4"]
    for code in rows:
        assert f"  {code}  " in (cli.__doc__ or ""), f"exit code {code} is not in cli.py"
    assert rows["4"].endswith("`pending`: approvals are missing or changes were requested")


def test_the_ledger_example_record_is_a_record_with_every_field_documented() -> None:
    ledger = (PROJECT / "docs" / "ledger.md").read_text("utf-8")
    [example] = [b for b in json_blocks(ledger) if isinstance(b, dict) and "seq" in b]
    raw = json.dumps(example, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    record = parse_record(raw, source="docs/ledger.md")
    assert record.target is not None and record.event == "activated"
    first_cells = [line.split("|")[1] for line in ledger.splitlines() if line.startswith("| `")]
    named = {name for cell in first_cells for name in re.findall(r"`([A-Za-z_]+)`", cell)}
    assert set(example) <= named, set(example) - named
