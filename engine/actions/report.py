"""Every action's story, for ``gitjit status`` and ``gitjit audit``: from the request files on
the default branch and the trusted ledger (pure; ``read_stories`` reads them from git)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from engine.actions.model import ACTIONS_DIR, ActionId, ActionRequest
from engine.actions.request import action_id, load_action, parse_path
from engine.adapters.git import GitRepository
from engine.core.changes import REGULAR_FILE
from engine.core.ledger import OUTCOME_EVENTS, Event, Record
from engine.core.schema import SchemaSet


class ActionState(StrEnum):
    AWAITING = "awaiting-run"
    """On the default branch; activate has not verified and run it yet."""
    STARTED = "started"
    """Started; its outcome is not recorded (yet): the next activate seals it unknown."""
    COMPLETED = "completed"
    FAILED = "failed"
    UNKNOWN = "unknown"
    REFUSED = "refused"


STATE_ORDER = (ActionState.COMPLETED, ActionState.FAILED, ActionState.UNKNOWN,
               ActionState.REFUSED, ActionState.STARTED, ActionState.AWAITING)


@dataclass(frozen=True)
class ActionStory:
    id: str
    policy: str
    requester: str
    state: ActionState
    request: ActionRequest | None
    """The request file as it is on the default branch; None when it cannot be read."""
    started: Record | None
    outcome: Record | None
    refusal: Record | None
    alerts: tuple[Record, ...]

    @property
    def pull_request(self) -> int | None:
        for record in (self.started, self.refusal, self.outcome):
            if record is not None and record.pull_request is not None:
                return record.pull_request
        return None

    @property
    def what(self) -> str:
        request = self.request
        if request is None:
            return "(request file not readable)"
        return f"runbook {request.runbook}" if request.runbook else "free-form SQL"

    def times(self) -> list[datetime]:
        found = [r.at for r in (self.started, self.outcome, self.refusal) if r is not None]
        return sorted(found + [a.at for a in self.alerts])


def build_stories(requests: Mapping[ActionId, ActionRequest | None],
                  records: Iterable[Record]) -> list[ActionStory]:
    """One story per action the branch or the ledger knows, by id."""
    mine: dict[str, list[Record]] = {}
    for record in sorted(records, key=lambda r: r.seq):
        if record.grant_id.startswith(ACTIONS_DIR):
            mine.setdefault(record.grant_id, []).append(record)
    stories = []
    for aid in sorted(set(requests) | set(mine)):
        history = mine.get(aid, [])
        aid = ActionId(aid)
        started = next((r for r in history if r.event is Event.STARTED), None)
        outcome = next((r for r in history if r.event in OUTCOME_EVENTS), None)
        refusal = next((r for r in history if r.event is Event.REFUSED), None)
        if outcome is not None:
            state = ActionState(str(outcome.event))
        elif refusal is not None:
            state = ActionState.REFUSED
        elif started is not None:
            state = ActionState.STARTED
        else:
            state = ActionState.AWAITING
        request = requests.get(aid)
        parts = parse_path(f"{aid}.yaml")
        named = next((r for r in history if r.requester), None)
        stories.append(ActionStory(
            id=aid,
            policy=request.policy if request else named.policy if named else
            (parts.policy if parts else ""),
            requester=request.requester if request else named.requester if named else
            (parts.requester if parts else ""),
            state=state, request=request, started=started, outcome=outcome, refusal=refusal,
            alerts=tuple(r for r in history if r.event is Event.ALERT)))
    return stories


def read_stories(repo: GitRepository, tip: str, schemas: SchemaSet, max_bytes: int,
                 records: Iterable[Record]) -> list[ActionStory]:
    tree = repo.tree(tip)
    paths = [e.path for e in tree.entries(ACTIONS_DIR) if e.mode == REGULAR_FILE]
    contents = tree.read_many(paths)
    requests = {action_id(path): load_action(path, contents[path], schemas, max_bytes).request
                for path in paths}
    return build_stories(requests, records)


def summary(stories: list[ActionStory]) -> str:
    counts = {state: sum(1 for s in stories if s.state is state) for state in STATE_ORDER}
    return f"{len(stories)} actions: " + ", ".join(f"{n} {state.value}"
                                                   for state, n in counts.items())


def _time(when: datetime | None) -> str:
    return "-" if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


def status_lines(stories: list[ActionStory]) -> list[str]:
    """The actions table of ``gitjit status``."""
    if not stories:
        return []
    header = ("ACTION", "REQUESTER", "POLICY", "STATE", "RAN AT", "PR", "WHAT")
    rows = [header] + [(s.id, s.requester or "-", s.policy or "-", s.state.value,
                        _time(s.started.at if s.started else None),
                        f"#{s.pull_request}" if s.pull_request else "-", s.what)
                       for s in stories]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    for story in stories:
        end = story.outcome or story.refusal
        if end is not None and end.detail and story.state is not ActionState.COMPLETED:
            lines.append(f"{story.id}: {story.state.value}: {end.detail}")
    lines.append(summary(stories))
    return lines


def document(story: ActionStory) -> dict[str, Any]:
    request, started, outcome = story.request, story.started, story.outcome
    last = outcome or started
    run = last.action if last is not None else None
    end = outcome or story.refusal
    return {
        "action_id": story.id,
        "policy": story.policy or None,
        "requester": story.requester or None,
        "state": story.state.value,
        "pull_request": story.pull_request,
        "request": None if request is None else {
            "runbook": request.runbook, "params": dict(request.params), "sql": request.sql,
            "max_rows": request.max_rows, "justification": request.justification,
            "ticket": request.ticket},
        "approvals": [{"reviewer": r.reviewer, "commit": r.commit,
                       "submitted_at": _time(r.submitted_at)}
                      for r in (started.reviews if started else ())],
        "started_at": _time(started.at) if started else None,
        "merge_sha": started.merge_sha if started else None,
        "ended_at": _time(outcome.at) if outcome else None,
        "runs": run.runs if run else None,
        "digest": run.digest if run else None,
        "rows": run.rows if run else None,
        "exit_code": run.exit_code if run else None,
        "duration_ms": run.duration_ms if run else None,
        "output_digest": (run.output_digest or None) if run else None,
        "excerpt": (run.excerpt or None) if run else None,
        "detail": (end.detail or None) if end is not None else None,
        "alerts": [{"at": _time(a.at), "code": a.code or None, "detail": a.detail}
                   for a in story.alerts],
    }


def audit_block(story: ActionStory) -> str:
    request = story.request
    lines = [f"{story.id}: {story.what} of {story.policy}, asked by {story.requester}"]
    if request is not None:
        lines.append(f"  justification: {request.justification}")
        if request.ticket:
            lines.append(f"  ticket: {request.ticket}")
    run = story.started.action if story.started else None
    if run is not None:
        lines += [f"  runs: {line}" for line in run.runs.splitlines()]
    events: list[tuple[datetime, int, str]] = []
    if story.started is not None:
        started = story.started
        events += [(r.submitted_at, 0, f"approved by {r.reviewer} on {r.commit[:12]}")
                   for r in started.reviews if r.submitted_at is not None]
        events.append((started.at, 1, f"started (pull request #{started.pull_request}, merge "
                       f"{(started.merge_sha or '')[:12]}, plan digest "
                       f"{run.digest[:16] if run else '?'})"))
    if story.refusal is not None:
        events.append((story.refusal.at, 2, f"refused: {story.refusal.detail}"))
    if story.outcome is not None and story.outcome.action is not None:
        sealed = story.outcome.action
        facts = [f"{sealed.rows} rows" if sealed.rows is not None else "",
                 f"exit {sealed.exit_code}" if sealed.exit_code is not None else "",
                 f"{sealed.duration_ms} ms" if sealed.duration_ms is not None else ""]
        shown = ", ".join(f for f in facts if f)
        detail = f": {story.outcome.detail}" if story.outcome.detail else ""
        events.append((story.outcome.at, 3, f"{story.outcome.event}"
                       + (f" ({shown})" if shown else "") + detail))
    events += [(a.at, 4, f"alert {a.code}: {a.detail}") for a in story.alerts]
    lines += [f"  {_time(when)}  {text}" for when, _o, text in sorted(events)]
    if story.state is ActionState.AWAITING:
        lines.append("  not run yet")
    return "\n".join(lines) + "\n"
