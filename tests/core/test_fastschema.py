"""Compiled schemas answer "valid?" exactly as jsonschema does.

engine.core.schema asks the compiled check first and skips jsonschema for a document it
accepts, so an acceptance jsonschema would not give is a hole in validation. These tests
compare the two on the project's own schemas and documents, edited at random, and on the
metaschema with edited schemas; and check that what the compiler does not know is left to
jsonschema.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from engine.core.fastschema import compile_schema
from engine.core.schema import _FORMAT_CHECKER, _meta_accepts, _validator, validate
from engine.core.strictyaml import Document, Limits, load

PROJECT = Path(__file__).resolve().parents[2]
SCHEMAS = {path.name.split(".")[0]: json.loads(path.read_text(encoding="utf-8"))
           for path in sorted((PROJECT / "schemas").glob("*.schema.json"))}
KIND_FILES = {"Policy": "policy", "Groups": "groups", "Settings": "settings",
              "PolicyTest": "policytest", "Grant": "grant", "Scenario": "scenario"}


def _documents() -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for pattern in ("policies/**/*.yaml", "grants/**/*.yaml", "engine/scenarios/*.yaml",
                    "docs/scenarios/*.yaml"):
        for path in sorted(PROJECT.glob(pattern)):
            data = load(path.read_bytes(), str(path), Limits(max_bytes=1 << 20)).data
            if isinstance(data, dict) and data.get("kind") in KIND_FILES:
                found.setdefault(str(data["kind"]), []).append(data)
    return found


DOCUMENTS = _documents()
VALUES: list[Any] = ["", "x", "true", "false", "1", "30m", "4h", "0m", "group:dba",
                     "user:alice", "team:acme/dba", "mon", "gitjit/v1", "Grant", "Policy", "bob",
                     "-bob", "^a$", "(", "2026-11-27T09:00:00Z", "2026-02-30T09:00:00Z",
                     "a" * 300, "push", "pull-request", "postgres", "INC-1", [], {}, ["x"],
                     ["x", "x"], {"a": "b"}, {"login": "bob", "id": "12"}]
KEYS = ["x", "extra", "from", "count", "id", "login", "policy", "requester", "duration",
        "start", "days", "groups", "kind", "apiVersion"]


@st.composite
def edited(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """``value`` with a few random edits: values replaced, keys added or removed."""
    if isinstance(value, dict) and value and depth < 6:
        value = dict(value)
        key = draw(st.sampled_from(sorted(value)))
        action = draw(st.sampled_from(["descend", "descend", "drop", "add", "replace"]))
        if action == "descend":
            value[key] = draw(edited(value[key], depth + 1))
        elif action == "drop":
            del value[key]
        elif action == "add":
            value[draw(st.sampled_from(KEYS))] = copy.deepcopy(draw(st.sampled_from(VALUES)))
        else:
            value[key] = copy.deepcopy(draw(st.sampled_from(VALUES)))
        return value
    if isinstance(value, list) and value and depth < 6:
        value = list(value)
        index = draw(st.integers(0, len(value) - 1))
        action = draw(st.sampled_from(["descend", "descend", "append", "drop"]))
        if action == "descend":
            value[index] = draw(edited(value[index], depth + 1))
        elif action == "append":
            value.append(copy.deepcopy(draw(st.sampled_from([*VALUES, value[index]]))))
        else:
            del value[index]
        return value
    return copy.deepcopy(draw(st.sampled_from([value, *VALUES])))


def test_every_packaged_schema_and_the_metaschema_compile() -> None:
    for name, schema in SCHEMAS.items():
        assert compile_schema(schema, _FORMAT_CHECKER) is not None, name
    assert _meta_accepts() is not None
    assert set(DOCUMENTS) == set(KIND_FILES)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_edited_documents_get_jsonschemas_answer(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(sorted(DOCUMENTS)))
    document = data.draw(st.sampled_from(DOCUMENTS[kind]))
    for _ in range(data.draw(st.integers(0, 3))):
        document = data.draw(edited(document))
    schema = SCHEMAS[KIND_FILES[kind]]
    accepts = compile_schema(schema, _FORMAT_CHECKER)
    assert accepts is not None
    assert accepts(document) == _validator(schema).is_valid(document)


META_VALUES: list[Any] = [0, 1, -1, 1.5, True, False, None, "", "x", "string", "integer", "(",
                          "^a$", "#/$defs/x", [], ["a"], ["a", "a"], {}, {"type": "string"},
                          {"type": 3}, {"minLength": -1}, {"$ref": 5}, {"items": []},
                          [{"type": "x"}], "date-time", 2**70]
META_KEYS = ["type", "minLength", "maxItems", "required", "enum", "const", "pattern", "format",
             "items", "prefixItems", "properties", "additionalProperties", "$ref", "$defs",
             "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "minimum", "multipleOf",
             "uniqueItems", "dependentRequired", "dependencies", "definitions", "$id",
             "$anchor", "title", "deprecated", "$vocabulary", "propertyNames",
             "patternProperties", "$comment", "x-extension"]


@st.composite
def edited_schema(draw: st.DrawFn, value: Any) -> Any:
    if isinstance(value, dict):
        value = dict(value)
        action = draw(st.sampled_from(["descend", "descend", "drop", "set"]))
        if value and action == "descend":
            key = draw(st.sampled_from(sorted(value)))
            value[key] = draw(edited_schema(value[key]))
        elif value and action == "drop":
            del value[draw(st.sampled_from(sorted(value)))]
        else:
            value[draw(st.sampled_from(META_KEYS))] = copy.deepcopy(
                draw(st.sampled_from(META_VALUES)))
        return value
    if isinstance(value, list) and value:
        value = list(value)
        index = draw(st.integers(0, len(value) - 1))
        value[index] = draw(edited_schema(value[index]))
        return value
    return copy.deepcopy(draw(st.sampled_from(META_VALUES)))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_edited_schemas_get_the_metaschemas_answer(data: st.DataObject) -> None:
    schema = SCHEMAS[data.draw(st.sampled_from(sorted(SCHEMAS)))]
    for _ in range(data.draw(st.integers(1, 4))):
        schema = data.draw(edited_schema(schema))
    meta = Draft202012Validator(Draft202012Validator.META_SCHEMA, format_checker=_FORMAT_CHECKER)
    accepts = _meta_accepts()
    assert accepts is not None
    assert accepts(schema) == meta.is_valid(schema)


@pytest.mark.parametrize("schema", [
    {"prefixItems": [{"type": "string"}]},
    {"properties": {"a": {"$dynamicRef": "#meta"}}},
    {"$ref": "https://example.com/other.json"},
    {"$ref": "#/$defs/missing"},
    {"$defs": {"a": {"$id": "https://example.com/a", "type": "string"}},
     "$ref": "#/$defs/a"},
    {"dependentRequired": {"a": ["b"]}},
    {"unevaluatedProperties": False},
    {"multipleOf": 2},
    {"pattern": "("},
], ids=["prefixItems", "dynamicRef", "remote-ref", "missing-ref", "nested-id",
        "dependentRequired", "unevaluated", "multipleOf", "bad-pattern"])
def test_what_the_compiler_does_not_know_is_left_to_jsonschema(schema: dict[str, Any]) -> None:
    assert compile_schema(schema, _FORMAT_CHECKER) is None


def test_a_schema_left_to_jsonschema_still_gives_its_findings() -> None:
    schema = {"type": "object", "properties": {"apiVersion": {"const": "gitjit/v1"},
                                               "kind": {"const": "Grant"}},
              "dependentRequired": {"ticket": ["justification"]}}
    doc = Document("grants/p/bob-20261127T0912Z.yaml",
                   {"apiVersion": "gitjit/v1", "kind": "Grant", "ticket": "INC-1"},
                   {(): 1, ("apiVersion",): 1, ("kind",): 2, ("ticket",): 3})
    [finding] = validate(doc, frozenset({"Grant"}), {"Grant": schema})
    assert (finding.code, finding.line) == ("schema.invalid", 1)
    assert finding.message == "$: 'justification' is a dependency of 'ticket'"


def test_values_beyond_text_lists_and_mappings_are_left_to_jsonschema() -> None:
    # Loaded documents hold only text, lists and mappings; anything else is never accepted
    # on jsonschema's behalf where its finer rules (True is not 1) would matter.
    accepts = compile_schema({"enum": [1, "a"], "uniqueItems": True}, _FORMAT_CHECKER)
    assert accepts is not None
    assert accepts("a") is True
    assert accepts("b") is False
    assert accepts(True) is False
    assert accepts([1, True]) is False
