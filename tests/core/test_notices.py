"""The timers' pure decisions: what is due when, given what was sent; and their settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.core.decision import Outcome
from engine.core.ledger import Event, Record
from engine.core.models import (
    Escalation,
    ExpiringRule,
    GrantId,
    PendingRule,
    PersonalChannel,
    Principal,
    WatchdogRule,
)
from engine.core.notices import (
    ANNOUNCED,
    APPROVED,
    CLOSED,
    ESCALATED,
    RequestPlan,
    RequestSent,
    expiring_due,
    plan_request,
    sent_requests,
    started_due,
    watchdog_due,
)
from tests.core.builders import POLICY, build, configure, policy_files

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
RULE = PendingRule(expire_after=24 * H, remind=(4 * H, 12 * H),
                   escalate=Escalation(8 * H, notify=("sec",)))


def sent(*codes: str, reminders: tuple[int, ...] = (), announced_at: datetime = T0) -> RequestSent:
    return RequestSent(1, codes=set(codes), reminders=set(reminders), announced_at=announced_at)


@pytest.mark.parametrize(("age", "outcome", "told", "plan"), [
    (0.1, Outcome.PENDING, None, RequestPlan(announce=True)),
    (0.1, Outcome.APPROVED, None, RequestPlan(announce=True)),
    (0.1, Outcome.DENIED, None, RequestPlan()),  # nobody may approve it: not announced
    (0.2, Outcome.PENDING, sent(ANNOUNCED), RequestPlan()),
    (0.2, Outcome.APPROVED, sent(ANNOUNCED), RequestPlan(update=APPROVED)),
    (0.2, Outcome.APPROVED, sent(ANNOUNCED, APPROVED), RequestPlan()),
    (0.2, Outcome.DENIED, sent(ANNOUNCED), RequestPlan(update="request.denied")),
    (3.99, Outcome.PENDING, sent(ANNOUNCED), RequestPlan()),
    (4, Outcome.PENDING, sent(ANNOUNCED), RequestPlan(reminder=1)),
    (5, Outcome.PENDING, sent(ANNOUNCED, reminders=(1,)), RequestPlan()),
    (4, Outcome.APPROVED, sent(ANNOUNCED, APPROVED), RequestPlan()),  # no reminder: approved
    (8, Outcome.PENDING, sent(ANNOUNCED, reminders=(1,)), RequestPlan(escalate=True)),
    (9, Outcome.PENDING, sent(ANNOUNCED, ESCALATED, reminders=(1,)), RequestPlan()),
    # A late first run: announced at 13h, the reminders that fell due before are skipped.
    (13, Outcome.PENDING, None, RequestPlan(announce=True, escalate=True)),
    (13.2, Outcome.PENDING, sent(ANNOUNCED, ESCALATED, announced_at=T0 + 13 * H),
     RequestPlan()),
    # Skipped reminders and a down job: only the latest due one.
    (12.5, Outcome.PENDING, sent(ANNOUNCED, ESCALATED), RequestPlan(reminder=2)),
    (24, Outcome.PENDING, sent(ANNOUNCED), RequestPlan(close=True)),
    (24, Outcome.APPROVED, sent(ANNOUNCED), RequestPlan(close=True)),
    (30, Outcome.PENDING, sent(ANNOUNCED, CLOSED), RequestPlan(reclose=True)),
])
def test_plan_request(age: float, outcome: Outcome, told: RequestSent | None,
                      plan: RequestPlan) -> None:
    assert plan_request(T0, T0 + age * H, RULE, outcome, told) == plan


def test_without_an_opening_time_there_is_no_age() -> None:
    assert plan_request(None, T0 + 100 * H, RULE, Outcome.PENDING, sent(ANNOUNCED)) == \
        RequestPlan()
    assert plan_request(None, T0, RULE, Outcome.PENDING, None) == RequestPlan(announce=True)


def notice(code: str, subject: str) -> Record:
    return Record(event=Event.NOTICE, grant_id=GrantId("db/bob-20261130T0900Z"), policy="db",
                  requester="bob", at=T0, pull_request=7, engine_version="0.1.0", code=code,
                  subject=subject)


def test_sent_requests_reads_the_notices() -> None:
    found = sent_requests([notice(ANNOUNCED, "request.announced:7"),
                           notice("request.reminded", "request.reminded:7:2"),
                           notice("access.expiring", "access.expiring:db/bob-20261130T0900Z")])
    assert set(found) == {7}
    assert found[7].codes == {ANNOUNCED, "request.reminded"}
    assert found[7].reminders == {2} and found[7].announced_at == T0


def test_a_notice_record_needs_a_code_and_a_subject() -> None:
    with pytest.raises(ValueError, match="a notice record needs a code and a subject"):
        notice("", "")


def activated(start: datetime, end: datetime, at: datetime) -> Record:
    from engine.core.ledger import AppliedTarget, ExpiryEnforcer
    return Record(event=Event.ACTIVATED, grant_id=GrantId("db/bob-20261130T0900Z"),
                  policy="db", requester="bob", at=at, engine_version="0.1.0",
                  activated_at=start, expires_at=end, expiry_enforced_by=ExpiryEnforcer.GITJIT,
                  target=AppliedTarget("recording", None, ()))


def test_started_only_for_a_grant_scheduled_at_its_record() -> None:
    scheduled = activated(T0 + 2 * H, T0 + 4 * H, T0)
    assert not started_due(scheduled, T0 + 1.9 * H, set())
    assert started_due(scheduled, T0 + 2 * H, set())
    assert not started_due(scheduled, T0 + 2 * H, {"access.started:db/bob-20261130T0900Z"})
    assert not started_due(scheduled, T0 + 4 * H, set())  # over: nothing to start
    assert not started_due(activated(T0, T0 + 2 * H, T0), T0 + H, set())


def test_expiring_within_its_notice_only() -> None:
    grant = activated(T0, T0 + 2 * H, T0)
    rule = ExpiringRule(before=timedelta(minutes=15))
    assert not expiring_due(grant, T0 + 2 * H - timedelta(minutes=16), rule, set())
    assert expiring_due(grant, T0 + 2 * H - timedelta(minutes=15), rule, set())
    assert not expiring_due(grant, T0 + 2 * H, rule, set())
    assert not expiring_due(grant, T0 + 1.9 * H, rule, {"access.expiring:db/bob-20261130T0900Z"})


@pytest.mark.parametrize(("last", "told", "now", "expected"), [
    (T0, None, T0 + H, (False, False)),
    (T0, None, T0 + H + timedelta(seconds=1), (True, True)),
    (None, None, T0, (True, True)),
    (T0, T0 + 2 * H, T0 + 3 * H, (True, False)),
    (T0, T0 + 2 * H, T0 + 8 * H, (True, True)),
    (T0 + 3 * H, T0 + 2 * H, T0 + 5 * H, (True, True)),  # a new stall after a recovery
])
def test_watchdog_due(last: datetime | None, told: datetime | None, now: datetime,
                      expected: tuple[bool, bool]) -> None:
    assert watchdog_due(last, told, now, WatchdogRule(after=H, repeat=6 * H)) == expected


# -- the settings of the timers ---------------------------------------------------------------

CHANNELS = """
notify:
  ops: {url_env: OPS_URL}
  mail: {url_env: MAIL_URL}
