"""The bundled example's Entra policy through the CLI, against the Graph emulator.

policies/entra-user-admin.yaml, policies/groups.yaml and policies/settings.yaml are copied as
they are; the only change is that the contoso-entra connection points at the emulator
(authority_host, graph_endpoint). gitjit signs in the way the bundled connection says:
workload identity federation from the GitHub Actions OIDC token, served by the emulator's
GitHub issuer. The story: hana asks for User Administrator, ida approves, it merges,
`gitjit activate` assigns the role through a PIM schedule request that carries the grant's
window, justification and ticket, `gitjit status` says Entra enforces the expiry, Entra ends
the role on its own at the window's end, and `gitjit reconcile` verifies that and records it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.cli import run
from tests.entra.tenant import T0, USER_ADMIN, Tenant
from tests.gitrepo import GitRepoBuilder
from tests.receivers import HttpReceiver

ROOT = Path(__file__).resolve().parents[2]
GRANT = """\
apiVersion: gitjit/v1
kind: Grant
policy: entra-user-admin
requester: hana
duration: 2h
justification: Bulk-reset MFA for the new Lisbon office staff (REQ-2041)
ticket: REQ-2041
"""


def access_repository(repo: GitRepoBuilder, tenant: Tenant) -> None:
    shutil.copytree(ROOT / "schemas", repo.path / "schemas")
    for name in ("entra-user-admin.yaml", "groups.yaml"):
        repo.write(f"policies/{name}", (ROOT / "policies" / name).read_text("utf-8"))
    settings = (ROOT / "policies" / "settings.yaml").read_text("utf-8")
    at = "    provider: entra\n"
    assert settings.count(at) == 1
    repo.write("policies/settings.yaml", settings.replace(
        at, f"{at}    authority_host: {tenant.graph.url}\n"
            f"    graph_endpoint: {tenant.graph.url}\n"))
    assert run(["local", "keygen", "--repo", str(repo.path)]) == 0
    repo.commit("access configuration: the bundled Entra example")


@pytest.fixture
def security(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpReceiver]:
    """The bundled policy's channel (security-email), received on loopback."""
    receiver = HttpReceiver()
    monkeypatch.setenv("GITJIT_SECURITY_MAILTO_URL", receiver.url)
    yield receiver
    receiver.close()


@pytest.fixture
def in_actions(tenant: Tenant, monkeypatch: pytest.MonkeyPatch, security: HttpReceiver) -> None:
    """The lifecycle job's environment: the runner's OIDC token endpoint, no secret."""
    tenant.app.secret = None
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL",
                       f"{tenant.graph.url}/github-actions/idtoken?api-version=2.0")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", tenant.graph.github_runtime_token)


