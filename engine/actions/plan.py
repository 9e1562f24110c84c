"""Rendering an action request into its plan: exactly what will run, or why it cannot.

Pure. A runbook's values are checked against their declared types and bound: in SQL as
parameters ($1 .. $n, sent apart from the statement text), in argv as whole arguments of a
program that never passes through a shell. Free-form SQL is judged statement by statement
by PostgreSQL's parser against the policy's ``sql`` rules.
"""

from __future__ import annotations

import re

from engine.actions import sql
from engine.actions.model import (
    ActionRequest,
    ActionRules,
    Param,
    ParamType,
    Plan,
    Runbook,
    SqlRules,
    Statement,
    StatementClass,
)
from engine.actions.policy import ARGV_PLACEHOLDER
from engine.core.findings import Finding
from engine.core.models import Policy, Settings

_INTEGER = re.compile(r"-?[0-9]{1,18}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def build_plan(request: ActionRequest, policy: Policy,
               settings: Settings) -> tuple[Plan | None, list[Finding]]:
    """The plan of ``request`` under ``policy``, or None and every reason it cannot run."""
    findings: list[Finding] = []

    def deny(key: str, code: str, message: str) -> None:
        findings.append(Finding(request.path, request.lines.get(key, 0), code, message))

    rules = policy.actions
    if rules is None:
        deny("policy", "action.not-allowed", f"policy {policy.id!r} approves no actions (it "
             f"has no 'actions' section); ask for a policy that does ({policy.path})")
        return None, findings
    statements: tuple[Statement, ...] = ()
    argv: tuple[str, ...] = ()
    max_rows: int | None
    if request.runbook is not None:
        runbook = rules.runbooks.get(request.runbook)
        if runbook is None:
            known = ", ".join(sorted(rules.runbooks)) or "none"
            deny("runbook", "action.unknown-runbook", f"policy {policy.id!r} has no runbook "
                 f"{request.runbook!r}; its runbooks: {known} (see 'gitjit explain "
                 f"{policy.id}')")
            return None, findings
        bound = _bind(request, runbook, findings)
        if bound is None:
            return None, findings
        if runbook.sql is not None:
            statements = _render_sql(runbook, bound, request, findings)
        else:
            argv = _render_argv(runbook, bound, request, findings)
        max_rows = _guard(request, runbook.max_rows, f"runbook {runbook.name!r}", findings)
    else:
        assert request.sql is not None
        if rules.sql is None:
            deny("sql", "action.sql-not-allowed", f"policy {policy.id!r} allows no free-form "
                 "SQL; use one of its runbooks")
            return None, findings
        statements = _judge_sql(request, rules.sql, policy, findings)
        max_rows = _guard(request, rules.sql.max_rows, f"policy {policy.id!r}", findings)
    if findings:
        return None, findings
    return _plan(request, policy, settings, rules, statements, argv, max_rows), findings


def _plan(request: ActionRequest, policy: Policy, settings: Settings, rules: ActionRules,
          statements: tuple[Statement, ...], argv: tuple[str, ...],
          max_rows: int | None) -> Plan:
    name = policy.target.get("connection")
    connection = settings.connections.get(name, {}) if name else {}
    return Plan(action=request.id, policy=policy.id, provider=policy.target.provider,
                connection=name, connection_settings=tuple(sorted(connection.items())),
                target=tuple((k, v) for k, v in policy.target.params if k != "connection"),
                runbook=request.runbook, statements=statements, argv=argv, max_rows=max_rows,
                timeout=rules.timeout, lock_timeout=rules.lock_timeout)


def _guard(request: ActionRequest, limit: int | None, whose: str,
           findings: list[Finding]) -> int | None:
    asked = request.max_rows
    if asked is not None and limit is not None and asked > limit:
        findings.append(Finding(request.path, request.lines.get("max_rows", 0),
                                "action.max-rows", f"max_rows {asked} exceeds the limit of "
                                f"{limit} rows of {whose}; ask for {limit} or fewer"))
    present = [n for n in (asked, limit) if n is not None]
    return min(present) if present else None