alerts: [ops]
personal:
  Bob: {channel: mail, to: bob@example.com}
watchdog: {after: 30m, notify: [mail]}
"""


def test_the_timers_are_typed() -> None:
    result = configure(POLICY + "notify: [ops]\npending: {expire_after: 2d, remind: [12h, 4h], "
                       "escalate: {after: 1d, to: [group:dba], notify: [mail]}}\n"
                       "expiring: {before: 1h, notify_channels: true}\n", settings=CHANNELS)
    assert result.config is not None
    policy = result.config.policies["db"]  # type: ignore[index]
    assert policy.pending == PendingRule(
        expire_after=48 * H, remind=(4 * H, 12 * H),
        escalate=Escalation(24 * H, (Principal("group", "dba"),), ("mail",)))
    assert policy.expiring == ExpiringRule(before=H, notify_channels=True)
    settings = result.config.settings
    assert settings.personal == {"bob": PersonalChannel("mail", "bob@example.com")}
    assert settings.watchdog == WatchdogRule(after=timedelta(minutes=30), repeat=6 * H,
                                             notify=("mail",))


def test_the_defaults_are_safe() -> None:
    result = configure(POLICY)
    assert result.config is not None
    policy = result.config.policies["db"]  # type: ignore[index]
    assert policy.pending == PendingRule(expire_after=24 * H, remind=(), escalate=None)
    assert policy.expiring == ExpiringRule(before=timedelta(minutes=15), notify_channels=False)
    assert result.config.settings.watchdog == WatchdogRule(after=H, repeat=6 * H, notify=None)


def test_timer_settings_that_cannot_work_are_findings() -> None:
    settings = CHANNELS.replace("channel: mail,", "channel: nowhere,").replace(
        "notify: [mail]}", "notify: [gone]}")
    found = [f.render() for f in build(policy_files(
        POLICY + "pending: {expire_after: 8h, remind: [8h], escalate: {after: 9h, "
        "to: [group:nobody], notify: [missing]}}\n", settings=settings)).findings]
    assert found == [
        "policies/db.yaml:10: config.timer-too-late: a reminder after 8h would come when the "
        "request is already closed (pending.expire_after 8h); make it earlier, or let requests "
        "wait longer",
        "policies/db.yaml:10: config.timer-too-late: the escalation after 9h would come when "
        "the request is already closed (pending.expire_after 8h); make it earlier, or let "
        "requests wait longer",
        "policies/db.yaml:10: config.unknown-channel: unknown notification channel 'missing' "
        "in pending.escalate.notify: define it under notify in policies/settings.yaml",
        "policies/db.yaml:10: config.unknown-group: unknown group 'nobody' in "
        "pending.escalate.to: define it in policies/groups.yaml",
        "policies/settings.yaml:8: config.unknown-channel: unknown notification channel "
        "'nowhere' for Bob's personal channel: define it under notify in "
        "policies/settings.yaml",
        "policies/settings.yaml:9: config.unknown-channel: unknown notification channel "
        "'gone' in watchdog.notify: define it under notify in policies/settings.yaml"]
    # Too late is a warning: the configuration still builds without the other errors.
    late = build(policy_files(POLICY + "pending: {expire_after: 8h, remind: [9h]}\n"))
    assert late.config is not None
    assert [(f.code, f.severity.value) for f in late.findings] == [
        ("config.timer-too-late", "warning")]


def test_an_escalation_must_tell_someone() -> None:
    found = [f.code for f in build(policy_files(
        POLICY + "pending: {escalate: {after: 2h}}\n")).findings]
    assert found == ["config.escalation-nobody"]
