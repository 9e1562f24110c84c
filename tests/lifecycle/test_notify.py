"""Notifications from activate and reconcile, delivered by apprise to real loopback receivers:
an HTTP server (apprise's json:// service) and an SMTP server (aiosmtpd, apprise's mailto://)."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from engine.core.ledger import Event
from tests.gitrepo import GitRepoBuilder
from tests.lifecycle.world import POLICY, SETTINGS, T0, World, hours
from tests.receivers import HttpReceiver

GID = "db/bob-20261130T0900Z"
ENV = "GITJIT_TEST_OPS_URL"


class MailHandler:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server: SMTP, session: Session,  # noqa: N802 - aiosmtpd's
                          envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                     data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            self.logins.append((data.login, data.password))
            return AuthResult(success=data.login == b"gitjit" and data.password == b"s3cret")
        return AuthResult(success=False, handled=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def world(repo: GitRepoBuilder, tmp_path: Path) -> World:
    """The lifecycle world with a policy that notifies the settings' channel ops."""
    world = World(repo, tmp_path)
    repo.write("policies/db.yaml", POLICY.format(id="db", role="admin") + "notify: [ops]\n")
    repo.write("policies/settings.yaml", SETTINGS.format(path=world.recording, removal="push")
               + "notify:\n  ops: {url_env: " + ENV + ", description: the on-call room}\n")
    repo.commit("notify ops")
    return world


def activated(world: World) -> None:
    number, _ = world.request("bob", T0)
    world.approve(number, "dave", T0 + hours(0.1))
    world.merge(number, "dave", T0 + hours(0.2))


def test_activation_and_expiry_are_told_once_each(
        world: World, http: HttpReceiver, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV, http.url)
    activated(world)

    assert world.cli("activate", now=T0 + hours(0.25)) == 0
    assert world.cli("activate", now=T0 + hours(0.3)) == 0  # a rerun tells nobody again

    assert http.titles() == [f"gitjit: activated {GID}"]
    [message] = http.received
    assert message["path"] == "/gitjit-hook"
    assert message["message"] == (
        f"**Grant {GID} was activated.**\n\n- event: activated\n- grant: {GID}\n"
        "- requester: bob\n- policy: db\n"
        "- window: 2026-11-30 09:12 UTC until 2026-11-30 11:12 UTC\n- pull request: #1\n"
        "- recorded at: 2026-11-30 09:15 UTC")  # apprise trims the last newline
    assert "Investigating" not in json.dumps(http.received)  # the justification stays out
    assert f"notified: {GID} (ops)" in capsys.readouterr().out

    assert world.cli("reconcile", now=T0 + hours(3)) == 0
    assert world.cli("reconcile", now=T0 + hours(3.1)) == 0

    assert http.titles() == [f"gitjit: activated {GID}", f"gitjit: expired {GID}"]
    assert "- event: expired\n" in http.received[1]["message"]


def test_refused_merge_is_one_alert(world: World, http: HttpReceiver,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, http.url)
    number, _ = world.request("bob", T0)
    world.merge(number, "bob", T0 + hours(0.1))  # an admin merge without approval

    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    assert world.cli("activate", now=T0 + hours(0.3)) == 0

    assert [r.event for r in world.records()] == [Event.REFUSED, Event.ALERT]
    assert http.titles() == [f"gitjit: refused (alert) {GID}"]
    body = http.received[0]["message"]
    assert body.startswith(f"**Alert: grant {GID} was refused at activation.**")
    assert "- event: refused\n" in body and "- detail: merged while the verdict was" in body


def test_relinquished_grant_is_told(world: World, http: HttpReceiver,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, http.url)
    activated(world)
    world.cli("activate", now=T0 + hours(0.25))
    world.builder.branch("give-back", "main")
    world.builder.checkout("give-back")
    world.builder.remove(f"grants/{GID}.yaml")
    world.builder.commit("relinquish")
    world.builder.checkout("main")
    back = world.forge.open_pull_request(author="bob", head_ref="give-back",  # type: ignore[arg-type]
                                         base="main", title="relinquish", body="")
    world.merge(back.number, "bob", T0 + hours(0.5))

    assert world.cli("reconcile", now=T0 + hours(0.5)) == 0

    assert http.titles() == [f"gitjit: activated {GID}", f"gitjit: relinquished {GID}"]
    assert f"- pull request: #{back.number}\n" in http.received[1]["message"]