@pytest.mark.usefixtures("in_actions")
def test_the_bundled_entra_policy_from_request_to_native_expiry(
        repo: GitRepoBuilder, tenant: Tenant, security: HttpReceiver,
        capsys: pytest.CaptureFixture[str]) -> None:
    access_repository(repo, tenant)
    r = str(repo.path)
    path = f"grants/entra-user-admin/hana-{T0:%Y%m%dT%H%MZ}.yaml"
    grant_id = path.removeprefix("grants/").removesuffix(".yaml")
    repo.branch("request")
    repo.checkout("request")
    repo.write(path, GRANT)
    repo.commit("request entra-user-admin")
    repo.checkout("main")
    assert run(["local", "open", "--as", "hana", "--head", "request", "--repo", r]) == 0
    assert run(["local", "review", "1", "--as", "ida", "--approve", "--repo", r,
                "--now", T0.isoformat()]) == 0
    merged_at = T0 + timedelta(minutes=1)
    assert run(["local", "merge", "1", "--as", "ida", "--repo", r,
                "--now", merged_at.isoformat()]) == 0

    # Activation: one PIM schedule request with the grant's window, justification and ticket.
    tenant.graph.now = T0 + timedelta(minutes=2)
    assert run(["activate", "--repo", r, "--now", tenant.graph.now.isoformat()]) == 0
    assert tenant.graph.holds_role(tenant.hana.id, USER_ADMIN)
    [request] = tenant.graph.role_requests
    assert (request.action, request.principal_id, request.role_definition_id,
            request.directory_scope_id, request.custom_data) == (
        "adminAssign", tenant.hana.id, USER_ADMIN, "/", f"gitjit grant {grant_id}")
    assert request.justification == ("Bulk-reset MFA for the new Lisbon office staff "
                                     f"(REQ-2041) (gitjit grant {grant_id})")
    assert request.ticket_info is not None
    assert (request.ticket_info.ticket_number, request.ticket_info.ticket_system) == (
        "REQ-2041", "Contoso ServiceNow")
    assert request.schedule_info is not None and request.schedule_info.expiration is not None
    assert (request.schedule_info.start_date_time,
            request.schedule_info.expiration.end_date_time) == (
        merged_at, merged_at + timedelta(hours=2))
    assert {t["client_assertion_type"] for t in tenant.graph.token_requests} == {
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}

    # Status: Entra itself enforces the expiry.
    capsys.readouterr()
    assert run(["status", "--repo", r, "--now", (T0 + timedelta(minutes=5)).isoformat(),
                "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    [live] = [g for g in status["grants"] if g["grant_id"] == grant_id]
    assert (live["state"], live["expiry_enforced_by"]) == ("active", "target")
    capsys.readouterr()
    assert run(["status", "--repo", r, "--now", (T0 + timedelta(minutes=5)).isoformat()]) == 0
    header, row = capsys.readouterr().out.splitlines()[:2]
    assert header.endswith("EXPIRY BY") and row.startswith(grant_id)
    assert row.split()[-1] == "target"

    # No job runs at the end: Entra drops the role on its own, on time.
    end = merged_at + timedelta(hours=2)
    tenant.graph.now = end
    assert not tenant.graph.holds_role(tenant.hana.id, USER_ADMIN)

    # Reconcile later: it verifies nothing is left (no request: there was nothing to remove),
    # records the end and opens the pull request that removes the file.
    tenant.graph.now = end + timedelta(minutes=20)
    capsys.readouterr()
    assert run(["reconcile", "--repo", r, "--now", tenant.graph.now.isoformat()]) == 0
    out = capsys.readouterr().out
    assert f"removal pull request: {grant_id} (#2)" in out  # the bundled removal mode
    assert out.endswith("reconcile: 1 notified, 1 removal pull request, 1 revoked\n")
    assert [r.action for r in tenant.graph.role_requests] == ["adminAssign"]
    assert security.titles() == [f"gitjit: activated {grant_id}", f"gitjit: expired {grant_id}"]

    # Someone assigns the role by hand in the portal, outside PIM's requests from gitjit: no
    # grant backs it, so the next reconcile reports the drift, records it once and tells.
    tenant.graph.assign_by_hand(tenant.hana.id, USER_ADMIN)
    capsys.readouterr()
    assert run(["reconcile", "--repo", r, "--now", tenant.graph.now.isoformat()]) == 1
    out = capsys.readouterr().out
    assert f"FAILED target.drift: (entra-user-admin) ({tenant.hana.id} (hana) holds" in out
    assert security.titles()[-1] == "gitjit: alert (alert target.drift) entra-user-admin"


@pytest.mark.usefixtures("in_actions")
def test_a_relinquished_entra_grant_ends_early_through_adminremove(
        repo: GitRepoBuilder, tenant: Tenant) -> None:
    access_repository(repo, tenant)
    r = str(repo.path)
    path = f"grants/entra-user-admin/hana-{T0:%Y%m%dT%H%MZ}.yaml"
    repo.branch("request")
    repo.checkout("request")
    repo.write(path, GRANT)
    repo.commit("request entra-user-admin")
    repo.checkout("main")
    assert run(["local", "open", "--as", "hana", "--head", "request", "--repo", r]) == 0
    assert run(["local", "review", "1", "--as", "ian", "--approve", "--repo", r,
                "--now", T0.isoformat()]) == 0
    assert run(["local", "merge", "1", "--as", "ian", "--repo", r,
                "--now", (T0 + timedelta(minutes=1)).isoformat()]) == 0
    tenant.graph.now = T0 + timedelta(minutes=2)
    assert run(["activate", "--repo", r, "--now", tenant.graph.now.isoformat()]) == 0
    assert tenant.graph.holds_role(tenant.hana.id, USER_ADMIN)

    # hana is done early and deletes her own grant in a pull request (relinquish).
    repo.git("reset", "--quiet", "--hard", "main")  # the local merge left the files behind
    repo.branch("done")
    repo.checkout("done")
    repo.remove(path)
    repo.commit("relinquish entra-user-admin")
    repo.checkout("main")
    assert run(["local", "open", "--as", "hana", "--head", "done", "--repo", r]) == 0
    tenant.graph.now = T0 + timedelta(minutes=30)
    assert run(["local", "merge", "2", "--as", "hana", "--repo", r,
                "--now", tenant.graph.now.isoformat()]) == 0
    assert run(["reconcile", "--repo", r, "--now", tenant.graph.now.isoformat()]) == 0
    assert [r.action for r in tenant.graph.role_requests] == ["adminAssign", "adminRemove"]
    assert not tenant.graph.holds_role(tenant.hana.id, USER_ADMIN)
