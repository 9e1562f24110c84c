"""``gitjit status --requester LOGIN`` and ``--mine``: one person's grants and their open
requests, on a real repository with a real ledger and the local forge."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from engine.cli import run
from tests.commands.conftest import GRANT
from tests.commands.test_status import ANA, BEN_PATH, T0, activated, ledger, merge_request
from tests.gitrepo import GitRepoBuilder

NOW = "2026-01-05T09:20:10Z"


@pytest.fixture
def busy(small_repo: GitRepoBuilder) -> GitRepoBuilder:
    """ana's grant is active, ben's awaits activation, and ben has a request open in the
    local forge (opened with gitjit request)."""
    ledger(small_repo).append(activated(small_repo, ANA, at=T0 + timedelta(seconds=30),
                                        start=T0))
    merge_request(small_repo, BEN_PATH, GRANT.replace("ana", "ben"), T0 + timedelta(hours=1))
    assert run(["request", "reports-read", "--as", "ben", "--repo", str(small_repo.path),
                "--justification", "Quarterly revenue report", "--now", NOW]) == 0
    return small_repo


def test_one_persons_grants_and_requests(busy: GitRepoBuilder,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(["status", "--repo", str(busy.path), "--now", NOW, "--requester", "Ben"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:4] for line in lines[:2]] == [
        ["GRANT", "REQUESTER", "POLICY", "STATE"],
        ["reports-read/ben-20260105T1000Z", "ben", "reports-read", "awaiting-activation"]]
    assert lines[2] == ("0 active, 0 scheduled, 0 expired awaiting removal, 1 awaiting "
                        "activation, 0 refused awaiting removal, 0 ended awaiting removal")
    assert lines[-2] == ("open request #1 (access/reports-read/ben-20260105T0920Z, opened "
                         "2026-01-05T09:20:10Z): Request reports-read for 1h")
    assert lines[-1] == ("1 open request of ben in the local forge ('gitjit local show N' "
                         "for the verdict)")


def test_mine_as_data(busy: GitRepoBuilder, capsys: pytest.CaptureFixture[str],
                      monkeypatch: pytest.MonkeyPatch) -> None:
    capsys.readouterr()
    monkeypatch.setenv("GITJIT_LOGIN", "ana")
    assert run(["status", "--repo", str(busy.path), "--now", NOW, "--mine",
                "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["requester"] == "ana"
    assert [g["grant_id"] for g in document["grants"]] == [ANA]
    assert document["requests"] == []
    assert document["summary"]["active"] == 1


def test_mine_from_git_config(busy: GitRepoBuilder, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITJIT_LOGIN", raising=False)
    busy.git("config", "github.user", "ben")
    capsys.readouterr()
    assert run(["status", "--repo", str(busy.path), "--now", NOW, "--mine"]) == 0
    assert "1 open request of ben" in capsys.readouterr().out


def test_mine_without_a_login_says_how_to_give_one(
        busy: GitRepoBuilder, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITJIT_LOGIN", raising=False)
    capsys.readouterr()
    assert run(["status", "--repo", str(busy.path), "--mine"]) == 2
    assert capsys.readouterr().err == (
        "gitjit: error: --mine needs your forge login: set GITJIT_LOGIN or 'git config "
        "--global github.user LOGIN', or give --requester LOGIN\n")
    assert run(["status", "--repo", str(busy.path), "--mine", "--requester", "ana"]) == 2
    assert "--mine and --requester both say whose status" in capsys.readouterr().err
