"""gitjit audit: every grant's lifecycle from a clone alone; audit verify: the ledger's checks.

Git processes do not grow with the number of grants: one ``git log --raw`` over grants/ on the
default branch's first-parent line, one batch read of the blobs it added, one ``git log
--grep`` for the removal trailers, and the ledger's own reads.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.actions.report import ActionStory, audit_block, read_stories, summary
from engine.actions.report import document as action_document
from engine.adapters import progress
from engine.adapters.git import GitRepository, parse_raw_diff
from engine.adapters.ledger import Ledger, find_ledger_ref
from engine.adapters.signing import Verifier
from engine.commands.repository import read_config, read_signers
from engine.core import trailers
from engine.core.audit import GrantHistory, Lifecycle, RemovalCommit, build_lifecycles, since
from engine.core.changes import REGULAR_FILE
from engine.core.findings import Finding, Severity
from engine.core.grants import GRANTS_DIR, load_grant
from engine.core.ledger import ACTION_PREFIX, Event
from engine.core.models import Settings
from engine.core.schema import SchemaSet
from engine.core.values import format_duration, plural
from engine.errors import GitError, UsageError
from engine.reporters import jsonout

VERSION = 1
FORMATS = ("csv", "json", "text")
VERIFY_FORMATS = ("json", "text")
_HEADER = re.compile(r"([0-9a-f]{40}|[0-9a-f]{64}) ([0-9]+)")
_TRAILER_GREP = f"^({trailers.REMOVED}|{trailers.REFUSED}): "


@dataclass(frozen=True)
class AuditOptions:
    repo: Path
    branch: str
    since: datetime | None
    format: str


@dataclass(frozen=True)
class VerifyOptions:
    repo: Path
    branch: str
    format: str


def _repository(path: Path) -> GitRepository:
    if not path.is_dir():
        raise UsageError(f"--repo {path}: no such directory")
    return GitRepository(path)


def run(options: AuditOptions) -> int:
    """The story, read only from what gitjit signed; when the ledger is not intact, the
    findings come first and the exit code is 1: a forged story is never printed as fact."""
    repo = _repository(options.repo)
    tip = repo.resolve(options.branch)
    ledger = _ledger(repo, tip)
    problems = [f for f in ledger.verify(tip) if f.severity is Severity.ERROR]
    with progress.task("reading grants", enabled=options.format == "text") as bar:
        lifecycles = read_lifecycles(repo, options.branch, ledger, bar)
    actions = read_actions(repo, tip, ledger)
    if options.since is not None:
        lifecycles = since(lifecycles, options.since)
        actions = [a for a in actions if any(t >= options.since for t in a.times())]
    if options.format == "json":
        document = json.loads(render_json(lifecycles, problems, ledger.ref))
        document["actions"] = [action_document(story) for story in actions]
        print(json.dumps(document, indent=2))
    elif options.format == "csv":
        for finding in problems:
            print(f"gitjit audit: {finding.render()}", file=sys.stderr)
        print(render_csv(lifecycles), end="")
    else:
        print(render_problems(problems, ledger.ref) + render_text(lifecycles), end="")
        if actions:
            print("\n" + "\n".join(audit_block(story) for story in actions)
                  + summary(actions))
    if problems and options.format == "csv":
        print(f"gitjit audit: the ledger is NOT intact ({len(problems)} findings); the rows "
              "hold only what gitjit signed", file=sys.stderr)
    return 1 if problems else 0


def render_problems(problems: list[Finding], ref: str) -> str:
    if not problems:
        return ""
    lines = [f"LEDGER NOT INTACT: {ref} holds {len(problems)} problems; what follows is only "
             "what gitjit signed, and each problem below needs investigating:"]
    lines += [f"  {finding.render()}" for finding in problems]
    return "\n".join(lines) + "\n\n"


def _ledger(repo: GitRepository, tip: str) -> Ledger:
    """The ledger of the clone, read with the allowed signers of the default branch's tip."""
    return Ledger(repo, ref=find_ledger_ref(repo), signers=read_signers(repo.tree(tip)))


def run_verify(options: VerifyOptions) -> int:
    repo = _repository(options.repo)
    tip = repo.resolve(options.branch)
    ledger = _ledger(repo, tip)
    ref = ledger.ref
    findings = ledger.verify(tip)
    records = len(ledger.records()) if not findings else None
    if options.format == "json":
        print(json.dumps({
            "version": VERSION,
            "ok": not findings,
            "ledger": ref,
            "branch": options.branch,
            "findings": [jsonout.finding(f) for f in findings],
        }, indent=2))
    else:
        print(render_verify(findings, ref, options.branch, records), end="")
    return 1 if any(f.severity is Severity.ERROR for f in findings) else 0


