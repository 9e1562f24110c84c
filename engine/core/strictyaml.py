"""The one strict YAML loader for every gitjit file (DESIGN.md section 4, "Input hardening").

The checks run cheapest first, so hostile input costs little: the byte cap before decoding,
the encoding and forbidden characters before parsing, and the structural caps (depth, node
count) while streaming parser events, aborting at the first event that crosses a cap. PyYAML's
event parser is a state machine (no recursion), so even 10,000 levels of nesting cannot reach
Python's recursion limit. Only a document that passed every structural check is built into a
value tree, by our own iterative builder: PyYAML's constructors and implicit resolvers never
run, so every scalar stays the string that was written.

Parsing in pure Python is most of the cost, so each file is read first with libyaml (PyYAML's
C extension) under the same rules; only a file that the fast path declines (any violation,
any doubt) goes through the pure-Python parser, which alone decides what is wrong and where.
See "the fast path" below.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import yaml

from engine.core.changes import Oversized
from engine.core.findings import Finding
from engine.errors import GitjitError

_CParser: Any
try:
    from yaml._yaml import CParser as _CParser
except ImportError:  # PyYAML built without libyaml: every file takes the pure-Python path
    _CParser = None

Value: TypeAlias = str | list["Value"] | dict[str, "Value"]
"""Every scalar stays a string; the schema and the code give it a type."""
KeyPath = tuple[str | int, ...]


GRANT_ADVICE = "a grant needs only a few lines"


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 64 * 1024
    advice: str = GRANT_ADVICE
    """How to get under ``max_bytes``, for the file kind these limits are for."""
    max_depth: int = 32
    """How many collections (mappings and lists) may be nested in each other."""
    max_nodes: int = 10_000
    """How many values (scalars, keys included, lists and mappings) a document may hold."""


@dataclass(frozen=True)
class Document:
    path: str
    """Repository-relative path, for findings."""
    data: Value
    lines: Mapping[KeyPath, int] = field(default_factory=dict, compare=False)
    """1-based line of every node, keyed by its path from the root (root is ()).

    A mapping entry's line is its key's line, so a finding about ``duration`` points at the
    ``duration:`` line even when the value starts on the next one."""

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


_BOMS = (
    (b"\xef\xbb\xbf", "UTF-8"),
    # UTF-32 before UTF-16: the UTF-32-LE mark starts with the UTF-16-LE one.
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
)

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# U+2028, U+2029 and U+0085 (a C1 control) are line breaks to YAML 1.1 but not to editors or
# to GitHub's diff view, so a reviewer would not see the structure the parser sees. U+FFFE and
# U+FFFF are not characters; PyYAML's reader would reject them without a line number.
_RAW_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + _BIDI + "\u2028\u2029\ufffe\uffff]|\r(?!\n)"
)
# Parsed values never legitimately hold a carriage return (YAML folds raw line breaks into
# "\n"), so one there came from an escape; lone surrogates come from escapes such as
# "\ud800" and would break any later UTF-8 encoding of the value.
_VALUE_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f" + _BIDI + "\u2028\u2029\ud800-\udfff\ufffe\uffff]"
)

_Fail = Callable[[int, str, str], LoadError]
"""``load``'s ``fail``: the finding at a line, as an exception to raise."""

_CORE_TAG_PREFIX = "tag:yaml.org,2002:"
_SHOWN_CHARS = 60


class _StrictLoader(yaml.SafeLoader):
    """Only its scanner and parser run; no resolver may ever type a scalar."""

    yaml_implicit_resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = {}


def load(raw: bytes, path: str, limits: Limits = Limits(), *, libyaml: bool = True) -> Document:
    """Parse exactly one YAML document under the strict rules, or raise LoadError.

    ``libyaml=False``: PyYAML's pure-Python parser alone, the reference that the libyaml fast
    path (``_load_libyaml``) must agree with."""

    def fail(line: int, code: str, message: str) -> LoadError:
        return LoadError(Finding(path=path, line=line, code=code, message=message))

    if len(raw) > limits.max_bytes or isinstance(raw, Oversized):
        # An Oversized start is never parsed as if it were the whole file, even where the
        # reader's cap (its length - 1) was lower than this one.
        size = raw.size if isinstance(raw, Oversized) else len(raw)
        cap = min(limits.max_bytes, len(raw) - 1) if isinstance(raw, Oversized) \
            else limits.max_bytes
        raise fail(
            0,
            "yaml.too-large",
            f"file is {size} bytes, over the cap of {cap} bytes; trim it ({limits.advice})",
        )
    text = _decode(raw, fail)
    match = _RAW_FORBIDDEN.search(text)
    if match:
        start = match.start()
        line = text.count("\n", 0, start) + 1
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        raise fail(
            line,
            "yaml.forbidden-character",
            f"{_describe(text[start])} in column {column} is not allowed; remove it "
            "(tab and newline are the only control characters allowed)",
        )
    fast = _load_libyaml(raw, path, limits) if libyaml else None
    if fast is not None:
        return fast
    events = _scan(text, limits, fail)
    return _build(events, path, fail)


