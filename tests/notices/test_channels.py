"""Each channel's message, as the service receives it, for a request whose justification is
hostile: a Teams Workflows webhook (a real HTTPS server on loopback: an Adaptive Card),
Slack (apprise posts only to hooks.slack.com: the exact request is captured by an
intercepting proxy on loopback and checked with Slack's own SDK), e-mail (a real SMTP
server: plain text and HTML) and a generic webhook (gitjit's documented JSON)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message as Mail
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from jsonschema import Draft202012Validator

from tests.gitrepo import GitRepoBuilder
from tests.notices.helpers import T0, Channels, NoticeWorld, env_name, minutes, payload
from tests.notices.vendor import check_slack_blocks, check_teams
from tests.receivers import InterceptingProxy, ThrowawayAuthority, TlsReceiver

ROOT = Path(__file__).resolve().parents[2]
GID = "db/bob-20261130T0900Z"
HOSTILE = ("Need it <!channel> @here [click](http://evil.example/x) {{app_body}} **now** "
           "<script>alert(1)</script> <at>dave</at>")


@pytest.fixture
def world(repo: GitRepoBuilder, tmp_path: Path, channels: Channels) -> NoticeWorld:
    """Every channel on the loopback receiver, but ops: each test points it at its service."""
    world = NoticeWorld(repo, tmp_path, timers="notify: [ops]\n")
    world.ask("bob", T0, justification=HOSTILE)
    return world


@pytest.fixture
def authority(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ThrowawayAuthority:
    ca = ThrowawayAuthority(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.bundle))
    return ca


def announced_through(world: NoticeWorld, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv(env_name("ops"), url)
    assert world.reconcile(T0 + minutes(5)) == 0


def test_teams_receives_an_adaptive_card(world: NoticeWorld, authority: ThrowawayAuthority,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    receiver = TlsReceiver(authority)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    try:
        # A Workflows webhook URL as Teams hands it out, with its host on loopback.
        announced_through(world, monkeypatch, f"workflows://127.0.0.1:{receiver.port}/"
                                              "643e69f83c8944438d68119179a10a64/KODuebWbDGYF")
    finally:
        receiver.close()
    [request] = receiver.received
    assert request["target"].startswith(
        "/workflows/643e69f83c8944438d68119179a10a64/triggers/manual/paths/invoke?")
    assert "sig=KODuebWbDGYF" in request["target"]
    card_message = request["json"]
    assert check_teams(card_message) == []
    card = card_message["attachments"][0]["content"]
    runs = [run["text"] for block in card["body"]
            for block in ([block] if block["type"] == "RichTextBlock" else block["items"])
            for run in block["inlines"]]
    assert runs[:2] == [f"gitjit: new request {GID}", "bob asks for db for 2h."]
    assert "may approve: " in runs and "1 more from group:dba (dave, erin)" in runs
    # The requester's words: apart, labelled, links defanged, apprise's tokens broken.
    quote = card["body"][-1]
    assert quote["style"] == "emphasis"
    said = quote["items"][0]["inlines"][1]["text"]
    assert said == ("Need it <!channel> @here [click](http[:]//evil.example/x) { {app_body} } "
                    "**now** <script>alert(1)</script> <at>dave</at>")
    assert "actions" not in card  # the local forge has no web page to open


def test_slack_receives_block_kit(world: NoticeWorld, authority: ThrowawayAuthority,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = InterceptingProxy(authority)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        # Slack's documented webhook URL form; apprise posts to hooks.slack.com only.
        announced_through(world, monkeypatch,
                          "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7")
    finally:
        proxy.close()
    [request] = proxy.received
    assert (request["host"], request["method"], request["target"]) == (
        "hooks.slack.com", "POST", "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7")
    blocks = request["json"]["attachments"][0]["blocks"]
    assert check_slack_blocks(blocks) == []
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": f"gitjit: new request {GID}",
                                 "emoji": False}
    texts = json.dumps(blocks)
    assert "mrkdwn" not in texts  # plain text only: no formatting, link or mention is read
    assert blocks[3]["elements"][0]["text"].endswith(
        "[click](http[:]//evil.example/x) { {app_body} } **now** <script>alert(1)</script> "
        "<at>dave</at>")


class MailHandler:
    def __init__(self) -> None:
        self.messages: list[Mail] = []

    async def handle_DATA(self, server: SMTP, session: Session,  # noqa: N802 - aiosmtpd's
                          envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[MailHandler, int]]:
    handler = MailHandler()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_email_is_plain_text_and_html(world: NoticeWorld, smtp: tuple[MailHandler, int],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    handler, port = smtp
    announced_through(world, monkeypatch, f"mailto://127.0.0.1:{port}?smtp=127.0.0.1"
                                          "&from=gitjit@example.invalid&to=ops@example.invalid")
    [mail] = handler.messages
    assert mail["Subject"] == f"gitjit: new request {GID}"
    parts = {part.get_content_type(): part.get_payload(decode=True)
             for part in mail.walk() if not part.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    html = parts["text/html"]
    text = parts["text/plain"]
    assert isinstance(html, bytes) and isinstance(text, bytes)
    assert b"<strong>bob asks for db for 2h.</strong> It waits for 1 more from group:dba " \
        b"(dave, erin).</p>" in html
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in html and b"<script>" not in html
    assert b"- may approve: 1 more from group:dba (dave, erin)" in text
    assert b"http[:]//evil.example/x" in text


def test_a_generic_webhook_gets_the_documented_document(
        world: NoticeWorld, channels: Channels, monkeypatch: pytest.MonkeyPatch) -> None:
    announced_through(world, monkeypatch, channels.url("hook"))
    [message] = channels.to("hook")
    document = payload(message)
    schema = json.loads((ROOT / "docs" / "notification.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(document)]
    assert errors == []
    expected: dict[str, Any] = {
        "apiVersion": "gitjit/v1", "kind": "Notification", "type": "request.announced",
        "severity": "info", "title": f"gitjit: new request {GID}", "break_glass": False,
        "grant_id": GID, "policy": "db", "requester": "bob", "pull_request": 1, "url": None,
        "people": ["dave", "erin"], "at": "2026-11-30T09:05:00Z"}
    assert {k: document[k] for k in expected} == expected
    assert document["requester_text"]["value"].startswith("Need it <!channel> @here")
    # apprise's own fields stay: title and the markdown body, escaped.
    assert message["title"] == f"gitjit: new request {GID}"
    assert "&lt;script&gt;" in message["message"] and "&#64;here" in message["message"]
    assert "\\[click\\](http\\[:\\]//evil.example/x)" in message["message"]
