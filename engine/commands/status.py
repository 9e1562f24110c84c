"""gitjit status: where every grant on the default branch stands now.

Grant files are read at the branch tip through git (never the working tree, which may hold a
pending request), their landing times from one first-parent walk, and the verdicts from the
ledger. With no ledger in the clone every grant shows as awaiting activation, with a note.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.actions.model import ACTIONS_DIR
from engine.actions.report import document as action_document
from engine.actions.report import read_stories, status_lines
from engine.actions.request import action_id
from engine.adapters.git import GitRepository
from engine.adapters.ledger import Ledger, LedgerNotFoundError, find_ledger_ref
from engine.adapters.localforge import LocalForge
from engine.commands.repository import read_config, read_signers
from engine.core.changes import REGULAR_FILE
from engine.core.forge import PullRequestState
from engine.core.grants import GRANTS_DIR, grant_id, load_grant
from engine.core.ledger import END_EVENTS, VERDICT_EVENTS, Record
from engine.core.models import Login, Settings
from engine.core.status import (
    SUMMARY_ORDER,
    GrantFile,
    GrantState,
    GrantStatus,
    StatusReport,
    build_status,
)
from engine.core.values import parse_login, plural
from engine.errors import UsageError
from engine.reporters.terminal import stdout_width

VERSION = 1
FORMATS = ("json", "text")


@dataclass(frozen=True)
class StatusOptions:
    repo: Path
    branch: str
    now: datetime
    format: str
    requester: Login | None = None
    """Only this person's grants and actions, and their open requests (--mine, --requester)."""


@dataclass(frozen=True)
class OpenRequest:
    """A pull request of the local forge that waits for its verdict or its merge."""

    number: int
    head_ref: str
    title: str
    opened_at: datetime | None


def run(options: StatusOptions) -> int:
    if not options.repo.is_dir():
        raise UsageError(f"--repo {options.repo}: no such directory")
    repo = GitRepository(options.repo)
    report = read_status(repo, options.branch, options.now)
    who = options.requester
    if who is None:
        print(render_json(report) if options.format == "json"
              else render_text(report, stdout_width()), end="")
        return 0
    report = replace(report, grants=tuple(g for g in report.grants if g.requester == who),
                     actions=tuple(a for a in report.actions if a.requester == who))
    requests = open_requests(repo, options.branch, who)
    if options.format == "json":
        document = json.loads(render_json(report))
        document["requester"] = str(who)
        document["requests"] = [{"number": r.number, "branch": r.head_ref, "title": r.title,
                                 "opened_at": format_time(r.opened_at)} for r in requests]
        print(json.dumps(document, indent=2))
        return 0
    text = render_text(report, stdout_width()).replace(f"no grants on {report.branch}",
                                       f"no grants of {who} on {report.branch}")
    lines = [f"open request #{r.number} ({r.head_ref}, opened {format_time(r.opened_at)}): "
             f"{r.title}" for r in requests]
    lines.append(f"{plural(len(requests), 'open request')} of {who} in the local forge "
                 "('gitjit local show N' for the verdict)")
    print(text + "\n".join(lines))
    return 0


def open_requests(repo: GitRepository, branch: str, who: Login) -> list[OpenRequest]:
    """``who``'s open pull requests into ``branch`` in the local forge (none when this clone
    never used it: requests opened on GitHub are listed there)."""
    forge = LocalForge(repo)
    if not forge.path.exists():
        return []
    return [OpenRequest(pr.number, pr.head_ref, pr.title, forge.opened_at(pr.number))
            for pr in forge.pull_requests()
            if pr.author == who and pr.base == branch and pr.state is PullRequestState.OPEN]


LOGIN_VARIABLE = "GITJIT_LOGIN"


