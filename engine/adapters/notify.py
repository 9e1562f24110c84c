"""Notifications: tell a policy's channels about its grants' recorded state changes, via apprise.

A channel is named in settings (``notify: {ops: {url_env: GITJIT_OPS_URL}}``) and its apprise
URL, which holds secrets, is read from that environment variable when a message is sent: it
never appears in a file, a report or a message. Messages carry facts only (event, grant,
requester, policy, window, pull request, and the reason of a refusal); a grant's free text
(its justification) is never sent, so a request cannot put words in gitjit's mouth.

A notification that cannot be sent never stops a run: it becomes a failed ``notify`` step, so
the run exits 1 and names the channel. apprise is an optional dependency (``gitjit[notify]``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any, Protocol

from jinja2.sandbox import SandboxedEnvironment

from engine.core.ledger import Event, Record
from engine.core.models import Config
from engine.reporters.markdown import escape_markdown

INSTALL_HINT = "pip install 'gitjit[notify]'"
TITLE_TEMPLATE = "notify-title.txt.j2"
BODY_TEMPLATE = "notify-body.md.j2"
_SPACE = re.compile(r"\s+")


class StepReport(Protocol):
    """Where a run's steps go (engine.commands.lifecycle.Report)."""

    def add(self, grant: str, action: str, detail: str = "", failed: bool = False) -> None: ...


class Sender(Protocol):
    """Delivers one message to one apprise URL; False when it was not delivered."""

    def __call__(self, url: str, title: str, body: str) -> bool: ...


class AppriseMissing(Exception):
    """apprise is not installed."""


class BadUrl(Exception):
    """apprise understands no service in the URL."""


def apprise_send(url: str, title: str, body: str) -> bool:
    try:
        import apprise  # the optional extra: imported only when a channel needs it
    except ImportError as exc:
        raise AppriseMissing from exc
    notifier = apprise.Apprise()
    if not notifier.add(url):
        raise BadUrl
    return bool(notifier.notify(body=body, title=title,
                                body_format=apprise.NotifyFormat.MARKDOWN))


def _one_line(value: object) -> str:
    return _SPACE.sub(" ", "" if value is None else str(value)).strip()


def _template(name: str) -> str:
    return resources.files("engine").joinpath("templates", name).read_text("utf-8")


def render(record: Record) -> tuple[str, str]:
    """The title (one line of plain text) and the markdown body for one record."""
    title_env = SandboxedEnvironment(autoescape=False, finalize=_one_line)
    body_env = SandboxedEnvironment(autoescape=True, finalize=escape_markdown,
                                    trim_blocks=True, lstrip_blocks=True)
    context: dict[str, Any] = {"record": record, "event": _event_name(record),
                               "alert": record.event in ALERTING, "code": record.code}
    title = _one_line(title_env.from_string(_template(TITLE_TEMPLATE)).render(**context))
    body = body_env.from_string(_template(BODY_TEMPLATE)).render(**context).strip() + "\n"
    return title, body


ALERTING = frozenset({Event.REFUSED, Event.ALERT})
REFUSAL_ALERT = "activation.refused"


def _event_name(record: Record) -> str:
    # The alert that follows a refusal is one message: "refused".
    if record.event is Event.ALERT and record.code in ("", REFUSAL_ALERT):
        return str(Event.REFUSED)
    return str(record.event)


class Notifier:
    """Sends the notifications of one activate or reconcile run; failures go to ``report``."""

    def __init__(self, config: Config, report: StepReport, *, dry_run: bool = False,
                 environ: Mapping[str, str] | None = None, send: Sender = apprise_send) -> None:
        self.config = config
        self.report = report
        self.dry_run = dry_run
        self.environ = os.environ if environ is None else environ
        self.send = send
        self._told_missing = False
        self.sent: list[tuple[str, str]] = []
        """(channel, grant id) of every message delivered in this run."""

    def channels(self, record: Record) -> tuple[str, ...] | None:
        """The channels of the record's policy at the tip, and for an alert the settings'
        alert channels too; None when nobody would hear of it."""
        policy = self.config.policies.get(record.policy)  # type: ignore[call-overload]
        alerts = self.config.settings.alerts if record.event in ALERTING else ()
        if policy is None and not alerts:
            return None
        return tuple(dict.fromkeys([*(policy.notify if policy else ()), *alerts]))

    def notify(self, record: Record | None) -> None:
        """Tell the record's channels about it; None (already recorded before) sends nothing,
        so a rerun never repeats a message."""
        if record is None or self.dry_run:
            return
        gid = record.grant_id
        channels = self.channels(record)
        if channels is None:
            self.report.add(gid or "(ledger)", "notify", f"nobody was notified of this "
                            f"{_event_name(record)}: its policy {record.policy or '(none)'!r} "
                            "is not in the configuration, and settings name no alerts channel")
            return
        if not channels:
            return
        title, body = render(record)
        for name in channels:
            self._send_one(gid, name, title, body)

    def _send_one(self, gid: str, name: str, title: str, body: str) -> None:
        channel = self.config.settings.channels.get(name)
        where = self.config.settings.path
        if channel is None or not channel.get("url_env"):
            self._fail(gid, f"channel {name!r} is not defined under notify in {where}")
            return
        variable = channel["url_env"]
        url = self.environ.get(variable, "").strip()
        if not url:
            self._fail(gid, f"channel {name!r}: the environment variable {variable} is not "
                       "set; set it to the channel's apprise URL")
            return
        if self._told_missing:
            return
        try:
            delivered = self.send(url, title, body)
        except AppriseMissing:
            self._told_missing = True
            self._fail(gid, f"channel {name!r}: apprise is not installed, so no notification "
                       f"is sent; {INSTALL_HINT}")
            return
        except BadUrl:
            self._fail(gid, f"channel {name!r}: {variable} holds no URL that apprise "
                       "understands (see apprise's list of services)")
            return
        except Exception as exc:  # a plugin's error never stops the run
            # The exception's text may quote the URL, and so its secrets: name the type only.
            self._fail(gid, f"channel {name!r}: sending failed ({type(exc).__name__})")
            return
        if not delivered:
            self._fail(gid, f"channel {name!r}: the service in {variable} did not accept the "
                       "message (unreachable or refused); check the service and the URL")
            return
        self.sent.append((name, gid))
        self.report.add(gid, "notified", name)

    def _fail(self, gid: str, message: str) -> None:
        self.report.add(gid, "notify", message, failed=True)
