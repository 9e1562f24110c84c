"""The vendors' documented payload shapes, to check what apprise sends against.

Adaptive Card: a JSON Schema of the subset gitjit uses, written from Microsoft's Adaptive
Cards schema (adaptivecards.io/schemas/adaptive-card.json, version 1.4: AdaptiveCard,
RichTextBlock with TextRun inlines, Container, Action.OpenUrl and their enumerations) and the
Teams Workflows webhook's envelope (a message whose attachments hold the card), strict: a
property the vendor does not define fails. Slack: Slack's own SDK (slack_sdk's Block Kit
models) parses and validates every block."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from slack_sdk.models.blocks import Block

_COLORS = ["default", "dark", "light", "accent", "good", "warning", "attention"]
_SIZES = ["default", "small", "medium", "large", "extraLarge"]
_WEIGHTS = ["default", "lighter", "bolder"]
_SPACING = ["default", "none", "small", "medium", "large", "extraLarge", "padding"]


def _enum(values: list[str]) -> dict[str, Any]:
    # Adaptive Card enumerations are case-insensitive.
    return {"type": "string", "pattern": "^(?i:" + "|".join(values) + ")$"}


TEXT_RUN = {
    "type": "object",
    "properties": {
        "type": {"const": "TextRun"}, "text": {"type": "string"},
        "color": _enum(_COLORS), "size": _enum(_SIZES), "weight": _enum(_WEIGHTS),
        "italic": {"type": "boolean"}, "isSubtle": {"type": "boolean"},
        "strikethrough": {"type": "boolean"}, "highlight": {"type": "boolean"},
        "underline": {"type": "boolean"}, "fontType": _enum(["default", "monospace"]),
    },
    "required": ["type", "text"], "additionalProperties": False,
}
RICH_TEXT = {
    "type": "object",
    "properties": {
        "type": {"const": "RichTextBlock"},
        "inlines": {"type": "array", "items": TEXT_RUN, "minItems": 1},
        "spacing": _enum(_SPACING), "separator": {"type": "boolean"}, "id": {"type": "string"},
        "horizontalAlignment": _enum(["left", "center", "right"]),
    },
    "required": ["type", "inlines"], "additionalProperties": False,
}
CONTAINER = {
    "type": "object",
    "properties": {
        "type": {"const": "Container"}, "items": {"type": "array", "items": RICH_TEXT},
        "style": _enum(["default", "emphasis", "good", "attention", "warning", "accent"]),
        "spacing": _enum(_SPACING), "separator": {"type": "boolean"},
    },
    "required": ["type", "items"], "additionalProperties": False,
}
OPEN_URL = {
    "type": "object",
    "properties": {"type": {"const": "Action.OpenUrl"}, "title": {"type": "string"},
                   "url": {"type": "string", "format": "uri", "pattern": "^https?://"}},
    "required": ["type", "url"], "additionalProperties": False,
}
ADAPTIVE_CARD = {
    "type": "object",
    "properties": {
        "$schema": {"type": "string"}, "type": {"const": "AdaptiveCard"},
        "version": {"enum": ["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"]},
        "body": {"type": "array", "items": {"oneOf": [RICH_TEXT, CONTAINER]}},
        "actions": {"type": "array", "items": OPEN_URL},
        "msteams": {"type": "object", "properties": {"width": _enum(["full"])},
                    "additionalProperties": False},
    },
    "required": ["type", "version", "body"], "additionalProperties": False,
}
WORKFLOWS_MESSAGE = {
    "type": "object",
    "properties": {
        "type": {"const": "message"},
        "attachments": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "properties": {"contentType": {"const": "application/vnd.microsoft.card.adaptive"},
                           "contentUrl": {"type": "null"}, "content": ADAPTIVE_CARD},
            "required": ["contentType", "content"], "additionalProperties": False}},
    },
    "required": ["type", "attachments"], "additionalProperties": False,
}


def check_teams(payload: Any) -> list[str]:
    validator = Draft202012Validator(WORKFLOWS_MESSAGE,
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(payload)]


def check_slack_blocks(blocks: list[dict[str, Any]]) -> list[str]:
    """Each block parsed and validated by Slack's SDK, and nothing dropped on the way."""
    problems = []
    for block in blocks:
        parsed = Block.parse(block)
        if parsed is None:
            problems.append(f"not a block: {block}")
            continue
        try:
            parsed.validate_json()
        except Exception as exc:  # slack_sdk raises SlackObjectFormationError
            problems.append(f"{block.get('type')}: {exc}")
        if parsed.to_dict() != block:
            problems.append(f"{block.get('type')}: slack_sdk reads it as {parsed.to_dict()}")
    return problems
