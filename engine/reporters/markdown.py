"""Markdown for pull-request comments, from our own jinja2 template.

Rendered in a sandboxed environment, and every value is escaped on output: user text can
neither inject HTML or markdown links, nor ping people or teams with '@'."""

from __future__ import annotations

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


def _environment() -> SandboxedEnvironment:
    # jinja2 loads only when a comment is rendered, not for every command that can print one.
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(autoescape=True, finalize=escape_markdown,
                               trim_blocks=True, lstrip_blocks=True)
    env.filters["duration"] = format_duration
    return env


def render(template: str, **context: Any) -> str:
    source = resources.files("engine").joinpath("templates", template).read_text("utf-8")
    return _environment().from_string(source).render(**context)


def pull_request(report: PullRequestReport) -> str:
    return render("pull-request.md.j2", report=report, decision=report.decision)
