"""The command target, running real small Python scripts."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.core.models import GrantId, Login, PolicyId, Target
from engine.targets.base import Assignment, ManagedAssignment, TargetError
from engine.targets.command import CommandTarget
from engine.targets.registry import create_target

ACTIVATED = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
EXPIRES = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)

# Appends "<action> <stdin>" to the log file named by its first argument; 'list' prints
# one assignment.
SCRIPT = """
import json, sys
log, action = sys.argv[1], sys.argv[-1]
payload = json.load(sys.stdin)
with open(log, "a") as fh:
    fh.write(action + " " + json.dumps(payload, sort_keys=True) + "\\n")
if action == "list":
    print(json.dumps([{"principal": "alice", "privilege": "vault-admin",
                       "grant_id": "vault/alice-20261130T1030Z",
                       "expires_at": "2026-11-30T12:30:00+00:00"},
                      {"principal": "bob", "privilege": "vault-admin"}]))
"""


def python(code: str, *args: str) -> str:
    return shlex.join([sys.executable, "-c", code, *args])


def assignment(command: str, **params: str) -> Assignment:
    return Assignment(
        grant_id=GrantId("vault/alice-20261130T1030Z"),
        login=Login("alice"),
        policy=PolicyId("vault"),
        target=Target("command", tuple(sorted({"connection": "vault", **params}.items()))),
        connection={"provider": "command", "command": command},
        activated_at=ACTIVATED,
        expires_at=EXPIRES,
    )


def test_apply_revoke_and_list_run_the_command_with_json_on_stdin(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    command = python(SCRIPT, str(log))
    t = CommandTarget({"provider": "command", "command": command})
    a = assignment(command, team="vault-admins")

    t.apply(a)
    t.revoke(a)
    listed = t.list_managed()

    actions = [line.split(" ", 1) for line in log.read_text().splitlines()]
    assert [action for action, _ in actions] == ["apply", "revoke", "list"]
    assert json.loads(actions[0][1]) == {
        "grant_id": "vault/alice-20261130T1030Z",
        "login": "alice",
        "policy": "vault",
        "target": {"provider": "command",
                   "params": {"connection": "vault", "team": "vault-admins"}},
        "connection": {"provider": "command", "command": command},
        "activated_at": "2026-11-30T10:30:00+00:00",
        "expires_at": "2026-11-30T12:30:00+00:00",
    }
    assert json.loads(actions[2][1]) == {"connection": {"provider": "command",
                                                        "command": command}}
    assert listed == [
        ManagedAssignment("alice", "vault-admin", GrantId("vault/alice-20261130T1030Z"),
                          EXPIRES),
        ManagedAssignment("bob", "vault-admin", None, None),
    ]


def test_a_failing_command_reports_its_exit_code_and_stderr_tail() -> None:
    command = python("import sys; sys.stderr.write('x' * 5000 + 'vault says: no such team'); "
                     "sys.exit(3)")
    with pytest.raises(TargetError) as err:
        CommandTarget({}).apply(assignment(command))

    assert str(err.value) == (
        f"command target: {command} apply failed with exit code 3; stderr: "
        + ("x" * 5000 + "vault says: no such team")[-2000:])


def test_a_hanging_command_times_out() -> None:
    command = python("import time; time.sleep(30)")
    with pytest.raises(TargetError) as err:
        CommandTarget({}).revoke(assignment(command, timeout="0.5"))

    assert str(err.value) == (f"command target: {command} revoke timed out after 0.5s "
                              f"(setting 'timeout'); stderr: (no output on stderr)")


def test_a_missing_program_says_to_check_the_setting() -> None:
    with pytest.raises(TargetError) as err:
        CommandTarget({}).apply(assignment("/nonexistent/gitjit-hook --flag"))

    assert str(err.value) == ("command target: /nonexistent/gitjit-hook --flag apply could not "
                              "start: No such file or directory; check the 'command' setting")


def test_arguments_are_not_interpreted_by_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    command = python("import sys; print(sys.argv)", f"; touch {marker}")
    CommandTarget({}).apply(assignment(command))
    assert not marker.exists()


def test_list_output_that_is_not_an_array_is_an_error() -> None:
    command = python("print('{}')")
    with pytest.raises(TargetError) as err:
        CommandTarget({"command": command}).list_managed()

    assert str(err.value) == (
        "command target: 'list' must print a JSON array of objects with 'principal' and "
        "'privilege'; could not read its output (ValueError: not a JSON array)")


@pytest.mark.parametrize(("params", "expected"), [({}, False), ({"native_expiry": "true"}, True)])
def test_native_expiry_comes_from_the_settings(params: dict[str, str], expected: bool) -> None:
    assert CommandTarget({}).native_expiry(assignment("true", **params)) is expected


def test_a_bad_timeout_is_reported() -> None:
    with pytest.raises(TargetError) as err:
        CommandTarget({}).apply(assignment("true", timeout="soon"))
    assert str(err.value) == "command target: timeout 'soon' is not a positive number of seconds"


# -- issue 8, item 11: secrets reach code that does not need them --------------------------

SECRETS = {
    "GITHUB_TOKEN": "ghs_the-app-installation-token",
    "GITJIT_APP_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY----- app key",
    "ORDERS_PROD_DSN": "postgresql://gitjit:orders-password@db/orders",
    "SSH_AUTH_SOCK": "/tmp/ssh-agent-with-the-signing-key",
}

# A hook that tries to take every secret it can find in its environment with it.
EXFILTRATE = """
import json, os, sys
loot = {name: os.environ[name] for name in %r}
with open(sys.argv[1], "w") as fh:
    json.dump(loot, fh)
