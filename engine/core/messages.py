"""What gitjit tells people, as data: one ``Message`` per notification, built from a ledger
record, a pending request, a grant on a timer, or a stalled reconcile.

A message is plain text throughout (no markup): each channel's renderer
(engine/reporters/messages.py) escapes every piece for its own format, so nothing a requester
wrote can become markup, a link or a mention anywhere. What the requester wrote (the
justification, the ticket) is kept apart from gitjit's own words and labelled as theirs.

Pure: times are passed in, nothing is read or sent here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from engine.core.decision import Decision, Outcome
from engine.core.ledger import ACTION_PREFIX, Event, Record
from engine.core.models import Grant, GrantId, Login
from engine.core.values import format_duration

_SPACE = re.compile(r"\s+")
_URL = re.compile(r"https?://[^\s()<>\"'`\\|{}]+")
MAX_TEXT = 500
"""Characters of a requester's own text a message repeats; the rest is on the pull request."""
MAX_REASONS = 3


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ALERT = "alert"


class Kind(StrEnum):
    """Every kind of message gitjit sends (docs/notifications.md shows each rendered)."""

    ACTIVATED = "activated"
    SCHEDULED = "scheduled"
    REFUSED = "refused"
    EXPIRED = "expired"
    RELINQUISHED = "relinquished"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"
    RETARGETED = "retargeted"
    DEFERRED = "deferred"
    ALERT = "alert"
    COMPLETED = "completed"
    FAILED = "failed"
    UNKNOWN = "unknown"
    REQUEST_ANNOUNCED = "request.announced"
    REQUEST_APPROVED = "request.approved"
    REQUEST_DENIED = "request.denied"
    REQUEST_WITHDRAWN = "request.withdrawn"
    REQUEST_REMINDED = "request.reminded"
    REQUEST_ESCALATED = "request.escalated"
    REQUEST_CLOSED = "request.closed"
    ACCESS_EXPIRING = "access.expiring"
    ACCESS_STARTED = "access.started"
    WATCHDOG_STALE = "watchdog.stale"
    ACCESS_REVIEW = "access.review"


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class Message:
    kind: Kind
    title: str
    """One line: an e-mail's subject, a chat message's heading."""
    lead: str
    """The first sentence, shown bold."""
    rest: str = ""
    """What follows the lead on its line (it carries its own leading space or punctuation)."""
    facts: tuple[Fact, ...] = ()
    quote: Fact | None = None
    """The requester's own words (their justification), shown apart and labelled as theirs."""
    link: Fact | None = None
    """A button or link: its label and an http(s) URL."""
    severity: Severity = Severity.INFO
    break_glass: bool = False
    at: datetime | None = None
    grant_id: str = ""
    policy: str = ""
    requester: str = ""
    pull_request: int | None = None
    people: tuple[str, ...] = ()
    """Who is asked to act (the approvers still missing, those an escalation tells)."""
    data: tuple[tuple[str, str], ...] = field(default=())
    """More machine-readable fields for the webhook document (code, reminder number ...)."""


def one_line(value: object, limit: int = MAX_TEXT) -> str:
    """Text as one line of at most ``limit`` characters (with '...' where it was cut)."""
    text = _SPACE.sub(" ", "" if value is None else str(value)).strip()
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def their_words(value: object, limit: int = MAX_TEXT) -> str:
    """A requester's own text, made harmless to repeat: one line, capped, its links defanged
    ('https[:]//...', so no channel turns it into a link to click), and '{{' broken apart (a
    template of apprise's substitutes '{{app_body}}' and the like)."""
    text = one_line(value, limit).replace("://", "[:]//")
    while "{{" in text or "}}" in text:
        text = text.replace("{{", "{ {").replace("}}", "} }")
    return text


def safe_url(url: str) -> str:
    """``url`` when it is a plain http(s) URL, else "" (never a javascript: or data: link)."""
    return url if _URL.fullmatch(url or "") else ""


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else "?"


