"""A ``Message`` in each channel's own format: markdown (chat services, apprise's json://),
HTML (e-mail), a Microsoft Teams Adaptive Card, Slack Block Kit blocks, and gitjit's webhook
document (docs/notifications.md describes each, and docs/notification.schema.json the last).

Every piece of a message is plain text, escaped here for its format: markdown and HTML by
our sandboxed, autoescaping jinja2 templates; the Adaptive Card uses TextRuns and the Slack
blocks plain_text objects, which neither format reads as markup or mentions. JSON is built as
data and serialised, never written as text."""

from __future__ import annotations

import re
from html import escape as html_escape
from importlib import resources
from typing import Any

from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from engine.core.messages import Fact, Message, Severity

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
"""Adaptive Card version: what Teams renders in every client (RichTextBlock needs 1.2)."""
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SLACK_HEADER_MAX = 150
SLACK_TEXT_MAX = 3000
SLACK_FIELD_MAX = 2000
SLACK_FIELDS_PER_SECTION = 10
SLACK_BUTTON_MAX = 75
WEBHOOK_KIND = "Notification"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]~|])")
_SPACE = re.compile(r"\s+")


def escape_md(value: object) -> Markup:
    """Plain text as markdown that shows exactly that text: markup characters escaped, HTML
    as entities, '@' as an entity (no mentions), one line."""
    if isinstance(value, Markup):
        return value
    text = _SPACE.sub(" ", str(value))  # one line; a leading space (in ``rest``) stays
    # No value starts a line (each follows a label or '**'), so '#' needs no escape.
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # Quotes stay: no value is ever put in an attribute, and "bob&#39;s" helps nobody.
    return Markup(html_escape(text, quote=False).replace("@", "&#64;"))


def _template(name: str) -> str:
    return resources.files("engine").joinpath("templates", name).read_text("utf-8")


def markdown(message: Message) -> str:
    env = SandboxedEnvironment(autoescape=True, finalize=escape_md, trim_blocks=True,
                               lstrip_blocks=True)
    body = env.from_string(_template("notify-body.md.j2")).render(m=message)
    return body.strip() + "\n"


def html(message: Message) -> str:
    env = SandboxedEnvironment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(_template("notify-email.html.j2")).render(m=message).strip() + "\n"


# -- Microsoft Teams: an Adaptive Card, as a Workflows (Power Automate) webhook takes it ---


def _run(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextRun", "text": text, **style}


def _rich(*inlines: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "RichTextBlock", "inlines": list(inlines), **extra}


_CARD_COLOR = {Severity.INFO: "Default", Severity.WARNING: "Warning",
               Severity.ALERT: "Attention"}


def teams_card(message: Message) -> dict[str, Any]:
    """The message a Teams Workflows webhook posts as a card: {type: message, attachments:
    [an Adaptive Card]}. Every text is a TextRun, which Teams shows as it is (no markdown)."""
    body: list[dict[str, Any]] = [
        _rich(_run(message.title, weight="Bolder", size="Medium",
                   color=_CARD_COLOR[message.severity])),
        _rich(_run(message.lead, weight="Bolder"), *([_run(message.rest)] if message.rest
                                                     else [])),
    ]
    if message.facts:
        body.append({"type": "Container", "spacing": "Medium", "items": [
            _rich(_run(f"{fact.label}: ", weight="Bolder"), _run(fact.value))
            for fact in message.facts]})
    if message.quote is not None:
        body.append({"type": "Container", "style": "emphasis", "items": [
            _rich(_run(f"{message.quote.label}: ", italic=True), _run(message.quote.value))]})
    card: dict[str, Any] = {"$schema": CARD_SCHEMA, "type": "AdaptiveCard",
                            "version": CARD_VERSION, "body": body, "msteams": {"width": "Full"}}
    if message.link is not None:
        card["actions"] = [{"type": "Action.OpenUrl", "title": message.link.label,
                            "url": message.link.value}]
    return {"type": "message", "attachments": [
        {"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}]}


# -- Slack: Block Kit ----------------------------------------------------------------------


def _plain(text: str, limit: int) -> dict[str, Any]:
    cut = text if len(text) <= limit else text[: limit - 3] + "..."
    return {"type": "plain_text", "text": cut, "emoji": False}


def _field(fact: Fact) -> dict[str, Any]:
    return _plain(f"{fact.label}: {fact.value}", SLACK_FIELD_MAX)


def slack_blocks(message: Message) -> dict[str, Any]:
    """Block Kit blocks: a header, the sentence, the facts as fields, the requester's words as
    context, and a button to the pull request. Only plain_text objects: Slack reads no
    formatting, links or mentions in them."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(message.title, SLACK_HEADER_MAX)},
        {"type": "section", "text": _plain(message.lead + message.rest, SLACK_TEXT_MAX)},
    ]
    facts = list(message.facts)
    for start in range(0, len(facts), SLACK_FIELDS_PER_SECTION):
        chunk = facts[start:start + SLACK_FIELDS_PER_SECTION]
        blocks.append({"type": "section", "fields": [_field(f) for f in chunk]})
    if message.quote is not None:
        blocks.append({"type": "context", "elements": [_field(message.quote)]})
    if message.link is not None:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": _plain(message.link.label, SLACK_BUTTON_MAX),
            "url": message.link.value}]})
    return {"blocks": blocks}


# -- the generic webhook ---------------------------------------------------------------------


def webhook(message: Message) -> dict[str, Any]:
    """gitjit's webhook document (docs/notification.schema.json): the message as data."""
    return {
        "apiVersion": "gitjit/v1",
        "kind": WEBHOOK_KIND,
        "type": str(message.kind),
        "severity": str(message.severity),
        "title": message.title,
        "text": message.lead + message.rest,
        "break_glass": message.break_glass,
        "at": message.at.strftime("%Y-%m-%dT%H:%M:%SZ") if message.at else None,
        "grant_id": message.grant_id or None,
        "policy": message.policy or None,
        "requester": message.requester or None,
        "pull_request": message.pull_request,
        "url": message.link.value if message.link else None,
        "people": list(message.people),
        "facts": [{"label": f.label, "value": f.value} for f in message.facts],
        "requester_text": (None if message.quote is None else
                           {"label": message.quote.label, "value": message.quote.value}),
        "data": {key: value for key, value in message.data if value},
    }
