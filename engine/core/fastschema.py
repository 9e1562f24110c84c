"""A schema compiled once into plain Python checks: the fast "is it valid?" of validation.

jsonschema walks the schema for every document it validates (about 0.1 ms for a grant), which
made schema validation a third of ``gitjit check``. Nearly every file is valid, so
engine.core.schema asks this compiled form first and runs jsonschema only for a document it
does not accept, to name the errors. A document it accepts must be one jsonschema accepts
(the tests compare both on generated documents). Each compiled check answers exactly as
jsonschema would for the values a gitjit document holds (text, lists, mappings); meeting any
other value it gives up (``_Unsure``), and the document is "not accepted", which costs time,
not correctness.

It compiles the keywords gitjit's schemas use, with jsonschema's own meaning (draft 2020-12,
formats asserted through the same FormatChecker). A schema that uses any other keyword
jsonschema knows, a ``$ref`` that is not a pointer inside the schema, or a nested ``$id``
does not compile at all (``compile_schema`` returns None): it is validated by jsonschema
alone, as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft202012Validator, FormatChecker

Check = Callable[[Any], bool]


class _Unsupported(Exception):
    """The schema uses something this compiler does not: jsonschema alone validates it."""


class _Unsure(Exception):
    """A value outside text, lists and mappings where the answer would depend on jsonschema's
    finer rules (1 == 1.0, True is not 1): jsonschema decides."""


# Keywords that only annotate, and the ones compiled below; every other keyword jsonschema
# knows makes the schema uncompilable. Keywords jsonschema does not know it ignores, and so
# does this compiler (e.g. errorMessage).
_COMPILED = frozenset({
    "$ref", "type", "properties", "required", "additionalProperties", "patternProperties",
    "propertyNames", "items", "minItems", "maxItems", "uniqueItems", "minLength", "maxLength",
    "pattern", "format", "enum", "const", "allOf", "anyOf", "oneOf", "not", "if",
    "minProperties", "maxProperties", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum",
})
_KNOWN = frozenset(Draft202012Validator.VALIDATORS) | {"then", "else", "$id", "$anchor",
                                                       "$dynamicAnchor", "$vocabulary"}


def _is_integer(instance: Any) -> bool:
    if isinstance(instance, bool):
        return False
    return isinstance(instance, int) or isinstance(instance, float) and instance.is_integer()


# Draft 2020-12's type checker, as jsonschema defines it.
_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda i: isinstance(i, str),
    "array": lambda i: isinstance(i, list),
    "object": lambda i: isinstance(i, dict),
    "null": lambda i: i is None,
    "boolean": lambda i: isinstance(i, bool),
    "integer": _is_integer,
    "number": lambda i: isinstance(i, int | float) and not isinstance(i, bool),
}


def _all_of(checks: list[Check]) -> Check:
    """One check for several, with no generator on the way (this runs for every node)."""
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda instance: first(instance) and second(instance)

    def check(instance: Any) -> bool:
        for one in checks:
            if not one(instance):
                return False
        return True
    return check


def _key(value: Any) -> Any:
    """A hashable stand-in for a document value: equal for values jsonschema finds equal."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ("list", tuple(_key(item) for item in value))
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return ("map", frozenset((k, _key(v)) for k, v in value.items()))
    raise _Unsure


def _never(_instance: Any) -> bool:
    return False


def _always(_instance: Any) -> bool:
    return True


