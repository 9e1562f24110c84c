"""``gitjit targets``: the installed providers, where each comes from, what it accepts, who
ends access at expiry and whether it lists holders; through the real CLI."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint, entry_points

import pytest

from engine import __version__
from engine.cli import run
from engine.targets import registry
from engine.targets.command import CommandTarget
from engine.targets.postgres import PostgresTarget
from engine.targets.recording import RecordingTarget

BUILT_IN = f"built-in (gitjit {__version__})"


def gitjit(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out, err = capsys.readouterr()
    return code, out, err


def block(text: str, name: str) -> list[str]:
    """The lines of one provider in the text output."""
    lines = text.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"{name}  ")))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")),
               len(lines))
    return lines[start:end]


def test_text_lists_each_installed_provider(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["targets"], capsys)
    assert (code, err) == (0, "")
    assert block(out, "postgres") == [
        f"postgres  {BUILT_IN}",
        "  expiry:      gitjit (gitjit's reconcile ends access; the target cannot)",
        "  drift:       holders() (reconcile can find access given outside gitjit)",
        "  target:      role (required), mode, terminate_sessions",
        "  connection:  application_name, connect_timeout, dbname, dsn_env, host, mode, "
        "password_env, port, sslcert, sslkey, sslmode, sslrootcert, terminate_sessions, user, "
        "needs dsn_env or host or dbname",
    ]
    assert block(out, "command") == [
        f"command  {BUILT_IN}",
        "  expiry:      depends (the settings say whether the target ends access itself; each "
        "grant records which)",
        "  drift:       holders() (reconcile can find access given outside gitjit)",
        "  target:      command, native_expiry, timeout, any other key",
        "  connection:  command, holders, native_expiry, timeout, keys matching "
        "^[a-z][a-z0-9_]*_env$, any other key",
    ]
    assert block(out, "recording")[3:] == ["  target:      native_expiry, any other key",
                                           "  connection:  path (required), native_expiry"]
    installed = registry.catalog()
    summary = [f"{len(installed.providers)} providers installed; 'gitjit targets PROVIDER' "
               "prints one with its JSON Schemas"]
    if installed.missing:
        summary.insert(0, "not installed: " + ", ".join(
            f"{name} ({command})" for name, command in sorted(installed.missing.items())))
    assert out.splitlines()[-len(summary):] == summary


def test_one_provider_with_its_schemas(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = gitjit(["targets", "recording"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"recording  {BUILT_IN}"
    start = lines.index("  target schema:") + 1
    end = lines.index("  connection schema:")
    shown = json.loads("\n".join(lines[start:end]))
    assert shown == RecordingTarget.TARGET_SCHEMA
    assert json.loads("\n".join(lines[end + 1:])) == RecordingTarget.CONNECTION_SCHEMA
    assert not any(line.startswith("not installed") for line in lines)


def test_json_carries_the_whole_schemas(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = gitjit(["targets", "--format", "json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["version"] == 1
    by_name = {p["name"]: p for p in data["providers"]}
    assert by_name["postgres"] == {
        "name": "postgres", "source": BUILT_IN, "usable": True, "problem": None, "fix": None,
        "expiry": "gitjit", "holders": True,
        "target_schema": PostgresTarget.TARGET_SCHEMA,
        "connection_schema": PostgresTarget.CONNECTION_SCHEMA,
    }
    assert (by_name["command"]["expiry"], by_name["command"]["target_schema"]) == (
        "depends", CommandTarget.TARGET_SCHEMA)
    assert data["not_installed"] == [
        {"name": name, "install": command}
        for name, command in sorted(registry.catalog().missing.items())]


def test_an_unknown_provider_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["targets", "postgress"], capsys)
    assert (code, out) == (2, "")
    assert err == ("gitjit: error: unknown target provider 'postgress'; did you mean "
                   f"'postgres'? installed here: {', '.join(sorted(registry.catalog().providers))}"
                   "\n")


def test_a_missing_first_party_provider_names_its_extra(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(registry.FIRST_PARTY, "mainframe", "pip install 'gitjit[mainframe]'")
    code, _, err = gitjit(["targets", "mainframe"], capsys)
    assert code == 2
    assert err == ("gitjit: error: target provider 'mainframe' is not installed; it is one of "
                   "gitjit's own targets: install it with pip install 'gitjit[mainframe]'\n")


class _BadExpiry:
    name = "odd"
    EXPIRY = "native"

    def native_expiry(self, assignment: object) -> bool:
        return True

    def apply(self, assignment: object) -> None: ...
    def revoke(self, assignment: object) -> None: ...
    def list_managed(self) -> list[object]:
        return []


def test_an_unusable_provider_fails_the_listing(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    real = list(entry_points(group=registry.GROUP))
    odd = EntryPoint("odd", f"{__name__}:_BadExpiry", registry.GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [*real, odd])
    code, out, _ = gitjit(["targets"], capsys)
    assert code == 1
    assert block(out, "odd") == [
        f"odd  {__name__}:_BadExpiry (package unknown)",
        "  UNUSABLE:    its EXPIRY is 'native'; it must be one of 'target', 'gitjit', "
        "'depends'; report it to the plugin's authors (docs/targets.md says what a plugin "
        "declares)"]


def test_help_shows_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = gitjit(["targets", "--help"], capsys)
    assert code == 0
    assert "  gitjit targets postgres\n" in out and "--format [text|json]" in out