def _pr_link(number: int | None, url: str) -> Fact | None:
    checked = safe_url(url)
    if number is None or not checked:
        return None
    return Fact(f"Open pull request #{number}", checked)


# -- ledger records ----------------------------------------------------------------------

REFUSAL_ALERT = "activation.refused"
_ALERT_LEADS = {
    "ledger.forged": ("Alert: a commit on the ledger branch was not written by gitjit.",
                      " gitjit ignores it: it grants, ends and hides nothing. Find out who "
                      "pushed it, and protect the ledger branch."),
    "ledger.unreadable": ("Alert: a record on the ledger cannot be read.",
                          " It is skipped; the rest of the run went on."),
}


def record_kind(record: Record) -> Kind:
    if record.event is Event.ALERT and record.code in ("", REFUSAL_ALERT):
        return Kind.REFUSED  # the refusal and its alert are one message
    if (record.event is Event.ACTIVATED and record.activated_at is not None
            and record.activated_at > record.at):
        return Kind.SCHEDULED
    return Kind(str(record.event))


def from_record(record: Record) -> Message:
    """The message of one recorded state change (activate and reconcile send these)."""
    kind = record_kind(record)
    alert = record.event in (Event.REFUSED, Event.ALERT)
    gid = record.grant_id
    lead, rest = _record_lead(record, kind)
    facts = [Fact("event", "scheduled" if kind is Kind.SCHEDULED else
                  ("refused" if kind is Kind.REFUSED else str(record.event)))]
    if record.code:
        facts.append(Fact("alert", record.code))
    if gid:
        facts.append(Fact("action" if gid.startswith(ACTION_PREFIX) else "grant", gid))
    if record.requester:
        facts.append(Fact("requester", record.requester))
    if record.policy:
        facts.append(Fact("policy", record.policy))
    if record.break_glass:
        facts.append(Fact("break-glass", f"yes, review by {_when(record.review_by)}"))
    if record.activated_at and record.expires_at:
        facts.append(Fact("window", f"{_when(record.activated_at)} until "
                                    f"{_when(record.expires_at)}"))
    if record.action is not None:
        run = record.action
        facts.append(Fact("plan digest", run.digest))
        if run.rows is not None:
            facts.append(Fact("rows changed", str(run.rows)))
        if run.exit_code is not None:
            facts.append(Fact("exit status", str(run.exit_code)))
        if run.duration_ms is not None:
            facts.append(Fact("duration", f"{run.duration_ms} ms"))
    if record.pull_request:
        facts.append(Fact("pull request", f"#{record.pull_request}"))
    facts.append(Fact("recorded at", _when(record.at)))
    if record.detail:
        facts.append(Fact("detail", record.detail))
    glass = "BREAK-GLASS " if record.break_glass and record.event is Event.ACTIVATED else ""
    shown = "refused" if kind is Kind.REFUSED else (
        "scheduled" if kind is Kind.SCHEDULED else str(record.event))
    suffix = ""
    if alert:
        suffix = " (alert" + (f" {record.code}" if record.code and record.code != REFUSAL_ALERT
                              else "") + ")"
    return Message(
        kind=kind, title=one_line(f"gitjit: {glass}{shown}{suffix} "
                                  f"{gid or record.policy or '(the ledger)'}"),
        lead=lead, rest=rest, facts=tuple(facts),
        severity=Severity.ALERT if alert else Severity.INFO,
        break_glass=record.break_glass, at=record.at, grant_id=gid, policy=record.policy,
        requester=record.requester, pull_request=record.pull_request,
        data=(("event", str(record.event)), ("code", record.code)))


