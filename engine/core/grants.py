"""Grant files: their canonical path and their content, read as data only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine.core import schema, values
from engine.core.changes import EXECUTABLE_FILE, REGULAR_FILE, SUBMODULE, SYMLINK
from engine.core.findings import Finding
from engine.core.models import Grant, GrantId, Login, PolicyId
from engine.core.strictyaml import Document, Limits, LoadError, load

GRANTS_DIR = "grants/"
_PATH = re.compile(
    r"grants/(?P<policy>[a-z0-9][a-z0-9-]{0,62})/"
    r"(?P<requester>[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38})-(?P<stamp>[0-9]{8}T[0-9]{4}(?:[0-9]{2})?Z)"
    r"\.yaml"
)


@dataclass(frozen=True)
class GrantPath:
    policy: PolicyId
    requester: Login
    stamp: str


def parse_path(path: str) -> GrantPath | None:
    """The parts of a canonical grant path, or None when the path is not canonical."""
    match = _PATH.fullmatch(path)
    if match is None:
        return None
    return GrantPath(PolicyId(match["policy"]), Login(match["requester"].lower()), match["stamp"])


def grant_id(path: str) -> GrantId:
    return GrantId(path.removeprefix(GRANTS_DIR).removesuffix(".yaml"))


def canonical_path(policy: str, requester: str, at: datetime) -> str:
    return f"{GRANTS_DIR}{policy}/{requester}-{at.strftime('%Y%m%dT%H%MZ')}.yaml"


_KIND_OF_MODE = {SYMLINK: "a symlink", SUBMODULE: "a submodule",
                 EXECUTABLE_FILE: "an executable file"}
_NOT_CANONICAL = ("not a canonical grant path; name the file "
                  "grants/<policy>/<requester>-<YYYYMMDDTHHMMZ>.yaml")


def file_finding(path: str, mode: str) -> Finding | None:
    """Why a file under grants/ cannot be a grant at all (its mode or its path), if it can't.

    Only regular files at canonical paths are grants: symlinks, submodules, executables and
    stray names are refused before anything reads them."""
    if mode != REGULAR_FILE:
        kind = _KIND_OF_MODE.get(mode, f"mode {mode}")
        return Finding(path, 0, "grant.not-regular-file",
                       f"{kind} under grants/; only regular files (mode 100644) can be grants")
    if parse_path(path) is None:
        return Finding(path, 0, "grant.path", _NOT_CANONICAL)
    return None


@dataclass(frozen=True)
class LoadedGrant:
    """A grant file read as data: the Grant when it is valid, findings otherwise."""

    path: str
    grant: Grant | None
    findings: tuple[Finding, ...]
    draft: Grant | None = None
    """The grant as its content says, when only its path disagrees with it: never a valid
    grant, but the verdict judges it too, so that it names every other reason at once."""


def load_grant(path: str, raw: bytes, schemas: schema.SchemaSet, max_bytes: int) -> LoadedGrant:
    """Strict-load, schema-validate and type one grant file, and check its path."""
    try:
        doc = load(raw, path, Limits(max_bytes=max_bytes))
    except LoadError as exc:
        return LoadedGrant(path, None, (exc.finding,))
    return grant_from_document(doc, schemas)


def grant_from_document(doc: Document, schemas: schema.SchemaSet) -> LoadedGrant:
    problems = schema.validate(doc, frozenset({"Grant"}), schemas)
    if problems:
        return LoadedGrant(doc.path, None, tuple(problems))
    data: dict[str, Any] = doc.data  # type: ignore[assignment]  # schema-valid: a mapping
    findings: list[Finding] = []

    def parse(parser: Any, code: str, key: str) -> Any:
        if key not in data:
            return None
        try:
            return parser(data[key])
        except ValueError as exc:
            findings.append(Finding(doc.path, doc.line(key), code, str(exc)))
            return None

    requester = parse(values.parse_login, "value.login", "requester")
    duration: timedelta | None = parse(values.parse_duration, "value.duration", "duration")
    start: datetime | None = parse(values.parse_timestamp, "value.timestamp", "start")
    if findings or requester is None or duration is None:
        return LoadedGrant(doc.path, None, tuple(findings + _path_findings(doc, data)))
    grant = Grant(
        id=grant_id(doc.path),
        path=doc.path,
        policy=PolicyId(data["policy"]),
        requester=requester,
        duration=duration,
        justification=data["justification"],
        ticket=data.get("ticket"),
        start=start,
        extends=GrantId(data["extends"]) if "extends" in data else None,
        break_glass=data.get("break_glass", "false") == "true",
        # Every top-level key has its own line (Document.lines holds every node).
        lines={key: doc.lines.get((key,), 1) for key in data},
    )
    mismatch = _path_findings(doc, data)
    if mismatch:
        return LoadedGrant(doc.path, None, tuple(mismatch), draft=grant)
    return LoadedGrant(doc.path, grant, ())


def _path_findings(doc: Document, data: dict[str, Any]) -> list[Finding]:
    parts = parse_path(doc.path)
    if parts is None:
        return [Finding(doc.path, 0, "grant.path", _NOT_CANONICAL)]
    findings = []
    if parts.policy != data["policy"]:
        findings.append(Finding(doc.path, doc.line("policy"), "grant.path-mismatch",
                                f"policy {data['policy']!r} disagrees with the folder "
                                f"{parts.policy!r}; the grant must live in "
                                f"grants/{data['policy']}/"))
    if parts.requester != str(data["requester"]).lower():
        findings.append(Finding(doc.path, doc.line("requester"), "grant.path-mismatch",
                                f"requester {data['requester']!r} disagrees with the file name, "
                                f"which names {parts.requester!r}"))
    return findings