def _decode(raw: bytes, fail: _Fail) -> str:
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            how = "without BOM" if encoding == "UTF-8" else f"(not {encoding}) without BOM"
            raise fail(
                1,
                "yaml.bom",
                f"file starts with a {encoding} byte order mark; save it as UTF-8 {how}",
            )
    try:
        return raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise fail(
            line,
            "yaml.encoding",
            f"byte 0x{raw[exc.start]:02x} at offset {exc.start} is not valid UTF-8; "
            "save the file as UTF-8",
        ) from None


def _scan(text: str, limits: Limits, fail: _Fail) -> list[yaml.Event]:
    """The events of the only document, after the structural checks; stops at the first
    violation so the parser never reads further than it must."""
    events: list[yaml.Event] = []
    documents = 0
    first_document_line = 0
    depth = 0
    nodes = 0
    try:
        for event in yaml.parse(text, Loader=_StrictLoader):
            line = _line(event)
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise fail(
                        line,
                        "yaml.multiple-documents",
                        f"a second YAML document starts here (the first starts at line "
                        f"{first_document_line}); keep exactly one document per file and "
                        "remove the '---' separator",
                    )
                first_document_line = line
                if event.tags:
                    raise fail(
                        line,
                        "yaml.tag",
                        "%TAG directives are not allowed; remove the directive, every value "
                        "is plain text typed by the schema",
                    )
            elif isinstance(event, yaml.AliasEvent):
                raise fail(
                    line,
                    "yaml.anchor",
                    f"alias '*{event.anchor}' is not allowed; write the value out in full",
                )
            elif isinstance(event, yaml.NodeEvent):
                if event.anchor is not None:
                    raise fail(
                        line,
                        "yaml.anchor",
                        f"anchor '&{event.anchor}' is not allowed; remove it and write "
                        "values out in full",
                    )
                tag = getattr(event, "tag", None)
                if tag is not None:
                    raise fail(
                        line,
                        "yaml.tag",
                        f"tag '{_show_tag(tag)}' is not allowed; remove it, every value is "
                        "plain text typed by the schema",
                    )
                nodes += 1
                if nodes > limits.max_nodes:
                    raise fail(
                        line,
                        "yaml.too-many-nodes",
                        f"the document holds more than {limits.max_nodes} values; shrink it "
                        "or split long lists into several files",
                    )
                if isinstance(event, yaml.CollectionStartEvent):
                    depth += 1
                    if depth > limits.max_depth:
                        raise fail(
                            line,
                            "yaml.too-deep",
                            f"nesting is deeper than {limits.max_depth} levels; flatten "
                            "the document",
                        )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(event, (yaml.NodeEvent, yaml.CollectionEndEvent)):
                events.append(event)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, fail) from None
    except yaml.YAMLError as exc:
        # Unmarked errors come from PyYAML's reader, which the character checks above
        # should make unreachable; still a finding, never a traceback.
        raise fail(0, "yaml.syntax", f"invalid YAML: {exc}; fix the file") from None
    except RecursionError:
        raise fail(
            0,
            "yaml.too-deep",
            f"nesting is deeper than {limits.max_depth} levels; flatten the document",
        ) from None
    if documents == 0:
        raise fail(
            0,
            "yaml.empty",
            "file holds no YAML document; write one mapping with apiVersion and kind",
        )
    return events


def _line(event: yaml.Event) -> int:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 0


def _syntax_error(exc: yaml.MarkedYAMLError, fail: _Fail) -> LoadError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 0
    problem = exc.problem or exc.context or "invalid YAML"
    if problem.startswith("found undefined tag handle"):
        return fail(
            line,
            "yaml.tag",
            "tags are not allowed (found an undefined tag handle); remove the '!tag', "
            "every value is plain text typed by the schema",
        )
    context = ""
    if exc.context and exc.problem and exc.context_mark is not None:
        context = f" ({exc.context} at line {exc.context_mark.line + 1})"
    return fail(
        line, "yaml.syntax", f"invalid YAML: {problem}{context}; fix the syntax at this line"
    )


