"""How gitjit signs in to Microsoft Entra: azure-identity credentials for the three methods.

- ``github-oidc``: workload identity federation. In a GitHub Actions job with
  ``permissions: id-token: write``, the runner hands out a short-lived OIDC token for the job
  (``ACTIONS_ID_TOKEN_REQUEST_URL`` with the bearer ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``); Entra
  trusts it through a federated credential on the app registration whose subject names the
  repository and the environment. No secret is stored anywhere.
- ``client-secret``: the secret from the variable ``client_secret_env`` names.
- ``certificate``: a PEM certificate with its private key from ``certificate_env``.

The token is fetched afresh for every assertion: GitHub's tokens live for minutes, and
azure-identity asks for one only when its own access token needs renewing.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from azure.core.credentials import TokenCredential
from azure.identity import CertificateCredential, ClientAssertionCredential, ClientSecretCredential

from engine.targets.base import TargetError
from engine.targets.entra.settings import WHERE, Connection

OIDC_URL = "ACTIONS_ID_TOKEN_REQUEST_URL"
OIDC_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
_TIMEOUT = 30.0


def credential(conn: Connection) -> TokenCredential:
    """The credential for ``conn``'s auth method; TargetError naming what is missing."""
    options: dict[str, Any] = {"authority": conn.authority}
    if conn.loopback:
        # The emulator is no cloud Microsoft knows; asking login.microsoftonline.com to
        # validate it would leave the machine.
        options["disable_instance_discovery"] = True
    if conn.auth == "client-secret":
        assert conn.secret_env is not None
        secret = _env(conn.secret_env, "client_secret_env", "the app registration's secret")
        return ClientSecretCredential(conn.tenant_id, conn.client_id, secret, **options)
    if conn.auth == "certificate":
        assert conn.secret_env is not None
        pem = _env(conn.secret_env, "certificate_env",
                   "the PEM certificate with its private key")
        password = (_env(conn.password_env, "certificate_password_env", "the key's password")
                    if conn.password_env else None)
        try:
            return CertificateCredential(
                conn.tenant_id, conn.client_id, certificate_data=pem.encode("utf-8"),
                password=password.encode("utf-8") if password is not None else None,
                **options)
        except (ValueError, TypeError) as exc:
            # The library's message says what is wrong with the PEM, never what is in it.
            raise TargetError(f"{WHERE}: the certificate in ${conn.secret_env} cannot be used: "
                              f"{exc}; it must be PEM with the certificate and its private "
                              "key") from None
    options.pop("disable_instance_discovery", None)  # not an option of the assertion flow
    audience = conn.audience
    return ClientAssertionCredential(conn.tenant_id, conn.client_id,
                                     lambda: github_oidc_token(audience), **options)


def github_oidc_token(audience: str) -> str:
    """The GitHub Actions OIDC token of the running job, for ``audience``."""
    url, bearer = os.environ.get(OIDC_URL), os.environ.get(OIDC_TOKEN)
    if not url or not bearer:
        raise TargetError(
            f"{WHERE}: auth github-oidc needs the GitHub Actions OIDC token, but {OIDC_URL} "
            f"and {OIDC_TOKEN} are not set; give the job 'permissions: id-token: write' "
            "(outside GitHub Actions, use client-secret or certificate)")
    split = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
    query = [(k, v) for k, v in query if k != "audience"] + [("audience", audience)]
    full = urllib.parse.urlunsplit(split._replace(query=urllib.parse.urlencode(query)))
    request = urllib.request.Request(full, headers={"Authorization": f"bearer {bearer}",
                                                    "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:  # noqa: S310
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise TargetError(f"{WHERE}: GitHub refused the OIDC token (HTTP {exc.code}); check "
                          "the job's 'permissions: id-token: write'") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise TargetError(f"{WHERE}: cannot get the GitHub Actions OIDC token: "
                          f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from None
    token = body.get("value") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise TargetError(f"{WHERE}: GitHub's OIDC answer holds no token ('value')")
    return token


def _env(name: str | None, key: str, what: str) -> str:
    assert name is not None
    value = os.environ.get(name)
    if not value:
        raise TargetError(f"{WHERE}: environment variable {name} (named by {key}) is not set; "
                          f"set it to {what}")
    return value
