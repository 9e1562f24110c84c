"""Text output for people: on a terminal, lines that fit 80 columns, and colour.

The commands' text reporters write plain lines; ``Presenter`` stands in for stdout while a
command runs and, line by line, wraps what is too wide and colours what a reader looks for
first: the verdict, PASS and FAIL, a finding's code, the failures in a summary. The JSON,
CSV, GitHub and Markdown formats never pass through it (they are read by programs).

Colour follows the common conventions: ``NO_COLOR`` (any non-empty value) turns it off,
``FORCE_COLOR`` (non-empty) turns it on where stdout is no terminal (CI logs that render
colour), and otherwise stdout must be a terminal that is not ``TERM=dumb``.
"""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

import click

WIDTH = 80
"""The widest a line gets; a narrower terminal makes lines narrower still."""
MIN_WIDTH = 40

_GREEN = "green"
_RED = "red"
_YELLOW = "yellow"

_LEAD_WORDS: dict[str, str] = {
    "APPROVED": _GREEN, "PASS": _GREEN, "ok": _GREEN,
    "DENIED": _RED, "FAIL": _RED, "FAILED": _RED, "BROKEN": _RED,
    "PENDING": _YELLOW, "warning": _YELLOW, "missing": _YELLOW,
}
"""A line's first word that says how things stand."""

_TABLE_ROW = re.compile(r"\S {2,}\S.*\S {2,}\S.*\S {2,}\S")
"""A line laid out in columns (fields two or more spaces apart): a table row, which wrapping
would scramble, so it is written whole."""
_LEAD = re.compile(r"^(\s*)([A-Za-z]+)(?=[:\s]|$)")
_FINDING = re.compile(r"^(\s*(?:warning: |notice: )?[^\s:]+(?::\d+)?: )"
                      r"([a-z][a-z-]*\.[a-z0-9.-]+)(: )")
_BAD_COUNT = re.compile(r"\b([1-9][0-9]*) (errors?|failed|failures?|problems?|denied|"
                        r"(?:[a-z]+ )?failed)\b")
_WARN_COUNT = re.compile(r"\b([1-9][0-9]*) (warnings?|pending)\b")


@dataclass(frozen=True)
class Style:
    width: int | None = WIDTH
    """Where lines are wrapped; None keeps each line whole (output for a file or a pipe)."""
    colour: bool = False


def style_for(stream: TextIO, environ: Mapping[str, str] = os.environ) -> Style:
    """How to write to ``stream``. Lines are wrapped on a terminal, at its width (or
    ``COLUMNS``) up to 80 columns; a pipe or a file gets whole lines, one finding a line for
    grep. Colour as the module docstring says."""
    terminal = _isatty(stream)
    width: int | None = None
    if terminal:
        columns = environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() else _terminal_width(stream)
    if environ.get("NO_COLOR"):
        colour = False
    elif environ.get("FORCE_COLOR"):
        colour = True
    else:
        colour = terminal and environ.get("TERM") != "dumb"
    return Style(None if width is None else max(MIN_WIDTH, min(WIDTH, width)), colour)


def _terminal_width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, io.UnsupportedOperation):
        return WIDTH


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def present(line: str, style: Style) -> str:
    """One logical line as written: wrapped to the width (continued lines indented two more
    spaces than the first), coloured as the whole line reads (a finding's code is found by
    its place on the line, wherever the wrapping puts it)."""
    spans = _spans(line) if style.colour else []
    return "\n".join(prefix + _coloured(line, begin, end, spans)
                     for prefix, begin, end in _pieces(line, style.width))


def wrap(line: str, width: int | None = WIDTH) -> list[str]:
    """``line`` in pieces of at most ``width`` columns, cut between words only: a path or a
    SHA longer than a line is kept whole rather than broken where nobody can copy it."""
    return [prefix + line[begin:end] for prefix, begin, end in _pieces(line, width)]


def paint(line: str, style: Style = Style(colour=True)) -> str:
    """``line`` with colour for its verdict word, its finding code and any bad counts."""
    return present(line, Style(width=None, colour=style.colour))


