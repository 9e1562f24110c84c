"""The strict YAML loader: one rule per test, findings asserted whole."""

from __future__ import annotations

import time

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from engine.core.changes import Oversized
from engine.core.findings import Finding
from engine.core.strictyaml import Document, Limits, LoadError, Value, load

PATH = "grants/prod-db-admin/bob-20261127T0912Z.yaml"
FIX_SYNTAX = "; fix the syntax at this line"
NO_TAGS = "is not allowed; remove it, every value is plain text typed by the schema"
RAW_SUFFIX = "is not allowed; remove it (tab and newline are the only control characters allowed)"
ESCAPE_SUFFIX = ", probably written as an escape; remove it"


def finding(line: int, code: str, message: str) -> Finding:
    return Finding(path=PATH, line=line, code=code, message=message)


def load_text(text: str, limits: Limits | None = None) -> Document:
    return load(text.encode("utf-8"), PATH, limits or Limits())


def rejection(raw: bytes | str, limits: Limits | None = None) -> Finding:
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    with pytest.raises(LoadError) as info:
        load(data, PATH, limits or Limits())
    return info.value.finding


# --- what loads ---------------------------------------------------------------------------


def test_yaml11_scalars_stay_strings() -> None:
    text = (
        "a: no\nb: on\nc: 1:30\nd: 0755\ne: 2026-11-27\nf: ~\ng: null\nh: 1e3\n"
        "i: yes\nj: 0x1F\nk: .inf\nl: 12_000\nm: true\n"
    )
    assert load_text(text).data == {
        "a": "no",
        "b": "on",
        "c": "1:30",
        "d": "0755",
        "e": "2026-11-27",
        "f": "~",
        "g": "null",
        "h": "1e3",
        "i": "yes",
        "j": "0x1F",
        "k": ".inf",
        "l": "12_000",
        "m": "true",
    }


def test_yaml11_keys_stay_strings() -> None:
    assert load_text("no: 1\n1: 2\nnull: 3\n").data == {"no": "1", "1": "2", "null": "3"}


def test_empty_values_become_empty_strings() -> None:
    assert load_text("key:\nlist:\n  -\n  - x\nflow: {a: }\n").data == {
        "key": "",
        "list": ["", "x"],
        "flow": {"a": ""},
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 'it''s'\n", "it's"),
        ('a: "tab\\there\\nnext"\n', "tab\there\nnext"),
        ("a: |\n  one\n  two\n", "one\ntwo\n"),
        ("a: >\n  one\n  two\n", "one two\n"),
        ('a: "\\u00e9t\\u00e9"\n', "été"),
        ("a: été ✓\n", "été ✓"),
        ("a: 'x\tafter tab'\n", "x\tafter tab"),
    ],
    ids=[
        "single-quoted",
        "escaped-tab-newline",
        "literal",
        "folded",
        "unicode-escape",
        "utf8",
        "tab",
    ],
)
def test_quoted_and_block_scalars_keep_their_text(text: str, expected: str) -> None:
    assert load_text(text).data == {"a": expected}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("- a\n- b\n", ["a", "b"]), ("just text\n", "just text"), ("[]", []), ("{}", {})],
    ids=["list", "scalar", "empty-list", "empty-mapping"],
)
def test_root_may_be_any_value(text: str, expected: Value) -> None:
    assert load_text(text).data == expected


def test_crlf_line_ends_and_tabs_are_allowed() -> None:
    doc = load(b"a: 1\r\nb:\r\n  - 'x\ty'\r\n", PATH)
    assert doc.data == {"a": "1", "b": ["x\ty"]}
    assert doc.lines == {(): 1, ("a",): 1, ("b",): 2, ("b", 0): 3}


