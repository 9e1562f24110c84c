"""docs/targets.md cannot drift: its JSON example of ``gitjit targets`` has the fields the
command prints, each documented, and its example plugin (the pattern a third party copies)
declares what gitjit checks, imports without its SDK, catches a typo in a policy, and is
unusable where its SDK is not installed."""

from __future__ import annotations

import importlib
import json
import re
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest

from engine.cli import run
from engine.commands.targets import render_json
from engine.targets import registry
from tests.commands.conftest import POLICY
from tests.gitrepo import GitRepoBuilder
from tests.test_docs import fields

PROJECT = Path(__file__).resolve().parents[2]
DOC = (PROJECT / "docs" / "targets.md").read_text("utf-8")


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", DOC, re.M | re.S)
    assert match, f"docs/targets.md has no section '## {title}'"
    return match.group(1)


def test_the_json_example_has_exactly_the_fields_the_command_prints() -> None:
    found = registry.catalog()
    produced = json.loads(render_json(found, [found.providers["postgres"]]))
    produced["not_installed"] = [{"name": "entra", "install": "pip install 'gitjit[entra]'"}]
    example = json.loads(re.findall(r"^```json\n(.*?)^```", section("gitjit targets"),
                                    re.M | re.S)[0])
    assert fields(example) - {"providers[].target_schema.$schema",
                              "providers[].target_schema.type",
                              "providers[].connection_schema.$schema",
                              "providers[].connection_schema.type"} == \
        {f for f in fields(produced) if ".target_schema." not in f
         and ".connection_schema." not in f}
    documented = re.findall(r"^\| `([^`]+)` \|", section("gitjit targets"), re.M)
    assert sorted(documented) == sorted(
        f for f in fields(produced)
        if "_schema." not in f and f not in ("providers", "not_installed"))


def example_plugin(tmp_path: Path) -> str:
    code = re.search(r"`gitjit_vault.py`:\n\n```python\n(.*?)^```",
                     section("Writing a target plugin"), re.M | re.S)
    assert code, "docs/targets.md lost its example plugin"
    (tmp_path / "gitjit_vault.py").write_text(code[1], encoding="utf-8")
    return code[1]


def test_the_example_plugin_declares_what_gitjit_checks_without_its_sdk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example_plugin(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "gitjit_vault", raising=False)
    assert importlib.util.find_spec("hvac") is None, "the example must load without its SDK"
    module = importlib.import_module("gitjit_vault")
    provider = registry.declared("vault", "gitjit-vault 0.1.0", module.VaultTarget)
    assert (provider.problem, provider.undeclared, provider.expiry, provider.holders) == (
        "", (), "gitjit", True)
    assert '[project.entry-points."gitjit.targets"]\nvault = "gitjit_vault:VaultTarget"' in DOC


def vault_repo(tmp_path: Path, repo: GitRepoBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example plugin registered, and a policy of it with a typo (``grup``)."""
    example_plugin(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "gitjit_vault", raising=False)
    real = list(entry_points(group=registry.GROUP))
    vault = EntryPoint("vault", "gitjit_vault:VaultTarget", registry.GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [*real, vault])
    repo.write("policies/settings.yaml", "apiVersion: gitjit/v1\nkind: Settings\n"
               "connections:\n  vault-prod:\n    provider: vault\n"
               "    url: https://vault.example.com\n    token_env: VAULT_TOKEN\n")
    repo.write("policies/reports-read.yaml", POLICY.replace(
        "{provider: postgres, connection: reports, role: reports_read}",
        "{provider: vault, connection: vault-prod, grup: admins}"))


def test_the_example_plugin_catches_a_typo_before_merge(
        tmp_path: Path, small_repo: GitRepoBuilder, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    vault_repo(tmp_path, small_repo, monkeypatch)
    # Where the plugin's SDK is installed: the check looks hvac up (REQUIRES), never imports
    # it, so an empty module stands for it.
    (tmp_path / "hvac.py").write_text("", encoding="utf-8")

    assert run(["check", "--repo", str(small_repo.path)]) == 1
    assert "hvac" not in sys.modules
    assert capsys.readouterr().out.splitlines()[:2] == [
        "policies/reports-read.yaml:5: target.invalid: vault target: $.target: missing "
        "required key 'group'; see the parameters a vault target takes with 'gitjit targets "
        "vault'",
        "policies/reports-read.yaml:5: target.invalid: vault target: $.target: unexpected key "
        "'grup'; did you mean 'group'? allowed keys: group; see the parameters a vault target "
        "takes with 'gitjit targets vault'"]


def test_the_example_plugin_without_its_sdk_is_unavailable_before_merge(
        tmp_path: Path, small_repo: GitRepoBuilder, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    vault_repo(tmp_path, small_repo, monkeypatch)
    assert importlib.util.find_spec("hvac") is None

    assert run(["check", "--repo", str(small_repo.path)]) == 1
    assert capsys.readouterr().out.splitlines()[:2] == [
        "policies/reports-read.yaml:5: target.unavailable: target provider 'vault' "
        "(gitjit_vault:VaultTarget (package unknown)) is installed but cannot be used: cannot "
        "import gitjit_vault:VaultTarget (No module named 'hvac'); reinstall the package that "
        "provides it, with its dependencies",
        "policies/settings.yaml:5: target.unavailable: target provider 'vault' "
        "(gitjit_vault:VaultTarget (package unknown)) is installed but cannot be used: cannot "
        "import gitjit_vault:VaultTarget (No module named 'hvac'); reinstall the package that "
        "provides it, with its dependencies"]
