"""Fixtures for the Entra target's tests: a Graph emulator per test, trusted over TLS."""

from tests.entra.fixtures import graph, tenant

__all__ = ["graph", "tenant"]
