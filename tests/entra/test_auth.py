"""Signing in to Entra: workload identity federation from the GitHub Actions OIDC token, a
certificate, a client secret; each a real token exchange with the emulator's token endpoint,
and each failure a sentence that names what to fix and never the secret."""

from __future__ import annotations

import pytest

from engine.targets.base import TargetError
from tests.entra.emulator import GITHUB_ISSUER, certificate_pem
from tests.entra.tenant import USER_ADMIN, Tenant

ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def oidc(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL",
                       f"{tenant.graph.url}/github-actions/idtoken?api-version=2.0")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", tenant.graph.github_runtime_token)
    connection = {k: v for k, v in tenant.connection.items() if k != "client_secret_env"}
    return {**connection, "auth": "github-oidc"}


def test_github_oidc_signs_in_without_a_stored_secret(tenant: Tenant,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    tenant.app.secret = None  # there is no secret to fall back on
    tenant.target(oidc(tenant, monkeypatch)).apply(tenant.assignment())
    assert tenant.graph.holds_role(tenant.hana.id, USER_ADMIN)
    [request] = tenant.graph.token_requests
    assert request["client_assertion_type"] == ASSERTION
    assert request["scope"].split()[0] == "https://graph.microsoft.com/.default"


def test_github_oidc_from_another_environment_is_refused(
        tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    # The federated credential trusts the gitjit-targets environment only; a job elsewhere in
    # the repository (a pull request's workflow) gets a token with another subject.
    tenant.app.federated[:] = [(GITHUB_ISSUER, "repo:acme/access:environment:production",
                                "api://AzureADTokenExchange")]
    with pytest.raises(TargetError) as error:
        tenant.target(oidc(tenant, monkeypatch)).apply(tenant.assignment())
    assert str(error.value).startswith(
        "entra target: cannot sign in to Microsoft Entra as app "
        "6c7a3f5d-2e1b-4c9a-8f0e-3d4b5a6c7e8f in tenant 0b5b2f4e-7d0c-4b8e-9d2a-6f1f3c2a9e11 "
        "(github-oidc): ")
    assert "AADSTS700213: No matching federated identity record found for presented " \
           "assertion subject 'repo:acme/access:environment:gitjit-targets'" in str(error.value)
    assert not tenant.graph.holds_role(tenant.hana.id, USER_ADMIN)


def test_github_oidc_outside_actions_says_what_the_job_needs(
        tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    connection = oidc(tenant, monkeypatch)
    monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    with pytest.raises(TargetError) as error:
        tenant.target(connection).apply(tenant.assignment())
    assert "auth github-oidc needs the GitHub Actions OIDC token, but " \
           "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set; give " \
           "the job 'permissions: id-token: write'" in str(error.value)


def test_a_certificate_signs_the_assertion(tenant: Tenant,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    pem, cert = certificate_pem()
    tenant.app.certificates.append(cert)
    monkeypatch.setenv("GITJIT_TEST_ENTRA_CERT", pem)
    connection = {**{k: v for k, v in tenant.connection.items() if k != "client_secret_env"},
                  "auth": "certificate", "certificate_env": "GITJIT_TEST_ENTRA_CERT"}
    tenant.target(connection).apply(tenant.assignment())
    assert tenant.graph.holds_role(tenant.hana.id, USER_ADMIN)
    assert tenant.graph.token_requests[0]["client_assertion_type"] == ASSERTION


def test_an_unregistered_certificate_is_refused(tenant: Tenant,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pem, _ = certificate_pem()
    monkeypatch.setenv("GITJIT_TEST_ENTRA_CERT", pem)
    connection = {**tenant.connection, "auth": "certificate",
                  "certificate_env": "GITJIT_TEST_ENTRA_CERT"}
    with pytest.raises(TargetError, match="AADSTS700027: The certificate with identifier used "
                                          "to sign the client assertion is not registered"):
        tenant.target(connection).apply(tenant.assignment())


def test_a_wrong_client_secret_is_refused_without_showing_it(
        tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITJIT_TEST_ENTRA_SECRET", "not-the-secret-Zq81")
    with pytest.raises(TargetError) as error:
        tenant.target().apply(tenant.assignment())
    assert "(client-secret): " in str(error.value)
    assert "AADSTS7000215: Invalid client secret provided." in str(error.value)
    assert "Zq81" not in str(error.value)


def test_a_missing_secret_variable_is_named(tenant: Tenant,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITJIT_TEST_ENTRA_SECRET")
    with pytest.raises(TargetError) as error:
        tenant.target()
    assert str(error.value) == (
        "entra target: environment variable GITJIT_TEST_ENTRA_SECRET (named by "
        "client_secret_env) is not set; set it to the app registration's secret")


def test_a_missing_graph_permission_is_reported_as_graph_states_it(tenant: Tenant) -> None:
    tenant.app.permissions.discard("RoleAssignmentSchedule.ReadWrite.Directory")
    tenant.app.permissions.add("RoleAssignmentSchedule.Read.Directory")
    with pytest.raises(TargetError) as error:
        tenant.target().apply(tenant.assignment())
    assert str(error.value) == (
        "entra target: Microsoft Graph refused (HTTP 403 Authorization_RequestDenied): "
        "Insufficient privileges to complete the operation. (needs one of: "
        "RoleAssignmentSchedule.ReadWrite.Directory, RoleManagement.ReadWrite.Directory)")