def test_email_through_a_plain_local_smtp_server(world: World,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    handler = MailHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port,
                            authenticator=handler.authenticate, auth_require_tls=False)
    controller.start()
    try:
        # mailto:// (not mailtos://) is apprise's plain SMTP: no TLS, only for loopback tests.
        monkeypatch.setenv(ENV, f"mailto://gitjit:s3cret@127.0.0.1:{port}?smtp=127.0.0.1"
                                "&from=gitjit@example.invalid&to=ops@example.invalid")
        activated(world)
        assert world.cli("activate", now=T0 + hours(0.25)) == 0
        assert world.cli("activate", now=T0 + hours(0.3)) == 0
    finally:
        controller.stop()

    assert handler.logins == [(b"gitjit", b"s3cret")]
    [mail] = handler.messages
    assert mail["Subject"] == f"gitjit: activated {GID}"
    assert mail["To"] == "ops@example.invalid"
    parts = [part.get_payload(decode=True) for part in mail.walk() if not part.is_multipart()]
    text = "".join(p.decode("utf-8") for p in parts if isinstance(p, bytes))
    assert GID in text and "requester: bob" in text


def test_unreachable_channel_fails_the_run_but_not_the_grant(
        world: World, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    url = f"json://secret-user:secret-pass@127.0.0.1:{free_port()}/hook"  # nobody listens
    monkeypatch.setenv(ENV, url)
    activated(world)

    assert world.cli("activate", now=T0 + hours(0.25)) == 1

    assert list(world.granted()) == [GID]
    assert [r.event for r in world.records()] == [Event.ACTIVATED]
    out = capsys.readouterr().out
    assert (f"FAILED notify: {GID} (channel 'ops': the service in {ENV} did not accept the "
            "message (unreachable or refused); check the service and the URL)") in out
    assert "secret" not in out
    # The grant is recorded, so a rerun neither activates nor tells again.
    assert world.cli("activate", now=T0 + hours(0.3)) == 0


def test_missing_variable_is_reported_by_name(world: World, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(ENV, raising=False)
    activated(world)

    assert world.cli("activate", now=T0 + hours(0.25)) == 1

    assert list(world.granted()) == [GID]
    assert (f"FAILED notify: {GID} (channel 'ops': the environment variable {ENV} is not "
            "set; set it to the channel's apprise URL)") in capsys.readouterr().out


def test_dry_run_sends_nothing(world: World, http: HttpReceiver,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, http.url)
    activated(world)
    assert world.cli("activate", "--dry-run", now=T0 + hours(0.25)) == 0
    world.cli("activate", now=T0 + hours(0.25))
    assert world.cli("reconcile", "--dry-run", now=T0 + hours(3)) == 0
    assert http.titles() == [f"gitjit: activated {GID}"]


def test_without_apprise_the_install_is_named_once(
        world: World, http: HttpReceiver, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV, http.url)
    monkeypatch.setitem(sys.modules, "apprise", None)  # import apprise raises ImportError
    activated(world)
    number, _ = world.request("alice", T0)
    world.approve(number, "dave", T0 + hours(0.1))
    world.merge(number, "dave", T0 + hours(0.2))

    assert world.cli("activate", now=T0 + hours(0.25)) == 1

    out = capsys.readouterr().out
    assert out.count("pip install 'gitjit[notify]'") == 1
    assert ("FAILED notify: db/alice-20261130T0900Z (channel 'ops': apprise is not installed, "
            "so no notification is sent; pip install 'gitjit[notify]')") in out
    assert http.received == []


def test_a_break_glass_activation_is_flagged(repo: GitRepoBuilder, tmp_path: Path,
                                             http: HttpReceiver,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, http.url)
    world = World(repo, tmp_path, policy_extra="break_glass: {max_duration: 1h, "
                  "review_within: 24h}\nnotify: [ops]\n",
                  settings="notify:\n  ops: {url_env: " + ENV + "}\n")
    number, _ = world.request("bob", T0, duration="1h", extra="break_glass: true\n")
    world.merge(number, "bob", T0 + hours(0.1))

    assert world.cli("activate", now=T0 + hours(0.2)) == 0
    assert http.titles() == [f"gitjit: BREAK-GLASS activated {GID}"]
    body = http.received[0]["message"]
    assert body.startswith(f"**BREAK-GLASS: grant {GID} was activated without review.** "
                           "Its use must be reviewed by 2026-12-01 09:06 UTC.")
    assert "- break-glass: yes, review by 2026-12-01 09:06 UTC" in body
