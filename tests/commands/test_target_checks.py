"""Targets checked before merge, through the real CLI: ``gitjit check``, ``gitjit test`` and
the verdict (``gitjit check-pr``) report a policy's target and a settings connection that the
installed target plugins would refuse, at the file and line of the offending key."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest

from engine.cli import run
from engine.core.values import plural
from engine.targets import registry
from tests.commands.conftest import GRANT, POLICY, SETTINGS
from tests.gitrepo import GitRepoBuilder

INSTALLED = ", ".join(sorted(registry.catalog().providers))
"""What this environment has installed (grows as target plugins are added to gitjit)."""
WHERE = f"installed here: {INSTALLED} ('gitjit targets' lists them)"
PG_FIX = "see the parameters a postgres target takes with 'gitjit targets postgres'"
PG_CONNECTION_FIX = "see the settings a postgres connection takes with 'gitjit targets postgres'"
POLICY_PATH = "policies/reports-read.yaml"
TARGET = "target: {provider: postgres, connection: reports, role: reports_read}"


def gitjit(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out, err = capsys.readouterr()
    return code, out, err


def policy(target: str) -> str:
    return POLICY.replace(TARGET, target)


@dataclass(frozen=True)
class Typo:
    name: str
    setup: Callable[[GitRepoBuilder], object]
    findings: list[str]


CASES = [
    Typo("provider-name",
         lambda r: r.write(POLICY_PATH, policy(
             "target: {provider: postgress, connection: reports, role: reports_read}")),
         [f"{POLICY_PATH}:5: target.unknown-provider: unknown target provider 'postgress'; did "
          f"you mean 'postgres'? {WHERE}. Fix the name, or install the package that "
          "provides it"]),
    Typo("target-key",
         lambda r: r.write(POLICY_PATH, policy(
             "target: {provider: postgres, connection: reports, rle: reports_read}")),
         [f"{POLICY_PATH}:5: target.invalid: postgres target: $.target: missing required key "
          f"'role'; {PG_FIX}",
          f"{POLICY_PATH}:5: target.invalid: postgres target: $.target: unexpected key 'rle'; "
          f"did you mean 'role'? allowed keys: mode, role, terminate_sessions; {PG_FIX}"]),
    Typo("target-value",
         lambda r: r.write(POLICY_PATH, policy(
             "target:\n  provider: postgres\n  connection: reports\n  role: reports_read\n"
             "  mode: login_role")),
         [f"{POLICY_PATH}:9: target.invalid: postgres target: $.target.mode: 'login_role' is "
          f"not allowed; write membership or login-role; {PG_FIX}"]),
    Typo("connection-key",
         lambda r: r.write("policies/settings.yaml",
                           SETTINGS.replace("dbname: reports", "dbnme: reports")),
         ["policies/settings.yaml:7: target.invalid: postgres connection 'reports': "
          "$.connections.reports: unexpected key 'dbnme'; did you mean 'dbname'? allowed keys: "
          "application_name, connect_timeout, dbname, dsn_env, host, mode, password_env, port, "
          "sslcert, sslkey, sslmode, sslrootcert, terminate_sessions, user; "
          f"{PG_CONNECTION_FIX}"]),
    Typo("connection-value",
         lambda r: r.write("policies/settings.yaml", SETTINGS.replace(
             "    user: gitjit\n", "    user: gitjit\n    port: '54 32'\n")),
         ["policies/settings.yaml:9: target.invalid: postgres connection 'reports': "
          "$.connections.reports.port: '54 32' is not a port number; write e.g. 5432; "
          f"{PG_CONNECTION_FIX}"]),
    Typo("provider-mismatch",
         lambda r: r.write(POLICY_PATH, policy(
             "target: {provider: command, connection: reports, role: reports_read}")),
         [f"{POLICY_PATH}:5: target.provider-mismatch: the target's provider 'command' differs "
          "from the provider 'postgres' of its connection 'reports' (policies/settings.yaml:5); "
          "gitjit would hand the grant to the 'postgres' plugin: name a command connection, or "
          "fix the provider on one side"]),
    Typo("connection-provider",
         lambda r: r.write("policies/settings.yaml",
                           SETTINGS.replace("provider: postgres", "provider: postgresql")),
         ["policies/settings.yaml:5: target.unknown-provider: unknown target provider "
          f"'postgresql' (connection 'reports'); did you mean 'postgres'? {WHERE}. Fix the "
          "name, or install the package that provides it"]),
    Typo("no-connection",
         lambda r: r.write(POLICY_PATH, policy("target: {provider: postgres, role: reports_read}")),
         [f"{POLICY_PATH}:5: target.invalid: the target names no connection, and a postgres "
          "connection needs settings (missing 'dsn_env' or 'host' or 'dbname'); add "
          "'connection: NAME' naming one under connections in policies/settings.yaml"]),
    Typo("connection-detail-in-a-policy",
         lambda r: r.write(POLICY_PATH, policy(
             "target: {provider: postgres, connection: reports, role: reports_read, "
             "dsn_env: OTHER_DB_DSN}")),
         [f"{POLICY_PATH}:5: target.invalid: postgres target: $.target: unexpected key "
          f"'dsn_env'; allowed keys: mode, role, terminate_sessions; {PG_FIX}"]),
    Typo("secret-in-a-policy",
         lambda r: r.write(POLICY_PATH, policy(
             "target: {provider: command, command: /opt/hook, token_env: VAULT_TOKEN}")),
         [f"{POLICY_PATH}:5: target.invalid: command target: $.target: key 'token_env' names "
          "an environment variable, but only a connection's *_env settings reach the hook; "
          "move it to the connection in policies/settings.yaml; see the parameters a command "
          "target takes with 'gitjit targets command'"]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_typo_in_a_target_is_an_error_at_file_and_line(
        small_repo: GitRepoBuilder, case: Typo, capsys: pytest.CaptureFixture[str]) -> None:
    case.setup(small_repo)
    code, out, err = gitjit(["check", "--repo", str(small_repo.path)], capsys)
    assert (code, err) == (1, "")
    errors = len(case.findings)
    assert out.splitlines() == [*case.findings,
                                f"0 policies, 1 grant, {plural(errors, 'error')}, 0 warnings"]


def test_the_json_report_carries_code_file_and_line(
        small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    CASES[1].setup(small_repo)
    code, out, _ = gitjit(["check", "--repo", str(small_repo.path), "--format", "json"], capsys)
    assert code == 1
    found = json.loads(out)["findings"]
    assert [(f["code"], f["path"], f["line"], f["severity"]) for f in found] == [
        ("target.invalid", POLICY_PATH, 5, "error")] * 2


def test_a_known_provider_that_is_not_installed_names_its_extra(
        small_repo: GitRepoBuilder, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # One of gitjit's own providers that no environment has: the hint must name its extra.
    monkeypatch.setitem(registry.FIRST_PARTY, "mainframe", "pip install 'gitjit[mainframe]'")
    small_repo.write(POLICY_PATH, policy("target: {provider: mainframe, role: reports_read}"))
    code, out, _ = gitjit(["check", "--repo", str(small_repo.path)], capsys)
    assert code == 1
    assert out.splitlines()[0] == (
        f"{POLICY_PATH}:5: target.unknown-provider: target provider 'mainframe' is not "
        "installed; it is one of gitjit's own targets: install it with pip install "
        f"'gitjit[mainframe]'; {WHERE}")


def test_the_policy_tests_refuse_to_run_with_a_target_typo(
        small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    CASES[0].setup(small_repo)
    code, out, _ = gitjit(["test", str(small_repo.path)], capsys)
    assert code == 2
    assert out.splitlines() == [
        *CASES[0].findings, "0 policies, 0 grants, 1 error, 0 warnings",
        "configuration has errors; fix them (gitjit check) before running policy tests"]


# -- third-party plugins -------------------------------------------------------------------

class _Unschemed:
    """A plugin written before plugins declared schemas."""

    name = "vault"

    def __init__(self, connection: object) -> None: ...
    def native_expiry(self, assignment: object) -> bool:
        return False

    def apply(self, assignment: object) -> None: ...
    def revoke(self, assignment: object) -> None: ...
    def list_managed(self) -> list[object]:
        return []


def _with(monkeypatch: pytest.MonkeyPatch, *extra: EntryPoint) -> None:
    real = list(entry_points(group=registry.GROUP))
    monkeypatch.setattr(registry, "entry_points", lambda group: [*real, *extra])


def test_a_plugin_without_schemas_is_a_warning(
        small_repo: GitRepoBuilder, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _with(monkeypatch, EntryPoint("vault", f"{__name__}:_Unschemed", registry.GROUP))
    small_repo.write(POLICY_PATH, policy("target: {provider: vault, group: admins}"))
    code, out, _ = gitjit(["check", "--repo", str(small_repo.path)], capsys)
    assert code == 0
    source = f"{__name__}:_Unschemed (package unknown)"
    assert out.splitlines() == [
        f"warning: {POLICY_PATH}:5: target.unchecked: target provider 'vault' ({source}) "
        "declares no TARGET_SCHEMA, so these settings are checked only when a grant is "
        "applied; ask the plugin's authors to declare one (docs/targets.md)",
        "1 policy, 1 grant, 0 errors, 1 warning"]


def test_a_plugin_that_cannot_be_imported_is_an_error(
        small_repo: GitRepoBuilder, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _with(monkeypatch, EntryPoint("vault", "gitjit_vault_not_installed:VaultTarget",
                                  registry.GROUP))
    small_repo.write(POLICY_PATH, policy("target: {provider: vault, group: admins}"))
    code, out, _ = gitjit(["check", "--repo", str(small_repo.path)], capsys)
    assert code == 1
    assert out.splitlines()[0] == (
        f"{POLICY_PATH}:5: target.unavailable: target provider 'vault' "
        "(gitjit_vault_not_installed:VaultTarget (package unknown)) is installed but cannot be "
        "used: cannot import gitjit_vault_not_installed:VaultTarget (No module named "
        "'gitjit_vault_not_installed'); reinstall the package that provides it, with its "
        "dependencies")


# -- the verdict ---------------------------------------------------------------------------

REQUEST_PATH = "grants/reports-read/ana-20261201T0900Z.yaml"


def _request(repo: GitRepoBuilder) -> None:
    repo.branch("pr")
    repo.checkout("pr")
    repo.write(REQUEST_PATH, GRANT.replace("Monthly", "Quarterly"))
    repo.commit("request reports-read")


def test_check_pr_denies_while_the_base_configuration_names_an_unknown_provider(
        small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    CASES[0].setup(small_repo)
    small_repo.commit("a typo lands on main (pushed past the verdict)")
    _request(small_repo)
    code, out, err = gitjit(["check-pr", "--repo", str(small_repo.path), "--base", "main",
                             "--head", "pr", "--as", "ana", "--now",
                             "2026-12-01T09:00:00Z"], capsys)
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        "DENIED: request",
        "  policies/: pr.base-config-invalid: the base branch's configuration has 1 error(s), "
        "listed here, so no request can be judged (fail closed); fix them on the default "
        "branch first ('gitjit check')",
        f"  {CASES[0].findings[0]}",
    ]


def test_check_pr_denies_a_configuration_change_that_brings_a_typo(
        small_repo: GitRepoBuilder, capsys: pytest.CaptureFixture[str]) -> None:
    small_repo.branch("pr")
    small_repo.checkout("pr")
    CASES[1].setup(small_repo)
    small_repo.commit("rename the role")
    code, out, _ = gitjit(["check-pr", "--repo", str(small_repo.path), "--base", "main",
                           "--head", "pr", "--as", "ana", "--now",
                           "2026-12-01T09:00:00Z"], capsys)
    assert code == 1
    assert out.splitlines()[0] == "DENIED: control-plane"
    assert [line.strip() for line in out.splitlines() if "target.invalid" in line] == \
        CASES[1].findings


PLUGIN = '''\
class VaultTarget:
    name = "vault"
    TARGET_SCHEMA = {"type": "object"}
    CONNECTION_SCHEMA = {"type": "object"}
    EXPIRY = "target"

    def __init__(self, connection): pass
    def native_expiry(self, assignment): return True
    def apply(self, assignment): open("/tmp/gitjit-vault-applied", "w").close()
    def revoke(self, assignment): pass
    def list_managed(self): return []
'''


def test_a_pull_request_cannot_bring_its_own_target_plugin(small_repo: GitRepoBuilder) -> None:
    """A configuration change that adds a policy for a provider nobody installed, and ships
    the plugin too (a module and the dist-info that registers its entry point, at the
    repository's top, where a Python started there might look): the verdict, run as the
    workflow runs it (the console script, in a checkout of the base), does not know it."""
    small_repo.branch("pr")
    small_repo.checkout("pr")
    small_repo.write("gitjit_vault.py", PLUGIN)
    small_repo.write("gitjit_vault-1.0.dist-info/METADATA",
                     "Metadata-Version: 2.1\nName: gitjit-vault\nVersion: 1.0\n")
    small_repo.write("gitjit_vault-1.0.dist-info/entry_points.txt",
                     "[gitjit.targets]\nvault = gitjit_vault:VaultTarget\n")
    small_repo.write("policies/vault-admin.yaml", policy(
        "target: {provider: vault, group: admins}").replace("reports-read", "vault-admin"))
    small_repo.commit("a vault target, plugin included")
    small_repo.checkout("main")
    script = Path(sys.executable).parent / "gitjit"
    assert shutil.which(str(script)), "the gitjit console script is not installed"

    result = subprocess.run(
        [str(script), "check-pr", "--repo", ".", "--base", "main", "--head", "pr", "--as",
         "ana", "--now", "2026-12-01T09:00:00Z"],
        capture_output=True, text=True, check=False, cwd=small_repo.path)

    assert (result.returncode, result.stderr) == (1, "")
    assert result.stdout.splitlines()[0] == "DENIED: control-plane"
    assert (f"  policies/vault-admin.yaml:5: target.unknown-provider: unknown target provider "
            f"'vault'; {WHERE}. Fix the name, or install the package that provides it"
            in result.stdout.splitlines())