"""


def vault_connection(command: str) -> dict[str, str]:
    return {"provider": "command", "command": command, "token_env": "VAULT_TOKEN",
            "addr_env": "VAULT_ADDR"}


def with_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("VAULT_TOKEN", "hvs.the-vault-token")
    monkeypatch.setenv("VAULT_ADDR", "https://vault.internal:8200")


def test_a_hook_cannot_read_the_app_token_or_other_connections_secrets(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with_secrets(monkeypatch)
    loot = tmp_path / "loot.json"
    command = python(EXFILTRATE % sorted(SECRETS), str(loot))
    connection = vault_connection(command)
    plugin = create_target(connection)
    a = replace(assignment(command), connection=connection)

    with pytest.raises(TargetError) as err:
        plugin.apply(a)

    assert str(err.value).startswith(f"command target: {command} apply failed with exit code 1;"
                                     f" stderr: Traceback")
    assert str(err.value).endswith("KeyError: 'GITHUB_TOKEN'")
    assert not loot.exists()


@pytest.mark.parametrize("action", ["apply", "revoke", "list"])
def test_the_hook_sees_path_and_the_variables_its_connection_names_and_nothing_else(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, action: str) -> None:
    with_secrets(monkeypatch)
    monkeypatch.setenv("HOME", "/root-of-the-runner")
    env_program = shutil.which("env")
    assert env_program is not None
    dump = tmp_path / "environment"
    # /usr/bin/env prints its environment exactly; the wrapper saves it and prints '[]' for
    # 'list'. (A Python hook would see extra variables its own interpreter sets.)
    script = (f"import subprocess, sys; out = subprocess.run([{env_program!r}],"
              f" capture_output=True).stdout; open(sys.argv[1], 'wb').write(out); print('[]')")
    command = python(script, str(dump))
    connection = vault_connection(command)
    plugin = create_target(connection)
    a = replace(assignment(command), connection=connection)

    if action == "list":
        assert plugin.list_managed() == []
    else:
        getattr(plugin, action)(a)

    seen = dict(line.split("=", 1) for line in dump.read_text().splitlines())
    seen.pop("LC_CTYPE", None)  # set by the Python wrapper's locale coercion (PEP 538)
    assert seen == {"PATH": os.environ["PATH"], "VAULT_TOKEN": "hvs.the-vault-token",
                    "VAULT_ADDR": "https://vault.internal:8200"}


def test_a_variable_that_a_policy_names_is_not_passed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Connections bind secrets; a policy's target params cannot pull one into the hook.
    with_secrets(monkeypatch)
    loot = tmp_path / "loot.json"
    command = python(EXFILTRATE % ["GITHUB_TOKEN"], str(loot))
    connection = {"provider": "command", "command": command}
    a = replace(assignment(command, token_env="GITHUB_TOKEN"), connection=connection)

    # Made through the registry, apply refuses before the hook runs: the schema says a
    # target's *_env key is a mistake ('gitjit check' reports it before merge too).
    with pytest.raises(TargetError) as err:
        create_target(connection).apply(a)
    assert str(err.value) == (
        "command target: will not apply grant vault/alice-20261130T1030Z: policy vault's "
        "target or its connection does not fit the provider's schemas ($.target: key "
        "'token_env' names an environment variable, but only a connection's *_env settings "
        "reach the hook; move it to the connection in policies/settings.yaml); fix them "
        "('gitjit check' says where)")
    assert not loot.exists()

    # And the plugin itself, however it is made, never passes the variable.
    with pytest.raises(TargetError) as err:
        CommandTarget(connection).apply(a)
    assert str(err.value).endswith("KeyError: 'GITHUB_TOKEN'")
    assert not loot.exists()
