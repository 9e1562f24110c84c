"""Sealing an action's outcome: redaction, the record's action part, the outcome comment.

Output can hold secrets: the connection's own (a password, a DSN, any variable a ``*_env``
setting names) and whatever the operation printed. Known secret values are replaced first;
then anything that looks like a credential (``password=...``, ``token: ...``, a URL's
``user:password@``, ``Bearer ...``, a private key block) is. A known secret is redacted
with the whole value that holds it, never cut out of it (engine.core.redaction: where a cut
lands would show the secret). Only the redacted text is digested, kept (its start, bounded)
and shown."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping

from engine.actions.model import Plan
from engine.core.ledger import MAX_DETAIL, MAX_EXCERPT, ActionRun
from engine.core.redaction import REDACTED, redact_values
from engine.reporters.markdown import render
from engine.targets.base import ActionResult

_MIN_SECRET = 4
"""Shorter environment values are not replaced: 'on' or '1' would garble the whole text."""
_PATTERNS = [
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
                re.DOTALL), REDACTED),
    (re.compile(r"(?i)\b((?:[a-z0-9_]*_)?(?:password|passwd|pwd|secret|token|api[_-]?key|"
                r"access[_-]?key|private[_-]?key))(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|\S+)"),
     rf"\1\2{REDACTED}"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[a-z0-9._~+/=-]{8,}"), rf"\1 {REDACTED}"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+):[^\s@/]+@"), rf"\1:{REDACTED}@"),
]


def secrets_of(connection: Mapping[str, str],
               environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of the environment variables the connection's ``*_env`` settings name."""
    env = os.environ if environ is None else environ
    found = [env[variable] for key, variable in connection.items()
             if key.endswith("_env") and env.get(variable)]
    return sorted({s for s in found if len(s) >= _MIN_SECRET}, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    text = redact_values(text, secrets)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def excerpt(text: str) -> str:
    if len(text) <= MAX_EXCERPT:
        return text
    note = f"\n... ({len(text) - MAX_EXCERPT + 40} more characters not kept)"
    return text[:MAX_EXCERPT - len(note)] + note


def started_run(plan: Plan) -> ActionRun:
    return ActionRun(digest=plan.digest(), runs=_bounded(plan.shown()))


def sealed_run(plan_digest: str, runs: str, result: ActionResult,
               secrets: list[str]) -> ActionRun:
    clean = redact(result.output, secrets)
    return ActionRun(
        digest=plan_digest, runs=runs, rows=result.rows, exit_code=result.exit_code,
        duration_ms=int(result.duration.total_seconds() * 1000),
        output_digest=hashlib.sha256(clean.encode("utf-8")).hexdigest() if clean else "",
        excerpt=excerpt(clean))


def _bounded(text: str) -> str:
    if len(text) <= MAX_DETAIL:
        return text
    return text[:MAX_DETAIL - 20] + "\n... (cut)"


def comment(action: str, status: str, run: ActionRun, detail: str, seq: int | None) -> str:
    """The outcome comment on the action's pull request (markdown, our template)."""
    return render("action-outcome.md.j2", action=action, status=status, run=run,
                  detail=detail, seq=seq)
