"""The strict loader's libyaml fast path agrees with the pure-Python parser.

``load`` reads a file with libyaml first and falls back to PyYAML's pure-Python parser for
anything the fast path declines; the pure-Python parser alone decides every rejection. So the
one property that matters: whatever the fast path accepts, the pure-Python path accepts with
the same values and the same lines. tests/core/test_strictyaml.py checks every rule through
``load`` (fast path first); this file checks the agreement, on generated documents and on
the places where libyaml is known to be more lenient than PyYAML.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.findings import Finding
from engine.core.strictyaml import Document, Limits, LoadError, _load_libyaml, load

PATH = "grants/prod-db-admin/bob-20261127T0912Z.yaml"
PROJECT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not yaml.__with_libyaml__,
                                reason="PyYAML without libyaml has no fast path to compare")


def outcome(raw: bytes, *, libyaml: bool) -> Document | Finding:
    try:
        return load(raw, PATH, libyaml=libyaml)
    except LoadError as exc:
        return exc.finding


def assert_agrees(raw: bytes) -> None:
    """The fast path accepts only what the reference accepts, with the same values and lines,
    and ``load`` gives exactly the reference's answer either way."""
    reference = outcome(raw, libyaml=False)
    # _load_libyaml runs only on bytes that passed the size, encoding and character checks.
    fast = None if _raw_rejected(reference) else _load_libyaml(raw, PATH)
    if fast is not None:
        assert isinstance(reference, Document), (raw, reference)
        assert (fast.data, dict(fast.lines)) == (reference.data, dict(reference.lines))
    loaded = outcome(raw, libyaml=True)
    if isinstance(reference, Document):
        assert isinstance(loaded, Document)
        assert (loaded.data, dict(loaded.lines)) == (reference.data, dict(reference.lines))
    else:
        assert loaded == reference


def _raw_rejected(result: Document | Finding) -> bool:
    if not isinstance(result, Finding):
        return False
    return result.code in {"yaml.too-large", "yaml.bom", "yaml.encoding"} or (
        result.code == "yaml.forbidden-character" and " in column " in result.message)


# Texts where libyaml reads a document that PyYAML's scanner refuses: the fast path must
# decline each, so that load gives PyYAML's finding.
LENIENT = [
    "a: x\ty\n",
    "a:\n  - x\n\t- y\n",
    "a: |#comment\n  x\n",
    "a: >-#c\n  x\n",
    "[a?]\n",
    "{a: b?\n}\n",
    "{a\n?}\n",
    "1@x: |#|\n #[{\n",
]


@pytest.mark.parametrize("text", LENIENT)
def test_where_libyaml_is_lenient_the_fast_path_declines(text: str) -> None:
    raw = text.encode("utf-8")
    assert _load_libyaml(raw, PATH) is None
    assert outcome(raw, libyaml=True) == outcome(raw, libyaml=False)
    assert isinstance(outcome(raw, libyaml=True), Finding)


@pytest.mark.parametrize("path", sorted(
    str(p.relative_to(PROJECT)) for pattern in ("policies/*.yaml", "grants/*/*.yaml")
    for p in PROJECT.glob(pattern)))
def test_the_projects_own_files_take_the_fast_path(path: str) -> None:
    # The speed of 'gitjit check' rests on ordinary files never needing the slow path.
    raw = (PROJECT / path).read_bytes()
    fast = _load_libyaml(raw, path, Limits(max_bytes=512 * 1024))
    assert fast is not None
    reference = load(raw, path, Limits(max_bytes=512 * 1024), libyaml=False)
    assert (fast.data, dict(fast.lines)) == (reference.data, dict(reference.lines))


def test_every_rule_is_declined_by_the_fast_path() -> None:
    # One violation of each rule: the fast path never answers, the reference does.
    for text in ["a: &x 1\n", "a: *x\n", "a: !!str x\n", "a: ! x\n", "a: 1\na: 2\n",
                 "<<: {a: 1}\n", "? [a]\n: 1\n", "'': x\n", 'a: "\\e"\n', "a: 1\n---\nb: 2\n",
                 "---\n", "%YAML 1.1\n---\na: 1\n", "[" * 40 + "]" * 40]:
        assert _load_libyaml(text.encode("utf-8"), PATH) is None, text
    assert _load_libyaml(b"[a, b, c]", PATH, Limits(max_nodes=3)) is None


YAMLISH = st.lists(st.sampled_from(
    list("[]{}:,-?!&*|>'\"#%@`~ \n\t\\ab01.é")
    + ["\n  ", "\n- ", ": ", "- ", "|\n", ">\n", "|-\n", "|+\n", "|2\n", "\n    ", "---\n",
       "...\n", " #", "\\n", "\\u00e9", "\r\n", "x: ", "  y: "]), max_size=40).map("".join)


@settings(max_examples=800, deadline=None)
@given(YAMLISH)
def test_generated_text_gets_the_same_answer_on_both_paths(text: str) -> None:
    assert_agrees(text.encode("utf-8"))


TEXTS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
VALUES = st.recursive(TEXTS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(TEXTS, inner, max_size=4), max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(data=VALUES, flow=st.sampled_from([None, True, False]),
       style=st.sampled_from([None, None, "'", '"', "|", ">"]), width=st.sampled_from([20, 80]),
       unicode=st.booleans(), crlf=st.booleans(),
       edit=st.tuples(st.integers(min_value=0), st.sampled_from(
           ["", "", "[", "]", "{", "}", ":", ",", "-", "?", "!", "&", "*", "|", ">", "'", '"',
            "#", " ", "\n", "\t", "\n  ", ": ", "- ", "---\n", "\\n"])))
def test_dumped_and_edited_documents_get_the_same_answer_on_both_paths(
        data: object, flow: bool | None, style: str | None, width: int, unicode: bool,
        crlf: bool, edit: tuple[int, str]) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, default_style=style, width=width,
                          allow_unicode=unicode)
    at, insert = edit
    at %= len(text) + 1
    text = text[:at] + insert + text[at:]
    if crlf:
        text = text.replace("\n", "\r\n")
    assert_agrees(text.encode("utf-8", "surrogatepass"))
