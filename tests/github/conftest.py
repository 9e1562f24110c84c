"""Fixtures for the emulator's own tests."""

from tests.github.fixtures import github_emulator

__all__ = ["github_emulator"]