def _record_lead(record: Record, kind: Kind) -> tuple[str, str]:
    gid, code = record.grant_id, record.code
    if record.event is Event.ALERT and code in _ALERT_LEADS:
        return _ALERT_LEADS[code]
    if record.event is Event.ALERT and code in ("deletion.unapproved", "deletion.unverified"):
        return (f"Alert: grant {gid} was deleted without an approval gitjit could verify.",
                " Its access is revoked anyway; find out who deleted it.")
    if record.event is Event.ALERT and code == "record.mismatch":
        return (f"Alert: the record of grant {gid} disagrees with the default branch and "
                "the forge.", " Its access is revoked.")
    if record.event is Event.ALERT and code == "target.drift":
        return (f"Alert: someone holds {record.policy or 'a policy'}'s target without a live "
                "grant.", " Access granted by hand, or left behind: the detail says who and "
                "what gitjit did about it. Grant it through a request, or list them under "
                "drift.except.")
    if record.event is Event.ALERT and code == "action.outcome-unknown":
        return (f"Alert: the outcome of action {gid} is unknown.",
                " It was started and no outcome was recorded; it is never run again. Check "
                "the target by hand; a new request is needed to run it.")
    if kind is Kind.REFUSED and gid.startswith(ACTION_PREFIX):
        return (f"Alert: action {gid} was refused at activation.",
                " It landed on the default branch but failed re-verification, so it never "
                "ran.")
    if record.event is Event.ALERT and code == "target.unverified-access":
        return (f"Alert: a target held access for {gid} that gitjit never verified.",
                " It is revoked.")
    if record.event is Event.ALERT and kind is not Kind.REFUSED:
        return f"Alert: {code or 'something'} about {gid or 'the ledger'}.", " See the detail."
    if kind is Kind.REFUSED:
        return (f"Alert: grant {gid} was refused at activation.",
                " It landed on the default branch but failed re-verification, so it was never "
                "applied to any target; its file is removed.")
    if kind is Kind.SCHEDULED:
        return (f"Grant {gid} was scheduled.", f" Its access starts at "
                f"{_when(record.activated_at)} and ends at {_when(record.expires_at)}.")
    if record.event is Event.ACTIVATED and record.break_glass:
        return (f"BREAK-GLASS: grant {gid} was activated without review.",
                f" Its use must be reviewed by {_when(record.review_by)}.")
    leads = {
        Event.ACTIVATED: (f"Grant {gid} was activated.", ""),
        Event.EXPIRED: (f"Grant {gid} expired",
                        "; its access is revoked (or held by another live grant)."),
        Event.RELINQUISHED: (f"Grant {gid} was relinquished", " by its requester before its end."),
        Event.REVOKED: (f"Grant {gid} was revoked", " before its end."),
        Event.SUPERSEDED: (f"Grant {gid} was superseded", " by a grant that extends it."),
        Event.RETARGETED: (f"Grant {gid} was moved", " to its policy's new target."),
        Event.COMPLETED: (f"Action {gid} ran and completed.", ""),
        Event.FAILED: (f"Action {gid} ran and failed", "; it is not run again."),
        Event.UNKNOWN: (f"The outcome of action {gid} is unknown", "; it is not run again."),
    }
    return leads.get(record.event, (f"Grant {gid}: {record.event}.", ""))


# -- pending requests --------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """A request's pull request, as the timers see it."""

    grant_id: GrantId
    policy: str
    requester: Login
    number: int
    url: str
    opened_at: datetime | None
    """When its pull request was opened, as the forge says (None where it did not)."""
    decision: Decision
    """The verdict as of this run (the same the verdict job computes)."""

    @property
    def grant(self) -> Grant | None:
        return self.decision.grant

    @property
    def break_glass(self) -> bool:
        return self.decision.break_glass or bool(self.grant and self.grant.break_glass)


def waiting_for(decision: Decision) -> list[str]:
    """Each missing approval step, in words: '1 more from group:dba (dave, erin)'."""
    parts = []
    for missing in decision.missing:
        who = ", ".join(missing.eligible) or "nobody eligible"
        parts.append(f"{missing.needed} more from {missing.approvers} ({who})")
    return parts


