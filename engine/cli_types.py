"""The command line's value types and spelling rules, shared by every command.

engine.cli and the command groups it loads lazily (engine.commands.local) both use them: one
grammar per kind of value, whichever command takes it. The rules the tests pin (one name per
concept, the order of --format choices, the --forge default) live here too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from engine.core.models import Login
from engine.core.values import (
    parse_any_timestamp,
    parse_day_or_timestamp,
    parse_duration,
    parse_login,
)

FORMAT_ORDER = ("text", "json", "github", "markdown", "junit", "csv", "html")
"""How every --format lists its choices: the default (text) first, then the machine
formats, then the documents."""
FORGE_ORDER = ("none", "local", "github")
DEFAULT_FORGE = "local"
"""Every --forge defaults to the local forge: offline, in the repository's git directory."""
ALIASES = "gitjit.deprecated"
"""Where a command's context keeps the values given under a deprecated spelling."""


def ordered(values: Iterable[str], order: tuple[str, ...] = FORMAT_ORDER) -> tuple[str, ...]:
    """``values`` in the canonical order (unknown ones last, alphabetically)."""
    rank = {name: index for index, name in enumerate(order)}
    return tuple(sorted(values, key=lambda v: (rank.get(v, len(order)), v)))


class _Time(click.ParamType):  # type: ignore[type-arg]  # generic only in new click
    """A time read by ``parse``; a datetime (a default) passes as it is."""

    parse: Callable[[str], datetime]

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return type(self).parse(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class Timestamp(_Time):
    """An RFC 3339 time with an offset, in any spelling RFC 3339 allows."""

    name = "TIME"
    parse = staticmethod(parse_any_timestamp)


class Day(_Time):
    """A day (2026-11-01, midnight UTC) or an RFC 3339 time with an offset."""

    name = "DATE"
    parse = staticmethod(parse_day_or_timestamp)


class LoginType(click.ParamType):  # type: ignore[type-arg]
    name = "LOGIN"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Login:
        try:
            return parse_login(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class Duration(click.ParamType):  # type: ignore[type-arg]
    """A duration in gitjit's grammar (30m, 2h, 1h30m, 1d, PT2H), checked while the command
    line is read, before anything is written; the text is kept as written."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        try:
            parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return str(value)


def complete_policy(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of a POLICY argument: the policy files of --repo (or the current
    folder), by name, which check requires to be the policy's id. Nothing is parsed: a
    completion must be instant and may not fail."""
    folder = Path(str(ctx.params.get("repo") or ".")) / "policies"
    try:
        names = sorted(path.name.removesuffix(".yaml") for path in folder.glob("*.yaml"))
    except OSError:
        return []
    return [name for name in names
            if name.startswith(incomplete) and name not in ("groups", "settings")]


def deprecated_alias(old: str, new: str, dest: str, **kwargs: Any) -> Callable[[Any], Any]:
    """A hidden option ``old`` that still works as ``new`` (whose parameter is ``dest``) and
    warns; the command reads it back with ``aliased``."""

    def remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or ctx.get_parameter_source(param.name or "") is not \
                click.core.ParameterSource.COMMANDLINE:
            return
        click.echo(f"gitjit: warning: {old} is deprecated; use {new}", err=True)
        ctx.meta.setdefault(ALIASES, {})[dest] = (old, new, value)

    return click.option(old, f"deprecated_{dest}", hidden=True, expose_value=False,
                        callback=remember, **kwargs)


def aliased(dest: str, value: Any) -> Any:
    """``value`` of parameter ``dest``, or what its deprecated spelling gave; both at once is
    a usage error."""
    ctx = click.get_current_context()
    given = ctx.meta.get(ALIASES, {}).get(dest)
    if given is None:
        return value
    old, new, old_value = given
    if ctx.get_parameter_source(dest) is click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError(f"{old} and {new} are the same option; give {new} only", ctx)
    return old_value
