"""Markdown for pull-request comments, from our own jinja2 template.

Rendered in a sandboxed environment, and every value is escaped on output: user text can
neither inject HTML or markdown links, nor ping people or teams with '@'."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from engine.core.report import PullRequestReport
from engine.core.values import format_duration

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

_MARKDOWN = re.compile(r"([\\`*_\[\]|~#!()])")


def escape_markdown(value: object) -> Markup:
    if isinstance(value, Markup):
        return value
    # Markdown escapes first: HTML escaping writes entities such as &#39; whose '#' must
    # not be backslash-escaped, or the comment shows "&#39;" instead of an apostrophe.
    text = _MARKDOWN.sub(r"\\\1", str(value))
    return Markup(str(escape(text)).replace("@", "&#64;").replace("\r", " ").replace("\n", " "))


def code_block(value: object, language: str = "") -> Markup:
    """``value`` shown verbatim in a fenced code block: markdown, HTML and '@' mean nothing
    inside one, and the fence is longer than any run of backticks in the text, so the text
    cannot close it."""
    text = str(value).replace("\r", "")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return Markup(f"{fence}{language}\n{text}\n{fence}")


def inline_code(value: object) -> Markup:
    """``value`` as JSON text in an inline code span (one line, delimited past its backticks)."""
    text = json.dumps(str(value), ensure_ascii=False)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    tick = "`" * (longest + 1)
    return Markup(f"{tick} {text} {tick}")


def _environment() -> SandboxedEnvironment:
    # jinja2 loads only when a comment is rendered, not for every command that can print one.
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(autoescape=True, finalize=escape_markdown,
                               trim_blocks=True, lstrip_blocks=True)
    env.filters["duration"] = format_duration
    env.filters["code"] = code_block
    env.filters["inline"] = inline_code
    return env


def render(template: str, **context: Any) -> str:
    source = resources.files("engine").joinpath("templates", template).read_text("utf-8")
    return _environment().from_string(source).render(**context)


def pull_request(report: PullRequestReport) -> str:
    return render("pull-request.md.j2", report=report, decision=report.decision)
