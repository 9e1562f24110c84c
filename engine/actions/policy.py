"""A policy's ``actions`` section: runbooks and free-form SQL rules, checked at load time.

Pure. ``parse`` turns the schema-valid mapping into ``ActionRules`` and reports, at the file
and line of the offending key, what the schema cannot see: a SQL template that PostgreSQL's
parser rejects or that controls the transaction, a placeholder no parameter declares, a
parameter no placeholder uses, a program chosen by a parameter, a target that cannot run it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from engine.actions import sql
from engine.actions.model import (
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_TIMEOUT,
    MAX_TEXT_PARAM,
    ActionRules,
    Param,
    ParamType,
    Runbook,
    SqlRules,
    StatementClass,
)
from engine.core import values

Report = Callable[..., None]
"""``report(code, message, *keys)``: a finding at the line of ``keys`` in the policy."""
Line = Callable[..., int]

ARGV_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
SQL_PROVIDERS = ("postgres", "recording")
ARGV_PROVIDERS = ("command", "recording")


def parse(data: Any, provider: str, report: Report, line: Line) -> ActionRules | None:
    """The rules of a policy's ``actions`` mapping (None when the policy has none)."""
    if not isinstance(data, dict):
        return None
    timeout = _duration(data, "timeout", DEFAULT_TIMEOUT, report)
    lock_timeout = _duration(data, "lock_timeout", DEFAULT_LOCK_TIMEOUT, report)
    runbooks = {}
    for name, raw in data.get("runbooks", {}).items():
        runbook = _runbook(name, raw, provider, report, line)
        if runbook is not None:
            runbooks[name] = runbook
    rules = None
    if "sql" in data:
        raw = data["sql"]
        rules = SqlRules(
            allow=frozenset(StatementClass(c) for c in raw.get("allow", [])),
            multiple=raw.get("multiple_statements", "false") == "true",
            ddl=raw.get("ddl", "false") == "true",
            functions=frozenset(f.lower() for f in raw.get("functions", [])),
            max_rows=int(raw["max_rows"]) if "max_rows" in raw else None,
            line=line("actions", "sql"))
        if provider not in SQL_PROVIDERS:
            report("action.target", f"free-form SQL runs on the postgres target, but this "
                   f"policy's target is {provider!r}", "actions", "sql")
        _parser_available(report, "actions", "sql")
    if not runbooks and rules is None and not data.get("runbooks"):
        report("action.no-operation", "the actions section names no runbook and no sql rules, "
               "so no action could ever be approved; add a runbook or remove 'actions'",
               "actions")
    return ActionRules(runbooks=runbooks, sql=rules, timeout=timeout,
                       lock_timeout=lock_timeout, line=line("actions"))


def _duration(data: dict[str, Any], key: str, default: timedelta, report: Report) -> timedelta:
    if key not in data:
        return default
    try:
        return values.parse_duration(data[key])
    except ValueError as exc:
        report("value.duration", str(exc), "actions", key)
        return default


def _parser_available(report: Report, *keys: str) -> bool:
    try:
        sql.split("SELECT 1")
    except sql.SqlParserMissing as exc:
        report("action.parser-missing", str(exc), *keys)
        return False
    return True


