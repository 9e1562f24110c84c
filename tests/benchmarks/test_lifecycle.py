"""The lifecycle benchmark runs end to end on a tiny history and reports what it says it does.

Shape only, never timings: the figures are the benchmark's to report (docs/benchmarks.md).
The benchmark checks every run's output itself (activate activated one grant, reconcile
revoked one, audit verify found the ledger intact), so a history the commands would refuse,
or a run that did other work, fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.lifecycle import COMMANDS, Result, Row, chosen, main, sentences, table

SIZES = (30, 40)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("lifebench")
    capture = folder / "out.json"
    import contextlib

    with capture.open("w", encoding="utf-8") as out, contextlib.redirect_stdout(out):
        code = main(["--grants", ",".join(map(str, SIZES)), "--runs", "1", "--format", "json",
                     "--keep", str(folder / "histories")])
    assert code == 0
    parsed: dict[str, Any] = json.loads(capture.read_text(encoding="utf-8"))
    return parsed


def test_every_command_is_measured_at_every_size(report: dict[str, Any]) -> None:
    assert [(row["grants"], row["command"]) for row in report["rows"]] == [
        (size, command.name) for size in SIZES for command in COMMANDS]
    assert [entry["grants"] for entry in report["built"]] == list(SIZES)
    for row in report["rows"]:
        assert row["best"] > 0 and row["median"] >= row["best"] and row["rss_mib"] > 0


def test_each_gitjit_command_has_a_ratio_to_its_floor(report: dict[str, Any]) -> None:
    floors = {row["command"]: row["floor"] for row in report["rows"] if row["grants"] == 30}
    assert floors == {
        "activate, nothing to do": "start-up", "activate, one new merge": "start-up",
        "reconcile, nothing due": "start-up", "reconcile, one expiry": "start-up",
        "status": "start-up", "audit verify": "git signatures", "start-up": None,
        "git log -p": None, "git signatures": None}
    for row in report["rows"]:
        assert (row["ratio"] is None) == (row["floor"] is None)
    # The lifecycle commands ran once in-process too, to count their git processes.
    counted = {row["command"] for row in report["rows"] if row["git"] is not None}
    assert counted == {"activate, nothing to do", "activate, one new merge",
                       "reconcile, nothing due", "reconcile, one expiry", "status"}


def test_growth_compares_the_smallest_and_the_largest_history(report: dict[str, Any]) -> None:
    assert [(g["command"], g["from"], g["to"]) for g in report["growth"]] == [
        (command.name, 30, 40) for command in COMMANDS]
    assert all(g["seconds"] > 0 for g in report["growth"])


def test_the_table_has_a_line_per_measurement(report: dict[str, Any]) -> None:
    result = Result(report["machine"], report["runs"],
                    {entry["grants"]: entry["seconds"] for entry in report["built"]},
                    [Row(**row) for row in report["rows"]])
    lines = table(result).splitlines()
    assert lines[0].startswith("| grants | ledger records | command | best of 1 (s) |")
    assert len(lines) == 2 + len(SIZES) * len(COMMANDS)
    assert "| 30 | 30 | activate, one new merge |" in lines[3]
    said = sentences(result)
    assert said[0].startswith("activate, nothing to do, 30 -> 40 grants: ratio to its floor ")
    assert said[-1].startswith("audit verify, 40 grants: ")


def test_a_size_the_history_cannot_have_is_refused(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--grants", "25", "--keep", str(tmp_path)])
    assert stopped.value.code == 2
    assert "--grants must be a multiple of 10, at least 30" in capsys.readouterr().err


def test_commands_can_be_chosen_and_bring_their_floors() -> None:
    assert [c.name for c in chosen(["audit verify", "status"])] == [
        "status", "audit verify", "start-up", "git signatures"]
    assert chosen(None) == COMMANDS
    with pytest.raises(ValueError, match=r"^no command stats; the commands are: activate, "):
        chosen(["stats"])