def _bind(request: ActionRequest, runbook: Runbook,
          findings: list[Finding]) -> dict[str, str] | None:
    given = dict(request.params)
    problems = len(findings)

    def deny(key: str, code: str, message: str) -> None:
        line = request.lines.get(key, request.lines.get("params", request.lines.get("runbook",
                                                                                     0)))
        findings.append(Finding(request.path, line, code, message))

    for name in given:
        if runbook.param(name) is None:
            known = ", ".join(p.name for p in runbook.params) or "none"
            deny(f"params.{name}", "action.param-unknown", f"runbook {runbook.name!r} has no "
                 f"parameter {name!r}; its parameters: {known}")
    for param in runbook.params:
        if param.name not in given:
            deny("params", "action.param-missing", f"runbook {runbook.name!r} needs parameter "
                 f"{param.name!r} ({describe_param(param)})")
            continue
        problem = check_value(param, given[param.name])
        if problem:
            deny(f"params.{param.name}", "action.param-value",
                 f"parameter {param.name!r} {problem}")
    return None if len(findings) > problems else given


def describe_param(param: Param) -> str:
    if param.type is ParamType.CHOICE:
        return f"one of {', '.join(param.choices)}"
    if param.type is ParamType.INTEGER:
        low = "" if param.minimum is None else f" from {param.minimum}"
        high = "" if param.maximum is None else f" to {param.maximum}"
        return f"a whole number{low}{high}"
    if param.type is ParamType.UUID:
        return "a UUID"
    pattern = f" matching {param.pattern}" if param.pattern else ""
    return f"text of at most {param.max_length} characters{pattern}"


def check_value(param: Param, value: str) -> str:
    """Why ``value`` is not a value of ``param`` ("" when it is)."""
    shown = repr(value if len(value) <= 60 else value[:57] + "...")
    if param.type is ParamType.INTEGER:
        if not _INTEGER.fullmatch(value):
            return f"is {shown}, not a whole number"
        number = int(value)
        if param.minimum is not None and number < param.minimum:
            return f"is {number}, below the minimum {param.minimum}"
        if param.maximum is not None and number > param.maximum:
            return f"is {number}, above the maximum {param.maximum}"
    elif param.type is ParamType.UUID:
        if not _UUID.fullmatch(value):
            return f"is {shown}, not a UUID such as 123e4567-e89b-12d3-a456-426614174000"
    elif param.type is ParamType.CHOICE:
        if value not in param.choices:
            return f"is {shown}, not one of {', '.join(param.choices)}"
    else:
        if len(value) > param.max_length:
            return f"has {len(value)} characters, more than {param.max_length}"
        if param.pattern is not None and re.fullmatch(param.pattern, value) is None:
            return f"is {shown}, which does not match {param.pattern}"
    return ""


def _render_sql(runbook: Runbook, bound: dict[str, str], request: ActionRequest,
                findings: list[Finding]) -> tuple[Statement, ...]:
    assert runbook.sql is not None
    out = []
    try:
        for part in sql.split(runbook.sql):
            text, names = sql.placeholders(part)
            analysed = sql.analyse(text)
            out.append(Statement(text=text, values=tuple(bound[n] for n in names),
                                 kind=analysed.kind, objects=analysed.objects,
                                 functions=analysed.functions))
    except (sql.SqlSyntaxError, sql.SqlParserMissing, KeyError) as exc:
        # The policy's own check reports this; a request against it cannot run.
        findings.append(Finding(request.path, request.lines.get("runbook", 0),
                                "action.runbook-sql", f"runbook {runbook.name!r} cannot be "
                                f"rendered: {exc}; the policy must be fixed"))
    return tuple(out)


