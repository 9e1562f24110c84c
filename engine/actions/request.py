"""Action request files: actions/<policy>/<requester>-<stamp>.yaml, read as data only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.actions.model import ACTIONS_DIR, ActionId, ActionRequest
from engine.core import schema, values
from engine.core.changes import EXECUTABLE_FILE, REGULAR_FILE, SUBMODULE, SYMLINK
from engine.core.findings import Finding
from engine.core.models import Login, PolicyId
from engine.core.strictyaml import Limits, LoadError, load

KIND = "Action"
_PATH = re.compile(
    r"actions/(?P<policy>[a-z0-9][a-z0-9-]{0,62})/"
    r"(?P<requester>[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38})-(?P<stamp>[0-9]{8}T[0-9]{4}(?:[0-9]{2})?Z)"
    r"\.yaml"
)
_NOT_CANONICAL = ("not a canonical action path; name the file "
                  "actions/<policy>/<requester>-<YYYYMMDDTHHMMZ>.yaml")
_KIND_OF_MODE = {SYMLINK: "a symlink", SUBMODULE: "a submodule",
                 EXECUTABLE_FILE: "an executable file"}


@dataclass(frozen=True)
class ActionPath:
    policy: PolicyId
    requester: Login
    stamp: str


def is_action_path(path: str) -> bool:
    return path.startswith(ACTIONS_DIR)


def parse_path(path: str) -> ActionPath | None:
    match = _PATH.fullmatch(path)
    if match is None:
        return None
    return ActionPath(PolicyId(match["policy"]), Login(match["requester"].lower()),
                      match["stamp"])


def action_id(path: str) -> ActionId:
    return ActionId(path.removesuffix(".yaml"))


def action_path(action: str) -> str:
    return f"{action}.yaml"


def canonical_path(policy: str, requester: str, at: datetime) -> str:
    return f"{ACTIONS_DIR}{policy}/{requester}-{at.strftime('%Y%m%dT%H%MZ')}.yaml"


def file_finding(path: str, mode: str) -> Finding | None:
    """Why a file under actions/ cannot be an action request at all, if it cannot."""
    if mode != REGULAR_FILE:
        kind = _KIND_OF_MODE.get(mode, f"mode {mode}")
        return Finding(path, 0, "action.not-regular-file",
                       f"{kind} under actions/; only regular files (mode 100644) can be "
                       "action requests")
    if parse_path(path) is None:
        return Finding(path, 0, "action.path", _NOT_CANONICAL)
    return None


@dataclass(frozen=True)
class LoadedAction:
    path: str
    request: ActionRequest | None
    findings: tuple[Finding, ...]


def load_action(path: str, raw: bytes, schemas: schema.SchemaSet,
                max_bytes: int) -> LoadedAction:
    """Strict-load, schema-validate and type one action request, and check its path."""
    try:
        doc = load(raw, path, Limits(max_bytes=max_bytes))
    except LoadError as exc:
        return LoadedAction(path, None, (exc.finding,))
    problems = schema.validate(doc, frozenset({KIND}), schemas)
    if problems:
        return LoadedAction(path, None, tuple(problems))
    data: dict[str, Any] = doc.data  # type: ignore[assignment]  # schema-valid: a mapping
    findings: list[Finding] = []
    try:
        requester = values.parse_login(data["requester"])
    except ValueError as exc:
        findings.append(Finding(path, doc.line("requester"), "value.login", str(exc)))
        requester = None
    if ("runbook" in data) == ("sql" in data):
        findings.append(Finding(path, doc.line("runbook" if "runbook" in data else "policy"),
                                "action.request-shape", "an action names exactly one of "
                                "'runbook' (with its 'params') and 'sql' (free-form SQL)"))
    if "params" in data and "runbook" not in data:
        findings.append(Finding(path, doc.line("params"), "action.request-shape",
                                "'params' belong to a runbook: name it in 'runbook'"))
    parts = parse_path(path)
    if parts is None:
        findings.append(Finding(path, 0, "action.path", _NOT_CANONICAL))
    else:
        if parts.policy != data["policy"]:
            findings.append(Finding(path, doc.line("policy"), "action.path-mismatch",
                                    f"policy {data['policy']!r} disagrees with the folder "
                                    f"{parts.policy!r}; the action must live in "
                                    f"actions/{data['policy']}/"))
        if parts.requester != str(data["requester"]).lower():
            findings.append(Finding(path, doc.line("requester"), "action.path-mismatch",
                                    f"requester {data['requester']!r} disagrees with the file "
                                    f"name, which names {parts.requester!r}"))
    if findings or requester is None:
        return LoadedAction(path, None, tuple(findings))
    return LoadedAction(path, ActionRequest(
        id=action_id(path), path=path, policy=PolicyId(data["policy"]), requester=requester,
        justification=data["justification"], ticket=data.get("ticket"),
        runbook=data.get("runbook"),
        params=tuple((k, v) for k, v in data.get("params", {}).items()),
        sql=data.get("sql"),
        max_rows=int(data["max_rows"]) if "max_rows" in data else None,
        lines={**{key: doc.line(key) for key in data},
               **{f"params.{k}": doc.line("params", k) for k in data.get("params", {})}}), ())
