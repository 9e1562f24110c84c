"""JSON Schema validation of loaded documents (draft 2020-12, formats asserted, no remote refs).

Every scalar a gitjit file holds is a string (the strict loader never types values), so the
schemas type leaves as strings with patterns. A leaf definition may carry an
``errorMessage`` (the name ajv-errors uses): the tail of the sentence shown when a value does
not fit, e.g. "is not a duration; write a duration such as 30m, ...". Schemas without it still
work: the message then is jsonschema's own.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import referencing
import referencing.exceptions
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match, relevance

from engine.core.fastschema import Check, compile_schema, flat_metaschema
from engine.core.findings import Finding
from engine.core.strictyaml import Document, KeyPath

KINDS = ("Policy", "Groups", "Settings", "PolicyTest", "Grant", "Action")
API_VERSION = "gitjit/v1"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

SchemaSet = Mapping[str, Mapping[str, Any]]
"""The schema of each kind, by kind name."""

# Keywords that judge a single value: their failures get the definition's errorMessage.
_VALUE_KEYWORDS = frozenset(
    {"type", "pattern", "format", "enum", "const", "minLength", "maxLength"}
)
_TYPE_WORDS = {
    "string": "text",
    "object": "a mapping",
    "array": "a list",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "nothing",
}
_RFC3339 = re.compile(
    # Upper-case T and Z only, as engine.core.values.parse_timestamp accepts.
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})"
)


def schema_file(kind: str) -> str:
    """Where the schema of ``kind`` lives: schemas/policy.schema.json for Policy."""
    return f"schemas/{kind.lower()}.schema.json"


def _is_datetime(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _RFC3339.fullmatch(instance):
        return False
    try:
        # fromisoformat checks the calendar (no 30 February) and the offset's range.
        datetime.fromisoformat(instance.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _format_checker() -> FormatChecker:
    # jsonschema checks date-time only when rfc3339-validator happens to be installed and
    # silently passes everything otherwise; our own check makes the assertion unconditional.
    checker = FormatChecker(formats=())
    checker.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)
    checker.checks("date-time")(_is_datetime)
    return checker


_FORMAT_CHECKER = _format_checker()


def _validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    # An empty registry without a retrieve function: a $ref to anything outside the schema
    # itself (and the metaschemas jsonschema ships) fails instead of being fetched.
    return Draft202012Validator(
        schema, registry=referencing.Registry(), format_checker=_FORMAT_CHECKER
    )


_COMPILED: dict[int, tuple[Mapping[str, Any], Check | None]] = {}
_COMPILED_MAX = 64


def _accepts(schema: Mapping[str, Any]) -> Check | None:
    """The compiled check of ``schema`` (engine.core.fastschema), made once per schema object:
    a run validates thousands of documents against the same few schemas."""
    cached = _COMPILED.get(id(schema))
    # The entry keeps its schema alive, so the id cannot be reused while it is cached.
    if cached is not None and cached[0] is schema:
        return cached[1]
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    check = compile_schema(schema, _FORMAT_CHECKER)
    _COMPILED[id(schema)] = (schema, check)
    return check


def json_path(path: Iterable[str | int]) -> str:
    """$.approvals[0].count for ('approvals', 0, 'count')."""
    out = "$"
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            out += f".{key}"
        else:
            out += f"[{key!r}]"
    return out


_SHOWN_CHARS = 60


def _describe(instance: object) -> str:
    if isinstance(instance, str):
        # A finding quotes the value, not a whole pasted log.
        if len(instance) > _SHOWN_CHARS:
            return repr(instance[: _SHOWN_CHARS - 3] + "...")
        return repr(instance)
    if isinstance(instance, Mapping):
        return "a mapping"
    if isinstance(instance, list):
        return "a list"
    return repr(instance)


def _keys_text(schema: Mapping[str, Any]) -> str:
    keys = sorted(schema.get("properties", {}))
    patterns = sorted(schema.get("patternProperties", {}))
    parts = ", ".join(keys) if keys else "none"
    if patterns:
        parts += ", or keys matching " + " or ".join(patterns)
    return parts


def _extra_keys(error: ValidationError) -> list[str]:
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    props = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    return sorted(
        key
        for key in instance
        if key not in props and not any(re.search(p, key) for p in patterns)
    )


def _fitting_alternative(error: ValidationError) -> list[ValidationError] | None:
    """Under an anyOf / oneOf whose alternatives differ in type (one window or a list of
    windows), the errors of the one alternative of the value's own type, all of them: "found
    a mapping where a list is expected" would hide what is wrong inside the mapping."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return None
    by_alternative: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        by_alternative.setdefault(sub.relative_schema_path[0], []).append(sub)
    typed = [errors for errors in by_alternative.values()
             if not any(e.validator == "type" and not e.relative_path for e in errors)]
    return typed[0] if len(typed) == 1 else None