@dataclass
class _Frame:
    """An open collection while building: where it sits and, for a mapping, its keys."""

    container: list[Value] | dict[str, Value]
    path: KeyPath
    key: str | None = None
    key_line: int = 0
    key_lines: dict[str, int] = field(default_factory=dict)


def _build(events: list[yaml.Event], path: str, fail: _Fail) -> Document:
    # The depth cap already bounds the stack; building iteratively keeps it off Python's.
    lines: dict[KeyPath, int] = {}
    stack: list[_Frame] = []
    root: Value | None = None

    if (
        len(events) == 1
        and isinstance(events[0], yaml.ScalarEvent)
        and events[0].style is None
        and events[0].value == ""
    ):
        # A bare '---' (comments aside): no content, only an implicit null.
        raise fail(
            0,
            "yaml.empty",
            "file holds no YAML content; write one mapping with apiVersion and kind",
        )

    for event in events:
        line = _line(event)
        if isinstance(event, yaml.CollectionEndEvent):
            stack.pop()
            continue
        value: Value
        if isinstance(event, yaml.ScalarEvent):
            value = event.value
        elif isinstance(event, yaml.SequenceStartEvent):
            value = []
        elif isinstance(event, yaml.MappingStartEvent):
            value = {}
        else:  # pragma: no cover - _scan passes only node and end events
            continue

        top = stack[-1] if stack else None
        if isinstance(top, _Frame) and isinstance(top.container, dict) and top.key is None:
            _take_key(top, value, line, fail)
            continue
        if isinstance(value, str):
            _check_text(value, line, "the value", fail)
        node_path: KeyPath
        if top is None:
            node_path = ()
            root = value
            lines[node_path] = line
        elif isinstance(top.container, list):
            node_path = (*top.path, len(top.container))
            top.container.append(value)
            lines[node_path] = line
        else:
            assert top.key is not None
            node_path = (*top.path, top.key)
            top.container[top.key] = value
            lines[node_path] = top.key_line
            top.key = None
        if not isinstance(value, str):
            stack.append(_Frame(container=value, path=node_path))

    assert root is not None, "_scan returns the events of exactly one document"
    return Document(path=path, data=root, lines=lines)


def _take_key(frame: _Frame, key: Value, line: int, fail: _Fail) -> None:
    if not isinstance(key, str):
        raise fail(
            line,
            "yaml.complex-key",
            "a key must be plain text, not a list or a mapping; use a plain text key",
        )
    # The key itself is not shown: it holds the very character that must not be shown.
    _check_text(key, line, "a key", fail)
    if key == "":
        raise fail(line, "yaml.complex-key", "a key is empty; write a name before the ':'")
    if key == "<<":
        raise fail(
            line,
            "yaml.merge-key",
            "merge key '<<' is not allowed; write the merged keys out in full",
        )
    first = frame.key_lines.get(key)
    if first is not None:
        raise fail(
            line,
            "yaml.duplicate-key",
            f"duplicate key '{_shorten(key)}' (first at line {first}); keep one",
        )
    frame.key_lines[key] = line
    frame.key = key
    frame.key_line = line


def _check_text(text: str, line: int, what: str, fail: _Fail) -> None:
    match = _VALUE_FORBIDDEN.search(text)
    if match:
        raise fail(
            line,
            "yaml.forbidden-character",
            f"{what} contains {_describe(match.group())}, probably written as an escape; remove it",
        )


def _describe(char: str) -> str:
    code = f"U+{ord(char):04X}"
    if char in "\u2028\u2029\x85":
        return f"line separator {code}"
    if "\ud800" <= char <= "\udfff":
        return f"lone surrogate {code}"
    if char in "\ufffe\uffff":
        return f"non-character {code}"
    if unicodedata.category(char) == "Cc":
        return f"control character {code}"
    return f"bidirectional formatting character {code} ({unicodedata.name(char, 'unnamed')})"


def _show_tag(tag: str) -> str:
    if tag.startswith(_CORE_TAG_PREFIX):
        return "!!" + tag[len(_CORE_TAG_PREFIX) :]
    return tag


