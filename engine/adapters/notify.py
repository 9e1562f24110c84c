"""Notifications: tell channels what happened, via apprise, each in its own format.

A channel is named in settings (``notify: {ops: {url_env: GITJIT_OPS_URL}}``) and its apprise
URL, which holds secrets, is read from that environment variable when a message is sent: it
never appears in a file, a report or a message. What a channel receives depends on its
service (the URL's scheme):

- ``workflow://``/``workflows://`` (Microsoft Teams through a Workflows webhook): an Adaptive
  Card, handed to apprise as its ``template=``;
- ``slack://``: Block Kit blocks, handed to apprise as its ``template=``;
- ``mailto://``/``mailtos://``: HTML, from which apprise also makes the plain-text part;
- ``json://``/``jsons://`` (a generic webhook): apprise's JSON with gitjit's own document
  under ``gitjit`` (docs/notification.schema.json), added through apprise's payload extras;
- any other service: markdown.

A notification that cannot be sent never stops a run: it becomes a failed ``notify`` step, so
the run exits 1 and names the channel. apprise is an optional dependency (``gitjit[notify]``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from engine.core import messages
from engine.core.ledger import Event, Record
from engine.core.messages import Message
from engine.core.models import Config, Login
from engine.reporters import messages as formats

INSTALL_HINT = "pip install 'gitjit[notify]'"
REFUSAL_ALERT = messages.REFUSAL_ALERT
ALERTING = frozenset({Event.REFUSED, Event.ALERT})
TEAMS = frozenset({"workflow", "workflows"})
SLACK = frozenset({"slack"})
EMAIL = frozenset({"mailto", "mailtos"})
WEBHOOK = frozenset({"json", "jsons"})
WEBHOOK_KEY = "gitjit"
"""Where gitjit's document sits in apprise's json:// payload."""


class StepReport(Protocol):
    """Where a run's steps go (engine.lifecycle.context.Report)."""

    def add(self, grant: str, action: str, detail: str = "", failed: bool = False) -> None: ...


class Sender(Protocol):
    """Delivers one message to one apprise URL; False when it was not delivered."""

    def __call__(self, url: str, message: Message) -> bool: ...


class AppriseMissing(Exception):
    """apprise is not installed."""


class BadUrl(Exception):
    """apprise understands no service in the URL."""


def scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def apprise_send(url: str, message: Message) -> bool:
    """Send ``message`` to ``url`` in the format its service takes (see the module's doc)."""
    try:
        import apprise  # the optional extra: imported only when a channel needs it
        from apprise.plugins import url_to_dict
    except ImportError as exc:
        raise AppriseMissing from exc
    parsed: dict[str, Any] | None = url_to_dict(url)  # type: ignore[no-untyped-call]
    if parsed is None:
        raise BadUrl
    kind = scheme(url)
    body, body_format = formats.markdown(message), apprise.NotifyFormat.MARKDOWN
    with tempfile.TemporaryDirectory(prefix="gitjit-notify-") as folder:
        if kind in TEAMS or kind in SLACK:
            # apprise's template= takes a file; it substitutes {{app_...}} tokens in it, which
            # a message cannot carry (their_words breaks '{{' apart, gitjit writes none).
            document = formats.teams_card(message) if kind in TEAMS else \
                formats.slack_blocks(message)
            template = Path(folder) / "message.json"
            template.write_text(json.dumps(document), "utf-8")
            parsed["template"] = str(template)
        elif kind in EMAIL:
            body, body_format = formats.html(message), apprise.NotifyFormat.HTML
        elif kind in WEBHOOK:
            parsed["payload"] = {**(parsed.get("payload") or {}),
                                 WEBHOOK_KEY: formats.webhook(message)}
        notifier = apprise.Apprise()
        if not notifier.add(parsed):
            raise BadUrl
        return bool(notifier.notify(body=body, title=message.title, body_format=body_format))


def addressed(url: str, to: str | None) -> str:
    """``url`` with apprise's ``to=`` set to ``to`` (a personal channel's recipient)."""
    if not to:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "to"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("to", to)])))


@dataclass(frozen=True)
class Destination:
    """One place a message goes: a channel of settings, with a recipient for a person."""

    channel: str
    to: str | None = None
    person: Login | None = None
    """Whose personal channel this is (None: a shared channel)."""

    def label(self) -> str:
        return self.channel if self.person is None else f"{self.channel} for {self.person}"


