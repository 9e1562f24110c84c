"""The timers around a request and a grant, as pure decisions: what is due at ``now``, given
what the ledger says was sent already.

Each message is recorded (a ``notice`` record) before it is sent, keyed by its subject, so a
rerun, a second run racing the first, or a crash after the record never sends it twice. The
subjects:

    request.announced:<pr>      a new request told to its channels and approvers
    request.approved:<pr>       ... and, once, when it is approved, denied or withdrawn
    request.denied:<pr>
    request.withdrawn:<pr>
    request.reminded:<pr>:<n>   the n-th reminder of the approvers still missing
    request.escalated:<pr>      the one escalation
    request.closed:<pr>         closed after waiting longer than pending.expire_after
    access.expiring:<grant>     the requester hears the grant ends soon
    access.started:<grant>      a scheduled grant's access really started

A request is keyed by its pull request (the same grant file may be asked for again in a new
pull request); a grant by its id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from engine.core.decision import Outcome
from engine.core.ledger import REQUEST_ANNOUNCED, Event, Record, event_key, request_number
from engine.core.models import ExpiringRule, GrantId, PendingRule, WatchdogRule

ANNOUNCED = REQUEST_ANNOUNCED
APPROVED = "request.approved"
DENIED = "request.denied"
WITHDRAWN = "request.withdrawn"
REMINDED = "request.reminded"
ESCALATED = "request.escalated"
CLOSED = "request.closed"
EXPIRING = "access.expiring"
STARTED = "access.started"
REQUEST_CODES = (ANNOUNCED, APPROVED, DENIED, WITHDRAWN, REMINDED, ESCALATED, CLOSED)
FINAL = (WITHDRAWN, CLOSED)
"""What ends a request's story in the notices (a merge is told by activation)."""


def request_subject(code: str, number: int, index: int | None = None) -> str:
    return f"{code}:{number}" + (f":{index}" if index is not None else "")


def grant_subject(code: str, grant: GrantId) -> str:
    return f"{code}:{grant}"


def request_keys(grant: GrantId, number: int, reminders: int) -> list[str]:
    """The ledger keys of every notice a request (pull request ``number`` adding ``grant``)
    may have, with up to ``reminders`` reminders: what a run looks up instead of reading
    every record."""
    subjects = [request_subject(code, number) for code in REQUEST_CODES if code != REMINDED]
    subjects += [request_subject(REMINDED, number, n) for n in range(1, reminders + 1)]
    return [event_key(Event.NOTICE, grant, subject) for subject in subjects]


def grant_keys(grant: GrantId) -> list[str]:
    """The ledger keys of the notices a grant may have."""
    return [event_key(Event.NOTICE, grant, grant_subject(code, grant))
            for code in (EXPIRING, STARTED)]


@dataclass
class RequestSent:
    """What the ledger says was told about one request (one pull request)."""

    number: int
    grant_id: GrantId = GrantId("")
    policy: str = ""
    requester: str = ""
    codes: set[str] = field(default_factory=set)
    reminders: set[int] = field(default_factory=set)
    announced_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return any(code in self.codes for code in FINAL)


def sent_requests(records: Iterable[Record]) -> dict[int, RequestSent]:
    """Every request the trusted ledger holds notices of, by pull request number."""
    found: dict[int, RequestSent] = {}
    for record in records:
        number = request_number(record)
        if number is None or record.code not in REQUEST_CODES:
            continue
        parts = record.subject.split(":")
        sent = found.setdefault(number, RequestSent(number))
        sent.grant_id, sent.policy, sent.requester = (record.grant_id, record.policy,
                                                      record.requester)
        sent.codes.add(record.code)
        if record.code == REMINDED and len(parts) == 3 and parts[2].isdigit():
            sent.reminders.add(int(parts[2]))
        if record.code == ANNOUNCED:
            sent.announced_at = record.at
    return found


def sent_grants(records: Iterable[Record]) -> set[str]:
    """The subjects of the grant notices the trusted ledger holds."""
    return {r.subject for r in records if r.event is Event.NOTICE
            and r.code in (EXPIRING, STARTED)}


