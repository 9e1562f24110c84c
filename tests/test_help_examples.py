"""Every command's --help shows at least one example, as the README promises."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from engine.cli import cli


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None
        if command.hidden:
            continue
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


COMMANDS = [(), *sorted(_commands(cli))]


def test_the_walk_finds_the_commands_and_their_subcommands() -> None:
    assert ("check",) in COMMANDS and ("local", "merge") in COMMANDS
    assert ("audit", "verify") in COMMANDS and ("init",) in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "gitjit")
def test_help_has_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="gitjit")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    headings = [i for i, line in enumerate(lines) if re.fullmatch(r"Examples?( session)?:",
                                                                  line.strip())]
    name = " ".join(("gitjit", *path))
    assert headings, f"{name} --help has no Example section"
    # The section (up to the next blank line) shows at least one gitjit command.
    section: list[str] = []
    for line in lines[headings[0] + 1:]:
        if not line.strip():
            break
        if section and section[-1].endswith("\\"):
            section[-1] = section[-1][:-1] + line.strip()
        else:
            section.append(line.strip())
    commands = [line for line in section if line.startswith("gitjit ")]
    assert commands, f"{name} --help: its example runs no gitjit command"
    for line in commands:
        _parses(line)


def _parses(line: str) -> None:
    """The example's gitjit command (up to a shell operator) names options that exist."""
    words: list[str] = []
    for word in shlex.split(line)[1:]:
        if word in ("&&", "||", "|", ";", ">", "<") or word.startswith((">", "|")):
            break
        words.append(word)
    command: click.Command = cli
    context = click.Context(cli, info_name="gitjit")
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        found = command.get_command(context, words[0])
        assert found is not None, f"{line}: no command {words[0]}"
        context = click.Context(found, info_name=words[0], parent=context)
        command, words = found, words[1:]
    try:
        command.make_context(context.info_name, list(words), parent=context.parent)
    except click.BadParameter as exc:
        # A file the example reads need not exist here; anything else is a wrong example.
        if "does not exist" not in exc.format_message():
            pytest.fail(f"the example '{line}' does not parse: {exc.format_message()}")
    except click.UsageError as exc:
        pytest.fail(f"the example '{line}' does not parse: {exc.format_message()}")
