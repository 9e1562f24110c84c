"""Fixtures for the action tests."""

from __future__ import annotations

from tests.actions.fixtures import orders

__all__ = ["orders"]