def _render_argv(runbook: Runbook, bound: dict[str, str], request: ActionRequest,
                 findings: list[Finding]) -> tuple[str, ...]:
    assert runbook.argv is not None
    argv = [runbook.argv[0]]
    for template in runbook.argv[1:]:
        match = ARGV_PLACEHOLDER.match(template)
        if match is not None and bound.get(match[1], "").startswith("-"):
            findings.append(Finding(
                request.path, request.lines.get(f"params.{match[1]}", 0), "action.param-value",
                f"parameter {match[1]!r} starts with '-', and it begins an argument of "
                f"{runbook.argv[0]}, which would read it as an option"))
        argv.append(ARGV_PLACEHOLDER.sub(lambda m: bound[m[1]], template))
    return tuple(argv)


def _judge_sql(request: ActionRequest, rules: SqlRules, policy: Policy,
               findings: list[Finding]) -> tuple[Statement, ...]:
    assert request.sql is not None
    line = request.lines.get("sql", 0)

    def deny(code: str, message: str) -> None:
        findings.append(Finding(request.path, line, code, message))

    allowed = ", ".join(sorted(c.value for c in rules.allow)) or "nothing"
    try:
        parts = sql.split(request.sql)
    except sql.SqlSyntaxError as exc:
        deny("action.sql-syntax", f"PostgreSQL's parser rejects the sql: {exc}")
        return ()
    except sql.SqlParserMissing as exc:
        deny("action.parser-missing", str(exc))
        return ()
    if not parts:
        deny("action.sql-syntax", "the sql holds no statement")
        return ()
    if len(parts) > 1 and not rules.multiple:
        deny("action.sql-multiple", f"the sql holds {len(parts)} statements; policy "
             f"{policy.id!r} allows one per action (multiple_statements: false): file one "
             "action per statement")
    out = []
    for number, part in enumerate(parts, 1):
        which = f"statement {number}" if len(parts) > 1 else "the statement"
        try:
            analysed = sql.analyse(part)
        except sql.SqlSyntaxError as exc:
            deny("action.sql-syntax", f"PostgreSQL's parser rejects {which}: {exc}")
            continue
        if analysed.parameters:
            deny("action.sql-parameter", f"{which} holds ${analysed.parameters}-style "
                 "parameters, which free-form SQL has no values for; write the values in")
        for label in analysed.denied:
            deny("action.sql-denied", f"the parser reads {which} as {label}, which is never "
                 "allowed in an action (it changes privileges, ends the transaction or runs "
                 "code of its own); ask for a grant instead")
        if analysed.ddl and not rules.ddl:
            deny("action.sql-ddl", f"the parser reads {which} as DDL "
                 f"({', '.join(analysed.ddl)}); policy {policy.id!r} allows no DDL "
                 "(sql.ddl: false)")
        classes = {c for c in analysed.classes if c in _CLASSES}
        outside = sorted(classes - {c.value for c in rules.allow})
        for klass in outside:
            deny("action.sql-class", f"the parser reads {which} as {analysed.kind}"
                 + (f" holding a {klass.upper()}" if klass.upper() != analysed.kind else "")
                 + f"; policy {policy.id!r} allows only: {allowed}")
        for problem in analysed.problems:
            deny("action.sql-no-where", f"{which}: {problem}; add a WHERE that selects the "
                 "rows to change")
        calls = [f for f in analysed.functions if not _function_allowed(f, rules.functions)]
        if calls:
            listed = ", ".join(sorted(rules.functions)) or "none"
            deny("action.sql-function", f"{which} calls {', '.join(calls)}, which policy "
                 f"{policy.id!r} does not list under sql.functions (listed: {listed})")
        out.append(Statement(text=part, kind=analysed.kind, objects=analysed.objects,
                             functions=analysed.functions))
    return tuple(out)


_CLASSES = frozenset(c.value for c in StatementClass)


def _function_allowed(name: str, allowed: frozenset[str]) -> bool:
    lowered = name.lower()
    return lowered in allowed or lowered.removeprefix("pg_catalog.") in allowed