def approvers(decision: Decision) -> tuple[str, ...]:
    """Who may give the approvals still missing, in order."""
    return tuple(dict.fromkeys(login for m in decision.missing for login in m.eligible))


def _request_facts(request: Request) -> list[Fact]:
    grant = request.grant
    facts = [Fact("requester", request.requester), Fact("policy", request.policy)]
    if grant is not None:
        facts.append(Fact("duration", format_duration(grant.duration)))
        if grant.start is not None:
            facts.append(Fact("start", _when(grant.start)))
        if grant.ticket:
            facts.append(Fact("ticket", their_words(grant.ticket, 100)))
        if grant.extends:
            facts.append(Fact("extends", grant.extends))
    if request.break_glass:
        facts.append(Fact("break-glass", "yes: approved without review, reviewed after the "
                                         "fact"))
    facts.append(Fact("grant", request.grant_id))
    facts.append(Fact("pull request", f"#{request.number}"))
    if request.opened_at is not None:
        facts.append(Fact("requested at", _when(request.opened_at)))
    return facts


def _quote(request: Request) -> Fact | None:
    grant = request.grant
    if grant is None or not grant.justification.strip():
        return None
    return Fact("justification, as the requester wrote it", their_words(grant.justification))


def _asks(request: Request) -> str:
    grant = request.grant
    span = f" for {format_duration(grant.duration)}" if grant is not None else ""
    return f"{request.requester} asks for {request.policy}{span}"


def _request_message(kind: Kind, request: Request, title: str, lead: str, rest: str,
                     facts: Sequence[Fact], now: datetime, *,
                     severity: Severity = Severity.INFO, people: Sequence[str] = (),
                     data: Sequence[tuple[str, str]] = ()) -> Message:
    glass = "BREAK-GLASS " if request.break_glass else ""
    return Message(
        kind=kind, title=one_line(f"gitjit: {glass}{title} {request.grant_id}"),
        lead=(f"BREAK-GLASS: {lead}" if request.break_glass else lead), rest=rest,
        facts=tuple(facts), quote=_quote(request), link=_pr_link(request.number, request.url),
        severity=severity, break_glass=request.break_glass, at=now,
        grant_id=request.grant_id, policy=request.policy, requester=request.requester,
        pull_request=request.number, people=tuple(people), data=tuple(data))


def announced(request: Request, now: datetime) -> Message:
    """A new request, when the scheduled job first sees its pull request judged."""
    decision = request.decision
    facts = _request_facts(request)
    waiting = waiting_for(decision)
    if decision.outcome is Outcome.APPROVED:
        how = "auto-approved" if decision.auto_approved else (
            "approved as break-glass" if decision.break_glass else "approved")
        rest = f" It is {how} and can be merged."
    else:
        rest = " It waits for " + "; ".join(waiting) + "." if waiting else (
            " It waits for approval.")
        facts.insert(2, Fact("may approve", "; ".join(waiting) or "see the pull request"))
    return _request_message(Kind.REQUEST_ANNOUNCED, request, "new request", f"{_asks(request)}.",
                            rest, facts, now,
                            severity=Severity.WARNING if request.break_glass else Severity.INFO,
                            people=approvers(decision))


def approved(request: Request, now: datetime) -> Message:
    return _request_message(
        Kind.REQUEST_APPROVED, request, "request approved",
        f"Request {request.grant_id} is approved.",
        " It can be merged; access starts at the merge (or at its start, if later).",
        _request_facts(request), now)