def test_every_node_has_its_line() -> None:
    text = (
        "apiVersion: gitjit/v1\n"  # 1
        "kind: Policy\n"  # 2
        "# a comment\n"  # 3
        "approvals:\n"  # 4
        "  - {from: [group:dba], count: 1}\n"  # 5
        "  - from:\n"  # 6
        "      - group:security\n"  # 7
        "    count: 1\n"  # 8
        "justification: >\n"  # 9
        "  folded text\n"  # 10
    )
    doc = load_text(text)
    assert doc == Document(
        path=PATH,
        data={
            "apiVersion": "gitjit/v1",
            "kind": "Policy",
            "approvals": [
                {"from": ["group:dba"], "count": "1"},
                {"from": ["group:security"], "count": "1"},
            ],
            "justification": "folded text\n",
        },
    )
    assert doc.lines == {
        (): 1,
        ("apiVersion",): 1,
        ("kind",): 2,
        ("approvals",): 4,
        ("approvals", 0): 5,
        ("approvals", 0, "from"): 5,
        ("approvals", 0, "from", 0): 5,
        ("approvals", 0, "count"): 5,
        ("approvals", 1): 6,
        ("approvals", 1, "from"): 6,
        ("approvals", 1, "from", 0): 7,
        ("approvals", 1, "count"): 8,
        ("justification",): 9,
    }
    assert doc.line("approvals", 1, "count") == 8
    assert doc.line("approvals", 1, "missing", 3) == 6
    assert doc.line("nothing") == 1


def test_load_error_renders_its_finding() -> None:
    with pytest.raises(LoadError) as info:
        load(b"duration: 1h\nx: 1\nduration: 2h\n", PATH)
    assert str(info.value) == (
        f"{PATH}:3: yaml.duplicate-key: duplicate key 'duration' (first at line 1); keep one"
    )


# --- keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a: 1\nb: 2\na: 3\n",
            finding(3, "yaml.duplicate-key", "duplicate key 'a' (first at line 1); keep one"),
        ),
        (
            "{a: 1, a: 2}",
            finding(1, "yaml.duplicate-key", "duplicate key 'a' (first at line 1); keep one"),
        ),
        (
            "a: 1\n'a': 2\n",
            finding(2, "yaml.duplicate-key", "duplicate key 'a' (first at line 1); keep one"),
        ),
        (
            "top:\n  x:\n    d: 1\n    e: 2\n    d: 3\n",
            finding(5, "yaml.duplicate-key", "duplicate key 'd' (first at line 3); keep one"),
        ),
        (
            "- duration: 1h\n  duration: 2h\n",
            finding(
                2, "yaml.duplicate-key", "duplicate key 'duration' (first at line 1); keep one"
            ),
        ),
        (
            "k" * 100 + ": 1\n" + "k" * 100 + ": 2\n",
            finding(
                2,
                "yaml.duplicate-key",
                f"duplicate key '{'k' * 57}...' (first at line 1); keep one",
            ),
        ),
    ],
    ids=["block", "flow", "quoted-and-plain", "nested", "in-list", "long-key-shortened"],
)
def test_duplicate_keys_are_rejected(text: str, expected: Finding) -> None:
    assert rejection(text) == expected


def test_same_key_in_different_mappings_is_fine() -> None:
    assert load_text("a: {x: 1}\nb: {x: 2}\n").data == {"a": {"x": "1"}, "b": {"x": "2"}}


MERGE = "merge key '<<' is not allowed; write the merged keys out in full"


@pytest.mark.parametrize(
    ("text", "line"),
    [("<<: {a: 1}\nb: 2\n", 1), ("a:\n  b: 1\n  <<: {c: 2}\n", 3), ("'<<': x\n", 1)],
    ids=["top", "nested", "quoted"],
)
def test_merge_keys_are_rejected(text: str, line: int) -> None:
    assert rejection(text) == finding(line, "yaml.merge-key", MERGE)


COMPLEX = "a key must be plain text, not a list or a mapping; use a plain text key"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("? [a, b]\n: 1\n", finding(1, "yaml.complex-key", COMPLEX)),
        ("{[a]: 1}", finding(1, "yaml.complex-key", COMPLEX)),
        ("x: 1\n? {a: b}\n: c\n", finding(2, "yaml.complex-key", COMPLEX)),
        (
            "a: 1\n'': 2\n",
            finding(2, "yaml.complex-key", "a key is empty; write a name before the ':'"),
        ),
        (
            "? \n: x\n",
            finding(1, "yaml.complex-key", "a key is empty; write a name before the ':'"),
        ),
    ],
    ids=["list-key", "flow-list-key", "mapping-key", "empty-quoted-key", "null-key"],
)
def test_non_scalar_and_empty_keys_are_rejected(text: str, expected: Finding) -> None:
    assert rejection(text) == expected


