"""A target that runs a configured command: the escape hatch for any other system.

The command (setting ``command``, split like a shell would but run without one) is called as
``<command> apply``, ``<command> revoke`` or ``<command> list`` with a JSON document on
standard input: the assignment for apply/revoke (see ``Assignment.to_json``), and
``{"connection": {...}}`` for list. ``list`` must print a JSON array of objects with
``principal``, ``privilege`` and optionally ``grant_id`` and ``expires_at``.
A non-zero exit fails the operation; apply and revoke must be idempotent.

``<command> holders`` (drift detection) is called only for a connection that says
``holders: "true"``, since an older hook may treat any action it does not know as a revocation.
Its input is ``{"target": {"provider": ..., "params": {...}}, "connection": {...}}``; it prints a
JSON array of everyone holding the privilege those params name, however they got it:
``principal``, ``privilege`` and optionally ``login`` (the forge login, when the hook knows it)
and ``details`` (an object of text values).

The program's environment holds ``PATH`` and the variables that the connection's own ``*_env``
settings name, nothing else: gitjit's environment also holds the App token, the signing
setup and every other connection's secrets, which a hook has no business reading.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from engine.core.models import GrantId, Target
from engine.core.values import parse_login
from engine.targets import schemas as s
from engine.targets.base import (
    ActionJob,
    ActionResult,
    Assignment,
    Holder,
    ManagedAssignment,
    TargetError,
)

DEFAULT_TIMEOUT = 60.0
_STDERR_TAIL = 2000


def child_environment(connection: Mapping[str, str]) -> dict[str, str]:
    """``PATH`` and the set variables that the connection's ``*_env`` settings name."""
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    for key, variable in sorted(connection.items()):
        if key.endswith("_env") and variable in os.environ:
            env[variable] = os.environ[variable]
    return env