def denied(request: Request, now: datetime) -> Message:
    # A reason may quote what the requester wrote (a ticket that does not match ...).
    reasons = [their_words(f.message, 300) for f in request.decision.errors[:MAX_REASONS]]
    facts = _request_facts(request) + [Fact("reason", r) for r in reasons]
    more = len(request.decision.errors) - len(reasons)
    if more > 0:
        facts.append(Fact("more reasons", f"{more} more on the pull request"))
    return _request_message(
        Kind.REQUEST_DENIED, request, "request denied", f"Request {request.grant_id} is denied.",
        " No approval can fix it: the pull request must change (see its plan comment).",
        facts, now, severity=Severity.WARNING)


def withdrawn(grant: GrantId, policy: str, requester: str, number: int, url: str,
              now: datetime) -> Message:
    return Message(
        kind=Kind.REQUEST_WITHDRAWN, title=one_line(f"gitjit: request withdrawn {grant}"),
        lead=f"Request {grant} was withdrawn.",
        rest=f" Its pull request #{number} was closed without a merge.",
        facts=(Fact("requester", requester), Fact("policy", policy), Fact("grant", grant),
               Fact("pull request", f"#{number}")),
        link=_pr_link(number, url), at=now, grant_id=grant, policy=policy,
        requester=requester, pull_request=number)


def reminded(request: Request, index: int, total: int, age: timedelta,
             now: datetime) -> Message:
    waiting = waiting_for(request.decision)
    facts = _request_facts(request)
    facts.insert(2, Fact("may approve", "; ".join(waiting) or "see the pull request"))
    facts.insert(0, Fact("reminder", f"{index} of {total}"))
    return _request_message(
        Kind.REQUEST_REMINDED, request, f"reminder {index} of {total}:",
        f"Reminder: {request.requester}'s request for {request.policy} has waited "
        f"{format_duration(age)} for approval.",
        " Still missing: " + "; ".join(waiting) + "." if waiting else " It still waits.",
        facts, now, people=approvers(request.decision),
        data=(("reminder", str(index)), ("reminders", str(total))))


def escalated(request: Request, age: timedelta, told: Sequence[str],
              now: datetime) -> Message:
    waiting = waiting_for(request.decision)
    facts = _request_facts(request)
    facts.insert(2, Fact("may approve", "; ".join(waiting) or "see the pull request"))
    if told:
        facts.insert(0, Fact("escalated to", ", ".join(told)))
    return _request_message(
        Kind.REQUEST_ESCALATED, request, "escalated:",
        f"Escalated: {request.requester}'s request for {request.policy} has waited "
        f"{format_duration(age)} for approval.",
        " Still missing: " + "; ".join(waiting) + "." if waiting else " It still waits.",
        facts, now, severity=Severity.WARNING, people=tuple(told))


def ask_again(policy: str, requester: str, grant: Grant | None) -> str:
    """The command that asks for the same access again."""
    duration = f" --duration {format_duration(grant.duration)}" if grant is not None else ""
    return (f"gitjit request {policy} --as {requester}{duration} --justification WHY")


def closed(request: Request, expire_after: timedelta, now: datetime) -> Message:
    facts = _request_facts(request)
    facts.append(Fact("ask again", ask_again(request.policy, request.requester,
                                             request.grant)))
    return _request_message(
        Kind.REQUEST_CLOSED, request, "request closed",
        f"Request {request.grant_id} was closed: it waited longer than "
        f"{format_duration(expire_after)} for approval.",
        " To ask again, open a new request (a new grant file).", facts, now,
        severity=Severity.WARNING)


# -- grants on a timer -------------------------------------------------------------------


def extend_command(activated: Record, duration: timedelta | None) -> str:
    length = f" --duration {format_duration(duration)}" if duration else ""
    return (f"gitjit request {activated.policy} --as {activated.requester} --extends "
            f"{activated.grant_id}{length} --justification WHY")