def render_verify(findings: list[Finding], ref: str, branch: str, records: int | None) -> str:
    lines = [f.render() for f in findings]
    if findings:
        lines.append(f"ledger {ref}: {len(findings)} findings")
    else:
        lines.append(f"ledger {ref}: {records} records, intact; every grant on {branch} "
                     "was verified")
    return "\n".join(lines) + "\n"


# -- reading -------------------------------------------------------------------------------


def read_lifecycles(repo: GitRepository, branch: str, ledger: Ledger | None = None,
                    bar: progress.Bar | None = None) -> list[Lifecycle]:
    tip = repo.resolve(branch)
    loaded = read_config(repo.tree(tip))
    config = loaded.result.config
    max_bytes = (config.settings if config else Settings()).max_grant_bytes
    histories = read_histories(repo, tip, loaded.schemas, max_bytes, bar)
    ledger = ledger or _ledger(repo, tip)
    # Action records tell actions' stories (read_actions), not grants'; notices say what
    # people were told, not what happened to access.
    records = [r for r in ledger.records()
               if not r.grant_id.startswith(ACTION_PREFIX) and r.event is not Event.NOTICE]
    return build_lifecycles(histories, records,
                            read_removal_commits(repo, tip, ledger.verifier))


def read_actions(repo: GitRepository, tip: str, ledger: Ledger) -> list[ActionStory]:
    """Every action on the branch or in the ledger: what ran, approved by whom, its outcome."""
    loaded = read_config(repo.tree(tip))
    config = loaded.result.config
    max_bytes = (config.settings if config else Settings()).max_grant_bytes
    return read_stories(repo, tip, loaded.schemas, max_bytes, ledger.records())


def read_histories(
    repo: GitRepository, tip: str, schemas: SchemaSet, max_bytes: int,
    bar: progress.Bar | None = None,
) -> list[GrantHistory]:
    """When each file under grants/ landed on and left the first-parent line, and its blob.

    The first addition is the request; a later deletion counts only if the file was not
    added again after it.
    """
    raw = repo.git(
        "log", "--first-parent", "--no-renames", "--no-show-signature", "--raw", "--no-abbrev",
        "--no-ext-diff", "--no-textconv", "--ignore-submodules=none", "-z",
        "--format=%H %ct", "--reverse", "--end-of-options", tip, "--", GRANTS_DIR.rstrip("/"),
    )
    added: dict[str, tuple[str, datetime, str, str]] = {}
    deleted: dict[str, tuple[str, datetime]] = {}
    for sha, when, changes in _log_entries(raw):
        for change in changes:
            if change.status == "A" and change.path not in added:
                added[change.path] = (sha, when, change.new_blob, change.new_mode)
                deleted.pop(change.path, None)
            elif change.status == "A":
                deleted.pop(change.path, None)
            elif change.status == "D" and change.path in added:
                deleted[change.path] = (sha, when)
    blobs = repo.read_objects(
        (blob for _s, _w, blob, mode in added.values() if mode == REGULAR_FILE), "blob"
    )
    histories = []
    if bar is not None:
        bar.total = len(added)
    for path, (sha, when, blob, mode) in added.items():
        if bar is not None:
            bar.advance()
        grant = None
        if mode == REGULAR_FILE and path.endswith(".yaml"):
            grant = load_grant(path, blobs[blob], schemas, max_bytes).grant
        gone = deleted.get(path)
        histories.append(GrantHistory(path, grant, sha, when, gone[0] if gone else None,
                                      gone[1] if gone else None))
    return histories


def _log_entries(raw: bytes) -> list[tuple[str, datetime, list[Any]]]:
    """Parse ``git log --raw -z --format='%H %ct'``: a header, then its raw diff records."""
    entries: list[tuple[str, datetime, list[Any]]] = []
    fields = raw.split(b"\0")
    index = 0
    while index < len(fields):
        field = fields[index].removeprefix(b"\n")
        if not field:
            index += 1
            continue
        if field.startswith(b":"):
            if not entries or index + 1 >= len(fields):
                raise GitError(f"git log printed an unexpected record: {field[:200]!r}")
            entries[-1][2].extend(parse_raw_diff(field + b"\0" + fields[index + 1] + b"\0"))
            index += 2
            continue
        header = _HEADER.fullmatch(field.decode("ascii", "replace"))
        if header is None:
            raise GitError(f"git log printed an unexpected record: {field[:200]!r}")
        entries.append((header[1], datetime.fromtimestamp(int(header[2]), UTC), []))
        index += 1
    return entries


