"""Output formats. Each reporter renders a check report or a pull-request verdict as text."""

from __future__ import annotations

from collections.abc import Callable

from engine.core.report import CheckReport, PullRequestReport
from engine.reporters import github, jsonout, markdown, text

CHECK_FORMATS: dict[str, Callable[[CheckReport], str]] = {
    "text": text.check,
    "json": jsonout.check,
    "github": github.check,
}
PR_FORMATS: dict[str, Callable[[PullRequestReport], str]] = {
    "text": text.pull_request,
    "json": jsonout.pull_request,
    "github": github.pull_request,
    "markdown": markdown.pull_request,
}
