"""A target that only writes down what it was asked to do: the target of dry runs.

``gitjit simulate`` points policies at it to see which grants would be applied and revoked,
without touching a real system. The file it keeps (connection setting ``path``)::

    {"assignments": {"<grant id>": {...assignment...}},
     "events": [{"action": "apply", "grant_id": "...", "login": "...", ...}, ...]}

``assignments`` is the current state; ``events`` is every call that changed it, in order.
Repeated calls that change nothing (an idempotent re-apply) are not recorded as events.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engine.core.models import GrantId, Login, Target
from engine.core.values import parse_login
from engine.targets import schemas as s
from engine.targets.base import (
    ActionJob,
    ActionResult,
    Assignment,
    Holder,
    ManagedAssignment,
    TargetError,
    required,
)

_NATIVE = s.flag("Whether to record the grants' expiry as target-enforced (default false).")


class RecordingTarget:
    name = "recording"

    # It records whatever params a policy gives (simulations keep a policy's own target).
    TARGET_SCHEMA = s.mapping("recording target", {"native_expiry": _NATIVE},
                              others={"type": "string", "description": "Recorded as given."})
    CONNECTION_SCHEMA = s.mapping("recording connection", {
        "path": s.text("The JSON file the recording is kept in."),
        "native_expiry": _NATIVE,
    }, required=("path",))
    EXPIRY = "depends"
    """The native_expiry setting says what it records."""

    def __init__(self, connection: Mapping[str, str]) -> None:
        self._connection = dict(connection)
        self.path = Path(required(connection, "path", "recording target"))

    def native_expiry(self, assignment: Assignment) -> bool:
        return (assignment.setting("native_expiry") or "false").lower() == "true"

    def apply(self, assignment: Assignment) -> None:
        state = self._load()
        record = assignment.to_json()
        held = state["assignments"].get(assignment.grant_id)
        if held is not None and held["target"] == record["target"]:
            return
        # One grant holds one assignment here: applying it elsewhere (a policy's new target)
        # replaces the old one.
        state["assignments"][assignment.grant_id] = record
        state["events"].append({"action": "apply", **record})
        self._save(state)

    def revoke(self, assignment: Assignment) -> None:
        state = self._load()
        held = state["assignments"].get(assignment.grant_id)
        if held is None or held["target"] != assignment.to_json()["target"]:
            return  # nothing of this assignment is held here
        del state["assignments"][assignment.grant_id]
        state["events"].append({"action": "revoke", **assignment.to_json()})
        self._save(state)

    def run_action(self, job: ActionJob,
                   started: Callable[[], bool]) -> ActionResult | None:
        """Write down the plan instead of running it (an event ``run``); it completes."""
        state = self._load()
        if not started():
            return None
        state["events"].append({"action": "run", "grant_id": job.action,
                                "plan": job.plan.document(), "digest": job.plan.digest()})
        self._save(state)
        return ActionResult("completed", timedelta(0), output=f"recorded {job.plan.kind} "
                            f"{job.plan.digest()[:16]} in {self.path.name}")

    def list_managed(self) -> list[ManagedAssignment]:
        out = []
        for grant_id, record in sorted(self._load()["assignments"].items()):
            params = record.get("target", {}).get("params", {})
            out.append(ManagedAssignment(
                principal=record["login"],
                privilege=params.get("role") or record["policy"],
                grant_id=GrantId(grant_id),
                expires_at=(datetime.fromisoformat(record["expires_at"])
                            if self._native(record) else None),
                details={"policy": record["policy"]},
            ))
        return out

    def holders(self, target: Target) -> list[Holder]:
        """Who the file says holds ``target``: every recorded assignment of exactly that target
        (also one written into the file by hand, which is how a test grants outside gitjit)."""
        wanted = {"provider": target.provider, "params": dict(target.params)}
        out = []
        for grant_id, record in sorted(self._load()["assignments"].items()):
            if record.get("target") != wanted:
                continue
            out.append(Holder(
                principal=str(record["login"]), login=_login(record["login"]),
                privilege=target.get("role") or str(record.get("policy", "")),
                details={"recorded_as": grant_id},
            ))
        return out

    def _native(self, record: Mapping[str, Any]) -> bool:
        value = record.get("target", {}).get("params", {}).get("native_expiry")
        if value is None:
            value = self._connection.get("native_expiry", "false")
        return str(value).lower() == "true"

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"assignments": {}, "events": []}
        except (OSError, ValueError) as exc:
            raise TargetError(f"recording target: cannot read {self.path}: {exc}; delete the "
                              f"file to start a fresh recording") from exc
        if not (isinstance(data, dict) and isinstance(data.get("assignments"), dict)
                and isinstance(data.get("events"), list)):
            raise TargetError(f"recording target: {self.path} is not a recording (expected "
                              f"'assignments' and 'events'); delete it or choose another path")
        return data

    def _save(self, state: Mapping[str, Any]) -> None:
        # Write-then-rename, so a crash never leaves half a recording behind.
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(state, fh, indent=2, sort_keys=True)
                fh.write("\n")
            os.replace(tmp, self.path)
        except OSError as exc:
            raise TargetError(f"recording target: cannot write {self.path}: {exc}") from exc


def _login(value: object) -> Login | None:
    try:
        return parse_login(str(value))
    except ValueError:
        return None  # written by hand, and no forge login: nobody's grant can back it
