"""``gitjit explain``: a policy in plain words, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import run
from tests.gitrepo import GitRepoBuilder

EXPLAINED = [
    "reports-read: Read access to the reports database",
    "  grants: postgres (connection reports, role reports_read)",
    "  who may request: group analysts (ana, ben)",
    "  who must approve (every step; one person counts in one step only; never the requester "
    "or anyone who pushed to the request):",
    "    step 1: 1 of group leads (lea)",
    "  an approval counts for 1d (at the verdict and at the merge); older ones must be given "
    "again",
    "  duration: 1h by default, at most 2h; the clock starts at merge (or at 'start' if later)",
]


POLICY_ADMIN = """\
apiVersion: gitjit/v1
kind: Policy
id: reports-admin
description: Owner of the reports database
target: {provider: postgres, connection: reports, role: reports_owner}
requesters: [user:lea, team:acme/dba]
approvals:
  - {from: [group:analysts], count: 1}
duration: {default: 30m, max: 1h}
ticket: {required: true}
"""


def gitjit(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_a_small_policy(small_repo: GitRepoBuilder,
                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["explain", "reports-read", "--repo", str(small_repo.path)], capsys)
    assert (code, err) == (0, "")
    assert out == "\n".join(EXPLAINED) + "\n"


def test_explain_in_json(small_repo: GitRepoBuilder,
                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["explain", "reports-read", "--repo", str(small_repo.path),
                             "--format", "json"], capsys)
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "version": 1, "policy": "reports-read",
        "description": "Read access to the reports database",
        "target": {"provider": "postgres", "connection": "reports", "role": "reports_read"},
        "requesters": {"principals": ["group:analysts"], "logins": ["ana", "ben"],
                       "unresolved": []},
        "approvals": [{"step": 1, "count": 1, "principals": ["group:leads"], "logins": ["lea"],
                       "unresolved": []}],
        "approval_max_age": "1d",
        "duration": {"default": "1h", "max": "2h"},
        "justification_min_length": 0,
        "ticket": {"required": False, "pattern": None},
        "active_hours": [],
        "max_active_per_requester": None,
        "auto_approve": None,
        "break_glass": None,
        "revokers": {"principals": [], "logins": [], "unresolved": []},
        "notify": [],
        "actions": None,
        "lines": EXPLAINED,
    }


def test_explain_gives_active_hours_as_data(small_repo: GitRepoBuilder,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    policy = small_repo.file("policies/reports-read.yaml")
    policy.write_text(policy.read_text("utf-8") + "active_hours:\n"
                      "  - {days: [mon, fri], between: \"08:00-18:00\", timezone: UTC}\n"
                      "  - {days: [sat], between: \"22:00-02:00\", timezone: Europe/Berlin}\n",
                      encoding="utf-8")
    code, out, _ = gitjit(["explain", "reports-read", "--repo", str(small_repo.path),
                           "--format", "json"], capsys)
    assert code == 0
    document = json.loads(out)
    assert document["active_hours"] == [
        {"days": ["mon", "fri"], "between": "08:00-18:00", "timezone": "UTC",
         "overnight": False},
        {"days": ["sat"], "between": "22:00-02:00", "timezone": "Europe/Berlin",
         "overnight": True}]
    assert ("  active hours: mon,fri 08:00-18:00 UTC or sat 22:00-02:00 (to the next day) "
            "Europe/Berlin") in document["lines"]


def test_explain_without_a_policy_lists_them(small_repo: GitRepoBuilder,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    small_repo.write("policies/reports-admin.yaml", POLICY_ADMIN)
    code, out, err = gitjit(["explain", "--repo", str(small_repo.path)], capsys)
    assert (code, err) == (0, "")
    assert out == (
        "reports-admin  Owner of the reports database\n"
        "reports-read   Read access to the reports database\n"
        "2 policies; 'gitjit explain POLICY' says more, 'gitjit policies --for LOGIN' what "
        "one person may request\n")
    code, out, _ = gitjit(["explain", "--repo", str(small_repo.path), "--format", "json"],
                          capsys)
    assert json.loads(out) == {"version": 1, "policies": [
        {"policy": "reports-admin", "description": "Owner of the reports database"},
        {"policy": "reports-read", "description": "Read access to the reports database"}]}


def test_explain_an_unknown_policy(small_repo: GitRepoBuilder,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["explain", "reports-write", "--repo", str(small_repo.path)], capsys)
    assert (code, out) == (2, "")
    assert err == ("gitjit: error: unknown policy 'reports-write'; did you mean "
                   "'reports-read'? known policies: reports-read\n")


def test_explain_with_a_broken_configuration(small_repo: GitRepoBuilder,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    small_repo.write("policies/groups.yaml", "apiVersion: gitjit/v1\nkind: Groups\n")
    code, out, err = gitjit(["explain", "reports-read", "--repo", str(small_repo.path)], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("gitjit: error: the configuration has errors, e.g. "
                          "policies/groups.yaml:")
    assert err.endswith("; run 'gitjit check'\n")


def test_explain_in_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing"
    code, out, err = gitjit(["explain", "reports-read", "--repo", str(missing)], capsys)
    assert (code, out, err) == (2, "", f"gitjit: error: --repo {missing}: no such directory\n")