@dataclass(frozen=True)
class RequestPlan:
    """What one run does about one open request."""

    close: bool = False
    """Close it now (and tell): it waited longer than the policy allows."""
    reclose: bool = False
    """It was closed before (recorded) but is open again (a crash, or someone reopened it):
    close it again, telling nobody a second time."""
    announce: bool = False
    update: str | None = None
    """APPROVED or DENIED: the request changed since it was announced."""
    reminder: int | None = None
    """The 1-based number of the reminder to send now."""
    escalate: bool = False


def plan_request(opened_at: datetime | None, now: datetime, rule: PendingRule,
                 outcome: Outcome, sent: RequestSent | None) -> RequestPlan:
    """What is due for an open request, ``opened_at`` long ago, judged ``outcome`` now.

    - After ``expire_after`` it is closed, whatever its verdict: an approval is only good for
      a while (approval_max_age), and a request that waits that long is asked again.
    - It is announced once, when it can be approved (pending or approved); one denied from
      the start is not announced (the plan comment tells its author), so requests nobody may
      approve reach no channel.
    - Reminders go out at their set ages while it is pending, the latest due one only: those
      that fell due before the announcement (a late first run) are skipped, not sent in a
      burst.
    - The escalation goes out once, at its age, while it is pending.

    Without ``opened_at`` (a forge that did not say) the request has no age: it is announced
    and updated, never reminded, escalated or closed.
    """
    sent = sent or RequestSent(0)
    if opened_at is not None and now - opened_at >= rule.expire_after:
        return RequestPlan(close=CLOSED not in sent.codes, reclose=CLOSED in sent.codes)
    announced = ANNOUNCED in sent.codes
    announce = not announced and outcome in (Outcome.PENDING, Outcome.APPROVED)
    update = None
    if announced and outcome is Outcome.APPROVED and APPROVED not in sent.codes:
        update = APPROVED
    elif announced and outcome is Outcome.DENIED and DENIED not in sent.codes:
        update = DENIED
    reminder = None
    escalate = False
    if opened_at is not None and outcome is Outcome.PENDING and (announced or announce):
        since = sent.announced_at if announced and sent.announced_at else now
        due = [index for index, after in enumerate(rule.remind, start=1)
               if since < opened_at + after <= now]
        if due and due[-1] > max(sent.reminders, default=0):
            reminder = due[-1]
        escalation = rule.escalate
        escalate = (escalation is not None and now - opened_at >= escalation.after
                    and ESCALATED not in sent.codes)
    return RequestPlan(announce=announce, update=update, reminder=reminder, escalate=escalate)


def expiring_due(activated: Record, now: datetime, rule: ExpiringRule, sent: set[str]) -> bool:
    """The grant is live, ends within ``rule.before``, and its requester was not told yet."""
    if activated.activated_at is None or activated.expires_at is None:
        return False
    live = activated.activated_at <= now < activated.expires_at
    return (live and now >= activated.expires_at - rule.before
            and grant_subject(EXPIRING, activated.grant_id) not in sent)


def started_due(activated: Record, now: datetime, sent: set[str]) -> bool:
    """The grant was scheduled when it was recorded (its start after its merge), its window is
    open now, and its start was not told yet."""
    if activated.activated_at is None or activated.expires_at is None:
        return False
    return (activated.activated_at > activated.at
            and activated.activated_at <= now < activated.expires_at
            and grant_subject(STARTED, activated.grant_id) not in sent)


def watchdog_due(last_success: datetime | None, last_alert: datetime | None, now: datetime,
                 rule: WatchdogRule) -> tuple[bool, bool]:
    """(stale, tell): reconcile has not succeeded within ``rule.after`` (or never); and the
    channels are to be told now: not told of this stall yet, or told ``rule.repeat`` ago."""
    stale = last_success is None or now - last_success > rule.after
    if not stale:
        return False, False
    told = last_alert is not None and (last_success is None or last_alert > last_success)
    return True, not told or (last_alert is not None and now - last_alert >= rule.repeat)
