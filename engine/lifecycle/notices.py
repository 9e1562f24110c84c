"""The timers around requests and grants, run by `gitjit reconcile` after everything else.

Reconcile calls ``run_timers`` once, at the end of its run: revocation never waits for a
message, and a failure here is a failed step of the run's report, never an exception. Each
run:

- tells the requester (and the policy's channels, if asked) that a grant ends soon, and that
  a scheduled grant's access has started;
- reads the open pull requests into the default branch, judges each request among them with
  the same verdict as `gitjit check-pr`, and announces new ones, tells when one is approved,
  denied or withdrawn, reminds the approvers still missing, escalates, and closes requests
  that waited longer than the policy allows (with a comment saying how to ask again);
- in a local repository, marks the run's success for `gitjit watchdog` (on GitHub the
  workflow posts the heartbeat).

Every message is recorded in the ledger (a ``notice`` record) before it is sent, and a
message nobody would receive is neither recorded nor sent: see engine/core/notices.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from engine.adapters.localforge import LocalForge
from engine.adapters.notify import Destination, Notifier
from engine.commands.verdict import judge
from engine.core import messages
from engine.core import notices as timers
from engine.core.decide import classify
from engine.core.decision import Decision, Kind, Outcome
from engine.core.forge import PullRequestInfo, PullRequestState
from engine.core.grants import GRANTS_DIR, grant_id, load_grant, parse_path
from engine.core.ledger import Event, Record, event_key
from engine.core.messages import Message, Request
from engine.core.models import ExpiringRule, GrantId, PendingRule, Policy, PolicyId
from engine.core.principals import expand
from engine.errors import GitjitError
from engine.lifecycle.context import ENGINE_VERSION, Lifecycle, Report, Run
from engine.reporters.markdown import render as render_markdown

NOTICES = "(notices)"
"""How the report names the timers when no grant is concerned."""
CLOSED_KEY = "closed"
"""The key of gitjit's comment on a request it closed."""
MAX_JUDGED = 50
"""Open requests judged per run, oldest first: a flood of pull requests cannot make one run
spend the forge's rate limit (the rest wait for the next run)."""
MAX_LOOKUPS = 20
"""Announced requests no longer open whose end is looked up per run."""


def run_timers(life: Lifecycle, run: Run, report: Report, now: datetime, *,
               dry_run: bool = False, enabled: bool = True) -> None:
    """The timers of one reconcile run (``enabled`` False: a simulation's throwaway world)."""
    if enabled and not dry_run and not run.cannot_write:
        try:
            _Timers(life, run, report, now).run()
        except GitjitError as exc:
            report.add(NOTICES, "notices", f"the timers stopped: {exc}", failed=True)
        except Exception as exc:  # a bug here must not hide what reconcile did before it
            report.add(NOTICES, "notices", f"the timers stopped: {type(exc).__name__}: {exc} "
                       "(a bug in gitjit: please report it)", failed=True)
    if not dry_run and not report.failures and isinstance(life.forge, LocalForge):
        life.forge.record_heartbeat(now)