def _pieces(line: str, width: int | None) -> list[tuple[str, int, int]]:
    """Where ``line`` is cut: each piece is a prefix and a slice of ``line`` (its words and
    the spaces between them as written)."""
    if width is None or len(line) <= width or _TABLE_ROW.search(line):
        return [("", 0, len(line))]
    follow = line[:len(line) - len(line.lstrip(" "))] + "  "
    pieces: list[tuple[str, int, int]] = []
    prefix, begin, end = "", 0, -1
    for word in re.finditer(r"\S+", line):
        if end < 0:
            end = word.end()
        elif len(prefix) + word.end() - begin <= width:
            end = word.end()
        else:
            pieces.append((prefix, begin, end))
            prefix, begin, end = follow, word.start(), word.end()
    pieces.append((prefix, begin, max(end, begin)))
    return pieces


def _spans(line: str) -> list[tuple[int, int, str]]:
    """The coloured parts of ``line``: where they start and end, and their colour."""
    finding = _FINDING.match(line)
    if finding:
        warned = finding.group(1).lstrip().startswith(("warning: ", "notice: "))
        return [(finding.start(2), finding.end(2), _YELLOW if warned else _RED)]
    lead = _LEAD.match(line)
    if lead and lead.group(2) in _LEAD_WORDS:
        return [(lead.start(2), lead.end(2), _LEAD_WORDS[lead.group(2)])]
    spans = [(m.start(), m.end(), _RED) for m in _BAD_COUNT.finditer(line)]
    spans += [(m.start(), m.end(), _YELLOW) for m in _WARN_COUNT.finditer(line)]
    return sorted(spans)


def _coloured(line: str, begin: int, end: int, spans: list[tuple[int, int, str]]) -> str:
    out: list[str] = []
    at = begin
    for start, stop, colour in spans:
        start, stop = max(start, at), min(stop, end)
        if start >= stop:
            continue
        out += [line[at:start], click.style(line[start:stop], fg=colour, bold=True)]
        at = stop
    out.append(line[at:end])
    return "".join(out)


class Presenter(io.TextIOBase):
    """Stands in for stdout: each complete line is presented as soon as it is written, so
    a long run (simulate, reconcile) still shows its progress line by line."""

    def __init__(self, target: TextIO, style: Style) -> None:
        super().__init__()
        self.target = target
        self.style = style
        self._pending = ""

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return _isatty(self.target)

    @property
    def encoding(self) -> str:  # type: ignore[override]  # TextIOBase declares it read-only
        return getattr(self.target, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        self._pending += text
        *done, self._pending = self._pending.split("\n")
        for line in done:
            self.target.write(present(line, self.style) + "\n")
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def finish(self) -> None:
        """Writes a last line that had no newline, as it is."""
        if self._pending:
            self.target.write(present(self._pending, self.style))
            self._pending = ""
        self.target.flush()


def stdout_width() -> int | None:
    """The width stdout's lines are wrapped at: a table wider than that is better laid out
    another way. None where lines are kept whole (a pipe, a file, JSON)."""
    current = sys.stdout
    return current.style.width if isinstance(current, Presenter) else None


PLAIN_COMMANDS = frozenset({"codeowners", "schemas"})
"""Commands whose text output is a file's content, written as it is."""


@contextmanager
def presented(active: bool) -> Iterator[None]:
    """stdout presented for people while the block runs (``active``), or given back plain
    inside a presented block (a JSON subcommand of a text group)."""
    current = sys.stdout
    if active == isinstance(current, Presenter):
        yield
        return
    if isinstance(current, Presenter):
        sys.stdout = current.target
        try:
            yield
        finally:
            sys.stdout = current
        return
    presenter = Presenter(current, style_for(current))
    sys.stdout = presenter
    try:
        yield
    finally:
        sys.stdout = current
        presenter.finish()


class StyledCommand(click.Command):
    """A command whose text output is presented for people (``--format text``, the default;
    every other format is left alone)."""

    def invoke(self, ctx: click.Context) -> Any:
        with presented(_for_people(self, ctx)):
            return super().invoke(ctx)


class StyledGroup(click.Group):
    """A group whose commands and subgroups are ``StyledCommand`` and ``StyledGroup``."""

    command_class = StyledCommand
    group_class = type

    def invoke(self, ctx: click.Context) -> Any:
        with presented(_for_people(self, ctx)):
            return super().invoke(ctx)


def _for_people(command: click.Command, ctx: click.Context) -> bool:
    return command.name not in PLAIN_COMMANDS and ctx.params.get("fmt", "text") == "text"