def _runbook(name: str, raw: dict[str, Any], provider: str, report: Report,
             line: Line) -> Runbook | None:
    keys = ("actions", "runbooks", name)
    params = tuple(_param(pname, spec, report, *keys, "params", pname)
                   for pname, spec in raw.get("params", {}).items())
    has_sql, has_argv = "sql" in raw, "argv" in raw
    if has_sql == has_argv:
        report("action.runbook", f"runbook {name!r} needs exactly one of 'sql' (PostgreSQL) "
               "and 'argv' (the command target)", *keys)
        return None
    declared = {p.name for p in params}
    if has_sql:
        if provider not in SQL_PROVIDERS:
            report("action.target", f"runbook {name!r} is SQL, which runs on the postgres "
                   f"target, but this policy's target is {provider!r}", *keys, "sql")
        if _parser_available(report, *keys, "sql"):
            _check_template(name, raw["sql"], declared, report, *keys, "sql")
    else:
        if provider not in ARGV_PROVIDERS:
            report("action.target", f"runbook {name!r} runs a program (argv), which the "
                   f"command target does, but this policy's target is {provider!r}",
                   *keys, "argv")
        _check_argv(name, raw["argv"], declared, report, *keys, "argv")
    return Runbook(
        name=name, description=raw.get("description", ""), params=params,
        sql=raw.get("sql"), argv=tuple(raw["argv"]) if has_argv else None,
        max_rows=int(raw["max_rows"]) if "max_rows" in raw else None, line=line(*keys))


def _param(name: str, spec: dict[str, Any], report: Report, *keys: str) -> Param:
    kind = ParamType(spec["type"])
    pattern = spec.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            report("value.pattern", f"parameter {name!r}: pattern is not a valid regular "
                   f"expression: {exc}", *keys, "pattern")
            pattern = None
    if kind is ParamType.CHOICE and not spec.get("values"):
        report("action.param", f"parameter {name!r} is a choice but lists no 'values'", *keys)
    minimum = int(spec["min"]) if "min" in spec else None
    maximum = int(spec["max"]) if "max" in spec else None
    if minimum is not None and maximum is not None and minimum > maximum:
        report("action.param", f"parameter {name!r}: min {minimum} is above max {maximum}",
               *keys, "min")
    return Param(name=name, type=kind, description=spec.get("description", ""),
                 pattern=pattern, max_length=int(spec.get("max_length", MAX_TEXT_PARAM)),
                 minimum=minimum, maximum=maximum, choices=tuple(spec.get("values", [])))


def _check_template(name: str, template: str, declared: set[str], report: Report,
                    *keys: str) -> None:
    used: set[str] = set()
    try:
        statements = sql.split(template)
        if not statements:
            report("action.runbook-sql", f"runbook {name!r}: the sql holds no statement", *keys)
            return
        for statement in statements:
            text, names = sql.placeholders(statement)
            used.update(names)
            analysed = sql.analyse(text)
            for label in analysed.denied:
                if label in sql.TRANSACTION_LABELS:
                    report("action.runbook-sql", f"runbook {name!r}: {label} is not allowed: "
                           "an action runs in one transaction that gitjit commits or rolls "
                           "back (the row guard needs it)", *keys)
    except sql.SqlSyntaxError as exc:
        report("action.runbook-sql", f"runbook {name!r}: PostgreSQL's parser rejects the sql: "
               f"{exc}; placeholders are written :name", *keys)
        return
    for missing in sorted(used - declared):
        report("action.runbook-sql", f"runbook {name!r}: placeholder :{missing} names no "
               "parameter; declare it under params", *keys)
    for unused in sorted(declared - used):
        report("action.runbook-sql", f"runbook {name!r}: parameter {unused!r} is never used "
               f"in the sql; use it as :{unused} or remove it", *keys)


def _check_argv(name: str, argv: list[str], declared: set[str], report: Report,
                *keys: str) -> None:
    if ARGV_PLACEHOLDER.search(argv[0]):
        report("action.runbook-argv", f"runbook {name!r}: the program {argv[0]!r} holds a "
               "placeholder; the program is always written out, only arguments take values",
               *keys, 0)
    used = {m for arg in argv[1:] for m in ARGV_PLACEHOLDER.findall(arg)}
    for missing in sorted(used - declared):
        report("action.runbook-argv", f"runbook {name!r}: placeholder {{{missing}}} names no "
               "parameter; declare it under params", *keys)
    for unused in sorted(declared - used):
        report("action.runbook-argv", f"runbook {name!r}: parameter {unused!r} is never used "
               f"in argv; use it as {{{unused}}} or remove it", *keys)