def _shorten(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


# --- the fast path: libyaml's own events -------------------------------------------------------
#
# The rules above run on PyYAML's pure-Python parser, whose messages and marks the findings
# quote. Parsing is most of the loader's cost, so a file is first read with libyaml's parser
# (PyYAML's C extension) under the same rules, each enforced as a plain refusal. Only a file
# that passes every rule there is accepted from it; anything else (a violation, a syntax
# error, a directive, a document the fast path is unsure about) is loaded again on the
# pure-Python path above, which produces the finding, its code and its line. The fast path
# can therefore only accept: it never decides a rejection, and it accepts only what the
# pure-Python path accepts with the same values and lines (tests/core/test_strictyaml.py
# checks both on generated documents).

if _CParser is not None:
    _SCALAR = yaml.ScalarEvent
    _MAPPING_START = yaml.MappingStartEvent
    _SEQUENCE_START = yaml.SequenceStartEvent
    _END = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    _DOCUMENT_START = yaml.DocumentStartEvent
    _DOCUMENT_END = yaml.DocumentEndEvent
    _STREAM_END = yaml.StreamEndEvent
_NO_KEY = object()
# libyaml accepts a comment right after a block scalar's indicators ('|#', '>-#'); PyYAML's
# scanner wants a space before it and refuses the file.
_BLOCK_HEADER_COMMENT = re.compile(rb"[|>][-+0-9]*#")
_value_forbidden = _VALUE_FORBIDDEN.search


def _load_libyaml(raw: bytes, path: str, limits: Limits = Limits()) -> Document | None:
    """The document as libyaml reads it when every rule holds; None to let the pure-Python
    path decide. Only for ``load``, after ``raw`` has passed the byte cap, the encoding and
    the character checks, which the value checks below rely on; on its own it is only the
    fast path's half of the answer."""
    if _CParser is None or b"\t" in raw:
        # Tabs: libyaml accepts them in places PyYAML's scanner refuses (inside and around
        # plain scalars); files with a tab are rare enough to take the pure-Python path.
        return None
    parser = _CParser(raw)
    try:
        return _fast_events(parser, raw, path, limits)
    except yaml.YAMLError:
        return None
    finally:
        parser.dispose()


def _fast_events(parser: Any, raw: bytes, path: str, limits: Limits) -> Document | None:
    get = parser.get_event
    get()  # StreamStartEvent
    start = get()
    # No directives at all (%YAML included): what they mean is the pure-Python path's to say.
    if type(start) is not _DOCUMENT_START or start.version is not None or start.tags:
        return None
    max_nodes, max_depth = limits.max_nodes, limits.max_depth
    nodes = 0
    lines: dict[KeyPath, int] = {}
    # One frame per open collection: [container, its path, pending key, key line, is flow].
    stack: list[list[Any]] = []
    root: Value | None = None
    block = False
    flow = 0  # how many of the open collections are flow ones ([...], {...})
    while True:
        event = get()
        kind = type(event)
        if kind is _DOCUMENT_END:
            break
        if kind in _END:
            flow -= stack.pop()[4]
            continue
        if event.anchor is not None or kind is not _SCALAR and kind is not _MAPPING_START \
                and kind is not _SEQUENCE_START:
            return None  # an alias, an anchor, or an event a document cannot hold here
        if event.tag is not None:
            return None
        nodes += 1
        if nodes > max_nodes:
            return None
        line = event.start_mark.line + 1
        value: Value
        if kind is _SCALAR:
            text: str = event.value
            value = text
            style = event.style
            # Only an escape can put a forbidden character into a value: every other style
            # holds the raw text, which load checked, with line breaks folded to '\n'.
            if style == '"' and _value_forbidden(text):
                return None
            if style == "|" or style == ">":
                block = True
            elif flow and not style and "?" in text:
                # PyYAML ends a plain scalar at '?' inside [...] and {...}; libyaml does not.
                return None
        elif len(stack) >= max_depth:
            return None
        else:
            value = {} if kind is _MAPPING_START else []
        if not stack:
            if root is not None:
                return None
            root = value
            node_path: KeyPath = ()
            lines[node_path] = line
        else:
            top = stack[-1]
            container = top[0]
            if type(container) is list:
                node_path = (*top[1], len(container))
                container.append(value)
                lines[node_path] = line
            elif top[2] is _NO_KEY:
                # A key: plain text, not empty, not '<<', not seen before in this mapping.
                if type(value) is not str or not value or value == "<<" or value in container:
                    return None
                top[2] = value
                top[3] = line
                continue
            else:
                key = top[2]
                node_path = (*top[1], key)
                container[key] = value
                lines[node_path] = top[3]
                top[2] = _NO_KEY
        if type(value) is not str:
            is_flow = 1 if event.flow_style else 0
            flow += is_flow
            stack.append([value, node_path, _NO_KEY, 0, is_flow])
    if type(get()) is not _STREAM_END or root is None:
        return None
    if block and _BLOCK_HEADER_COMMENT.search(raw):
        return None
    if type(root) is str and root == "":
        return None  # maybe a bare '---': the pure-Python path tells it from ''
    return Document(path=path, data=root, lines=lines)