# --- anchors, aliases, tags ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a: &x 1\n",
            finding(
                1,
                "yaml.anchor",
                "anchor '&x' is not allowed; remove it and write values out in full",
            ),
        ),
        (
            "a: 1\nb: &big\n  c: 2\n",
            finding(
                2,
                "yaml.anchor",
                "anchor '&big' is not allowed; remove it and write values out in full",
            ),
        ),
        (
            "&root [a]\n",
            finding(
                1,
                "yaml.anchor",
                "anchor '&root' is not allowed; remove it and write values out in full",
            ),
        ),
        (
            "a: 1\nb: *x\n",
            finding(2, "yaml.anchor", "alias '*x' is not allowed; write the value out in full"),
        ),
    ],
    ids=["scalar-anchor", "mapping-anchor", "root-anchor", "alias"],
)
def test_anchors_and_aliases_are_rejected(text: str, expected: Finding) -> None:
    assert rejection(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: !!int 5\n", finding(1, "yaml.tag", f"tag '!!int' {NO_TAGS}")),
        ("a: 1\nb: !foo x\n", finding(2, "yaml.tag", f"tag '!foo' {NO_TAGS}")),
        ("!!str x\n", finding(1, "yaml.tag", f"tag '!!str' {NO_TAGS}")),
        ("a: ! x\n", finding(1, "yaml.tag", f"tag '!' {NO_TAGS}")),
        ("a: !!seq [x]\n", finding(1, "yaml.tag", f"tag '!!seq' {NO_TAGS}")),
        ("a: !!map {x: y}\n", finding(1, "yaml.tag", f"tag '!!map' {NO_TAGS}")),
        ("a: !!binary aGk=\n", finding(1, "yaml.tag", f"tag '!!binary' {NO_TAGS}")),
        (
            "a: !<tag:example.com,2026:x> y\n",
            finding(1, "yaml.tag", f"tag 'tag:example.com,2026:x' {NO_TAGS}"),
        ),
        (
            "a: !foo!bar x\n",
            finding(
                1,
                "yaml.tag",
                "tags are not allowed (found an undefined tag handle); remove the '!tag', "
                "every value is plain text typed by the schema",
            ),
        ),
        (
            "%TAG !e! tag:example.com,2026:\n---\na: 1\n",
            finding(
                1,
                "yaml.tag",
                "%TAG directives are not allowed; remove the directive, every value is plain "
                "text typed by the schema",
            ),
        ),
    ],
    ids=[
        "int",
        "local",
        "str",
        "non-specific",
        "seq",
        "map",
        "binary",
        "verbatim",
        "undefined-handle",
        "tag-directive",
    ],
)
def test_tags_are_rejected(text: str, expected: Finding) -> None:
    assert rejection(text) == expected


# --- documents -----------------------------------------------------------------------------

SECOND = (
    "a second YAML document starts here (the first starts at line {first}); keep exactly one "
    "document per file and remove the '---' separator"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\n---\nb: 2\n", finding(2, "yaml.multiple-documents", SECOND.format(first=1))),
        ("---\na: 1\n---\n", finding(3, "yaml.multiple-documents", SECOND.format(first=1))),
        (
            "# c\na: 1\n...\n---\nb: 2\n",
            finding(4, "yaml.multiple-documents", SECOND.format(first=2)),
        ),
    ],
    ids=["separator", "trailing-empty-document", "after-end-marker"],
)
def test_more_than_one_document_is_rejected(text: str, expected: Finding) -> None:
    assert rejection(text) == expected


def test_one_explicit_document_is_fine() -> None:
    assert load_text("---\na: 1\n...\n").data == {"a": "1"}


EMPTY = "file holds no YAML document; write one mapping with apiVersion and kind"
EMPTY_CONTENT = "file holds no YAML content; write one mapping with apiVersion and kind"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", EMPTY),
        ("\n\n", EMPTY),
        ("# only a comment\n# another\n", EMPTY),
        ("---\n", EMPTY_CONTENT),
        ("--- # c\n...\n", EMPTY_CONTENT),
    ],
    ids=["empty", "blank-lines", "comments", "bare-separator", "empty-explicit-document"],
)
def test_a_file_without_content_is_empty(text: str, message: str) -> None:
    assert rejection(text) == finding(0, "yaml.empty", message)


def test_an_explicit_empty_string_is_content() -> None:
    assert load_text("''\n").data == ""


# --- caps ----------------------------------------------------------------------------------

TOO_DEEP = "nesting is deeper than 32 levels; flatten the document"
DEEP = 10_000


