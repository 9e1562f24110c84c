"""docs/notifications.md shows every message kind as it is rendered, and each sample is
valid in every channel's format (the vendors' documented shapes, the webhook's schema)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from engine.core.messages import Kind, their_words
from engine.reporters import messages as formats
from tests.notices.samples import break_glass, example_formats, rendered, samples
from tests.notices.vendor import check_slack_blocks, check_teams

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "notifications.md").read_text("utf-8")
SCHEMA = json.loads((ROOT / "docs" / "notification.schema.json").read_text("utf-8"))


def test_every_kind_has_a_sample() -> None:
    assert set(samples()) == set(Kind)


@pytest.mark.parametrize("kind", list(Kind), ids=str)
def test_the_doc_shows_each_kind_as_rendered(kind: Kind) -> None:
    block = rendered(str(kind), samples()[kind])
    assert block in DOC, f"docs/notifications.md: replace the {kind} block with:\n{block}"


def test_the_doc_shows_break_glass_and_every_format() -> None:
    assert rendered("request.announced (break-glass)", break_glass()) in DOC
    assert example_formats() in DOC, "docs/notifications.md: update the formats section"


@pytest.mark.parametrize("kind", list(Kind), ids=str)
def test_each_sample_fits_every_format(kind: Kind) -> None:
    message = samples()[kind]
    assert check_teams(formats.teams_card(message)) == []
    assert check_slack_blocks(formats.slack_blocks(message)["blocks"]) == []
    document = formats.webhook(message)
    assert [e.message for e in Draft202012Validator(SCHEMA).iter_errors(document)] == []
    assert "<html>" in formats.html(message)


def test_break_glass_is_flagged_in_every_format() -> None:
    message = break_glass()
    assert message.title.startswith("gitjit: BREAK-GLASS ")
    assert formats.markdown(message).startswith("**BREAK-GLASS: bob asks for")
    assert formats.webhook(message)["break_glass"] is True
    assert "break-glass: yes" in json.dumps(formats.slack_blocks(message))


def test_their_words_are_defanged() -> None:
    assert their_words("see https://evil.example/x and {{ app_body }}\n\n  now") == (
        "see https[:]//evil.example/x and { { app_body } } now")
    assert their_words("{{{{app_title}}}}") == "{ { { {app_title} } } }"
    assert len(their_words("x" * 2000)) == 500
