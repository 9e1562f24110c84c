"""What the ledger holds that gitjit did not write: never believed, always alerted.

A commit on the ledger branch without a valid signature of a key in policies/allowed_signers
is not gitjit's, whatever it says. Activate and reconcile read past it (the ledger is the tree
of the newest commit gitjit signed), and record one alert per such commit, naming what it
claims, so the policy's channels and the settings' alert channels hear of it once."""

from __future__ import annotations

from datetime import datetime

from engine.adapters.notify import Notifier
from engine.core.ledger import (
    Event,
    LedgerCommit,
    LedgerState,
    Record,
    RecordError,
    forged_finding,
    parse_record,
)
from engine.core.models import GrantId
from engine.errors import GitjitError
from engine.lifecycle.context import ENGINE_VERSION, Lifecycle, Report, Run

LEDGER = "(ledger)"
"""How reports name the ledger itself."""


def alert_untrusted(life: Lifecycle, run: Run, notifier: Notifier, report: Report,
                    now: datetime, *, dry_run: bool) -> LedgerState:
    """Report and record an alert for each commit gitjit did not write and each record file
    it cannot read; the ledger's state afterwards."""
    state = run.state
    if state.problem:
        report.add(LEDGER, "untrusted", state.problem, failed=True)
    drafts = [_forged(commit, now) for commit in state.forged]
    drafts += [Record(event=Event.ALERT, grant_id=_no_grant(), policy="", requester="", at=now,
                      engine_version=ENGINE_VERSION, code="ledger.unreadable",
                      subject=_file_subject(text), detail=f"{text}; the record is skipped")
               for text in state.unreadable]
    for draft in drafts:
        report.add(draft.grant_id or LEDGER, draft.code, draft.detail, failed=True)
    if not drafts or dry_run or run.cannot_write:
        return state
    for draft in drafts:
        try:
            notifier.notify(life.ledger.append(draft))
        except GitjitError as exc:
            report.add(draft.grant_id or LEDGER, "record", str(exc), failed=True)
    return life.ledger.state()


def _forged(commit: LedgerCommit, now: datetime) -> Record:
    claims = _claimed(commit)
    about = claims[0] if len(claims) == 1 else None
    return Record(
        event=Event.ALERT, grant_id=about.grant_id if about else _no_grant(),
        policy=about.policy if about else "", requester=about.requester if about else "",
        at=now, engine_version=ENGINE_VERSION, code="ledger.forged", subject=commit.sha,
        detail=forged_finding(commit).message,
    )


def _claimed(commit: LedgerCommit) -> list[Record]:
    """The records a commit adds or rewrites, where they can be read."""
    claims = []
    for change in commit.changes:
        raw = commit.blobs.get(change.new_blob) if change.status in ("A", "M") else None
        if raw is None:
            continue
        try:
            claims.append(parse_record(raw, source=change.path))
        except RecordError:
            continue
    return claims


def _no_grant() -> GrantId:
    return GrantId("")


def _file_subject(text: str) -> str:
    # "records/00000007-activated-x.json (gitjit/ledger ...): ..." -> the file's name
    return text.split(" ", 1)[0][:200]