def _tail(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text[-_STDERR_TAIL:] if text else "(no output on stderr)"


_COMMAND = s.text("The program to run, split like a shell would (but run without one).")
_TIMEOUT = {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$",
            "description": "Seconds the program may run (default 60).",
            "errorMessage": "is not a number of seconds; write e.g. 60"}
_NATIVE = s.flag("Whether the system behind the hook ends access at expires_at itself.")


class CommandTarget:
    name = "command"

    # The hook defines its own parameters, so any other text passes: only the hook can say
    # whether 'rle' is a typo. A policy cannot pull a secret into the hook: *_env keys of a
    # target are never passed, so naming one there is a mistake worth reporting.
    TARGET_SCHEMA = s.mapping("command target", {
        "command": _COMMAND, "timeout": _TIMEOUT, "native_expiry": _NATIVE,
    }, others={"type": "string", "description": "A parameter of the hook, passed to it in "
               "the assignment's target params."},
        propertyNames={"not": {"pattern": s.ENV_KEY},
                       "errorMessage": "names an environment variable, but only a "
                       "connection's *_env settings reach the hook; move it to the connection "
                       "in policies/settings.yaml"})
    CONNECTION_SCHEMA = s.mapping("command connection", {
        "command": _COMMAND, "timeout": _TIMEOUT, "native_expiry": _NATIVE,
        "holders": s.flag("Whether the hook implements the 'holders' action (drift "
                          "detection); default false."),
    }, others={"type": "string", "description": "A setting of the hook, passed to it in the "
               "connection."}, patternProperties={s.ENV_KEY: s.ENV_VAR})
    EXPIRY = "depends"
    """The native_expiry setting says whether the system behind the hook ends access."""

    def __init__(self, connection: Mapping[str, str]) -> None:
        self._connection = dict(connection)

    def native_expiry(self, assignment: Assignment) -> bool:
        return (assignment.setting("native_expiry") or "false").lower() == "true"

    def apply(self, assignment: Assignment) -> None:
        self._run(assignment.setting, assignment.connection, "apply", assignment.to_json())

    def revoke(self, assignment: Assignment) -> None:
        self._run(assignment.setting, assignment.connection, "revoke",
                  assignment.to_json())

    def run_action(self, job: ActionJob,
                   started: Callable[[], bool]) -> ActionResult | None:
        return run_action(job, started)

    def probe(self, assignment: Assignment) -> str:
        """The program exists and is executable; it is not run (a hook may have no
        side-effect-free action)."""
        raw = assignment.setting("command")
        if not raw:
            raise TargetError("command target: missing setting 'command'; add it to the "
                              "connection in policies/settings.yaml or to the policy's target")
        try:
            argv = shlex.split(raw)
        except ValueError as exc:
            raise TargetError(f"command target: cannot split command {raw!r}: {exc}") from exc
        if not argv:
            raise TargetError("command target: the 'command' setting is empty")
        path = child_environment(assignment.connection)["PATH"]
        found = executable(argv[0], path)
        if found is None:
            raise TargetError(f"command target: cannot run {argv[0]!r}: not an executable "
                              f"file (looked up in PATH {path!r}); fix the 'command' setting")
        return f"{found} is an executable file"

    def list_managed(self) -> list[ManagedAssignment]:
        out = self._run(self._connection.get, self._connection, "list",
                        {"connection": self._connection})
        try:
            items = json.loads(out)
            if not isinstance(items, list):
                raise ValueError("not a JSON array")
            return [
                ManagedAssignment(
                    principal=str(item["principal"]),
                    privilege=str(item["privilege"]),
                    grant_id=GrantId(item["grant_id"]) if item.get("grant_id") else None,
                    expires_at=(datetime.fromisoformat(item["expires_at"])
                                if item.get("expires_at") else None),
                )
                for item in items
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise TargetError(
                f"command target: 'list' must print a JSON array of objects with 'principal' "
                f"and 'privilege'; could not read its output ({type(exc).__name__}: {exc})"
            ) from exc

    def holders(self, target: Target) -> list[Holder]:
        if self._connection.get("holders", "false").lower() != "true":
            raise TargetError("command target: this connection's hook does not list holders "
                              "(drift detection); once it implements the 'holders' action, "
                              "say holders: \"true\" in its connection in policies/settings.yaml")
        params = dict(target.params)

        def setting(key: str) -> str | None:
            value = params.get(key)
            return value if value is not None else self._connection.get(key)

        out = self._run(setting, self._connection, "holders", {
            "target": {"provider": target.provider, "params": params},
            "connection": self._connection})
        try:
            items = json.loads(out)
            if not isinstance(items, list):
                raise ValueError("not a JSON array")
            return [_holder(item) for item in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise TargetError(
                f"command target: 'holders' must print a JSON array of objects with "
                f"'principal' and 'privilege' (and optionally 'login' and 'details'); could "
                f"not read its output ({type(exc).__name__}: {exc})") from exc

    def _run(
        self, setting: Callable[[str], str | None], connection: Mapping[str, str], action: str,
        payload: Mapping[str, Any],
    ) -> str:
        raw = setting("command")
        if not raw:
            raise TargetError("command target: missing setting 'command'; add it to the "
                              "connection in policies/settings.yaml or to the policy's target")
        try:
            argv = shlex.split(raw)
        except ValueError as exc:
            raise TargetError(f"command target: cannot split command {raw!r}: {exc}") from exc
        timeout_text = setting("timeout") or str(DEFAULT_TIMEOUT)
        try:
            timeout = float(timeout_text)
            if timeout <= 0:
                raise ValueError
        except ValueError:
            raise TargetError(f"command target: timeout {timeout_text!r} is not a positive "
                              f"number of seconds") from None
        what = f"command target: {shlex.join(argv)} {action}"
        try:
            proc = subprocess.run(
                [*argv, action],
                input=json.dumps(payload, sort_keys=True).encode("utf-8"),
                capture_output=True,
                env=child_environment(connection),
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise TargetError(f"{what} timed out after {timeout:g}s (setting 'timeout'); "
                              f"stderr: {_tail(exc.stderr or b'')}") from exc
        except OSError as exc:
            raise TargetError(f"{what} could not start: {exc.strerror or exc}; check the "
                              f"'command' setting") from exc
        if proc.returncode != 0:
            raise TargetError(f"{what} failed with exit code {proc.returncode}; "
                              f"stderr: {_tail(proc.stderr)}")
        return proc.stdout.decode("utf-8", "replace")


def _holder(item: Any) -> Holder:
    if not isinstance(item, dict):
        raise TypeError(f"an entry is {type(item).__name__}, not an object")
    login = item.get("login")
    details = item.get("details") or {}
    if not isinstance(details, dict):
        raise TypeError("'details' is not an object")
    return Holder(principal=str(item["principal"]), privilege=str(item["privilege"]),
                  login=parse_login(str(login)) if login else None,
                  details={str(k): str(v) for k, v in details.items()})
def executable(program: str, path: str) -> str | None:
    """Where ``program`` is, as the child would find it: looked up in ``path`` unless it
    names a path itself; None unless it is an executable file."""
    if "/" not in program:
        return shutil.which(program, path=path)
    return program if os.access(program, os.X_OK) and os.path.isfile(program) else None


def run_action(job: ActionJob, started: Callable[[], bool]) -> ActionResult | None:
    """Run the plan's argv once: no shell (every parameter is one argument, whatever it
    holds), standard input closed, a fresh empty working directory, the minimal environment
    of ``child_environment`` and the plan's time limit. A command has no transaction: a
    failure or a timeout can leave part of its work done, and the outcome says so."""
    argv = list(job.plan.argv)
    env = child_environment(job.connection)
    program = argv[0]
    found = executable(program, env["PATH"])
    if found is None:
        raise TargetError(f"command target: cannot run {program!r}: not an executable file "
                          f"(looked up in PATH {env['PATH']!r}); the action did not run")
    timeout = job.plan.timeout.total_seconds()
    if not started():
        return None
    begun = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gitjit-action-") as workdir:
        try:
            proc = subprocess.run([found, *argv[1:]], stdin=subprocess.DEVNULL,
                                  capture_output=True, env=env, cwd=workdir, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            return ActionResult("failed", _since(begun), f"timed out after {timeout:g}s and "
                                "was killed; a command has no transaction, so part of its work "
                                "may be done: check the target",
                                output=_output(exc.stdout or b"", exc.stderr or b""))
        except OSError as exc:
            return ActionResult("failed", _since(begun), f"could not start {program!r}: "
                                f"{exc.strerror or exc}")
    output = _output(proc.stdout, proc.stderr)
    if proc.returncode != 0:
        return ActionResult("failed", _since(begun), f"exited with status {proc.returncode}; "
                            "a command has no transaction, so part of its work may be done",
                            exit_code=proc.returncode, output=output)
    return ActionResult("completed", _since(begun), exit_code=0, output=output)


def _since(begun: float) -> timedelta:
    return timedelta(seconds=time.monotonic() - begun)


def _output(stdout: bytes, stderr: bytes) -> str:
    text = stdout.decode("utf-8", "replace")
    if stderr.strip():
        text += ("\n" if text and not text.endswith("\n") else "") + "--- stderr ---\n"
        text += stderr.decode("utf-8", "replace")
    return text
