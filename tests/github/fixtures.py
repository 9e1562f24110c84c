"""Pytest fixtures for the emulator; import them into a conftest.py to use them elsewhere:

from tests.github.fixtures import github_emulator  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.github.emulator import GitHubEmulator


@pytest.fixture
def github_emulator(tmp_path: Path) -> Iterator[GitHubEmulator]:
    """A running emulator over bare repositories in tmp_path/github.

    Teardown fails the test if any body the emulator produced broke GitHub's schema (the
    request itself was already answered with a 500 naming the violation).
    """
    with GitHubEmulator(tmp_path / "github") as emulator:
        yield emulator
    if emulator.schema_violations:
        pytest.fail(
            "the GitHub emulator produced bodies GitHub's schema rejects:\n"
            + "\n\n".join(emulator.schema_violations),
            pytrace=False,
        )
