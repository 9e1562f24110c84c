"""Text output for people: wrapping, colour and the conventions that turn colour on and off."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
from datetime import UTC, datetime
from pathlib import Path

import click

from engine.core.values import plural
from engine.lifecycle.context import Report
from engine.reporters.terminal import Style, paint, present, style_for, wrap

ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Terminal(io.StringIO):
    """A stream that says it is a terminal and has no size of its own."""

    def isatty(self) -> bool:
        return True


def test_a_pipe_gets_whole_lines_and_no_colour_whatever_columns_says() -> None:
    assert style_for(io.StringIO(), {"COLUMNS": "80"}) == Style(width=None, colour=False)


def test_a_terminal_gets_80_columns_and_colour() -> None:
    assert style_for(Terminal(), {}) == Style(width=80, colour=True)
    assert style_for(Terminal(), {"COLUMNS": "200"}) == Style(width=80, colour=True)
    assert style_for(Terminal(), {"COLUMNS": "60"}) == Style(width=60, colour=True)


def test_no_color_wins_and_force_color_colours_a_pipe() -> None:
    assert style_for(Terminal(), {"NO_COLOR": "1"}).colour is False
    assert style_for(Terminal(), {"NO_COLOR": "1", "FORCE_COLOR": "1"}).colour is False
    assert style_for(Terminal(), {"NO_COLOR": ""}).colour is True
    assert style_for(Terminal(), {"TERM": "dumb"}).colour is False
    assert style_for(io.StringIO(), {"FORCE_COLOR": "1"}) == Style(width=None, colour=True)


def test_wrapping_cuts_between_words_and_indents_what_follows() -> None:
    line = ("  warning: grants/reports-read/ana-20261201T0900Z.yaml: grant.expired: the grant "
            "ended at 2026-12-01T10:00:00Z; remove it")
    assert wrap(line, 60) == [
        "  warning: grants/reports-read/ana-20261201T0900Z.yaml:",
        "    grant.expired: the grant ended at 2026-12-01T10:00:00Z;",
        "    remove it",
    ]
    assert all(len(part) <= 60 for part in wrap(line, 60))
    long_path = "grants/" + "x" * 90 + ".yaml: yaml.tag: no"
    assert wrap(long_path, 80)[0] == "grants/" + "x" * 90 + ".yaml:"


def test_colour_marks_without_changing_the_text() -> None:
    lines = [
        "APPROVED: request: ana asks for reports-read for 1h",
        "DENIED: request: ana asks for reports-read for 9h",
        "PENDING: request: ana asks for reports-read for 1h",
        "grants/p/ana-20261201T0900Z.yaml:4: grant.path-mismatch: requester 'ana' disagrees",
        "warning: grants/p/ana-20261201T0900Z.yaml: grant.expired: the grant ended",
        "1 policy, 2 grants, 1 error, 3 warnings",
        "FAIL policies/tests/p.yaml:3: test.failed: case 'x'",
        "activate: 1 activated, 1 activation failed",
    ]
    for line in lines:
        painted = paint(line)
        assert painted != line and ANSI.sub("", painted) == line
    assert paint("1 policy, 1 grant, 0 errors, 0 warnings") == \
        "1 policy, 1 grant, 0 errors, 0 warnings"
    assert paint("DENIED: x") == click.style("DENIED", fg="red", bold=True) + ": x"
    assert paint("x: approval.missing: y").startswith("x: " + click.style(
        "approval.missing", fg="red", bold=True))


def test_present_wraps_before_colouring() -> None:
    line = "PENDING: " + "word " * 30
    shown = present(line.strip(), Style(width=40, colour=True))
    assert all(len(ANSI.sub("", part)) <= 40 for part in shown.splitlines())
    assert shown.startswith(click.style("PENDING", fg="yellow", bold=True))


def test_plural_says_what_it_counts_in_english() -> None:
    assert [plural(n, "policy") for n in (0, 1, 2)] == ["0 policies", "1 policy", "2 policies"]
    assert [plural(n, "grant") for n in (1, 3)] == ["1 grant", "3 grants"]
    assert plural(2, "day") == "2 days"
    assert plural(2, "match") == "2 matches"
    assert plural(2, "person", "people") == "2 people"


def _in_a_terminal(args: list[str], columns: int, env: dict[str, str]) -> str:
    """gitjit run in a real pseudo-terminal of ``columns`` columns; what the terminal shows."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    clean = {k: v for k, v in os.environ.items()
             if k not in {"NO_COLOR", "FORCE_COLOR", "COLUMNS", "TERM"}}
    process = subprocess.Popen([sys.executable, "-m", "engine", *args], stdin=follower,
                               stdout=follower, stderr=follower,
                               env={**clean, "TERM": "xterm", **env}, close_fds=True)
    os.close(follower)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 60)
            if not ready:
                break
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: gitjit has exited
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        process.wait(timeout=60)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_a_real_terminal_gets_colour_and_its_width(tmp_path: Path) -> None:
    project = Path(__file__).resolve().parents[2]
    shutil.copytree(project / "schemas", tmp_path / "schemas")
    shutil.copytree(project / "policies", tmp_path / "policies")
    bad = tmp_path / "grants/prod-db-admin/bob-20261130T0900Z.yaml"
    bad.parent.mkdir(parents=True)
    bad.write_text("apiVersion: gitjit/v1\nkind: Grant\npolicy: prod-db-admin\n"
                   "requester: !!str bob\nduration: 1h\n", encoding="utf-8")

    shown = _in_a_terminal(["check", "--repo", str(tmp_path)], 60, {})
    assert click.style("yaml.tag", fg="red", bold=True) in shown
    assert click.style("1 error", fg="red", bold=True) in shown
    lines = ANSI.sub("", shown).splitlines()
    assert max(len(line) for line in lines) <= 60 and len(lines) > 2
    assert lines[3:6] == ["grants/prod-db-admin/bob-20261130T0900Z.yaml:4: yaml.tag:",
                          "  tag '!!str' is not allowed; remove it, every value is",
                          "  plain text typed by the schema"]

    plain = _in_a_terminal(["check", "--repo", str(tmp_path)], 60, {"NO_COLOR": "1"})
    assert "\x1b[" not in plain and plain == ANSI.sub("", shown)


def test_a_run_counts_its_failures_apart_from_what_it_did() -> None:
    """A failed activation is never counted as one more 'activate' among the activated."""
    report = Report("activate", datetime(2026, 11, 30, 9, tzinfo=UTC))
    report.add("p/ana-20261130T0900Z", "activated", "until 10:00")
    report.add("p/ben-20261130T0900Z", "activate", "the target refused", failed=True)
    report.add("p/cid-20261130T0900Z", "activate", "the target refused", failed=True)
    report.add("p/dan-20261130T0900Z", "drift", "unreadable", failed=True)
    assert report.summary() == ("activate: 1 activated, 2 activations failed, "
                                "1 failed step (drift)")
    assert Report("reconcile", report.now, dry_run=True).summary() == \
        "dry run: reconcile: nothing to do"