class Notifier:
    """Sends the notifications of one run; failures go to ``report``."""

    def __init__(self, config: Config, report: StepReport, *, dry_run: bool = False,
                 environ: Mapping[str, str] | None = None, send: Sender = apprise_send) -> None:
        self.config = config
        self.report = report
        self.dry_run = dry_run
        self.environ = os.environ if environ is None else environ
        self.send = send
        self._told_missing = False
        self.sent: list[tuple[str, str]] = []
        """(destination, grant id) of every message delivered in this run."""

    # -- where messages go ---------------------------------------------------------------

    def channels(self, record: Record) -> tuple[str, ...] | None:
        """The channels of the record's policy at the tip, and for an alert the settings'
        alert channels too; None when nobody would hear of it."""
        policy = self.config.policies.get(record.policy)  # type: ignore[call-overload]
        alerts = self.config.settings.alerts if record.event in ALERTING else ()
        if policy is None and not alerts:
            return None
        return tuple(dict.fromkeys([*(policy.notify if policy else ()), *alerts]))

    def personal(self, logins: Sequence[str]) -> list[Destination]:
        """The personal channels of those of ``logins`` who have one, in order."""
        found = []
        for login in dict.fromkeys(logins):
            entry = self.config.settings.personal.get(Login(login))
            if entry is not None:
                found.append(Destination(entry.channel, entry.to, Login(login)))
        return found

    @staticmethod
    def shared(names: Sequence[str]) -> list[Destination]:
        return [Destination(name) for name in dict.fromkeys(names)]

    # -- sending -------------------------------------------------------------------------

    def notify(self, record: Record | None) -> None:
        """Tell the record's channels about it; None (already recorded before) sends nothing,
        so a rerun never repeats a message."""
        if record is None or self.dry_run:
            return
        gid = record.grant_id
        channels = self.channels(record)
        if channels is None:
            self.report.add(gid or "(ledger)", "notify", f"nobody was notified of this "
                            f"{messages.record_kind(record)}: its policy "
                            f"{record.policy or '(none)'!r} is not in the configuration, and "
                            "settings name no alerts channel")
            return
        self.tell(messages.from_record(record), self.shared(channels), gid)

    def tell(self, message: Message, destinations: Sequence[Destination], about: str) -> int:
        """Send ``message`` to each destination once; how many took it."""
        if self.dry_run:
            return 0
        delivered = 0
        seen: set[tuple[str, str | None]] = set()
        for destination in destinations:
            key = (destination.channel, destination.to)
            if key in seen:
                continue
            seen.add(key)
            delivered += self._send_one(about, destination, message)
        return delivered

    def _send_one(self, gid: str, destination: Destination, message: Message) -> bool:
        name = destination.channel
        channel = self.config.settings.channels.get(name)
        where = self.config.settings.path
        if channel is None or not channel.get("url_env"):
            self._fail(gid, f"channel {name!r} is not defined under notify in {where}")
            return False
        variable = channel["url_env"]
        url = self.environ.get(variable, "").strip()
        if not url:
            self._fail(gid, f"channel {name!r}: the environment variable {variable} is not "
                       "set; set it to the channel's apprise URL")
            return False
        if self._told_missing:
            return False
        try:
            delivered = self.send(addressed(url, destination.to), message)
        except AppriseMissing:
            self._told_missing = True
            self._fail(gid, f"channel {name!r}: apprise is not installed, so no notification "
                       f"is sent; {INSTALL_HINT}")
            return False
        except BadUrl:
            self._fail(gid, f"channel {name!r}: {variable} holds no URL that apprise "
                       "understands (see apprise's list of services)")
            return False
        except Exception as exc:  # a plugin's error never stops the run
            # The exception's text may quote the URL, and so its secrets: name the type only.
            self._fail(gid, f"channel {name!r}: sending failed ({type(exc).__name__})")
            return False
        if not delivered:
            self._fail(gid, f"channel {name!r}: the service in {variable} did not accept the "
                       "message (unreachable or refused); check the service and the URL")
            return False
        self.sent.append((destination.label(), gid))
        self.report.add(gid, "notified", destination.label())
        return True

    def _fail(self, gid: str, message: str) -> None:
        self.report.add(gid, "notify", message, failed=True)
