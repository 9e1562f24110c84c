"""Progress lines: on a terminal only, after a moment, erased at the end; never elsewhere.

A real pseudo-terminal stands for the user's terminal."""

from __future__ import annotations

import io
import os
import pty
from collections.abc import Iterator
from typing import TextIO

import pytest

from engine.adapters import progress

ERASE = "\r\x1b[K"


@pytest.fixture
def terminal() -> Iterator[tuple[TextIO, int]]:
    """The terminal side as a text stream, and the side that reads what it showed."""
    reader, writer = pty.openpty()
    stream = open(writer, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        yield stream, reader
    finally:
        stream.close()
        os.close(reader)


def shown(reader: int) -> str:
    os.set_blocking(reader, False)
    try:
        return os.read(reader, 1 << 16).decode("utf-8")
    except BlockingIOError:
        return ""


def test_a_task_shows_its_progress_on_a_terminal_and_erases_it(
        terminal: tuple[TextIO, int], monkeypatch: pytest.MonkeyPatch) -> None:
    stream, reader = terminal
    monkeypatch.setenv("GITJIT_PROGRESS_AFTER", "0")
    monkeypatch.delenv("GITJIT_PROGRESS", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    with progress.task("checking grants", 2_000, stream=stream) as bar:
        bar.advance(500)
        assert shown(reader) == f"{ERASE}checking grants: 500 of 2,000 (25%)"
    assert shown(reader) == ERASE


def test_nothing_is_shown_before_a_moment_has_passed(
        terminal: tuple[TextIO, int], monkeypatch: pytest.MonkeyPatch) -> None:
    stream, reader = terminal
    monkeypatch.setenv("GITJIT_PROGRESS_AFTER", "3600")
    monkeypatch.setenv("TERM", "xterm")
    with progress.task("reading the ledger", stream=stream) as bar:
        bar.advance(10)
    assert shown(reader) == ""


@pytest.mark.parametrize("setting", [("GITJIT_PROGRESS", "off"), ("TERM", "dumb")])
def test_it_can_be_turned_off(terminal: tuple[TextIO, int], monkeypatch: pytest.MonkeyPatch,
                              setting: tuple[str, str]) -> None:
    stream, reader = terminal
    monkeypatch.setenv("GITJIT_PROGRESS_AFTER", "0")
    monkeypatch.setenv(*setting)
    with progress.task("checking grants", 10, stream=stream) as bar:
        bar.advance(5)
    assert shown(reader) == ""


def test_never_when_disabled_or_not_on_a_terminal(
        terminal: tuple[TextIO, int], monkeypatch: pytest.MonkeyPatch) -> None:
    stream, reader = terminal
    monkeypatch.setenv("GITJIT_PROGRESS_AFTER", "0")
    monkeypatch.setenv("TERM", "xterm")
    with progress.task("checking grants", 10, enabled=False, stream=stream) as bar:
        bar.advance(5)
    assert shown(reader) == ""
    captured = io.StringIO()
    with progress.task("checking grants", 10, stream=captured) as bar:
        bar.advance(5)
    assert captured.getvalue() == ""


def test_each_phase_counts_from_zero_and_shows_its_name_at_once(
        terminal: tuple[TextIO, int], monkeypatch: pytest.MonkeyPatch) -> None:
    stream, reader = terminal
    monkeypatch.setenv("GITJIT_PROGRESS_AFTER", "0")
    monkeypatch.delenv("GITJIT_PROGRESS", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    with progress.task("reconcile", stream=stream) as bar:
        assert list(bar.each(["a", "b"], "checking")) == ["a", "b"]
        assert shown(reader) == f"{ERASE}reconcile: checking: 1 of 2 (50%)"
        assert (bar.done, bar.total) == (2, 2)
        for _ in bar.each(["c"], "applying"):
            pass
        assert shown(reader) == f"{ERASE}reconcile: applying: 1 of 1 (100%)"


def test_a_silent_bar_counts_and_shows_nothing() -> None:
    bar = progress.silent()
    assert list(bar.each([1, 2, 3], "work")) == [1, 2, 3]
    assert (bar.done, bar.total, bar.line()) == (3, 3, "work: 3 of 3 (100%)")
