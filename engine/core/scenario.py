"""Scenarios for ``gitjit simulate``: a loaded document turned into steps, and expectations
checked against what each step did.

Pure: the command loads the file (engine.core.strictyaml, so scenarios get the same hardening
and file:line findings as every other gitjit file), runs the steps for real, and hands each
step's ``Result`` back here to be checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

from engine.core import values
from engine.core.findings import Finding
from engine.core.schema import API_VERSION, SchemaSet, validate
from engine.core.strictyaml import Document, KeyPath

KIND = "Scenario"

ACTIONS = ("request", "action", "review", "push", "merge", "advance", "activate", "reconcile",
           "relinquish", "revoke")
JUDGED = frozenset({"request", "action", "review", "push", "merge", "relinquish", "revoke"})
"""Steps whose result carries gitjit's verdict on a pull request."""
MERGING = frozenset({"merge", "relinquish", "revoke"})
"""Steps that try to merge a pull request."""
_VERDICT_KEYS = ("verdict", "missing", "findings")


@dataclass(frozen=True)
class Request:
    login: str
    policy: str
    duration: str
    """As written: the grant file carries it verbatim, and the engine judges it."""
    justification: str
    ticket: str | None = None
    start: str | None = None
    extends: str | None = None
    break_glass: bool = False


@dataclass(frozen=True)
class RequestAction:
    """An action request: a runbook with its parameters, or free-form SQL."""

    login: str
    policy: str
    justification: str
    runbook: str | None = None
    params: tuple[tuple[str, str], ...] = ()
    sql: str | None = None
    ticket: str | None = None


@dataclass(frozen=True)
class Review:
    login: str
    state: str
    """approve, request-changes, comment or dismiss."""
    pr: int | None = None
    """None: the pull request opened last."""
    bot: bool = False


@dataclass(frozen=True)
class Push:
    login: str
    pr: int | None = None


@dataclass(frozen=True)
class Merge:
    login: str
    pr: int | None = None
    admin: bool = False


@dataclass(frozen=True)
class Advance:
    by: timedelta
    text: str


@dataclass(frozen=True)
class Activate:
    pass


@dataclass(frozen=True)
class Reconcile:
    pass


@dataclass(frozen=True)
class Relinquish:
    login: str
    grant: str


@dataclass(frozen=True)
class Revoke:
    login: str
    grant: str
    approvers: tuple[str, ...]


Action: TypeAlias = (Request | RequestAction | Review | Push | Merge | Advance | Activate
                     | Reconcile | Relinquish | Revoke)


@dataclass(frozen=True)
class Expect:
    """What must hold after a step; None means 'not checked'."""

    verdict: str | None = None
    missing: tuple[int, ...] | None = None
    findings: tuple[str, ...] | None = None
    merged: bool | None = None
    active: tuple[str, ...] | None = None
    ledger: tuple[str, ...] | None = None
    removed: tuple[str, ...] | None = None

    def keys(self) -> list[str]:
        return [name for name in EXPECT_KEYS if getattr(self, name) is not None]


EXPECT_KEYS = ("verdict", "missing", "findings", "merged", "active", "ledger", "removed")


@dataclass(frozen=True)
class Step:
    number: int
    """1-based, as the timeline shows it."""
    name: str
    """The action's key: request, review, ..."""
    action: Action
    line: int
    expect: Expect = Expect()


@dataclass(frozen=True)
class Scenario:
    path: str
    description: str
    start: datetime
    """UTC."""
    steps: tuple[Step, ...]
    repository: str | None = None
    """As written: a path relative to the scenario file."""


@dataclass(frozen=True)
class Result:
    """What a step did, as far as expectations can see."""

    verdict: str | None = None
    missing: tuple[int, ...] = ()
    findings: tuple[str, ...] = ()
    merged: bool | None = None
    active: tuple[str, ...] = ()
    """What the recording target holds after the step."""
    ledger: tuple[str, ...] = ()
    """'EVENT GRANT-ID' of each record the step appended."""
    removed: tuple[str, ...] = ()
    """Grant ids whose files left the default branch during the step."""
    failures: tuple[str, ...] = field(default=())
    """What the engine reported as failed (activate, reconcile): a step with any fails."""


@dataclass(frozen=True)
class Check:
    key: str
    expected: str
    actual: str
    ok: bool

    def render(self) -> str:
        if self.ok:
            return f"ok: {self.key} {self.expected}"
        return f"FAILED: expected {self.key} {self.expected}, got {self.actual}"


# -- parsing ---------------------------------------------------------------------------------

_Fail = Callable[[KeyPath, str, str], None]


def parse(doc: Document, schemas: SchemaSet) -> tuple[Scenario | None, list[Finding]]:
    """The scenario in ``doc``, or None and findings at the offending lines."""
    root = doc.data
    if isinstance(root, Mapping) and root.get("apiVersion") == API_VERSION \
            and root.get("kind") != KIND:
        # schema.validate words kind findings for the repository's kinds; a scenario is not
        # one of them, so say it here.
        kind = root.get("kind")
        found = "no kind" if kind is None else f"kind {kind!r}"
        return None, [Finding(doc.path, doc.line("kind"), "schema.kind",
                              f"found {found}; a scenario file has 'kind: {KIND}'")]
    findings = validate(doc, frozenset({KIND}), schemas)
    if findings:
        return None, findings
    assert isinstance(root, dict)
    data: dict[str, Any] = root
    problems: list[Finding] = []

    def fail(keys: KeyPath, code: str, message: str) -> None:
        problems.append(Finding(doc.path, doc.line(*keys), code, message))

    start = _timestamp(data["start"])
    steps = [
        step for index, raw in enumerate(data["steps"])
        if (step := _step(index, raw, doc, fail)) is not None
    ]
    if problems:
        return None, sorted(problems)
    assert start is not None  # the schema's date-time format already checked it
    return Scenario(doc.path, data["description"], start, tuple(steps),
                    data.get("repository")), []