def _leaf_error(error: ValidationError) -> ValidationError:
    """The most telling error under an anyOf / oneOf, so the message names the real cause."""
    while error.context:
        error = best_match(error.context, key=relevance)
    return error


@dataclass(frozen=True)
class Problem:
    """One way a value does not fit its schema, before it is placed in a file."""

    path: KeyPath
    """Where, from the document's root (the prefix given, then the path inside the value)."""
    message: str
    """'$.target: unexpected key 'rle'; allowed keys: ...', naming the JSON path."""


class UnusableSchemaError(ValueError):
    """A schema refers to something outside itself, which gitjit never fetches."""


def _suggestion(key: str, schema: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, sorted(schema.get("properties", {})), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def _problems_for(error: ValidationError, prefix: KeyPath = (),
                  suggest: bool = False) -> list[Problem]:
    alternatives = error.validator_value if error.validator == "anyOf" else None
    if isinstance(alternatives, list) and alternatives and all(
            isinstance(a, Mapping) and set(a) == {"required"} for a in alternatives):
        # "one of these keys": each alternative alone would say only its own key is missing.
        where: KeyPath = (*prefix, *error.absolute_path)
        options = " or ".join(" and ".join(map(repr, a["required"])) for a in alternatives)
        return [Problem(where, f"{json_path(where)}: missing {options}")]
    fitting = _fitting_alternative(error)
    if fitting is not None:
        return [p for e in _without_shadowed(fitting)
                for p in _problems_for(e, prefix, suggest)]
    error = _leaf_error(error)
    path: KeyPath = (*prefix, *error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    keyword = error.validator
    hint = schema.get("errorMessage")

    def problem(where: KeyPath, message: str) -> Problem:
        return Problem(where, message)

    if keyword == "additionalProperties" and schema.get("additionalProperties") is False:
        return [
            problem(
                (*path, key),
                f"{json_path(path)}: unexpected key {key!r}; "
                f"{_suggestion(key, schema) if suggest else ''}"
                f"allowed keys: {_keys_text(schema)}",
            )
            for key in _extra_keys(error)
        ]
    if "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
        # jsonschema reports a bad key at its mapping's path; point at the key itself.
        name = error.instance
        tail = hint if isinstance(hint, str) else f"is not allowed: {error.message}"
        return [problem((*path, name), f"{json_path(path)}: key {name!r} {tail}")]
    if keyword == "required":
        # jsonschema reports each missing key as its own error, naming it first in the message.
        names = error.validator_value if isinstance(error.validator_value, list) else []
        missing = next((k for k in names if error.message.startswith(repr(k))), error.message)
        return [problem(path, f"{json_path(path)}: missing required key {missing!r}")]
    if keyword == "type":
        expected = schema.get("type")
        words = _TYPE_WORDS.get(expected, str(expected)) if isinstance(expected, str) else "?"
        message = f"{json_path(path)}: found {_describe(error.instance)} where {words} is expected"
        if isinstance(hint, str):
            message += f"; {hint.split('; ', 1)[-1]}"
        return [problem(path, message)]
    if keyword in _VALUE_KEYWORDS and isinstance(hint, str):
        return [problem(path, f"{json_path(path)}: {_describe(error.instance)} {hint}")]
    if keyword == "const":
        value = _describe(error.instance)
        return [problem(path, f"{json_path(path)}: {value} must be {error.validator_value!r}")]
    if keyword == "minItems" and error.validator_value == 1:
        return [problem(path, f"{json_path(path)}: the list must not be empty")]
    if keyword == "uniqueItems":
        return [problem(path, f"{json_path(path)}: the list holds an entry twice; keep one")]
    return [problem(path, f"{json_path(path)}: {error.message}")]


def _without_shadowed(errors: list[ValidationError]) -> list[ValidationError]:
    # A value of the wrong type also fails its pattern or enum: say only the first.
    mistyped = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    return [
        e
        for e in errors
        if e.validator == "type"
        or e.validator not in _VALUE_KEYWORDS
        or tuple(e.absolute_path) not in mistyped
    ]


def problems(instance: object, schema: Mapping[str, Any], prefix: KeyPath = (),
             suggest: bool = False) -> list[Problem]:
    """How ``instance`` does not fit ``schema`` (empty when it fits), each at its path.

    ``prefix`` is where the instance sits in its document, for the paths and messages;
    ``suggest`` adds "did you mean ...?" to unexpected keys that resemble an allowed one.
    UnusableSchemaError when the schema refers to anything outside itself."""
    try:
        errors = list(_validator(schema).iter_errors(instance))
    except referencing.exceptions.Unresolvable as exc:
        raise UnusableSchemaError(
            f"the schema refers to {exc.ref!r}, which is not inside it; gitjit never fetches "
            "remote schemas: inline the definition under $defs") from exc
    found = [p for e in _without_shadowed(errors) for p in _problems_for(e, prefix, suggest)]
    return sorted(set(found), key=lambda p: (json_path(p.path), p.message))


def _findings_for(doc: Document, error: ValidationError) -> list[Finding]:
    return [Finding(doc.path, doc.line(*p.path), "schema.invalid", p.message)
            for p in _problems_for(error, suggest=True)]


def _root_kind_findings(
    doc: Document, expected: frozenset[str], root: Mapping[str, Any]
) -> list[Finding]:
    api = root.get("apiVersion")
    if api != API_VERSION:
        found = "no apiVersion" if api is None else f"apiVersion {_describe(api)}"
        return [
            Finding(
                doc.path,
                doc.line("apiVersion"),
                "schema.api-version",
                f"found {found}; write 'apiVersion: {API_VERSION}' as the first line",
            )
        ]
    kind = root.get("kind")
    wanted = " or ".join(k for k in KINDS if k in expected) or "none"
    if kind is None:
        return [
            Finding(doc.path, doc.line(), "schema.kind", f"no kind; write 'kind: {wanted}'")
        ]
    if kind not in expected:
        what = "an unknown kind" if kind not in KINDS else "not allowed at this path"
        return [
            Finding(
                doc.path,
                doc.line("kind"),
                "schema.kind",
                f"kind {_describe(kind)} is {what}; a file here must be of kind {wanted}",
            )
        ]
    return []


def validate(doc: Document, expected: frozenset[str], schemas: SchemaSet) -> list[Finding]:
    """Check apiVersion, that ``kind`` is one of ``expected``, then the kind's schema.

    Returns findings with codes schema.api-version, schema.kind or schema.invalid, each
    at the line of the offending node and with a message naming the JSON path. A schema that
    cannot be used (missing, or with a $ref that cannot be resolved locally) gives
    schema.unavailable at the schema's file."""
    root = doc.data
    if not isinstance(root, Mapping):
        return [
            Finding(
                doc.path,
                1,
                "schema.invalid",
                f"$: found {_describe(root)}; the file must be a mapping with apiVersion and kind",
            )
        ]
    head = _root_kind_findings(doc, expected, root)
    if head:
        # The rest of the document means nothing without a known version and kind.
        return head
    kind = str(root["kind"])
    schema = schemas.get(kind)
    if schema is None:
        return [
            Finding(
                schema_file(kind),
                0,
                "schema.unavailable",
                f"no schema for kind {kind}; restore {schema_file(kind)}",
            )
        ]
    accepts = _accepts(schema)
    if accepts is not None and accepts(root):
        return []
    try:
        errors = list(_validator(schema).iter_errors(root))
    except referencing.exceptions.Unresolvable as exc:
        return [
            Finding(
                schema_file(kind),
                0,
                "schema.unavailable",
                f"the schema refers to {exc.ref!r}, which is not inside it; gitjit never "
                "fetches remote schemas: inline the definition under $defs",
            )
        ]
    findings = [f for error in _without_shadowed(errors) for f in _findings_for(doc, error)]
    return sorted(set(findings))


_META: list[Check | None] = []


def _meta_accepts() -> Check | None:
    """The metaschema, compiled once (engine.core.fastschema.flat_metaschema)."""
    if not _META:
        from jsonschema_specifications import REGISTRY  # type: ignore[import-untyped]

        resources = {uri: REGISTRY.contents(uri) for uri in REGISTRY}
        flat = flat_metaschema(Draft202012Validator.META_SCHEMA, resources)
        _META.append(None if flat is None else compile_schema(flat, _FORMAT_CHECKER))
    return _META[0]


def check_schemas(schemas: SchemaSet, kinds: Sequence[str] = KINDS) -> list[Finding]:
    """Each kind's schema exists, declares draft 2020-12 and is valid against its metaschema.

    Findings carry code schema.unavailable at the schema's file."""
    findings: list[Finding] = []
    meta = Draft202012Validator(
        Draft202012Validator.META_SCHEMA, format_checker=_FORMAT_CHECKER
    )
    accepts = _meta_accepts()
    for kind in kinds:
        where = schema_file(kind)
        schema = schemas.get(kind)
        if schema is None:
            message = f"no schema for kind {kind}; restore {where}"
            findings.append(Finding(where, 0, "schema.unavailable", message))
            continue
        if schema.get("$schema") != DRAFT:
            findings.append(
                Finding(
                    where,
                    0,
                    "schema.unavailable",
                    f"$schema is {schema.get('$schema')!r}; gitjit schemas must declare {DRAFT!r}",
                )
            )
        if accepts is not None and accepts(schema):
            continue
        findings.extend(
            Finding(
                where,
                0,
                "schema.unavailable",
                f"not a valid JSON Schema at {json_path(error.absolute_path)}: {error.message}",
            )
            for error in sorted(meta.iter_errors(schema), key=relevance)
        )
    return findings