def read_removal_commits(repo: GitRepository, tip: str,
                         verifier: Verifier) -> list[RemovalCommit]:
    """The first-parent commits of ``tip`` that gitjit signed and whose trailers name removed
    grants. Anyone can write a trailer into a commit message (a requester into their own
    request commit): a trailer counts only on a commit gitjit signed, and (build_lifecycles)
    only for a file that commit deleted. A removal through a pull request lands as the
    forge's merge, so its trailers are not read: the ledger's record is the end there.
    """
    raw = repo.git(
        "log", "-z", "--first-parent", "--no-show-signature", "--extended-regexp",
        f"--grep={_TRAILER_GREP}", "--format=%H %ct%n%B", "--end-of-options", tip, "--",
    )
    commits = []
    for entry in raw.decode("utf-8", "replace").split("\0"):
        entry = entry.lstrip("\n")
        if not entry:
            continue
        first, _newline, message = entry.partition("\n")
        header = _HEADER.fullmatch(first)
        if header is None:
            raise GitError(f"git log printed an unexpected record: {first[:200]!r}")
        found = trailers.parse(message)
        if found:
            commits.append(RemovalCommit(header[1], datetime.fromtimestamp(int(header[2]), UTC),
                                         tuple(found)))
    if not commits or verifier.signers is None:
        return []
    why = verifier.why_untrusted(c.sha for c in commits)
    return [commit for commit in commits if not why[commit.sha]]


# -- output --------------------------------------------------------------------------------


def _time(when: datetime | None) -> str | None:
    return None if when is None else trailers.format_time(when)


def lifecycle_document(item: Lifecycle) -> dict[str, Any]:
    grant = item.grant
    activation = item.activation
    return {
        "grant_id": item.grant_id,
        "path": item.path,
        "policy": item.policy or None,
        "requester": item.requester or None,
        "request": None if grant is None else {
            "duration": format_duration(grant.duration),
            "start": _time(grant.start),
            "justification": grant.justification,
            "ticket": grant.ticket,
            "extends": grant.extends,
            "break_glass": grant.break_glass,
        },
        "landed": None if item.landed_commit is None else {
            "commit": item.landed_commit, "at": _time(item.landed_at),
        },
        "pull_request": item.pull_request,
        "approvals": [
            {"reviewer": r.reviewer, "state": r.state.value, "commit": r.commit,
             "submitted_at": _time(r.submitted_at)}
            for r in item.approvals
        ],
        "activation": None if activation is None else {
            "verified_at": _time(activation.at),
            "activated_at": _time(activation.activated_at),
            "expires_at": _time(activation.expires_at),
            "expiry_enforced_by": (
                activation.expiry_enforced_by.value if activation.expiry_enforced_by else None
            ),
            "break_glass": activation.break_glass,
            "review_by": _time(activation.review_by),
            "base_sha": activation.base_sha,
            "head_sha": activation.head_sha,
            "merge_sha": activation.merge_sha,
            "policy_blob": activation.policy_blob,
            "groups_blob": activation.groups_blob,
            "engine_version": activation.engine_version,
        },
        "ended": None if item.ended is None else {
            "how": item.ended.how.value, "at": _time(item.ended.at),
            "detail": item.ended.detail or None,
            "revocation_latency_seconds": _seconds(item.ended.latency),
        },
        "removal": None if item.removal is None else {
            "commit": item.removal.commit, "at": _time(item.removal.at),
            "expired_at": _time(item.removal.expired_at),
            "revoked_at": _time(item.removal.revoked_at),
        },
        "alerts": [{"at": _time(a.at), "code": a.code or None, "detail": a.detail}
                   for a in item.alerts],
        "ledger_records": list(item.records),
    }


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def _latencies(lifecycles: list[Lifecycle]) -> list[tuple[timedelta, str]]:
    return sorted((item.ended.latency, item.grant_id) for item in lifecycles
                  if item.ended is not None and item.ended.latency is not None)


def latency_line(lifecycles: list[Lifecycle]) -> str:
    """'revocation latency over 12 ends: median 2m, worst 14m (db/bob-...)'."""
    measured = _latencies(lifecycles)
    if not measured:
        return ""
    median = _median([lat for lat, _ in measured])
    worst, grant = measured[-1]
    return (f"revocation latency over {plural(len(measured), 'end')}: "
            f"median {_span(median)}, worst "
            f"{_span(worst)} ({grant})")