class _Compiler:
    def __init__(self, root: Mapping[str, Any], formats: FormatChecker) -> None:
        self.root = root
        self.formats = formats
        # By pointer, so a recursive $ref compiles once and calls itself through the table.
        self.refs: dict[str, Check] = {}
        self.compiling: set[str] = set()

    def compile(self, schema: Any, top: bool = False) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, Mapping):
            raise _Unsupported
        keys = set(schema) & _KNOWN
        if keys - _COMPILED - {"then", "else"} - ({"$id"} if top else set()):
            raise _Unsupported
        checks = [self._keyword(name, schema[name], schema) for name in sorted(keys)
                  if name in _COMPILED]
        return _all_of([c for c in checks if c is not _always])

    def _keyword(self, name: str, value: Any, schema: Mapping[str, Any]) -> Check:
        method: Callable[[Any, Mapping[str, Any]], Check] = getattr(
            self, "_k_" + name.lstrip("$"))
        return method(value, schema)

    def _k_ref(self, ref: Any, _schema: Mapping[str, Any]) -> Check:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise _Unsupported
        if ref not in self.refs:
            if ref in self.compiling:
                table = self.refs
                return lambda instance: table[ref](instance)
            self.compiling.add(ref)
            self.refs[ref] = self.compile(self._resolve(ref))
            self.compiling.discard(ref)
        return self.refs[ref]

    def _resolve(self, ref: str) -> Any:
        target: Any = self.root
        pointer = unquote(ref[1:])
        if not pointer:
            return target
        if not pointer.startswith("/"):
            raise _Unsupported  # an anchor name
        for part in pointer[1:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(target, Mapping) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                raise _Unsupported
        return target

    def _k_type(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not all(n in _TYPES for n in names):
            raise _Unsupported
        tests = [_TYPES[n] for n in names]
        if len(tests) == 1:
            return tests[0]
        return lambda instance: any(test(instance) for test in tests)

    def _k_properties(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        if not isinstance(value, Mapping):
            raise _Unsupported
        props = [(key, self.compile(sub)) for key, sub in value.items()]
        props = [(key, check) for key, check in props if check is not _always]

        def check(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return True
            for key, sub in props:
                if key in instance and not sub(instance[key]):
                    return False
            return True
        return check

    def _k_required(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _Unsupported
        names = tuple(value)
        return lambda instance: not isinstance(instance, dict) or all(
            name in instance for name in names)

    def _k_additionalProperties(self, value: Any, schema: Mapping[str, Any]) -> Check:
        known = frozenset(schema.get("properties", {}))
        # jsonschema joins the patterns into one alternation; so does this.
        joined = "|".join(schema.get("patternProperties", {}))
        matcher = re.compile(joined).search if joined else None
        sub = self.compile(value)

        def check(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return True
            for key in instance:
                if key in known or matcher is not None and matcher(key):
                    continue
                if not sub(instance[key]):
                    return False
            return True
        return check

    def _k_patternProperties(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        if not isinstance(value, Mapping):
            raise _Unsupported
        pairs = [(re.compile(pattern).search, self.compile(sub)) for pattern, sub in value.items()]

        def check(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return True
            for search, sub in pairs:
                for key, item in instance.items():
                    if search(key) and not sub(item):
                        return False
            return True
        return check

    def _k_propertyNames(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        sub = self.compile(value)
        return lambda instance: not isinstance(instance, dict) or all(
            sub(key) for key in instance)

    def _k_items(self, value: Any, schema: Mapping[str, Any]) -> Check:
        if "prefixItems" in schema:
            raise _Unsupported
        sub = self.compile(value)
        return lambda instance: not isinstance(instance, list) or all(
            sub(item) for item in instance)

    def _count(self, value: Any, kind: type[str] | type[list[Any]] | type[dict[str, Any]],
               compare: Callable[[int, int], bool]) -> Check:
        if type(value) is not int:
            raise _Unsupported
        return lambda instance: not isinstance(instance, kind) or compare(len(instance), value)

    def _k_minItems(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        return self._count(value, list, int.__ge__)

    def _k_maxItems(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        return self._count(value, list, int.__le__)

    def _k_minLength(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        return self._count(value, str, int.__ge__)

    def _k_maxLength(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        return self._count(value, str, int.__le__)

    def _k_minProperties(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        return self._count(value, dict, int.__ge__)

    def _k_maxProperties(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        return self._count(value, dict, int.__le__)

    def _bound(self, value: Any, compare: Callable[[Any, Any], bool]) -> Check:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Unsupported
        is_number = _TYPES["number"]
        return lambda instance: not is_number(instance) or compare(instance, value)

    def _k_minimum(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        return self._bound(value, lambda a, b: a >= b)

    def _k_maximum(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        return self._bound(value, lambda a, b: a <= b)

    def _k_exclusiveMinimum(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        return self._bound(value, lambda a, b: a > b)

    def _k_exclusiveMaximum(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        return self._bound(value, lambda a, b: a < b)

    def _k_uniqueItems(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        if value is False:
            return _always
        if value is not True:
            raise _Unsupported

        def check(instance: Any) -> bool:
            if not isinstance(instance, list):
                return True
            return len({_key(item) for item in instance}) == len(instance)
        return check

    def _k_pattern(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        if not isinstance(value, str):
            raise _Unsupported
        search = re.compile(value).search
        return lambda instance: not isinstance(instance, str) or search(instance) is not None

    def _k_format(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        if not isinstance(value, str):
            raise _Unsupported
        conforms = self.formats.conforms
        return lambda instance: conforms(instance, value)

    def _members(self, values: Any) -> Check:
        if not isinstance(values, list):
            raise _Unsupported
        texts = frozenset(v for v in values if isinstance(v, str))
        others = [v for v in values if not isinstance(v, str)]

        def check(instance: Any) -> bool:
            if isinstance(instance, str):
                return instance in texts  # jsonschema compares text with == alone
            key = _key(instance)
            for member in others:
                # A member holding numbers or booleans never equals a value that holds none.
                with suppress(_Unsure):
                    if _key(member) == key:
                        return True
            return False
        return check

    def _k_enum(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        return self._members(value)

    def _k_const(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        return self._members([value])

    def _subs(self, value: Any) -> list[Check]:
        if not isinstance(value, list) or not value:
            raise _Unsupported
        return [self.compile(sub) for sub in value]

    def _k_allOf(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        return _all_of(self._subs(value))

    def _k_anyOf(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        subs = self._subs(value)
        return lambda instance: any(sub(instance) for sub in subs)

    def _k_oneOf(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        subs = self._subs(value)
        return lambda instance: sum(1 for sub in subs if sub(instance)) == 1

    def _k_not(self, value: Any, _schema: Mapping[str, Any]) -> Check:
        sub = self.compile(value)
        return lambda instance: not sub(instance)

    def _k_if(self, value: Any, schema: Mapping[str, Any]) -> Check:
        condition = self.compile(value)
        then = self.compile(schema.get("then", True))
        otherwise = self.compile(schema.get("else", True))
        return lambda instance: then(instance) if condition(instance) else otherwise(instance)


def compile_schema(schema: Mapping[str, Any], formats: FormatChecker) -> Check | None:
    """``schema`` as one check (True: valid, as jsonschema would say; False: not valid, or a
    value beyond this compiler), or None when the schema uses something this compiler leaves
    to jsonschema."""
    try:
        check = _Compiler(schema, formats).compile(schema, top=True)
    except (_Unsupported, re.error, RecursionError):
        return None

    def accepts(instance: Any) -> bool:
        try:
            return check(instance)
        except (_Unsure, RecursionError):
            return False
    return accepts


_RESOURCE_KEYWORDS = ("$id", "$schema", "$vocabulary", "$dynamicAnchor")


def flat_metaschema(root: Mapping[str, Any], resources: Mapping[str, Mapping[str, Any]]
                    ) -> dict[str, Any] | None:
    """Draft 2020-12's metaschema as one document this compiler takes, or None.

    The metaschema is split over vocabulary documents (``meta/core`` ...) tied together with
    ``$dynamicRef: "#meta"``. Validating a schema that does not extend the metaschema, every
    such reference lands on the top document, so here each vocabulary is inlined under
    ``$defs`` and each ``$dynamicRef: "#meta"`` becomes ``$ref: "#"``. ``resources`` maps the
    vocabularies' URIs to their documents (jsonschema_specifications.REGISTRY)."""
    top_id = root.get("$id")
    if not isinstance(top_id, str) or "/" not in top_id:
        return None
    base = top_id.rsplit("/", 1)[0] + "/"
    names: dict[str, str] = {}

    def target(ref: str, own: str) -> str:
        where, _hash, pointer = ref.partition("#")
        if not where:
            prefix = f"#/$defs/{names[own]}" if own else "#"
            return prefix + pointer if pointer else prefix
        if where not in names:
            raise _Unsupported
        return f"#/$defs/{names[where]}{pointer}"

    def rewrite(node: Any, own: str, resource_root: bool) -> Any:
        if isinstance(node, list):
            return [rewrite(item, own, False) for item in node]
        if not isinstance(node, Mapping):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if resource_root and key in _RESOURCE_KEYWORDS:
                continue
            if key == "$dynamicRef" and isinstance(value, str):
                if value != "#meta":
                    raise _Unsupported
                out["$ref"] = "#"
            elif key == "$ref" and isinstance(value, str):
                out["$ref"] = target(value, own)
            else:
                out[key] = rewrite(value, own, False)
        return out

    try:
        for item in root.get("allOf", []):
            ref = item.get("$ref") if isinstance(item, Mapping) else None
            if not isinstance(ref, str) or "#" in ref or base + ref not in resources:
                return None
            names[ref] = ref.rsplit("/", 1)[-1]
        if len(set(names.values())) != len(names) or "$defs" in root:
            return None
        flat: dict[str, Any] = rewrite(root, "", True)
        flat["$defs"] = {names[ref]: rewrite(resources[base + ref], ref, True)
                         for ref in names}
    except _Unsupported:
        return None
    return flat
