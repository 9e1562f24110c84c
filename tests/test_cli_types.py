"""engine.cli_types: one spelling per concept on the whole command line, read from the real
command tree (every command, the lazily loaded groups included)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest

from engine import __version__
from engine.cli import cli, run
from engine.cli_types import DEFAULT_FORGE, FORMAT_ORDER, Day, Duration, Timestamp, ordered

DEPRECATED = {"--author": "--as"}
"""Old spellings that must stay hidden (they still work, with a warning)."""


def commands() -> Iterator[tuple[str, click.Command]]:
    def walk(command: click.Command, ctx: click.Context, path: str) -> Iterator[
            tuple[str, click.Command]]:
        yield path, command
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                yield from walk(sub, click.Context(sub, parent=ctx, info_name=name),
                                f"{path} {name}")

    yield from walk(cli, click.Context(cli, info_name="gitjit"), "gitjit")


def options(name: str) -> Iterator[tuple[str, click.Option]]:
    for path, command in commands():
        for param in command.params:
            if isinstance(param, click.Option) and name in param.opts:
                yield path, param


def test_every_format_lists_its_choices_in_one_order() -> None:
    seen = list(options("--format"))
    assert len(seen) > 15
    for path, option in seen:
        assert isinstance(option.type, click.Choice), path
        choices = tuple(str(c) for c in option.type.choices)
        assert choices == ordered(choices), path
        assert choices[0] == "text" and option.default == "text", path
        assert set(choices) <= set(FORMAT_ORDER), path


def test_every_forge_has_the_same_default() -> None:
    seen = list(options("--forge"))
    assert {path for path, _ in seen} >= {
        "gitjit check", "gitjit check-pr", "gitjit request", "gitjit activate",
        "gitjit reconcile", "gitjit report", "gitjit recertify", "gitjit watchdog"}
    for path, option in seen:
        assert option.default == DEFAULT_FORGE == "local", path
        assert isinstance(option.type, click.Choice)
        choices = [str(c) for c in option.type.choices]
        assert choices[-2:] == ["local", "github"], path


def test_old_spellings_are_hidden() -> None:
    for old, new in DEPRECATED.items():
        for path, option in options(old):
            assert option.hidden, path
            assert path in {p for p, _ in options(new)}, path


def test_the_default_branch_is_always_branch() -> None:
    """--branch names the default branch everywhere; --base only ever a pull request's base
    (check-pr, local open), where --head goes with it."""
    for path, command in commands():
        names = {o for p in command.params if isinstance(p, click.Option) and not p.hidden
                 for o in p.opts}
        if "--base" in names:
            assert "--head" in names, path


def test_times_and_days_are_typed_everywhere() -> None:
    """Every --now, --start, --since and --until takes the same grammar (RFC 3339 in every
    spelling it allows; days too where a period starts or ends)."""
    for name, kind in (("--now", Timestamp), ("--start", Timestamp), ("--since", Day),
                       ("--until", Day), ("--duration", Duration)):
        seen = list(options(name))
        assert seen, name
        for path, option in seen:
            assert isinstance(option.type, kind), (path, name)


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main([flag], prog_name="gitjit")
    assert done.value.code == 0
    assert capsys.readouterr().out == f"gitjit, version {__version__}\n"


def test_a_time_in_lower_case_with_a_space_and_a_fraction(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert Timestamp().convert("2026-11-30 10:00:00.5+01:00", None, None) == datetime(
        2026, 11, 30, 9, 0, 0, 500000, tzinfo=UTC)
    assert run(["status", "--repo", ".", "--now", "2026-11-30 10:00"]) == 2
    assert ("Invalid value for '--now': invalid time '2026-11-30 10:00'"
            in capsys.readouterr().err)


def test_a_malformed_duration_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["request", "any", "--as", "ana", "--justification", "x",
                "--duration", "2 hours", "--repo", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--duration': invalid duration '2 hours'" in err


def test_shell_completion_offers_commands_choices_and_policies(tmp_path: Path) -> None:
    """docs/cli.md's completion, through the installed script as a shell calls it."""
    (tmp_path / "policies").mkdir()
    for name in ("groups", "settings", "prod-db-admin", "prod-read", "dev-admin"):
        (tmp_path / "policies" / f"{name}.yaml").write_text("", encoding="utf-8")
    script = Path(sys.executable).parent / "gitjit"

    def complete(words: str) -> list[str]:
        env = {**os.environ, "_GITJIT_COMPLETE": "bash_complete", "COMP_WORDS": words,
               "COMP_CWORD": str(len(words.split(" ")) - 1)}
        done = subprocess.run([str(script)], env=env, cwd=tmp_path, capture_output=True,
                              text=True, check=True)
        return [line.partition(",")[2] for line in done.stdout.splitlines()]

    assert complete("gitjit check") == ["check", "check-pr"]
    assert complete("gitjit report --format ") == ["text", "json", "markdown", "csv", "html"]
    assert complete("gitjit request prod") == ["prod-db-admin", "prod-read"]
    assert complete("gitjit explain ") == ["dev-admin", "prod-db-admin", "prod-read"]
    source = subprocess.run([str(script)], env={**os.environ, "_GITJIT_COMPLETE": "bash_source"},
                            capture_output=True, text=True, check=True).stdout
    assert "_gitjit_completion()" in source