def expiring(activated: Record, now: datetime, duration: timedelta | None) -> Message:
    """The requester's grant ends soon: how to keep it."""
    assert activated.expires_at is not None
    left = max(activated.expires_at - now, timedelta(seconds=1))
    left = timedelta(seconds=int(left.total_seconds()))
    gid = activated.grant_id
    return Message(
        kind=Kind.ACCESS_EXPIRING, title=one_line(f"gitjit: ends soon {gid}"),
        lead=f"Grant {gid} ends at {_when(activated.expires_at)}, in {format_duration(left)}.",
        rest=" To keep the access, request an extension now: a new grant that names this one "
             "in 'extends', approved like any request.",
        facts=(Fact("grant", gid), Fact("requester", activated.requester),
               Fact("policy", activated.policy),
               Fact("ends at", _when(activated.expires_at)),
               Fact("extend", extend_command(activated, duration)),
               Fact("or", f"a pull request adding a grant with 'extends: {gid}'")),
        severity=Severity.WARNING, break_glass=activated.break_glass, at=now, grant_id=gid,
        policy=activated.policy, requester=activated.requester,
        pull_request=activated.pull_request)


def started(activated: Record, now: datetime) -> Message:
    """A scheduled grant's access has really started."""
    gid = activated.grant_id
    return Message(
        kind=Kind.ACCESS_STARTED, title=one_line(f"gitjit: started {gid}"),
        lead=f"Grant {gid} is active now.",
        rest=f" Scheduled at its merge, its access started at {_when(activated.activated_at)} "
             f"and ends at {_when(activated.expires_at)}.",
        facts=(Fact("grant", gid), Fact("requester", activated.requester),
               Fact("policy", activated.policy),
               Fact("window", f"{_when(activated.activated_at)} until "
                              f"{_when(activated.expires_at)}"),
               *((Fact("pull request", f"#{activated.pull_request}"),)
                 if activated.pull_request else ())),
        break_glass=activated.break_glass, at=now, grant_id=gid, policy=activated.policy,
        requester=activated.requester, pull_request=activated.pull_request)


def watchdog(repository: str, last: datetime | None, after: timedelta,
             now: datetime) -> Message:
    """Reconcile has not succeeded for too long: expired grants may keep their access."""
    since = (f"since {_when(last)}" if last is not None else
             "in the recent history of the default branch")
    stalled = (f"for {format_duration(timedelta(seconds=int((now - last).total_seconds())))}"
               if last is not None else "at all")
    return Message(
        kind=Kind.WATCHDOG_STALE, title=one_line(f"gitjit: ALERT reconcile stalled in "
                                                 f"{repository}"),
        lead=f"Alert: reconcile has not succeeded {stalled} ({since}).",
        rest=" Until it runs again, grants whose time is up may keep their access (unless "
             "their target ends it on its own). Check the reconcile workflow's runs.",
        facts=(Fact("repository", repository),
               Fact("last success", _when(last) if last else "none found"),
               Fact("allowed", f"{format_duration(after)} without a success"),
               Fact("checked at", _when(now))),
        severity=Severity.ALERT, at=now)


# -- the access review ---------------------------------------------------------------------


def access_review(period: str, headline: str, summary: Sequence[str],
                  findings: Sequence[tuple[str, str]], *, high: int,
                  limit: int = 30) -> Message:
    """`gitjit report --notify`'s message: the period, the counts, and one fact per finding
    (``(level and code, what)``), the first ``limit`` of them. Findings quote what people
    wrote (a justification), so it is all plain text that each channel's format escapes."""
    facts = [Fact("summary", one_line(line)) for line in summary]
    facts += [Fact(label, one_line(text)) for label, text in findings[:limit]]
    if len(findings) > limit:
        facts.append(Fact("more", f"{len(findings) - limit} more findings (see the full "
                                  "report)"))
    return Message(kind=Kind.ACCESS_REVIEW, title=one_line(f"gitjit access review: {headline}"),
                   lead=one_line(period) + ".", rest=f" {headline}.", facts=tuple(facts),
                   severity=Severity.WARNING if high else Severity.INFO,
                   data=(("findings", str(len(findings))), ("high", str(high))))