@pytest.mark.parametrize(
    "text",
    ["[" * DEEP + "]" * DEEP, "{a: " * DEEP + "}" * DEEP, "- " * DEEP + "x\n", "[" * DEEP],
    ids=["flow-lists", "flow-mappings", "block-lists", "unclosed-flow"],
)
def test_ten_thousand_levels_are_too_deep_and_cheap(text: str) -> None:
    started = time.perf_counter()
    assert rejection(text) == finding(1, "yaml.too-deep", TOO_DEEP)
    # Generous: the loader stops at level 33, so this takes milliseconds, not seconds.
    assert time.perf_counter() - started < 2


def test_block_mapping_depth_is_capped_at_the_line_that_crosses_it() -> None:
    text = "".join(" " * level + "k:\n" for level in range(40))
    assert rejection(text) == finding(33, "yaml.too-deep", TOO_DEEP)


def test_nesting_up_to_the_cap_is_fine() -> None:
    data = load_text("[" * 32 + "x" + "]" * 32).data
    for _ in range(32):
        assert isinstance(data, list)
        data = data[0]
    assert data == "x"


def test_depth_cap_is_configurable() -> None:
    assert rejection("a:\n  b: c\n", Limits(max_depth=1)) == finding(
        2, "yaml.too-deep", "nesting is deeper than 1 levels; flatten the document"
    )


def too_many(limit: int) -> str:
    return (
        f"the document holds more than {limit} values; shrink it or split long lists into "
        "several files"
    )


def test_too_many_nodes_are_rejected() -> None:
    # The list itself is one node, so 10,000 items make 10,001 nodes.
    assert rejection("[" + "a," * 10_000 + "]") == finding(
        1, "yaml.too-many-nodes", too_many(10_000)
    )
    assert len(load_text("[" + "a," * 9_999 + "]").data) == 9_999


def test_node_cap_counts_keys_and_stops_at_the_crossing_line() -> None:
    assert rejection("a: 1\nb: 2\n", Limits(max_nodes=3)) == finding(
        2, "yaml.too-many-nodes", too_many(3)
    )


def test_a_five_megabyte_file_is_too_large_before_anything_else() -> None:
    # Invalid UTF-8 and a forbidden byte: the size cap must win without decoding.
    raw = b"\xff\x07" * (5 * 1024 * 1024 // 2)
    started = time.perf_counter()
    assert rejection(raw) == finding(
        0,
        "yaml.too-large",
        "file is 5242880 bytes, over the cap of 65536 bytes; trim it (a grant needs only a few "
        "lines)",
    )
    assert time.perf_counter() - started < 1


def test_a_file_exactly_at_the_byte_cap_loads() -> None:
    text = "a: " + "x" * 97
    assert len(text) == 100
    assert load_text(text, Limits(max_bytes=100)).data == {"a": "x" * 97}
    assert rejection(text + "\n", Limits(max_bytes=100)).code == "yaml.too-large"


# --- encoding and characters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            b"\xef\xbb\xbfa: 1\n",
            "file starts with a UTF-8 byte order mark; save it as UTF-8 without BOM",
        ),
        (
            "a: 1\n".encode("utf-16"),
            "file starts with a UTF-16 byte order mark; save it as UTF-8 (not UTF-16) without BOM",
        ),
        (
            "a: 1\n".encode("utf-32"),
            "file starts with a UTF-32 byte order mark; save it as UTF-8 (not UTF-32) without BOM",
        ),
    ],
    ids=["utf-8", "utf-16", "utf-32"],
)
def test_byte_order_marks_are_rejected(raw: bytes, message: str) -> None:
    assert rejection(raw) == finding(1, "yaml.bom", message)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b"a: 1\nb: \xff\n",
            finding(
                2,
                "yaml.encoding",
                "byte 0xff at offset 8 is not valid UTF-8; save the file as UTF-8",
            ),
        ),
        (
            b"a: caf\xe9\n",
            finding(
                1,
                "yaml.encoding",
                "byte 0xe9 at offset 6 is not valid UTF-8; save the file as UTF-8",
            ),
        ),
        (
            b"a: 1\n\nb: \xc0\xaf\n",
            finding(
                3,
                "yaml.encoding",
                "byte 0xc0 at offset 9 is not valid UTF-8; save the file as UTF-8",
            ),
        ),
        (
            b"a: \xed\xa0\x80\n",
            finding(
                1,
                "yaml.encoding",
                "byte 0xed at offset 3 is not valid UTF-8; save the file as UTF-8",
            ),
        ),
        (
            b"a: \xe2\x82\n",
            finding(
                1,
                "yaml.encoding",
                "byte 0xe2 at offset 3 is not valid UTF-8; save the file as UTF-8",
            ),
        ),
    ],
    ids=["stray-byte", "latin-1", "overlong", "encoded-surrogate", "truncated"],
)
def test_invalid_utf8_is_rejected_at_its_line(raw: bytes, expected: Finding) -> None:
    assert rejection(raw) == expected


