"""gitjit report's command line: what people wrote stays inert in every format, the summary
reaches the security channel, thresholds come from settings, and usage errors say why."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.cli import run
from tests.receivers import HttpReceiver
from tests.report.history import Grant, History, build, day

TRICK = '=HYPERLINK("http://203.0.113.9/x") @security-team [click](http://203.0.113.9/y)'
ENV = "GITJIT_TEST_SECURITY_URL"
ALERTS = f"notify:\n  security: {{url_env: {ENV}}}\nalerts: [security]\n"


def _plan() -> list[Grant]:
    return [Grant(who, "db", day(d, 10), "dave", justification=TRICK,
                  review_after=timedelta(minutes=5))
            for d, who in enumerate(("alice", "bob", "carol"))]


@pytest.fixture
def tricky(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> History:
    history = build(tmp_path / "repo", _plan(), settings=ALERTS)
    capsys.readouterr()  # what the lifecycle runs printed
    return history


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


def test_csv_cells_never_start_a_formula(tricky: History,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert tricky.report("--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    reused = next(r for r in rows if r["code"] == "report.reused-justification")
    assert reused["subject"].startswith("'=hyperlink(")
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows
                   for cell in row.values())


def test_the_markdown_summary_escapes_what_people_wrote(
        tricky: History, capsys: pytest.CaptureFixture[str]) -> None:
    assert tricky.report("--format", "markdown") == 0
    out = capsys.readouterr().out
    assert "@security-team" not in out and "[click](" not in out
    assert "&#64;security-team" in out and r"\[click\]" in out


def test_notify_sends_the_summary_to_the_alerts_channels(
        tricky: History, http: HttpReceiver, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV, http.url)
    assert tricky.report("--format", "json", "--notify") == 0
    found = json.loads(capsys.readouterr().out)["findings"]
    [message] = http.received
    levels = {"high": 0, "medium": 0, "low": 0}
    for item in found:
        levels[item["level"]] += 1
    assert message["title"] == (f"gitjit access review: {len(found)} findings: "
                                f"{levels['high']} high, {levels['medium']} medium, "
                                f"{levels['low']} low")
    assert "report.reused-justification" in message["message"]
    assert "@security-team" not in message["message"]


def test_notify_without_the_channel_url_fails_and_says_which(
        tricky: History, capsys: pytest.CaptureFixture[str]) -> None:
    assert tricky.report("--notify") == 1
    assert (f"gitjit report: notify: channel 'security': the environment variable {ENV} is "
            "not set") in capsys.readouterr().err


def test_thresholds_come_from_the_settings(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    tuned = build(tmp_path / "repo", _plan(),
                  settings='report:\n  justification: {reuse: "4"}\n')
    capsys.readouterr()
    assert tuned.report("--format", "json") == 0
    report = json.loads(capsys.readouterr().out)
    assert "report.reused-justification" not in [f["code"] for f in report["findings"]]
    assert report["thresholds"]["justification_reuse"] == 4


@pytest.mark.parametrize(("args", "message"), [
    (["--policy", "nope"], "gitjit: error: unknown policy 'nope'; known policies: db, "
                           "reporting\n"),
    (["--since", "2026-12-01", "--until", "2026-11-01"],
     "gitjit: error: --since 2026-12-01T00:00:00Z is not before --until "
     "2026-11-01T00:00:00Z\n"),
])
def test_usage_errors_say_why(tricky: History, capsys: pytest.CaptureFixture[str],
                              args: list[str], message: str) -> None:
    assert run(["report", "--repo", str(tricky.path), *args]) == 2
    assert capsys.readouterr().err == message
