"""The bundled example configuration and grants load strictly and match their schemas."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.core.schema import KINDS, validate
from engine.core.signers import SIGNERS_PATH, parse_allowed_signers
from engine.core.strictyaml import load

PROJECT = Path(__file__).resolve().parents[1]
SCHEMAS = {
    kind: json.loads((PROJECT / "schemas" / f"{kind.lower()}.schema.json").read_text("utf-8"))
    for kind in KINDS
}
EXAMPLES = sorted(
    p.relative_to(PROJECT).as_posix()
    for folder in ("policies", "grants", "actions")
    for p in (PROJECT / folder).rglob("*")
    if p.is_file() and not p.name.endswith(".md") and p.name != "allowed_signers"
)


def test_the_example_allowed_signers_parse() -> None:
    raw = (PROJECT / SIGNERS_PATH).read_bytes()
    assert raw.startswith(b"# "), "the example starts with a comment saying what it shows"
    signers, findings = parse_allowed_signers(raw)
    assert findings == [] and signers is not None and len(signers.signers) == 1


def expected_kind(path: str) -> frozenset[str]:
    if path.startswith("grants/"):
        return frozenset({"Grant"})
    if path.startswith("actions/"):
        return frozenset({"Action"})
    if path == "policies/groups.yaml":
        return frozenset({"Groups"})
    if path == "policies/settings.yaml":
        return frozenset({"Settings"})
    if path.startswith("policies/tests/"):
        return frozenset({"PolicyTest"})
    return frozenset({"Policy"})


def test_there_are_examples_of_every_kind() -> None:
    kinds = {next(iter(expected_kind(p))) for p in EXAMPLES}
    assert kinds == set(KINDS)
    assert all(p.endswith(".yaml") for p in EXAMPLES), EXAMPLES


@pytest.mark.parametrize("path", EXAMPLES)
def test_example_is_valid(path: str) -> None:
    raw = (PROJECT / path).read_bytes()
    assert raw.startswith(b"# "), "each example starts with a comment saying what it shows"
    doc = load(raw, path)
    assert [f.render() for f in validate(doc, expected_kind(path), SCHEMAS)] == []


@pytest.mark.parametrize("path", [p for p in EXAMPLES if p.startswith("policies/tests/")])
def test_policy_tests_name_existing_policies(path: str) -> None:
    doc = load((PROJECT / path).read_bytes(), path)
    assert isinstance(doc.data, dict) and isinstance(doc.data["cases"], list)
    for case in doc.data["cases"]:
        assert isinstance(case, dict)
        asked = case.get("grant", case.get("action"))
        assert isinstance(asked, dict)
        assert (PROJECT / "policies" / f"{asked['policy']}.yaml").is_file()


def doc_examples() -> list[tuple[str, str]]:
    text = (PROJECT / "docs" / "file-formats.md").read_text("utf-8")
    blocks = re.findall(r"^```yaml\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    found = [(m.group(1), block) for block in blocks
             if (m := re.search(r"^kind: (\w+)$", block, flags=re.MULTILINE))]
    return found


def test_the_documentation_has_an_example_of_every_kind() -> None:
    assert sorted(kind for kind, _ in doc_examples()) == sorted(KINDS)


@pytest.mark.parametrize(("kind", "block"), doc_examples(), ids=lambda v: v[:12])
def test_documented_example_is_valid(kind: str, block: str) -> None:
    doc = load(block.encode(), f"docs/file-formats.md ({kind})")
    assert [f.render() for f in validate(doc, frozenset({kind}), SCHEMAS)] == []
