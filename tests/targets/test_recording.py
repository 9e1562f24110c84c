"""The recording target: the state and event log it writes for dry runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.core.models import GrantId, Login, PolicyId, Target
from engine.targets.base import Assignment, ManagedAssignment, TargetError
from engine.targets.recording import RecordingTarget

ACTIVATED = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
EXPIRES = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)


def assignment(login: str, path: Path) -> Assignment:
    return Assignment(
        grant_id=GrantId(f"prod-db-admin/{login}-20261130T1030Z"),
        login=Login(login),
        policy=PolicyId("prod-db-admin"),
        target=Target("recording", (("connection", "dry-run"), ("role", "orders_admin"))),
        connection={"provider": "recording", "path": str(path)},
        activated_at=ACTIVATED,
        expires_at=EXPIRES,
    )


def test_apply_and_revoke_are_recorded_once_each(tmp_path: Path) -> None:
    path = tmp_path / "out" / "recording.json"
    t = RecordingTarget({"provider": "recording", "path": str(path)})
    alice, bob = assignment("alice", path), assignment("bob", path)

    t.apply(alice)
    t.apply(alice)
    t.apply(bob)
    t.revoke(alice)
    t.revoke(alice)

    data = json.loads(path.read_text())
    assert [(e["action"], e["login"]) for e in data["events"]] == [
        ("apply", "alice"), ("apply", "bob"), ("revoke", "alice")]
    assert list(data["assignments"]) == ["prod-db-admin/bob-20261130T1030Z"]
    assert t.list_managed() == [ManagedAssignment(
        "bob", "orders_admin", GrantId("prod-db-admin/bob-20261130T1030Z"), None)]


def test_native_expiry_lists_the_expiry(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    t = RecordingTarget({"provider": "recording", "path": str(path), "native_expiry": "true"})
    t.apply(assignment("alice", path))
    assert [m.expires_at for m in t.list_managed()] == [EXPIRES]


def test_a_missing_path_setting_says_where_to_add_it() -> None:
    with pytest.raises(TargetError) as err:
        RecordingTarget({"provider": "recording"})
    assert str(err.value) == ("recording target: missing setting 'path'; add it to the "
                              "connection in policies/settings.yaml or to the policy's target")


def test_a_foreign_file_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "notes.json"
    path.write_text('{"mine": true}')
    with pytest.raises(TargetError) as err:
        RecordingTarget({"path": str(path)}).apply(assignment("alice", path))
    assert str(err.value) == (f"recording target: {path} is not a recording (expected "
                              f"'assignments' and 'events'); delete it or choose another path")
    assert path.read_text() == '{"mine": true}'