class _Timers:
    def __init__(self, life: Lifecycle, run: Run, report: Report, now: datetime) -> None:
        self.life, self.run_, self.report, self.now = life, run, report, now
        self.config = run.config
        self.notifier = Notifier(run.config, report)

    def run(self) -> None:
        self.grants()
        self.requests()

    # -- recording, then telling -----------------------------------------------------------

    def tell(self, draft: Record, message: Message, to: Sequence[Destination],
             *, record_anyway: bool = False) -> bool:
        """Record the notice, then send it; False when it was recorded before (or nobody
        would receive it, unless ``record_anyway``)."""
        about = draft.grant_id or NOTICES
        if not to and not record_anyway:
            return False
        try:
            written = self.life.ledger.append(draft)
        except GitjitError as exc:
            self.report.add(about, "record", str(exc), failed=True)
            return False
        if written is None:
            return False  # told before: a rerun, or another run got there first
        self.report.add(about, draft.code, draft.detail)
        self.notifier.tell(message, to, about)
        return True

    def notice(self, code: str, subject: str, gid: GrantId, policy: str, requester: str,
               pull_request: int | None, detail: str) -> Record:
        return Record(event=Event.NOTICE, grant_id=gid, policy=policy, requester=requester,
                      at=self.now, pull_request=pull_request, engine_version=ENGINE_VERSION,
                      code=code, subject=subject, detail=detail)

    def policy(self, policy_id: str) -> Policy | None:
        return self.config.policies.get(PolicyId(policy_id))

    def channels(self, names: Sequence[str]) -> list[Destination]:
        return self.notifier.shared(names)

    def personal(self, logins: Sequence[str]) -> list[Destination]:
        return self.notifier.personal(logins)

    @staticmethod
    def names(to: Sequence[Destination]) -> str:
        return ", ".join(d.label() for d in to)

    # -- grants ------------------------------------------------------------------------------

    def grants(self) -> None:
        # Read now, not when the run opened: this run may have ended some of them.
        live = [record for record, _ in self.life.ledger.state().open]
        sent = timers.sent_grants(self.life.ledger.find(
            key for record in live for key in timers.grant_keys(record.grant_id)).values())
        failed_apply = {s.grant for s in self.report.steps if s.failed and s.action == "apply"}
        for record in live:
            policy = self.policy(record.policy)
            channels = list(policy.notify) if policy is not None else []
            if timers.started_due(record, self.now, sent) and record.grant_id not in failed_apply:
                to = self.channels(channels) + self.personal([record.requester])
                self.tell(self.notice(timers.STARTED, timers.grant_subject(
                    timers.STARTED, record.grant_id), record.grant_id, record.policy,
                    record.requester, record.pull_request, f"told {self.names(to)}"),
                    messages.started(record, self.now), to)
            rule = policy.expiring if policy is not None else ExpiringRule()
            if timers.expiring_due(record, self.now, rule, sent):
                to = self.personal([record.requester])
                if rule.notify_channels:
                    to += self.channels(channels)
                assert record.activated_at is not None and record.expires_at is not None
                self.tell(self.notice(timers.EXPIRING, timers.grant_subject(
                    timers.EXPIRING, record.grant_id), record.grant_id, record.policy,
                    record.requester, record.pull_request, f"told {self.names(to)}"),
                    messages.expiring(record, self.now,
                                      record.expires_at - record.activated_at), to)

    # -- requests ----------------------------------------------------------------------------

    def requests(self) -> None:
        forge = self.life.forge
        open_prs = forge.open_pull_requests(self.life.branch)
        heads = ({} if self.life.remote is None else
                 self.life.remote.fetch_pull_heads(p.number for p in open_prs))
        found: list[tuple[PullRequestInfo, GrantId, str, str]] = []
        for pr in open_prs:
            request = self.request_file(pr, heads.get(pr.number, pr.head_sha))
            if request is None:
                continue
            if len(found) == MAX_JUDGED:
                self.report.add(NOTICES, "notices", f"more than {MAX_JUDGED} open requests: "
                                "the newest wait for the next run")
                break
            found.append((pr, *request))
        sent = self.sent(
            key for pr, gid, path, _ in found
            for key in timers.request_keys(gid, pr.number, len(self.rule(path).remind)))
        for pr, gid, path, head in found:
            try:
                self.request(pr, gid, path, head, sent.get(pr.number))
            except GitjitError as exc:
                self.report.add(gid, "notices", f"pull request #{pr.number}: {exc}",
                                failed=True)
        # Announced requests that are no longer open, from the ledger's index (the ledger
        # drops a request once it is withdrawn, closed, or its grant decided).
        still_open = {p.number for p in open_prs}
        announced = self.life.ledger.state().index.requests
        gone_keys = [event_key(Event.NOTICE, item.grant,
                               timers.request_subject(timers.ANNOUNCED, number))
                     for number, item in sorted(announced.items()) if number not in still_open]
        gone = sorted(self.sent(gone_keys[:MAX_LOOKUPS]).values(), key=lambda s: s.number)
        for told in gone:
            try:
                self.withdrawn(told)
            except GitjitError as exc:
                self.report.add(told.grant_id, "notices", f"pull request #{told.number}: "
                                f"{exc}", failed=True)

    def sent(self, keys: Iterable[str]) -> dict[int, timers.RequestSent]:
        """What the ledger says was told about requests, by pull request, for these keys."""
        return timers.sent_requests(self.life.ledger.find(keys).values())

    def rule(self, path: str) -> PendingRule:
        parts = parse_path(path)
        policy = self.policy(parts.policy) if parts is not None else None
        return policy.pending if policy is not None else PendingRule()

    def request_file(self, pr: PullRequestInfo, head: str) -> tuple[GrantId, str, str] | None:
        """(grant id, path, head) when the pull request is a request; None otherwise."""
        repo = self.life.repo
        if repo.object_types([head]).get(head) != "commit":
            self.report.add(NOTICES, "notices", f"pull request #{pr.number}: its head "
                            f"{head[:12]} cannot be read, so its timers wait", failed=True)
            return None
        changes = repo.changes(self.run_.tip, head)
        if classify(changes).kind is not Kind.REQUEST:
            return None
        added = [c.path for c in changes if c.status == "A" and c.path.startswith(GRANTS_DIR)]
        if len(added) != 1 or parse_path(added[0]) is None:
            return None
        return grant_id(added[0]), added[0], head

    def request(self, pr: PullRequestInfo, gid: GrantId, path: str, head: str,
                sent: timers.RequestSent | None) -> None:
        parts = parse_path(path)
        assert parts is not None
        policy = self.policy(parts.policy)
        rule = policy.pending if policy is not None else PendingRule()
        # Without the forge's opening time (the local forge, opened without one) a request
        # has no age: it is announced and updated, never reminded, escalated or closed. A
        # commit's date is no substitute: its author sets it.
        opened = pr.opened_at
        if opened is not None and self.now - opened >= rule.expire_after:
            # No verdict needed to close it: spare the forge the calls.
            grant = load_grant(path, self.life.repo.tree(head).read(path),
                               self.run_.loaded.schemas,
                               self.config.settings.max_grant_bytes).grant
            request = Request(gid, parts.policy, parts.requester, pr.number, pr.url, opened,
                              Decision(Outcome.PENDING, Kind.REQUEST, grant=grant))
            plan = timers.plan_request(opened, self.now, rule, Outcome.PENDING, sent)
            self.close(request, rule, policy, reclose=plan.reclose,
                       announced=sent is not None and timers.ANNOUNCED in sent.codes,
                       own=pr.author == parts.requester)
            return
        forge = self.life.forge
        verdict = judge(self.life.repo, self.run_.tip, head, pr.author,
                        forge.reviews(pr.number), forge.pushers(pr.number), self.now,
                        teams=getattr(forge, "team_members", None), author_id=pr.author_id)
        request = Request(gid, parts.policy, parts.requester, pr.number, pr.url, opened,
                          verdict.decision)
        plan = timers.plan_request(opened, self.now, rule, verdict.decision.outcome, sent)
        channels = list(policy.notify) if policy is not None else []
        if plan.announce:
            self.announce(request, channels)
        if plan.update is not None:
            message = (messages.approved if plan.update == timers.APPROVED else
                       messages.denied)(request, self.now)
            to = self.channels(channels) + self.personal([request.requester])
            self.tell(self.request_notice(request, plan.update, None, f"told {self.names(to)}"),
                      message, to)
        if plan.reminder is not None:
            self.remind(request, rule, plan.reminder, channels)
        if plan.escalate and rule.escalate is not None:
            escalation = rule.escalate
            people = sorted(expand(escalation.to, self.config.groups).logins)
            to = self.personal(people) + self.channels(escalation.notify)
            assert opened is not None
            self.tell(self.request_notice(request, timers.ESCALATED, None,
                                          f"escalated to {self.names(to)}"),
                      messages.escalated(request, self.now - opened, people, self.now), to)

    def request_notice(self, request: Request, code: str, index: int | None,
                       detail: str) -> Record:
        return self.notice(code, timers.request_subject(code, request.number, index),
                           request.grant_id, request.policy, request.requester,
                           request.number, detail)

    def announce(self, request: Request, channels: Sequence[str]) -> None:
        approvers = messages.approvers(request.decision)
        to = self.channels(channels) + self.personal(approvers)
        told = self.tell(self.request_notice(request, timers.ANNOUNCED, None,
                                             f"told {self.names(to)}"),
                         messages.announced(request, self.now), to)
        if told and request.decision.outcome is Outcome.APPROVED:
            # The announcement said so already: no second message when it is approved.
            self.life.ledger.append(self.request_notice(
                request, timers.APPROVED, None, "announced as approved"))

    def remind(self, request: Request, rule: PendingRule, index: int,
               channels: Sequence[str]) -> None:
        approvers = messages.approvers(request.decision)
        to = self.personal(approvers) + self.channels(channels)
        assert request.opened_at is not None
        age = self.now - request.opened_at
        self.tell(self.request_notice(request, timers.REMINDED, index,
                                      f"reminder {index} of {len(rule.remind)} to "
                                      f"{self.names(to)}"),
                  messages.reminded(request, index, len(rule.remind), age, self.now), to)

    def close(self, request: Request, rule: PendingRule, policy: Policy | None, *,
              reclose: bool, announced: bool, own: bool) -> None:
        comment = render_markdown(
            "request-closed.md.j2", expire_after=rule.expire_after, now=self.now,
            policy_path=policy.path if policy is not None else
            f"policies/{request.policy}.yaml",
            command=messages.ask_again(request.policy, request.requester, request.grant))
        forge = self.life.forge
        if reclose:
            # Recorded (and told) before: the pull request is open again, so close it again.
            forge.close_pull_request(request.number, key=CLOSED_KEY, body=comment, at=self.now)
            self.report.add(request.grant_id, "closed", f"pull request #{request.number} "
                            "again (it was closed before for waiting too long)")
            return
        # The channels hear of it only if they heard of the request: one nobody could approve
        # was never announced.
        channels = list(policy.notify) if policy is not None and announced else []
        # The person the file names hears of it only if they opened it: anyone can open a
        # pull request naming someone else, and must not make gitjit write to them.
        to = self.channels(channels) + self.personal([request.requester] if own else [])
        draft = self.request_notice(request, timers.CLOSED, None,
                                    f"closed pull request #{request.number} after waiting "
                                    f"longer than the policy allows; told "
                                    f"{self.names(to) or 'nobody'}")
        try:
            written = self.life.ledger.append(draft)
        except GitjitError as exc:
            self.report.add(request.grant_id, "record", str(exc), failed=True)
            return
        # Recorded first: a crash before the close leaves it open, and the next run closes it
        # (reclose) without telling anyone twice.
        forge.close_pull_request(request.number, key=CLOSED_KEY, body=comment, at=self.now)
        if written is None:
            return
        self.report.add(request.grant_id, timers.CLOSED, draft.detail)
        self.notifier.tell(messages.closed(request, rule.expire_after, self.now), to,
                           request.grant_id)

    def withdrawn(self, told: timers.RequestSent) -> None:
        pr = self.life.forge.pull_request(told.number)
        if pr.state is not PullRequestState.CLOSED:
            return  # merged: activation tells what became of it
        policy = self.policy(told.policy)
        channels = list(policy.notify) if policy is not None else []
        to = self.channels(channels) + self.personal([told.requester])
        self.tell(self.notice(timers.WITHDRAWN, timers.request_subject(
            timers.WITHDRAWN, told.number), told.grant_id, told.policy, told.requester,
            told.number, f"told {self.names(to)}"),
            messages.withdrawn(told.grant_id, told.policy, told.requester, told.number,
                               pr.url, self.now), to, record_anyway=True)