def _step(index: int, raw: dict[str, Any], doc: Document, fail: _Fail) -> Step | None:
    where = ("steps", index)
    named = [key for key in ACTIONS if key in raw]
    if len(named) != 1:
        found = ", ".join(named) if named else "only expect"
        fail(where, "schema.invalid",
             f"$.steps[{index}]: a step has exactly one action ({', '.join(ACTIONS)}); "
             f"found {found}")
        return None
    name = named[0]
    body = raw[name]
    action: Action
    if name == "request":
        action = Request(body["as"], body["policy"], body["duration"], body["justification"],
                         body.get("ticket"), body.get("start"), body.get("extends"),
                         body.get("break_glass") == "true")
    elif name == "action":
        action = RequestAction(body["as"], body["policy"], body["justification"],
                               body.get("runbook"), tuple(body.get("params", {}).items()),
                               body.get("sql"), body.get("ticket"))
    elif name == "review":
        action = Review(body["as"], body["state"], _number(body.get("pr")),
                        body.get("bot") == "true")
    elif name == "push":
        action = Push(body["as"], _number(body.get("pr")))
    elif name == "merge":
        action = Merge(body["as"], _number(body.get("pr")), body.get("admin") == "true")
    elif name == "advance":
        try:
            action = Advance(values.parse_duration(body), body)
        except ValueError as exc:
            fail((*where, name), "value.duration", f"$.steps[{index}].advance: {exc}")
            return None
    elif name == "activate":
        action = Activate()
    elif name == "reconcile":
        action = Reconcile()
    elif name == "relinquish":
        action = Relinquish(body["as"], body["grant"])
    else:
        action = Revoke(body["as"], body["grant"], tuple(body["approvers"]))
    expect = _expect(raw.get("expect", {}))
    wrong = [key for key in expect.keys()
             if (key in _VERDICT_KEYS and name not in JUDGED)
             or (key == "merged" and name not in MERGING)]
    for key in wrong:
        applies = sorted(JUDGED if key in _VERDICT_KEYS else MERGING)
        fail((*where, "expect", key), "schema.invalid",
             f"$.steps[{index}].expect.{key}: {_article(name)} {name} step has no {key}; it "
             "applies to "
             f"{', '.join(applies)} steps")
    if wrong:
        return None
    return Step(index + 1, name, action, doc.line(*where), expect)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _expect(raw: Mapping[str, Any]) -> Expect:
    def strings(key: str) -> tuple[str, ...] | None:
        value = raw.get(key)
        return None if value is None else tuple(value)

    missing = raw.get("missing")
    merged = raw.get("merged")
    return Expect(
        verdict=raw.get("verdict"),
        missing=None if missing is None else tuple(sorted(int(m) for m in missing)),
        findings=strings("findings"),
        merged=None if merged is None else merged == "true",
        active=strings("active"),
        ledger=strings("ledger"),
        removed=strings("removed"),
    )


def _number(text: str | None) -> int | None:
    return None if text is None else int(text)


def _timestamp(text: str) -> datetime | None:
    try:
        return values.parse_timestamp(text).astimezone(UTC)
    except ValueError:
        return None


# -- checking --------------------------------------------------------------------------------


def check(expect: Expect, result: Result) -> list[Check]:
    """Each expectation against the result, in EXPECT_KEYS order.

    ``findings`` must be among the verdict's codes (others may appear too), as in policy
    tests; every other key must match exactly (lists of grants as sets, the ledger in order).
    """
    checks: list[Check] = []
    if expect.verdict is not None:
        actual = result.verdict or "no verdict"
        checks.append(Check("verdict", expect.verdict, actual, actual == expect.verdict))
    if expect.missing is not None:
        checks.append(Check("missing", _list(expect.missing), _list(result.missing),
                            sorted(expect.missing) == sorted(result.missing)))
    if expect.findings is not None:
        absent = [code for code in expect.findings if code not in result.findings]
        checks.append(Check("findings", _list(expect.findings), _list(result.findings),
                            not absent))
    if expect.merged is not None:
        actual_merged = "true" if result.merged else "false"
        checks.append(Check("merged", "true" if expect.merged else "false", actual_merged,
                            bool(result.merged) == expect.merged))
    if expect.active is not None:
        checks.append(Check("active", _list(sorted(expect.active)), _list(sorted(result.active)),
                            set(expect.active) == set(result.active)))
    if expect.ledger is not None:
        checks.append(Check("ledger", _list(expect.ledger), _list(result.ledger),
                            list(expect.ledger) == list(result.ledger)))
    if expect.removed is not None:
        checks.append(Check("removed", _list(sorted(expect.removed)),
                            _list(sorted(result.removed)),
                            set(expect.removed) == set(result.removed)))
    return checks


def _list(items: Sequence[object]) -> str:
    return "[" + ", ".join(str(item) for item in items) + "]"
