"""Pytest fixtures for the Graph emulator; import them into a conftest.py to use them:

from tests.entra.fixtures import graph, tenant  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.entra.emulator import GraphEmulator
from tests.entra.tenant import Tenant, contoso


@pytest.fixture
def graph(monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphEmulator]:
    """A running Graph emulator whose CA this process trusts (httpx and urllib read
    SSL_CERT_FILE, azure-identity's requests transport reads REQUESTS_CA_BUNDLE).

    Teardown fails the test if any request or reply did not survive a round trip through the
    SDK's models (the call itself was already answered with a 500 naming the violation).
    """
    with GraphEmulator() as emulator:
        monkeypatch.setenv("SSL_CERT_FILE", emulator.ca_file)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_file)
        yield emulator
    if emulator.violations:
        pytest.fail("the Graph emulator saw shapes the SDK's models do not round-trip:\n"
                    + "\n\n".join(emulator.violations), pytrace=False)


@pytest.fixture
def tenant(graph: GraphEmulator, monkeypatch: pytest.MonkeyPatch) -> Tenant:
    """The bundled example's Contoso tenant in the emulator, with gitjit's connection."""
    return contoso(graph, monkeypatch)