def my_login(repo: Path) -> Login:
    """Who 'me' is for --mine: $GITJIT_LOGIN, else git's github.user setting (the convention
    of GitHub's own tools); never guessed from the commit e-mail, which is no forge login."""
    text = os.environ.get(LOGIN_VARIABLE, "").strip()
    source = f"${LOGIN_VARIABLE}"
    if not text:
        found = subprocess.run(["git", "-C", str(repo), "config", "--get", "github.user"],
                               capture_output=True, text=True, check=False)
        text, source = found.stdout.strip(), "git config github.user"
    if not text:
        raise UsageError(f"--mine needs your forge login: set {LOGIN_VARIABLE} or 'git config "
                         "--global github.user LOGIN', or give --requester LOGIN")
    try:
        return parse_login(text)
    except ValueError as exc:
        raise UsageError(f"{source}: {exc}") from None


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
    records: list[Record] = []
    untrusted: list[str] = []
    latency = None
    since = None
    try:
        ref: str | None = find_ledger_ref(repo)
    except LedgerNotFoundError:
        ref = None
    if ref is not None:
        # Only what gitjit signed: anything else on the ledger branch is named, never read.
        ledger = Ledger(repo, ref=ref, signers=read_signers(tree))
        state = ledger.state()
        gids = [grant_id(path) for path in paths]
        records = list(ledger.find([f"{event} {gid}" for gid in gids
                                    for event in (*VERDICT_EVENTS, *END_EVENTS)]).values())
        untrusted = [f"{c.sha[:12]}: {c.untrusted}" for c in state.forged]
        untrusted += [*state.unreadable, *([state.problem] if state.problem else [])]
        latency, since = state.index.latency(), state.index.main
    # When a grant landed matters only until the ledger has its verdict.
    decided = {r.grant_id for r in records if r.event in VERDICT_EVENTS}
    landed = {path: stamp.time for path, stamp in repo.first_parent_additions(
        tree.sha, [p for p in paths if grant_id(p) not in decided], since=since).items()}
    # A decided grant landed with the merge its record names.
    merges = {r.grant_id: r.merge_sha for r in records
              if r.event in VERDICT_EVENTS and r.merge_sha}
    times = repo.commit_times(merges.values())
    landed |= {path: times[merges[gid]] for path in paths
               if (gid := grant_id(path)) in merges and merges[gid] in times}
    files = []
    for path in paths:
        grant = load_grant(path, contents[path], loaded.schemas, max_bytes).grant
        files.append(GrantFile(path, grant, landed.get(path)))
    report = build_status(branch, files, sorted(records, key=lambda r: r.seq), now, ref,
                          untrusted)
    action_ids = [action_id(e.path) for e in tree.entries(ACTIONS_DIR)
                  if e.mode == REGULAR_FILE]
    action_records = [] if ref is None else list(ledger.find(
        [f"{kind} {aid}" for aid in action_ids
         for kind in ("started", "outcome", "refused", "alert")]).values())
    return replace(report, latency=latency, actions=tuple(read_stories(
        repo, tree.sha, loaded.schemas, max_bytes,
        sorted(action_records, key=lambda r: r.seq))))


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


def render_text(report: StatusReport, width: int | None = None) -> str:
    """The table of grants, then details and the summary. Where the table would not fit
    ``width`` (a terminal narrower than its rows), each grant is a short block instead."""
    lines = []
    if report.grants:
        rows = [_HEADER, *(_row(item) for item in report.grants)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
        table = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                 for row in rows]
        fits = width is None or max(len(line) for line in table) <= width
        lines += table if fits else [line for item in report.grants
                                     for line in _block(_row(item))]
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
        lines.append("note: no ledger (gitjit/ledger) in this clone, so no grant shows as "
                     "activated: nothing has been activated here yet, or origin's ledger is "
                     "not fetched (git fetch origin gitjit/ledger:gitjit/ledger)")
    if report.untrusted:
        lines.append(f"warning: {report.ledger_ref} holds {len(report.untrusted)} commits or "
                     "files gitjit did not write; they are ignored here (run 'gitjit audit "
                     "verify'):")
        lines += [f"  {text}" for text in report.untrusted]
    if report.latency is not None:
        lat = report.latency
        lines.append(f"revocation latency over {plural(lat.count, 'end')}: "
                     f"median {_span(lat.median)}, "
                     f"worst {_span(lat.worst)} ({lat.worst_grant})")
    lines += status_lines(list(report.actions))
    lines.append(report.summary())
    return "\n".join(lines) + "\n"


def _block(row: tuple[str, ...]) -> list[str]:
    """One grant in a few short lines: what the table's row says, by name."""
    grant, requester, policy, state, activated, expires, remaining, expiry_by = row
    lines = [f"{grant}: {state}", f"  {requester} for {policy}"]
    if activated != "-" or expires != "-":
        left = "" if remaining == "-" else f" ({remaining} left)"
        lines.append(f"  from {activated} until {expires}{left}")
    if expiry_by != "-":
        lines.append(f"  expiry enforced by {expiry_by}")
    return lines


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