def _median(values: list[timedelta]) -> timedelta:
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _span(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    return format_duration(timedelta(minutes=seconds // 60))


def render_json(lifecycles: list[Lifecycle], problems: list[Finding] | None = None,
                ref: str = "") -> str:
    measured = _latencies(lifecycles)
    return json.dumps({
        "version": VERSION,
        "revocation_latency": None if not measured else {
            "ends": len(measured),
            "median_seconds": _seconds(_median([lat for lat, _ in measured])),
            "worst_seconds": _seconds(measured[-1][0]), "worst_grant": measured[-1][1]},
        "ledger": {"ref": ref or None, "intact": not problems,
                   "findings": [jsonout.finding(f) for f in problems or []]},
        "lifecycles": [lifecycle_document(item) for item in lifecycles],
    }, indent=2) + "\n"


CSV_COLUMNS = (
    "grant_id", "policy", "requester", "duration", "start", "justification", "ticket",
    "landed_commit", "landed_at", "pull_request", "approvals", "activated_at", "expires_at",
    "expiry_enforced_by", "break_glass", "review_by", "ended", "ended_at",
    "revocation_latency_seconds", "removal_commit", "removed_at", "detail",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str | None) -> str:
    # A spreadsheet runs a cell that starts like a formula; requesters write justifications.
    if text and text.startswith(_FORMULA_START):
        return "'" + text
    return text or ""


def render_csv(lifecycles: list[Lifecycle]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in lifecycles:
        grant, activation, ended, removal = (item.grant, item.activation, item.ended,
                                              item.removal)
        details = [ended.detail if ended else "", *(a.detail for a in item.alerts)]
        writer.writerow([
            item.grant_id, item.policy, item.requester,
            format_duration(grant.duration) if grant else "",
            _time(grant.start) if grant else "",
            _cell(grant.justification if grant else ""),
            _cell(grant.ticket if grant else ""),
            item.landed_commit or "", _time(item.landed_at) or "",
            item.pull_request or "",
            " ".join(f"{r.reviewer}@{_time(r.submitted_at) or '?'}" for r in item.approvals),
            _time(activation.activated_at) if activation else "",
            _time(activation.expires_at) if activation else "",
            activation.expiry_enforced_by.value if activation and activation.expiry_enforced_by
            else "",
            "yes" if item.break_glass else "",
            _time(item.review_by) or "",
            ended.how.value if ended else "",
            _time(ended.at) if ended else "",
            "" if ended is None or ended.latency is None else _seconds(ended.latency),
            removal.commit if removal else "",
            _time(removal.at) if removal else "",
            _cell("; ".join(d for d in details if d)),
        ])
    return out.getvalue()


def render_text(lifecycles: list[Lifecycle]) -> str:
    blocks = [_block(item) for item in lifecycles]
    ended = sum(1 for item in lifecycles if item.ended)
    latency = latency_line(lifecycles)
    blocks.append(f"{len(lifecycles)} grants: {ended} ended, {len(lifecycles) - ended} not "
                  "ended\n" + (f"{latency}\n" if latency else ""))
    return "\n".join(blocks)


def _block(item: Lifecycle) -> str:
    grant = item.grant
    if grant is not None:
        lines = [f"{item.grant_id}: {item.requester} asked for {item.policy} for "
                 f"{format_duration(grant.duration)}"]
        lines.append(f"  justification: {grant.justification}")
        if grant.ticket:
            lines.append(f"  ticket: {grant.ticket}")
        if grant.start:
            lines.append(f"  start: {_time(grant.start)}")
    else:
        lines = [f"{item.grant_id}: not a readable grant ({item.path})"]
    events: list[tuple[datetime, int, str]] = [
        (review.submitted_at, 0,
         f"{review.state.value.lower()} by {review.reviewer} on {review.commit[:12]}")
        for review in item.approvals if review.submitted_at is not None
    ]
    if item.landed_at is not None and item.landed_commit is not None:
        pr = f" (pull request #{item.pull_request})" if item.pull_request else ""
        events.append((item.landed_at, 1, f"landed in {item.landed_commit[:12]}{pr}"))
    activation = item.activation
    if activation is not None and activation.activated_at is not None:
        enforcer = activation.expiry_enforced_by.value if activation.expiry_enforced_by else "?"
        glass = (f"; BREAK-GLASS, to be reviewed by {_time(activation.review_by)}"
                 if activation.break_glass else "")
        events.append((activation.activated_at, 2,
                       f"activated until {_time(activation.expires_at)} (expiry enforced by "
                       f"{enforcer}; verified at {_time(activation.at)}{glass})"))
    events += [(alert.at, 3, f"alert{f' {alert.code}' if alert.code else ''}: {alert.detail}")
               for alert in item.alerts]
    if item.ended is not None:
        detail = f": {item.ended.detail}" if item.ended.detail else ""
        late = ""
        if item.ended.latency:
            late = f" ({_span(item.ended.latency)} after its end)"
        events.append((item.ended.at, 4, f"{item.ended.how.value}{late}{detail}"))
    if item.removal is not None:
        named = ""
        if item.removal.revoked_at is not None:
            named = (f" (expired at {_time(item.removal.expired_at)}, revoked at "
                     f"{_time(item.removal.revoked_at)})")
        events.append((item.removal.at, 5, f"removed in {item.removal.commit[:12]}{named}"))
    lines += [f"  {_time(when)}  {text}" for when, _order, text in sorted(events)]
    if item.ended is None:
        lines.append("  not ended")
    return "\n".join(lines) + "\n"
