"""``gitjit policies``: what there is to request, and what one person may request, through
the real CLI on a real repository."""

from __future__ import annotations

import json

import pytest

from engine.cli import run
from tests.commands.test_explain import EXPLAINED, POLICY_ADMIN
from tests.gitrepo import GitRepoBuilder


@pytest.fixture
def two_policies(small_repo: GitRepoBuilder) -> GitRepoBuilder:
    small_repo.write("policies/reports-admin.yaml", POLICY_ADMIN)
    small_repo.commit("an owner policy, requested by lea or a GitHub team")
    return small_repo


def gitjit(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_what_a_person_may_request(two_policies: GitRepoBuilder,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["policies", "--for", "Ana", "--repo", str(two_policies.path)],
                            capsys)
    assert (code, err) == (0, "")
    # reports-admin names a GitHub team, which only the online verdict can look up.
    assert out.split("\n\n")[0] == "ana may request 2 policies:"
    read = out.split("\n\n")[2].splitlines()
    assert read == [*EXPLAINED,
                    "  may approve ana's request in step 1: lea",
                    "  request: gitjit request reports-read --as ana --justification TEXT"]
    admin = out.split("\n\n")[1].splitlines()
    assert admin[0] == "reports-admin: Owner of the reports database"
    assert admin[-3:] == [
        "  only if ana is a member of team:acme/dba (looked up on GitHub by the verdict)",
        "  may approve ana's request in step 1: ben",  # never ana herself
        "  request: gitjit request reports-admin --as ana --justification TEXT --ticket TICKET"]


def test_what_a_person_may_request_as_data(two_policies: GitRepoBuilder,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = gitjit(["policies", "--for", "lea", "--repo", str(two_policies.path),
                           "--format", "json"], capsys)
    assert code == 0
    document = json.loads(out)
    assert (document["version"], document["login"]) == (1, "lea")
    [admin] = document["policies"]
    assert (admin["policy"], admin["certain"]) == ("reports-admin", True)
    assert admin["approvals"] == [{"step": 1, "count": 1, "principals": ["group:analysts"],
                                   "logins": ["ana", "ben"], "unresolved": []}]
    assert admin["duration"] == {"default": "30m", "max": "1h"}
    assert admin["ticket"] == {"required": True, "pattern": None}


def test_someone_who_may_request_nothing(small_repo: GitRepoBuilder,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = gitjit(["policies", "--for", "zoe", "--repo", str(small_repo.path)],
                          capsys)
    assert code == 0
    assert out == ("zoe may request no policy: no policy names them among its requesters "
                   "(directly or through a group); ask a policy's owners to add them\n")


def test_without_a_login_every_policy(two_policies: GitRepoBuilder,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = gitjit(["policies", "--repo", str(two_policies.path)], capsys)
    assert code == 0
    assert out.splitlines()[:2] == ["reports-admin  Owner of the reports database",
                                    "reports-read   Read access to the reports database"]


def test_a_login_that_is_no_login(two_policies: GitRepoBuilder,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitjit(["policies", "--for", "ana@example.com", "--repo",
                             str(two_policies.path)], capsys)
    assert (code, out) == (2, "")
    assert "Invalid value for '--for': invalid login" in err