FORBIDDEN_RAW = [
    ("\x00", "control character U+0000"),
    ("\x07", "control character U+0007"),
    ("\x0b", "control character U+000B"),
    ("\x0c", "control character U+000C"),
    ("\x1b", "control character U+001B"),
    ("\x7f", "control character U+007F"),
    ("\x85", "line separator U+0085"),
    ("\x9b", "control character U+009B"),
    ("\u061c", "bidirectional formatting character U+061C (ARABIC LETTER MARK)"),
    ("\u200e", "bidirectional formatting character U+200E (LEFT-TO-RIGHT MARK)"),
    ("\u200f", "bidirectional formatting character U+200F (RIGHT-TO-LEFT MARK)"),
    ("\u202a", "bidirectional formatting character U+202A (LEFT-TO-RIGHT EMBEDDING)"),
    ("\u202b", "bidirectional formatting character U+202B (RIGHT-TO-LEFT EMBEDDING)"),
    ("\u202c", "bidirectional formatting character U+202C (POP DIRECTIONAL FORMATTING)"),
    ("\u202d", "bidirectional formatting character U+202D (LEFT-TO-RIGHT OVERRIDE)"),
    ("\u202e", "bidirectional formatting character U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("\u2066", "bidirectional formatting character U+2066 (LEFT-TO-RIGHT ISOLATE)"),
    ("\u2067", "bidirectional formatting character U+2067 (RIGHT-TO-LEFT ISOLATE)"),
    ("\u2068", "bidirectional formatting character U+2068 (FIRST STRONG ISOLATE)"),
    ("\u2069", "bidirectional formatting character U+2069 (POP DIRECTIONAL ISOLATE)"),
    ("\u2028", "line separator U+2028"),
    ("\u2029", "line separator U+2029"),
    ("\ufffe", "non-character U+FFFE"),
    ("\r", "control character U+000D"),
]


@pytest.mark.parametrize(
    ("char", "described"), FORBIDDEN_RAW, ids=[repr(c) for c, _ in FORBIDDEN_RAW]
)
def test_raw_control_and_bidi_characters_are_rejected(char: str, described: str) -> None:
    text = f"a: 1\nb: 2\nc: x{char}y\n"
    assert rejection(text) == finding(
        3, "yaml.forbidden-character", f"{described} in column 5 {RAW_SUFFIX}"
    )


def test_forbidden_characters_in_comments_are_rejected_too() -> None:
    assert rejection("a: 1  # admin\u202e \n") == finding(
        1,
        "yaml.forbidden-character",
        f"bidirectional formatting character U+202E (RIGHT-TO-LEFT OVERRIDE) in column 14 "
        f"{RAW_SUFFIX}",
    )


ESCAPES = [
    ("\\e", "control character U+001B"),
    ("\\x07", "control character U+0007"),
    ("\\0", "control character U+0000"),
    ("\\r", "control character U+000D"),
    ("\\N", "line separator U+0085"),
    ("\\L", "line separator U+2028"),
    ("\\u202e", "bidirectional formatting character U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("\\u2066", "bidirectional formatting character U+2066 (LEFT-TO-RIGHT ISOLATE)"),
    ("\\ud800", "lone surrogate U+D800"),
    ("\\uffff", "non-character U+FFFF"),
]


@pytest.mark.parametrize(("escape", "described"), ESCAPES, ids=[e for e, _ in ESCAPES])
def test_escaped_control_and_bidi_characters_in_values_are_rejected(
    escape: str, described: str
) -> None:
    text = f'a: 1\nlist:\n  - fine\n  - "x{escape}y"\n'
    assert rejection(text) == finding(
        4, "yaml.forbidden-character", f"the value contains {described}{ESCAPE_SUFFIX}"
    )


@pytest.mark.parametrize(("escape", "described"), ESCAPES, ids=[e for e, _ in ESCAPES])
def test_escaped_control_and_bidi_characters_in_keys_are_rejected(
    escape: str, described: str
) -> None:
    text = f'a: 1\n"k{escape}": 2\n'
    assert rejection(text) == finding(
        2, "yaml.forbidden-character", f"a key contains {described}{ESCAPE_SUFFIX}"
    )


# --- syntax --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a: b: c\n",
            finding(
                1, "yaml.syntax", f"invalid YAML: mapping values are not allowed here{FIX_SYNTAX}"
            ),
        ),
        (
            "a:\n  b: 1\n c: 2\n",
            finding(
                3,
                "yaml.syntax",
                "invalid YAML: expected <block end>, but found '<block mapping start>' "
                f"(while parsing a block mapping at line 1){FIX_SYNTAX}",
            ),
        ),
        (
            "a: [1, 2\nb: 3\n",
            finding(
                2,
                "yaml.syntax",
                "invalid YAML: expected ',' or ']', but got ':' "
                f"(while parsing a flow sequence at line 1){FIX_SYNTAX}",
            ),
        ),
        (
            "a: 1\nb: 'open\n",
            finding(
                3,
                "yaml.syntax",
                "invalid YAML: found unexpected end of stream "
                f"(while scanning a quoted scalar at line 2){FIX_SYNTAX}",
            ),
        ),
        (
            "a:\n\t- x\n",
            finding(
                2,
                "yaml.syntax",
                f"invalid YAML: found character '\\t' that cannot start any token{FIX_SYNTAX}",
            ),
        ),
        (
            'a: "\\q"\n',
            finding(
                1,
                "yaml.syntax",
                "invalid YAML: found unknown escape character 'q' "
                f"(while scanning a double-quoted scalar at line 1){FIX_SYNTAX}",
            ),
        ),
    ],
    ids=[
        "mapping-in-value",
        "bad-indent",
        "unclosed-flow",
        "unclosed-quote",
        "tab-indent",
        "bad-escape",
    ],
)
def test_syntax_errors_name_the_problem_line(text: str, expected: Finding) -> None:
    assert rejection(text) == expected


