"""gitjit status: where every grant on the default branch stands now.

Grant files are read at the branch tip through git (never the working tree, which may hold a
pending request), their landing times from one first-parent walk, and the verdicts from the
ledger. With no ledger in the clone every grant shows as awaiting activation, with a note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.actions.report import document as action_document
from engine.actions.report import read_stories, status_lines
from engine.adapters.git import GitRepository
from engine.adapters.ledger import Ledger, LedgerNotFoundError, find_ledger_ref
from engine.commands.repository import read_config, read_signers
from engine.core.changes import REGULAR_FILE
from engine.core.grants import GRANTS_DIR, load_grant
from engine.core.ledger import Record, latency_summary
from engine.core.models import Settings
from engine.core.status import (
    SUMMARY_ORDER,
    GrantFile,
    GrantState,
    GrantStatus,
    StatusReport,
    build_status,
)
from engine.errors import UsageError

VERSION = 1
FORMATS = ("json", "text")


@dataclass(frozen=True)
class StatusOptions:
    repo: Path
    branch: str
    now: datetime
    format: str


def run(options: StatusOptions) -> int:
    if not options.repo.is_dir():
        raise UsageError(f"--repo {options.repo}: no such directory")
    repo = GitRepository(options.repo)
    report = read_status(repo, options.branch, options.now)
    print(render_json(report) if options.format == "json" else render_text(report), end="")
    return 0


def read_status(repo: GitRepository, branch: str, now: datetime) -> StatusReport:
    """The status report of ``branch``'s tip: a fixed number of git processes."""
    tree = repo.tree(branch)
    loaded = read_config(tree)
    config = loaded.result.config
    max_bytes = (config.settings if config else Settings()).max_grant_bytes
    paths = [
        e.path for e in tree.entries(GRANTS_DIR) if e.mode == REGULAR_FILE and
        e.path.endswith(".yaml")
    ]
    contents = tree.read_many(paths)
    landed = repo.first_parent_additions(tree.sha, paths)
    files = []
    for path in paths:
        grant = load_grant(path, contents[path], loaded.schemas, max_bytes).grant
        stamp = landed.get(path)
        files.append(GrantFile(path, grant, stamp.time if stamp else None))
    records: list[Record] = []
    untrusted: list[str] = []
    try:
        ref: str | None = find_ledger_ref(repo)
    except LedgerNotFoundError:
        ref = None
    if ref is not None:
        # Only what gitjit signed: anything else on the ledger branch is named, never read.
        state = Ledger(repo, ref=ref, signers=read_signers(tree)).state()
        records = list(state.records)
        untrusted = [f"{c.sha[:12]}: {c.untrusted}" for c in state.forged]
        untrusted += [*state.unreadable, *([state.problem] if state.problem else [])]
    report = build_status(branch, files, records, now, ref, untrusted)
    return replace(report, latency=latency_summary(records),
                   actions=tuple(read_stories(repo, tree.sha, loaded.schemas, max_bytes,
                                              records)))


# -- output -------------------------------------------------------------------------------


def format_time(when: datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_remaining(left: timedelta | None) -> str | None:
    """Whole minutes, rounded down ('1h14m', '2d3h'); '<1m' in the last minute."""
    if left is None:
        return None
    minutes = int(left.total_seconds()) // 60
    if minutes <= 0:
        return "<1m"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n]
    return "".join(parts)


_HEADER = ("GRANT", "REQUESTER", "POLICY", "STATE", "ACTIVATED", "EXPIRES", "REMAINING",
           "EXPIRY BY")


def _row(item: GrantStatus) -> tuple[str, ...]:
    return (
        item.grant_id,
        item.requester or "-",
        item.policy or "-",
        item.state.value,
        format_time(item.activated_at) or "-",
        format_time(item.expires_at) or "-",
        format_remaining(item.remaining) or "-",
        item.expiry_enforced_by.value if item.expiry_enforced_by else "-",
    )


def render_text(report: StatusReport) -> str:
    lines = []
    if report.grants:
        rows = [_HEADER, *(_row(item) for item in report.grants)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                  for row in rows]
        lines += [f"{item.grant_id}: refused: {item.detail}" for item in report.grants
                  if item.detail and item.state is GrantState.REFUSED]
        lines += [f"{item.grant_id}: {item.detail}" for item in report.grants
                  if item.detail and item.state is GrantState.ENDED]
        lines += [f"{item.grant_id}: BREAK-GLASS: its use must be reviewed by "
                  f"{format_time(item.review_by)}"
                  for item in report.grants if item.break_glass]
    else:
        lines.append(f"no grants on {report.branch}")
    if report.ledger_ref is None:
        lines.append("note: no ledger in this clone, so no grant shows as activated; fetch the "
                     "gitjit/ledger branch (git fetch origin gitjit/ledger:gitjit/ledger)")
    if report.untrusted:
        lines.append(f"warning: {report.ledger_ref} holds {len(report.untrusted)} commits or "
                     "files gitjit did not write; they are ignored here (run 'gitjit audit "
                     "verify'):")
        lines += [f"  {text}" for text in report.untrusted]
    if report.latency is not None:
        lat = report.latency
        lines.append(f"revocation latency over {lat.count} ends: median {_span(lat.median)}, "
                     f"worst {_span(lat.worst)} ({lat.worst_grant})")
    lines += status_lines(list(report.actions))
    lines.append(report.summary())
    return "\n".join(lines) + "\n"


def _span(value: timedelta) -> str:
    """Seconds under a minute, else as REMAINING shows time ('1h14m')."""
    if value < timedelta(minutes=1):
        return f"{int(value.total_seconds())}s"
    return format_remaining(value) or "0s"


def status_document(item: GrantStatus) -> dict[str, Any]:
    return {
        "grant_id": item.grant_id,
        "path": item.path,
        "requester": item.requester or None,
        "policy": item.policy or None,
        "state": item.state.value,
        "landed_at": format_time(item.landed_at),
        "activated_at": format_time(item.activated_at),
        "expires_at": format_time(item.expires_at),
        "remaining_seconds": (
            None if item.remaining is None else int(item.remaining.total_seconds())
        ),
        "expiry_enforced_by": item.expiry_enforced_by.value if item.expiry_enforced_by else None,
        "pull_request": item.pull_request,
        "detail": item.detail or None,
        "break_glass": item.break_glass,
        "review_by": format_time(item.review_by),
    }


def render_json(report: StatusReport) -> str:
    return json.dumps({
        "version": VERSION,
        "branch": report.branch,
        "now": format_time(report.now),
        "ledger": report.ledger_ref,
        "untrusted": list(report.untrusted),
        "revocation_latency": None if report.latency is None else {
            "ends": report.latency.count,
            "median_seconds": int(report.latency.median.total_seconds()),
            "worst_seconds": int(report.latency.worst.total_seconds()),
            "worst_grant": report.latency.worst_grant},
        "summary": {state.value: report.count(state) for state, _label in SUMMARY_ORDER},
        "grants": [status_document(item) for item in report.grants],
        "actions": [action_document(story) for story in report.actions],
    }, indent=2) + "\n"
