"""The data of actions: what a policy allows, what a request asks, and what will run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, NewType

from engine.core.models import Login, PolicyId

ACTIONS_DIR = "actions/"
ActionId = NewType("ActionId", str)
"""An action's path without the .yaml suffix: 'actions/<policy>/<requester>-<stamp>'. The
prefix keeps action ids apart from grant ids ('<policy>/<requester>-<stamp>') in the ledger."""

DEFAULT_TIMEOUT = timedelta(seconds=60)
DEFAULT_LOCK_TIMEOUT = timedelta(seconds=5)
MAX_TEXT_PARAM = 200
"""The longest text parameter unless a runbook says otherwise."""


class ParamType(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    UUID = "uuid"
    CHOICE = "choice"


class StatementClass(StrEnum):
    """What a free-form statement may be, as a policy's ``sql.allow`` names it."""

    SELECT = "select"
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    MERGE = "merge"
    TRUNCATE = "truncate"


@dataclass(frozen=True)
class Param:
    """One typed runbook parameter. Every value is text until it is checked against this."""

    name: str
    type: ParamType
    description: str = ""
    pattern: str | None = None
    """text: a regular expression the whole value must match."""
    max_length: int = MAX_TEXT_PARAM
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Runbook:
    """A named operation of a policy: a SQL template or an argv template."""

    name: str
    description: str
    params: tuple[Param, ...]
    sql: str | None = None
    """PostgreSQL statements with ':name' placeholders, bound as parameters, never pasted."""
    argv: tuple[str, ...] | None = None
    """The program and its arguments; '{name}' inside an argument is replaced by the value,
    and the program (argv[0]) is always literal."""
    max_rows: int | None = None
    line: int = 0

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


@dataclass(frozen=True)
class SqlRules:
    """Free-form SQL: what the policy lets a request write itself."""

    allow: frozenset[StatementClass]
    multiple: bool = False
    """Several statements in one request (all run in one transaction)."""
    ddl: bool = False
    functions: frozenset[str] = frozenset()
    """Functions a statement may call, by (qualified) name; any other call is denied."""
    max_rows: int | None = None
    line: int = 0


@dataclass(frozen=True)
class ActionRules:
    """A policy's ``actions`` section."""

    runbooks: Mapping[str, Runbook] = field(default_factory=dict)
    sql: SqlRules | None = None
    timeout: timedelta = DEFAULT_TIMEOUT
    """statement_timeout in PostgreSQL; the process's time limit for the command target."""
    lock_timeout: timedelta = DEFAULT_LOCK_TIMEOUT
    line: int = 0


@dataclass(frozen=True)
class ActionRequest:
    """An action request file as read: exactly one of ``runbook`` and ``sql`` is set."""

    id: ActionId
    path: str
    policy: PolicyId
    requester: Login
    justification: str
    ticket: str | None = None
    runbook: str | None = None
    params: tuple[tuple[str, str], ...] = ()
    """The runbook's parameter values as written (text), in file order."""
    sql: str | None = None
    max_rows: int | None = None
    """The requester's own row guard; at most the policy's, where the policy sets one."""
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Statement:
    """One SQL statement as it will be sent: text with $n placeholders and the values bound."""

    text: str
    values: tuple[str, ...] = ()
    kind: str = ""
    """What PostgreSQL's parser says it is: 'UPDATE', 'SELECT', 'CREATE INDEX' ..."""
    objects: tuple[str, ...] = ()
    """The relations it names (schema-qualified where written so), sorted."""
    functions: tuple[str, ...] = ()
    """The functions it calls, sorted."""


@dataclass(frozen=True)
class Plan:
    """Exactly what will run, where and under which limits: what approvals are given on.

    The digest covers every field, so a change to the statement, a bound value, the runbook's
    template, the target, the connection's settings or a limit changes it."""

    action: ActionId
    policy: PolicyId
    provider: str
    connection: str | None
    connection_settings: tuple[tuple[str, str], ...]
    """The settings connection's entries (names of environment variables, never secrets)."""
    target: tuple[tuple[str, str], ...]
    """The policy's target parameters (role, ...), sorted."""
    runbook: str | None
    statements: tuple[Statement, ...] = ()
    argv: tuple[str, ...] = ()
    max_rows: int | None = None
    timeout: timedelta = DEFAULT_TIMEOUT
    lock_timeout: timedelta = DEFAULT_LOCK_TIMEOUT

    @property
    def kind(self) -> str:
        return "argv" if self.argv else "sql"

    def document(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "policy": self.policy,
            "provider": self.provider,
            "connection": self.connection,
            "connection_settings": dict(self.connection_settings),
            "target": dict(self.target),
            "runbook": self.runbook,
            "kind": self.kind,
            "statements": [{"text": s.text, "values": list(s.values), "kind": s.kind,
                            "objects": list(s.objects), "functions": list(s.functions)}
                           for s in self.statements],
            "argv": list(self.argv),
            "max_rows": self.max_rows,
            "timeout_ms": int(self.timeout.total_seconds() * 1000),
            "lock_timeout_ms": int(self.lock_timeout.total_seconds() * 1000),
        }

    def digest(self) -> str:
        text = json.dumps(self.document(), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=True)
        return hashlib.sha256(text.encode("ascii")).hexdigest()

    def shown(self) -> str:
        """What runs, as people read it: the statements with their bound values, or argv."""
        if self.argv:
            return json.dumps(list(self.argv), ensure_ascii=False)
        parts = []
        for statement in self.statements:
            text = statement.text.strip()
            if statement.values:
                bound = ", ".join(f"${i}={json.dumps(v, ensure_ascii=False)}"
                                  for i, v in enumerate(statement.values, 1))
                text += f"  -- {bound}"
            parts.append(text)
        return "\n".join(parts)


@dataclass(frozen=True)
class ActionVerdict:
    """The action part of a verdict: the request and, when it could be rendered, the plan."""

    request: ActionRequest
    plan: Plan | None