# --- properties ----------------------------------------------------------------------------

BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
SAFE_CHARS = st.characters(
    codec="utf-8",
    exclude_categories=("Cc", "Cs"),
    include_characters="\t\n",
    exclude_characters=BIDI + "\u2028\u2029\ufffe\uffff",
)
SAFE_TEXT = st.text(SAFE_CHARS, max_size=20)
SAFE_KEYS = st.text(SAFE_CHARS, min_size=1, max_size=12).filter(lambda key: key != "<<")
SAFE_VALUES = st.one_of(SAFE_TEXT, st.lists(SAFE_TEXT, max_size=4))


@given(
    data=st.dictionaries(SAFE_KEYS, SAFE_VALUES, min_size=1, max_size=6),
    flow=st.booleans(),
    allow_unicode=st.booleans(),
)
def test_dumped_strings_load_back_exactly(
    data: dict[str, str | list[str]], flow: bool, allow_unicode: bool
) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=allow_unicode)
    assert load_text(text).data == data


def _load_or_reject(raw: bytes) -> None:
    try:
        doc = load(raw, PATH)
    except LoadError as exc:
        assert exc.finding.path == PATH
        assert exc.finding.line >= 0
        return
    assert isinstance(doc.data, str | list | dict)
    assert doc.lines[()] >= 1


@given(st.binary(max_size=300))
def test_arbitrary_bytes_load_or_raise_load_error(raw: bytes) -> None:
    _load_or_reject(raw)


@given(st.text())
def test_arbitrary_text_loads_or_raises_load_error(text: str) -> None:
    _load_or_reject(text.encode("utf-8"))


@given(st.text(alphabet="[]{}:,-?!&*|>'\"#%@`~ \n\t\\ab01.", max_size=200))
def test_arbitrary_yaml_punctuation_loads_or_raises_load_error(text: str) -> None:
    _load_or_reject(text.encode("utf-8"))


def test_the_start_of_an_oversized_file_is_never_parsed_as_the_whole_file() -> None:
    """A reader capped at 10 bytes kept 11; a loader with a larger cap still refuses it."""
    start = Oversized(b"policy: a\nx", 5_000)
    assert rejection(start, Limits(max_bytes=1000)) == finding(
        0, "yaml.too-large", "file is 5000 bytes, over the cap of 10 bytes; trim it (a grant "
        "needs only a few lines)")
